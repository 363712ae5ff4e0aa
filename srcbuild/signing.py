"""Ed25519 keys and signatures for binary cache entries: generate, load, sign, verify.

What a signature covers is ``payload(build_hash, manifest_digest)``: a fixed text naming the
build hash and the digest of the entry's manifest (a registry entry's OCI manifest, a folder
entry's ``BUILDHASH.json``). That manifest names the digests of the archive and of every file,
so one signature pins every byte of the entry, and a signature cannot be moved to another
build hash. Where the entry is kept is deliberately not covered: an entry copied to a mirror
keeps a valid signature. ``judge`` is the one decision both kinds of cache apply.

The ``cryptography`` package (Debian: python3-cryptography; pip: ``srcbuild[signing]``) is
imported only when a key is generated, loaded or checked, so srcbuild without it still runs
every command that does not sign.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srcbuild.errors import MissingCryptography, TamperedEntry, UntrustedEntry, UsageError

PAYLOAD_HEADER = b"srcbuild-entry-signature-v1\n"


def _crypto() -> Any:
    """The ed25519 and serialization modules of ``cryptography``, or a clear error."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as e:
        raise MissingCryptography(
            f"Signing and checking binary cache entries needs the Python package "
            f"'cryptography' ({e}).",
            "Install it: pip install 'srcbuild[signing]', or apt-get install "
            "python3-cryptography.") from None
    return ed25519, serialization


def payload(build_hash: str, manifest_digest: str) -> bytes:
    """The exact bytes a signature covers."""
    return (PAYLOAD_HEADER + f"build-hash {build_hash}\nmanifest {manifest_digest}\n".encode())


def key_id(raw_public: bytes) -> str:
    """A short, stable name for a public key: the first 16 hex digits of its sha256."""
    return hashlib.sha256(raw_public).hexdigest()[:16]


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    path: Path
    _private: Any  # cryptography's Ed25519PrivateKey

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self._private.sign(data)).decode()

    def public(self) -> PublicKey:
        return PublicKey(self.key_id, self.path, self._private.public_key())


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    path: Path
    _public: Any  # cryptography's Ed25519PublicKey

    def verify(self, data: bytes, signature: str) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:
            self._public.verify(base64.b64decode(signature, validate=True), data)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Trust:
    """The keys whose signatures are accepted, and whether a signature is required."""

    keys: dict[str, PublicKey]
    folder: Path
    require: bool = False


def judge(trust: Trust, build_hash: str, digest: str, signatures: list[dict[str, Any]],
          where: str) -> None:
    """Accept the entry ``where`` (manifest ``digest``) with these signatures, or raise:
    one trusted signature that verifies is enough; otherwise TamperedEntry when a trusted
    key's signature does not verify (the entry or the signature was changed), UntrustedEntry
    when it is unsigned or signed only by unknown keys and a signature is required."""
    bad, unknown = [], []
    for sig in signatures:
        public = trust.keys.get(str(sig.get("key_id")))
        if public is None:
            unknown.append(str(sig.get("key_id")))
        elif public.verify(payload(build_hash, digest), str(sig.get("signature", ""))):
            return
        else:
            bad.append(public.key_id)
    if bad:
        raise TamperedEntry(f"{where} is refused: its signature by trusted key "
                            f"{', '.join(bad)} does not match it (the entry or the signature "
                            "was changed after signing). Nothing of it was unpacked; the "
                            "package is built from source.",
                            "Delete the entry from the cache, or find who pushed it.")
    if not trust.require:
        return
    if unknown:
        raise UntrustedEntry(f"{where} is refused: it is signed only by key "
                             f"{', '.join(unknown)}, which is not among the trusted keys in "
                             f"{trust.folder} ({', '.join(sorted(trust.keys))}). Nothing of "
                             "it was unpacked; the package is built from source.",
                             f"If you trust that key, copy its .pub file into {trust.folder}.")
    raise UntrustedEntry(f"{where} is refused: it is not signed, and --require-signed is "
                         "given. Nothing of it was unpacked; the package is built from "
                         "source.", "Store it with --signing-key KEY so entries are signed.")


def _raw(public: Any) -> bytes:
    _, serialization = _crypto()
    raw: bytes = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw


def generate(folder: Path) -> tuple[Path, Path, str]:
    """Write a new key pair as ``folder/KEYID.key`` (PKCS#8 PEM, mode 0600) and
    ``folder/KEYID.pub`` (PEM); return both paths and the key id."""
    ed25519, serialization = _crypto()
    private = ed25519.Ed25519PrivateKey.generate()
    kid = key_id(_raw(private.public_key()))
    folder.mkdir(parents=True, exist_ok=True)
    key_path, pub_path = folder / f"{kid}.key", folder / f"{kid}.pub"
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    # O_EXCL: never overwrite a key; 0600 from the first byte, not chmod afterwards
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub_path.write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return key_path, pub_path, kid


def load_signing_key(path: Path) -> SigningKey:
    ed25519, serialization = _crypto()
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise UsageError(f"--signing-key {path}: not a readable, unencrypted PEM private key "
                         f"({e}).", "Make one with: srcbuild keys generate DIR") from None
    if not isinstance(private, ed25519.Ed25519PrivateKey):
        raise UsageError(f"--signing-key {path} is not an ed25519 key.",
                         "Make one with: srcbuild keys generate DIR")
    return SigningKey(key_id(_raw(private.public_key())), path, private)


def load_public_key(path: Path) -> PublicKey:
    ed25519, serialization = _crypto()
    try:
        public = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as e:
        raise UsageError(f"Trusted key {path}: not a PEM public key ({e}).",
                         "Copy the .pub file written by `srcbuild keys generate`.") from None
    if not isinstance(public, ed25519.Ed25519PublicKey):
        raise UsageError(f"Trusted key {path} is not an ed25519 key.",
                         "Copy the .pub file written by `srcbuild keys generate`.")
    return PublicKey(key_id(_raw(public)), path, public)


def load_trusted_keys(folder: Path) -> dict[str, PublicKey]:
    """Every ``*.pub`` in ``folder``, by key id (computed from the key, not the file name)."""
    if not folder.is_dir():
        raise UsageError(f"--trusted-keys {folder} is not a folder.",
                         "Give the folder holding the .pub files of the keys you trust.")
    keys = {}
    for path in sorted(folder.glob("*.pub")):
        key = load_public_key(path)
        keys[key.key_id] = key
    if not keys:
        raise UsageError(f"--trusted-keys {folder} holds no .pub file.",
                         "Copy the .pub file written by `srcbuild keys generate` there.")
    return keys
