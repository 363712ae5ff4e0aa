"""Keys and signatures of binary cache entries, in process (the registry tests are in
test_oci_cache.py)."""

from __future__ import annotations

import argparse
import sys

import pytest

from srcbuild import signing
from srcbuild.errors import MissingCryptography, UsageError


def test_sign_verify_and_what_is_covered(tmp_path):
    key_path, pub_path, kid = signing.generate(tmp_path)
    assert key_path.stat().st_mode & 0o777 == 0o600
    key = signing.load_signing_key(key_path)
    assert key.key_id == kid and signing.load_trusted_keys(tmp_path)[kid].path == pub_path
    public = signing.load_public_key(pub_path)
    signed = signing.payload("a" * 64, "sha256:" + "b" * 64)
    sig = key.sign(signed)
    assert public.verify(signed, sig)
    assert not public.verify(signing.payload("c" * 64, "sha256:" + "b" * 64), sig)
    assert not public.verify(signing.payload("a" * 64, "sha256:" + "d" * 64), sig)
    assert not public.verify(signed, "!!not base64")
    other = signing.load_signing_key(signing.generate(tmp_path / "other")[0])
    assert not public.verify(signed, other.sign(signed))


def test_wrong_key_files_are_usage_errors(tmp_path):
    _, pub_path, _ = signing.generate(tmp_path)
    with pytest.raises(UsageError, match="not a readable, unencrypted PEM private key"):
        signing.load_signing_key(pub_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="holds no .pub file"):
        signing.load_trusted_keys(tmp_path / "empty")
    with pytest.raises(UsageError, match="is not a folder"):
        signing.load_trusted_keys(tmp_path / "missing")


def test_without_cryptography_the_error_names_the_extra(tmp_path, monkeypatch):
    for name in ("cryptography", "cryptography.hazmat", "cryptography.hazmat.primitives"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingCryptography, match=r"srcbuild\[signing\]") as e:
        signing.generate(tmp_path)
    assert "python3-cryptography" in str(e.value)


def test_keys_generate_prints_the_key_id_and_names_a_folder_it_cannot_write(tmp_path, capsys):
    from srcbuild.commands.keys import keys

    assert keys(argparse.Namespace(keys_command="generate", dir=tmp_path / "k")) == 0
    kid = capsys.readouterr().out.split()[2]
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == [f"{kid}.key", f"{kid}.pub"]
    (tmp_path / "a-file").write_text("")
    with pytest.raises(UsageError, match="Cannot write a key pair into"):
        keys(argparse.Namespace(keys_command="generate", dir=tmp_path / "a-file" / "k"))
