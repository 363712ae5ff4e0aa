"""The binary cache on an OCI registry: each entry an OCI artifact tagged by build hash.

An entry (tag = the build hash) is an image manifest with its own artifact type::

    {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
     "artifactType": "application/vnd.srcbuild.package.v1",
     "config": {"mediaType": "application/vnd.srcbuild.package.manifest.v1+json", ...},
     "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", ...}],
     "annotations": {"dev.srcbuild.build-hash": ..., "dev.srcbuild.name": ..., ...}}

The config blob is srcbuild's JSON manifest of the entry (files, sha256, source), the one
layer is the deterministic archive made by ``bincache.pack``. A signature is a second
artifact, tagged ``sha256-HEX.sig`` after the digest of the manifest it signs (the tag scheme
cosign uses, so it works on registries without the referrers API), whose layers each hold
one signature; its ``subject`` names the entry for registries that index referrers.

``get`` checks, in this order and before anything is unpacked: the manifest's digest, the
signature (when keys are trusted), the config blob's digest, and the archive's digest while
it downloads. Any mismatch is a ``CorruptEntry``; a refused signature an ``UntrustedEntry``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from srcbuild import __version__
from srcbuild.bincache import Manifest
from srcbuild.errors import (
    CacheUnavailable,
    CorruptEntry,
    DigestMismatch,
    RegistryDenied,
    RegistryUnavailable,
)
from srcbuild.fetch import sha256_file
from srcbuild.oci import MANIFEST_TYPE, Registry, sha256_digest
from srcbuild.signing import SigningKey, Trust, judge, payload

ARTIFACT_TYPE = "application/vnd.srcbuild.package.v1"
CONFIG_TYPE = "application/vnd.srcbuild.package.manifest.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
SIGNATURE_ARTIFACT = "application/vnd.srcbuild.signature.v1"
SIGNATURE_LAYER = "application/vnd.srcbuild.signature.v1+json"
EMPTY_TYPE, EMPTY = "application/vnd.oci.empty.v1+json", b"{}"


def signature_tag(manifest_digest: str) -> str:
    return manifest_digest.replace(":", "-") + ".sig"


def _descriptor(media_type: str, digest: str, size: int, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest, "size": size, **extra}


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


class OciCache:
    """The BinaryCache protocol over one repository of an OCI registry."""

    def __init__(self, registry: Registry, downloads: Path, signing_key: SigningKey | None = None,
                 trust: Trust | None = None) -> None:
        self.registry = registry
        self.downloads = downloads  # verified archives, by digest: a re-restore downloads nothing
        self.signing_key = signing_key
        self.trust = trust
        self._manifests: dict[str, Manifest] = {}

    def describe(self) -> str:
        return str(self.registry.ref)

    # -- restore -----------------------------------------------------------------------------
    def get(self, key: str) -> Path | None:
        try:
            return self._get(key)
        except DigestMismatch as e:
            raise CorruptEntry(f"Binary cache entry {key[:16]} in {self.describe()} is "
                               f"corrupt: {e.message} Nothing of it was unpacked; the package "
                               "is built from source.",
                               "If this repeats, the registry's storage is damaged: delete "
                               f"the tag {key} there.") from None
        except RegistryUnavailable as e:
            raise CacheUnavailable(e.message, e.hint) from None

    def _get(self, key: str) -> Path | None:
        got = self.registry.get_manifest(key)
        if got is None:
            return None
        data, digest = got
        entry = self._parse_entry(key, data)
        self._check_signature(key, digest)
        config_d, layer_d = entry["config"], entry["layers"][0]
        config = json.loads(self.registry.get_blob_bytes(config_d["digest"]))
        if not isinstance(config, dict) or config.get("build_hash") != key \
                or "sha256:" + str(config.get("sha256")) != layer_d["digest"]:
            raise DigestMismatch(f"its file list does not name build hash {key[:16]} and "
                                 f"archive {layer_d['digest']}.")
        archive = self.downloads / f"{layer_d['digest'].split(':', 1)[1]}.tar.gz"
        if not (archive.exists() and "sha256:" + sha256_file(archive) == layer_d["digest"]):
            self.registry.get_blob_file(layer_d["digest"], int(layer_d["size"]), archive)
        self._manifests[key] = config
        return archive

    def _parse_entry(self, key: str, data: bytes) -> dict[str, Any]:
        try:
            entry = json.loads(data)
            ok = (entry.get("artifactType") == ARTIFACT_TYPE
                  and entry["config"]["mediaType"] == CONFIG_TYPE
                  and len(entry["layers"]) == 1 and entry["layers"][0]["mediaType"] == LAYER_TYPE
                  and all(str(d["digest"]).startswith("sha256:")
                          for d in [entry["config"], *entry["layers"]]))
        except (ValueError, KeyError, TypeError, AttributeError):
            ok = False
        if not ok:
            raise DigestMismatch(f"the tag {key[:16]} holds something that is not a srcbuild "
                                 "entry.")
        result: dict[str, Any] = entry
        return result

    def _check_signature(self, key: str, digest: str) -> None:
        """Refuse (UntrustedEntry) what the trust settings do not accept; before any blob."""
        if self.trust is not None:
            judge(self.trust, key, digest, self._signatures(digest),
                  f"Binary cache entry {key[:16]} ({digest[:19]}...) in {self.describe()}")

    def _signatures(self, digest: str) -> list[dict[str, Any]]:
        got = self.registry.get_manifest(signature_tag(digest))
        if got is None:
            return []
        try:
            sig_manifest = json.loads(got[0])
            layers = [d for d in sig_manifest.get("layers", [])
                      if d.get("mediaType") == SIGNATURE_LAYER]
        except (ValueError, AttributeError):
            return []
        out = []
        for d in layers[:16]:
            try:
                sig = json.loads(self.registry.get_blob_bytes(str(d["digest"])))
            except (ValueError, KeyError):
                continue
            if isinstance(sig, dict):
                out.append(sig)
        return out

    def _signed_by_us(self, key: str, digest: str) -> bool:
        assert self.signing_key is not None
        ours = self.signing_key.public()
        return any(sig.get("key_id") == ours.key_id
                   and ours.verify(payload(key, digest), str(sig.get("signature", "")))
                   for sig in self._signatures(digest))

    def manifest(self, key: str) -> Manifest | None:
        return self._manifests.get(key)

    def quarantine(self, key: str, why: str) -> str:
        """A registry entry is not srcbuild's to delete: drop the downloaded copy and skip
        the entry for the rest of this run."""
        config = self._manifests.pop(key, None)
        if config is not None:
            (self.downloads / f"{config.get('sha256')}.tar.gz").unlink(missing_ok=True)
        return (f"skipped for this run (delete the tag {key} from {self.describe()} so that "
                "no run tries it again)")

    # -- store -------------------------------------------------------------------------------
    def put(self, key: str, archive: Path, manifest: Manifest) -> None:
        try:
            self._put(key, archive, manifest)
        except RegistryDenied as e:
            raise CacheUnavailable(e.message, e.hint, read_only=True) from None
        except (RegistryUnavailable, DigestMismatch) as e:
            raise CacheUnavailable(e.message, e.hint) from None

    def _put(self, key: str, archive: Path, manifest: Manifest) -> None:
        reg = self.registry
        if self.signing_key is None:
            if reg.has_manifest(key):
                return  # the first entry for a build hash wins, as in a folder cache
        else:
            got = reg.get_manifest(key)
            if got is not None and self._signed_by_us(key, got[1]):
                return
            # unsigned, or signed by another key: ours replaces it, or a cache that has just
            # started to require signatures would rebuild that package forever
        config = _dumps(manifest)
        config_digest = sha256_digest(config)
        layer_digest = "sha256:" + str(manifest["sha256"])
        reg.push_blob(config_digest, config)
        reg.push_blob(layer_digest, archive)
        entry = _dumps({
            "schemaVersion": 2, "mediaType": MANIFEST_TYPE, "artifactType": ARTIFACT_TYPE,
            "config": _descriptor(CONFIG_TYPE, config_digest, len(config)),
            "layers": [_descriptor(LAYER_TYPE, layer_digest, archive.stat().st_size,
                                   annotations={"org.opencontainers.image.title":
                                                f"{manifest['name']}-{key[:12]}.tar.gz"})],
            "annotations": {"dev.srcbuild.build-hash": key,
                            "dev.srcbuild.name": str(manifest["name"]),
                            "dev.srcbuild.version": str(manifest["version"]),
                            "dev.srcbuild.srcbuild": __version__}})
        digest = sha256_digest(entry)
        if self.signing_key is not None:
            # by digest, then the signature, then the tag: a reader who sees the tag finds the
            # signature already there
            reg.put_manifest(digest, entry)
            self._push_signature(key, digest, len(entry))
        reg.put_manifest(key, entry)

    def _push_signature(self, key: str, digest: str, size: int) -> None:
        assert self.signing_key is not None
        sig = _dumps({"key_id": self.signing_key.key_id, "build_hash": key,
                      "manifest_digest": digest,
                      "signature": self.signing_key.sign(payload(key, digest))})
        sig_digest = sha256_digest(sig)
        self.registry.push_blob(sha256_digest(EMPTY), EMPTY)
        self.registry.push_blob(sig_digest, sig)
        self.registry.put_manifest(signature_tag(digest), _dumps({
            "schemaVersion": 2, "mediaType": MANIFEST_TYPE, "artifactType": SIGNATURE_ARTIFACT,
            "config": _descriptor(EMPTY_TYPE, sha256_digest(EMPTY), len(EMPTY)),
            "layers": [_descriptor(SIGNATURE_LAYER, sig_digest, len(sig), annotations={
                "dev.srcbuild.key-id": self.signing_key.key_id})],
            "subject": _descriptor(MANIFEST_TYPE, digest, size)}))


def downloads_dir(cache_dir: Path) -> Path:
    """Where restored archives are kept, by digest (delete it any time)."""
    return cache_dir / "oci-blobs"
