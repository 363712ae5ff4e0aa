"""The binary cache on a real OCI registry (Debian's docker-registry), started by each test on
127.0.0.1 with a free port and a temp storage folder, stopped by pid."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import tree
from pkgfactory import chain, recipe

from srcbuild import bincache
from srcbuild.errors import UntrustedEntry
from srcbuild.fetch import sha256_file
from srcbuild.oci import MANIFEST_TYPE, Registry
from srcbuild.ocicreds import Credentials
from srcbuild.ocitransport import Reference

REGISTRY = shutil.which("docker-registry")
pytestmark = pytest.mark.skipif(REGISTRY is None, reason="docker-registry is not installed "
                                "(apt-get install docker-registry)")


@dataclass
class RunningRegistry:
    root: Path
    port: int
    proc: subprocess.Popen[bytes]
    cert: Path | None = None
    users: dict[str, str] = field(default_factory=dict)

    def url(self, repo: str = "srcbuild/cache") -> str:
        return f"oci://127.0.0.1:{self.port}/{repo}"

    @property
    def storage(self) -> Path:
        return self.root / "data" / "docker" / "registry" / "v2"

    def client(self, repo: str = "srcbuild/cache") -> Registry:
        user, password = next(iter(self.users.items()), ("", ""))
        return Registry(Reference(f"127.0.0.1:{self.port}", "127.0.0.1", repo),
                        Credentials(user, password))

    def tags(self, repo: str = "srcbuild/cache") -> list[str]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v2/{repo}/tags/list") as r:
            return sorted(json.load(r).get("tags") or [])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, made with the cryptography package."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _bcrypt(password: str) -> str:
    """A bcrypt hash at the lowest cost (the registry checks it on every request), from
    libcrypt through the crypt module, else from apache2-utils' htpasswd."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # removed in Python 3.13
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
    except ImportError:
        pass
    if shutil.which("htpasswd"):
        out = subprocess.run(["htpasswd", "-nbBC", "4", "u", password], capture_output=True,
                             text=True, check=True).stdout
        return out.strip().split(":", 1)[1]
    pytest.skip("no bcrypt: neither Python's crypt module nor htpasswd (apache2-utils)")


def start_registry(root: Path, users: dict[str, str] | None = None) -> RunningRegistry:
    """docker-registry on 127.0.0.1:FREE; with ``users``, htpasswd auth over TLS (the
    registry refuses htpasswd without TLS)."""
    root.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    config = [
        "version: 0.1",
        "log: {level: warn, accesslog: {disabled: true}}",
        f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}, delete: {{enabled: true}}}}",
        f"http: {{addr: '127.0.0.1:{port}', secret: test-only"]
    cert = None
    if users:
        cert, key = _self_signed(root)
        config[-1] += f", tls: {{certificate: {cert}, key: {key}}}"
        htpasswd = root / "htpasswd"
        htpasswd.write_text("".join(f"{u}:{_bcrypt(p)}\n" for u, p in users.items()))
        config.append(f"auth: {{htpasswd: {{realm: srcbuild-test, path: {htpasswd}}}}}")
    config[-1 if not users else -2] += "}"
    (root / "config.yml").write_text("\n".join(config) + "\n")
    log = open(root / "registry.log", "wb")  # noqa: SIM115 - the registry holds it
    proc = subprocess.Popen([str(REGISTRY), "serve", str(root / "config.yml")], stdout=log,
                            stderr=subprocess.STDOUT)
    reg = RunningRegistry(root, port, proc, cert, dict(users or {}))
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return reg
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                reg.stop()
                raise RuntimeError("docker-registry did not start:\n"
                                   + (root / "registry.log").read_text()) from None
            time.sleep(0.05)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    reg = start_registry(tmp_path / "registry")
    yield reg
    reg.stop()


@pytest.fixture
def recipes(tmp_path: Path) -> Path:
    return chain(tmp_path)


def events(cp: subprocess.CompletedProcess[str]) -> list[dict]:
    return [json.loads(line) for line in cp.stdout.splitlines() if line.startswith("{")]


def summary(evs: list[dict]) -> dict[str, str]:
    [s] = [e for e in evs if e["event"] == "summary"]
    return {p["recipe"]: p["status"] for p in s["packages"]}


def messages(evs: list[dict], word: str) -> list[str]:
    return [e["text"] for e in evs if e["event"] == "message" and word in e["text"]]


def fresh(sb) -> None:
    """A new CI runner: the same prefix path, empty; an empty source cache."""
    shutil.rmtree(sb.prefix, ignore_errors=True)
    shutil.rmtree(sb.cache, ignore_errors=True)


# -- push, restore, lists, --binary-cache-only -----------------------------------------------
def test_push_then_restore_into_a_fresh_cache_and_an_empty_prefix(sb, recipes, registry,
                                                                  tmp_path):
    url = registry.url()
    first = events(sb("delta", "--recipes", str(recipes), "--json", "--binary-cache", url))
    assert summary(first) == {"alpha": "built", "delta": "built"}
    stored = {e["recipe"]: e["build_hash"] for e in first if e["event"] == "cache_store"}
    assert set(stored) == {"alpha", "delta"}
    assert set(stored.values()) <= set(registry.tags())
    before = tree(sb.prefix)

    fresh(sb)
    # a list: an empty folder first, the registry second; both are read, in order
    env = {"SRCBUILD_BINARY_CACHE": f"{tmp_path / 'empty-folder'} {url}"}
    second = events(sb("delta", "--recipes", str(recipes), "--json", env=env))
    assert summary(second) == {"alpha": "restored", "delta": "restored"}
    assert not [e for e in second if e["event"] == "step_start" and e["step"] == "configure"]
    assert tree(sb.prefix) == before
    out = subprocess.run([sb.prefix / "bin" / "delta"], capture_output=True, text=True,
                         check=False)
    assert out.stdout == "delta says 42\n"

    fresh(sb)
    sb("delta", "--recipes", str(recipes), "--binary-cache", url, "--binary-cache-only")
    assert tree(sb.prefix) == before

    fresh(sb)  # another repository has nothing: a miss is an error, nothing is compiled
    cp = sb("delta", "--recipes", str(recipes), "--binary-cache", registry.url("srcbuild/other"),
            "--binary-cache-only", "--json", check=1)
    assert "No binary cache has build hash" in cp.stderr and "--binary-cache-only" in cp.stderr
    assert not [e for e in events(cp) if e["event"] == "step_start" and e["step"] == "build"]
    assert not (sb.prefix / "lib" / "libalpha.so").exists()


def test_push_goes_to_the_first_writable_cache(registry, tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("a file where a cache folder should be")
    said: list[tuple[str, dict]] = []
    cache = bincache.open_cache([str(not_a_folder), registry.url()], cache_dir=tmp_path / "c",
                                report=lambda kind, **data: said.append((kind, data)))
    assert cache is not None
    archive, key = _payload(tmp_path, b"one"), "1" * 64
    cache.put(key, archive, bincache.manifest("x", "1", key, archive, ["a"], {}))
    cache.put("2" * 64, archive, bincache.manifest("x", "1", "2" * 64, archive, ["a"], {}))
    assert [k for k, _ in said] == ["cache_unavailable", "message"]  # once, not per package
    assert key in registry.tags()
    got = cache.get(key)
    assert got is not None and sha256_file(got) == sha256_file(archive)


def test_file_urls_and_folders_are_the_same_cache(tmp_path):
    archive, key = _payload(tmp_path, b"folder"), "3" * 64
    m = bincache.manifest("x", "1", key, archive, ["share/payload"], {})
    bincache.open_cache([f"file://{tmp_path / 'fc'}"]).put(key, archive, m)
    got = bincache.open_cache([str(tmp_path / "fc")]).get(key)
    assert got == tmp_path / "fc" / f"{key}.tar.gz" and sha256_file(got) == m["sha256"]


def _payload(folder: Path, content: bytes) -> Path:
    stage = folder / f"stage-{content[:8].hex()}"
    (stage / "share").mkdir(parents=True)
    (stage / "share" / "payload").write_bytes(content)
    archive = folder / f"{stage.name}.tar.gz"
    bincache.pack(stage, archive, 0)
    return archive


PUSHER = """
import os, sys, time
from pathlib import Path
from srcbuild import bincache
url, me, go, work = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
stage = work / f"stage-{me}"
(stage / "share").mkdir(parents=True)
(stage / "share" / "payload").write_bytes(os.urandom(2 << 20))  # differs per pusher
archive = work / f"{me}.tar.gz"
files = bincache.pack(stage, archive, 0)
cache = bincache.open_cache([url], cache_dir=work / f"cache-{me}",
                            report=lambda kind, **data: print(kind, data, file=sys.stderr))
m = bincache.manifest("x", "1", "k" * 64, archive, files, {})
while not go.exists():
    time.sleep(0.001)
cache.put("k" * 64, archive, m)
"""


def test_two_processes_pushing_the_same_key_leave_one_valid_entry(registry, tmp_path):
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", PUSHER, registry.url(), str(i), str(go),
                               str(tmp_path)], stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    time.sleep(0.5)  # both have packed their archives and are waiting
    go.write_text("")
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert all("cache_unavailable" not in err for _, err in results), results
    assert registry.tags() == ["k" * 64]
    cache = bincache.open_cache([registry.url()], cache_dir=tmp_path / "reader")
    assert cache is not None
    archive = cache.get("k" * 64)
    assert archive is not None
    assert sha256_file(archive) in {sha256_file(tmp_path / f"{i}.tar.gz") for i in range(2)}
    assert sha256_file(archive) == cache.manifest("k" * 64)["sha256"]


# -- damage and failure -------------------------------------------------------------------------
def test_a_blob_corrupted_in_the_registry_storage_is_caught_and_rebuilt(sb, recipes, registry):
    url = registry.url()
    first = events(sb("alpha", "--recipes", str(recipes), "--json", "--binary-cache", url))
    [key] = [e["build_hash"] for e in first if e["event"] == "cache_store"]
    before = tree(sb.prefix)
    data, _ = registry.client().get_manifest(key)
    layer = json.loads(data)["layers"][0]["digest"].split(":")[1]
    blob = registry.storage / "blobs" / "sha256" / layer[:2] / layer / "data"
    raw = bytearray(blob.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # same size, one byte flipped: only the digest can tell
    blob.write_bytes(bytes(raw))

    fresh(sb)
    evs = events(sb("alpha", "--recipes", str(recipes), "--json", "--binary-cache", url))
    [bad] = [e for e in evs if e["event"] == "cache_corrupt"]
    assert f"sha256:{layer}" in bad["text"] and "is damaged" in bad["text"]
    assert len([e for e in evs if e["event"] == "message" and f"sha256:{layer}" in e["text"]]) \
        == 1
    assert not [e for e in evs if e["event"] == "cache_hit"]
    assert summary(evs) == {"alpha": "built"}
    assert tree(sb.prefix) == before


def test_an_entry_whose_files_are_not_its_manifest_is_skipped_and_rebuilt(sb, recipes, registry,
                                                                          tmp_path):
    """A pusher with push rights (or a buggy one) sends an archive with an extra file under a
    manifest that does not list it, every digest right: the restore refuses it file by file,
    drops the download, and cannot delete the tag, so it says to."""
    from srcbuild.entrycheck import tree_entries

    good_url, evil_url = registry.url(), registry.url("srcbuild/evil")
    first = events(sb("alpha", "--recipes", str(recipes), "--json", "--binary-cache", good_url))
    [key] = [e["build_hash"] for e in first if e["event"] == "cache_store"]
    before = tree(sb.prefix)
    reader = bincache.open_cache([good_url], cache_dir=tmp_path / "reader")
    archive = reader.get(key)
    manifest = reader.manifest(key)
    assert archive is not None and manifest is not None
    assert manifest["entries"] == tree_entries(_unpacked(archive, tmp_path / "good"))
    stage = _unpacked(archive, tmp_path / "evil")
    (stage / "bin").mkdir()
    (stage / "bin" / "backdoor").write_text("#!/bin/sh\necho owned\n")
    evil = tmp_path / "evil.tar.gz"
    files = bincache.pack(stage, evil, 0)
    bincache.open_cache([evil_url], cache_dir=tmp_path / "pusher").put(key, evil, {
        **manifest, "sha256": sha256_file(evil), "size": evil.stat().st_size, "files": files})

    for _ in range(2):  # a registry entry is not ours to delete: every run refuses it again
        fresh(sb)
        evs = events(sb("alpha", "--recipes", str(recipes), "--json", "--binary-cache",
                        evil_url))
        [bad] = [e["text"] for e in evs if e["event"] == "cache_corrupt"]
        assert f"Binary cache entry {key[:16]} in {evil_url} is refused" in bad
        assert "bin, bin/backdoor are not in its manifest" in bad
        assert f"skipped for this run (delete the tag {key}" in bad
        assert summary(evs) == {"alpha": "built"} and tree(sb.prefix) == before
        assert not list((sb.cache / "oci-blobs").glob(f"{sha256_file(evil)}*"))


def _unpacked(archive: Path, dest: Path) -> Path:
    from srcbuild.extract import extract

    dest.mkdir(parents=True)
    extract(archive, dest)
    return dest


def test_the_registry_stopped_mid_run_means_building_from_source(sb, recipes, registry,
                                                                  tmp_path):
    stopper = tmp_path / "pkgs" / "stopper-1"
    stopper.mkdir(parents=True)
    (stopper / "Makefile").write_text("install:\n\tmkdir -p $(DESTDIR)$(PREFIX)/share\n"
                                      "\techo stopped > $(DESTDIR)$(PREFIX)/share/stopper\n")
    # killed, not asked to stop (it would drain), and gone before the check ends
    wait = (f"import socket, time\\nwhile True:\\n try: socket.create_connection(('127.0.0.1', "
            f"{registry.port}), 1).close(); time.sleep(0.05)\\n except OSError: break")
    recipe(recipes, "stopper", f"""
        version = "1"
        requires = ["pkgconfig:alpha"]
        check = [["kill", "-KILL", "{registry.proc.pid}"], ["{sys.executable}", "-c", "{wait}"]]
        [[source]]
        path = "{stopper}"
        [build]
        system = "make"
        build = []
        """)
    url = registry.url()
    sb("delta", "--recipes", str(recipes), "--binary-cache", url)  # alpha and delta pushed
    before = tree(sb.prefix)

    fresh(sb)  # alpha restores; stopper builds and its check stops the registry; then delta
    cp = sb("stopper", "delta", "--recipes", str(recipes), "--binary-cache", url, "--json",
            "--max-packages", "1")
    evs = events(cp)
    assert registry.proc.poll() is not None
    assert summary(evs) == {"alpha": "restored", "stopper": "built", "delta": "built"}
    said = messages(evs, url.removeprefix("oci://"))
    assert len(said) == 1 and "cannot be reached (connection refused)" in said[0], said
    assert "is built from source" in said[0]
    assert {k: v for k, v in tree(sb.prefix).items() if not k.startswith("share")} == before


# -- auth -------------------------------------------------------------------------------------
def test_basic_auth_over_tls_and_secrets_never_shown(sb, recipes, tmp_path, monkeypatch):
    password = "s3cret-Pa55-never-shown"
    reg = start_registry(tmp_path / "authreg", {"ci": password})
    try:
        url = reg.url()
        tls = {"SSL_CERT_FILE": str(reg.cert)}
        creds = {**tls, "SRCBUILD_REGISTRY_USER": "ci", "SRCBUILD_REGISTRY_PASSWORD": password}
        outputs = []

        cp = sb("alpha", "--recipes", str(recipes), "--json", "--binary-cache", url, env=creds)
        outputs.append(cp)
        assert [e["recipe"] for e in events(cp) if e["event"] == "cache_store"] == ["alpha"]

        # the Docker config's auths entry, as `docker login` writes it
        fresh(sb)
        docker = tmp_path / "docker"
        docker.mkdir()
        auth = base64.b64encode(f"ci:{password}".encode()).decode()
        (docker / "config.json").write_text(json.dumps(
            {"auths": {f"127.0.0.1:{reg.port}": {"auth": auth}}}))
        cp = sb("alpha", "--recipes", str(recipes), "--json", "--binary-cache", url,
                env={**tls, "DOCKER_CONFIG": str(docker)})
        outputs.append(cp)
        assert summary(events(cp)) == {"alpha": "restored"}

        # a wrong password: one line, then a build from source; the run succeeds
        fresh(sb)
        cp = sb("alpha", "--recipes", str(recipes), "--json", "--binary-cache", url,
                env={**tls, "SRCBUILD_REGISTRY_USER": "ci",
                     "SRCBUILD_REGISTRY_PASSWORD": password + "-wrong"})
        outputs.append(cp)
        evs = events(cp)
        assert summary(evs) == {"alpha": "built"}
        said = messages(evs, "for the rest of this run")
        assert len(said) == 1 and "HTTP 401" in said[0]
        assert "SRCBUILD_REGISTRY_USER/PASSWORD" in said[0]

        # the certificate not trusted: said so, with the fix
        fresh(sb)
        cp = sb("alpha", "--recipes", str(recipes), "--json", "--binary-cache", url, env=creds
                | {"SSL_CERT_FILE": str(tmp_path / "authreg" / "htpasswd")})
        outputs.append(cp)
        [said_tls] = messages(events(cp), "for the rest of this run")
        assert "certificate" in said_tls and "SSL_CERT_FILE" in said_tls

        # a credential helper, as `credsStore` names one (docker-credential-NAME get)
        helpers = tmp_path / "helpers"
        helpers.mkdir()
        helper = helpers / "docker-credential-srcbuildtest"
        helper.write_text("#!/bin/sh\nread host\n"
                          f"[ \"$host\" = 127.0.0.1:{reg.port} ] && "
                          f"echo '{{\"Username\": \"ci\", \"Secret\": \"{password}\"}}'\n")
        helper.chmod(0o755)
        (docker / "config.json").write_text(json.dumps({"credsStore": "srcbuildtest"}))
        environ = {**os.environ, **tls, "DOCKER_CONFIG": str(docker),
                   "PATH": f"{helpers}:{os.environ['PATH']}"}
        monkeypatch.setenv("SSL_CERT_FILE", str(reg.cert))  # read when TLS is set up
        cache = bincache.open_cache([url], cache_dir=tmp_path / "helper", environ=environ)
        [key] = [e["build_hash"] for e in events(outputs[0]) if e["event"] == "cache_store"]
        assert cache.get(key) is not None

        logs = [p.read_text(errors="replace") for p in sb.cache.rglob("*")
                if p.is_file() and p.suffix in (".log", ".jsonl")]
        shown = "\n".join([cp.stdout + cp.stderr for cp in outputs] + logs)
        for secret in (password, auth, base64.b64encode(f"ci:{password}-wrong".encode())
                       .decode()):
            assert secret not in shown
    finally:
        reg.stop()


# -- signatures -------------------------------------------------------------------------------
def _key(folder: Path) -> tuple[Path, str]:
    cp = subprocess.run([sys.executable, "-m", "srcbuild", "keys", "generate", str(folder)],
                        capture_output=True, text=True, check=True)
    kid = cp.stdout.split()[2]
    assert (folder / f"{kid}.key").stat().st_mode & 0o777 == 0o600
    return folder / f"{kid}.key", kid


def test_signed_entry_accepted_tampered_or_unknown_key_refused(sb, recipes, registry, tmp_path):
    key1, kid1 = _key(tmp_path / "keys1")
    _, kid2 = _key(tmp_path / "keys2")
    trusted1, trusted2 = tmp_path / "trusted1", tmp_path / "trusted2"
    for folder, kid, src in ((trusted1, kid1, "keys1"), (trusted2, kid2, "keys2")):
        folder.mkdir()
        shutil.copy(tmp_path / src / f"{kid}.pub", folder)
    url = registry.url()
    first = events(sb("alpha", "--recipes", str(recipes), "--json", "--binary-cache", url,
                      "--signing-key", str(key1)))
    [key] = [e["build_hash"] for e in first if e["event"] == "cache_store"]
    before = tree(sb.prefix)

    def restore(trusted: Path, repo: str = "srcbuild/cache") -> list[dict]:
        fresh(sb)
        return events(sb("alpha", "--recipes", str(recipes), "--json", "--binary-cache",
                         registry.url(repo), "--trusted-keys", str(trusted), "--require-signed"))

    evs = restore(trusted1)
    assert summary(evs) == {"alpha": "restored"} and tree(sb.prefix) == before

    evs = restore(trusted2)  # signed, but by a key this machine does not trust
    [bad] = [e["text"] for e in evs if e["event"] == "cache_corrupt"]
    assert f"signed only by key {kid1}" in bad and kid2 in bad and "Nothing of it was unpacked" \
        in bad
    assert summary(evs) == {"alpha": "built"} and tree(sb.prefix) == before

    # tampered: the tag names an edited manifest, and the old signature is replayed for it
    client = registry.client()
    data, digest = client.get_manifest(key)
    entry = json.loads(data)
    entry["annotations"]["dev.srcbuild.version"] = "9.9-evil"
    forged_digest = client.put_manifest(key, json.dumps(entry).encode())
    sig, _ = client.get_manifest(f"{digest.replace(':', '-')}.sig")
    client.put_manifest(f"{forged_digest.replace(':', '-')}.sig", sig, MANIFEST_TYPE)
    strict = bincache.CacheOptions(trusted_keys=trusted1, require_signed=True)
    cache = bincache.open_cache([url], strict, tmp_path / "reader")
    with pytest.raises(UntrustedEntry,
                       match=f"signature by trusted key {kid1} does not match"):
        cache.get(key)
    assert not list((tmp_path / "reader").rglob("*.tar.gz"))  # not even downloaded

    # unsigned: refused under --require-signed, accepted with --trusted-keys alone
    plain = bincache.open_cache([registry.url("srcbuild/unsigned")], cache_dir=tmp_path / "p")
    archive = _payload(tmp_path, b"unsigned")
    plain.put(key, archive, bincache.manifest("alpha", "1", key, archive, ["share/payload"], {}))
    cache = bincache.open_cache([registry.url("srcbuild/unsigned")], strict, tmp_path / "reader")
    with pytest.raises(UntrustedEntry, match="it is not signed, and --require-signed"):
        cache.get(key)
    lenient = bincache.CacheOptions(trusted_keys=trusted1)
    cache = bincache.open_cache([registry.url("srcbuild/unsigned")], lenient, tmp_path / "r2")
    assert cache.get(key) is not None

    # a pusher with a key replaces an entry it did not sign; then it is accepted
    signer = bincache.open_cache([registry.url("srcbuild/unsigned")],
                                 bincache.CacheOptions(signing_key=key1), tmp_path / "s")
    signer.put(key, archive, bincache.manifest("alpha", "1", key, archive, ["share/payload"],
                                               {}))
    cache = bincache.open_cache([registry.url("srcbuild/unsigned")], strict, tmp_path / "r3")
    assert cache.get(key) is not None


def test_cache_urls_are_checked_and_never_echo_a_password():
    from srcbuild.errors import UsageError

    with pytest.raises(UsageError, match="credentials in the URL are refused") as e:
        bincache.open_cache(["oci://ci:hunter2@127.0.0.1:5000/x"])
    assert "hunter2" not in str(e.value)
    for bad in ("oci://127.0.0.1:5000", "oci://127.0.0.1/Upper/Case", "s3://bucket/x"):
        with pytest.raises(UsageError):
            bincache.open_cache([bad])


def test_require_signed_without_trusted_keys_is_a_usage_error(sb, recipes, registry):
    cp = sb("alpha", "--recipes", str(recipes), "--binary-cache", registry.url(),
            "--require-signed", check=2)
    assert "--require-signed needs --trusted-keys DIR" in cp.stderr


# -- a bearer-token registry, and a proxy that answers 429 and 503 ----------------------------
class _Server:
    """A threaded HTTP server on 127.0.0.1:FREE running ``handle(handler)``; stopped at exit."""

    def __init__(self, handle) -> None:
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = \
                lambda self: handle(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token_server(cert: Path, key: Path, users: dict[str, str], seen: list[dict]) -> _Server:
    """A registry token endpoint as GitLab and GHCR run one: basic credentials in, a JWT
    (ES256, the certificate in x5c) granting the scope asked for out."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    from cryptography.x509 import load_pem_x509_certificate

    private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    der = load_pem_x509_certificate(cert.read_bytes()).public_bytes(serialization.Encoding.DER)

    def handle(h) -> None:
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(h.path).query))
        auth = h.headers.get("Authorization", "")
        user, _, password = (base64.b64decode(auth[6:]).decode().partition(":")
                             if auth.startswith("Basic ") else ("", "", ""))
        seen.append({"scope": query.get("scope"), "user": user})
        if users.get(user) != password or not user:
            h.send_response(401)
            h.end_headers()
            return
        _, name, actions = query["scope"].split(":")
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(der).decode()]}
        claims = {"iss": "srcbuild-test-issuer", "sub": user, "aud": query["service"],
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": str(now),
                  "access": [{"type": "repository", "name": name,
                              "actions": actions.split(",")}]}
        signing_input = f"{_b64url(json.dumps(header).encode())}." \
                        f"{_b64url(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(private.sign(signing_input.encode(),
                                                 ec.ECDSA(hashes.SHA256())))
        token = f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
        body = json.dumps({"token": token, "expires_in": 300}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return _Server(handle)


def test_bearer_token_challenge_as_ghcr_and_gitlab_use(tmp_path):
    root = tmp_path / "tokenreg"
    root.mkdir()
    cert, key = _self_signed(root)
    seen: list[dict] = []
    tokens = _token_server(cert, key, {"ci": "job-token-xyz"}, seen)
    port = _free_port()
    (root / "config.yml").write_text(
        "version: 0.1\nlog: {level: warn, accesslog: {disabled: true}}\n"
        f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}', secret: test-only}}\n"
        f"auth: {{token: {{realm: 'http://127.0.0.1:{tokens.port}/token', "
        f"service: srcbuild-test, issuer: srcbuild-test-issuer, rootcertbundle: {cert}}}}}\n")
    proc = subprocess.Popen([str(REGISTRY), "serve", str(root / "config.yml")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(port, proc)
        url = f"oci://127.0.0.1:{port}/team/srcbuild"
        env = {"SRCBUILD_REGISTRY_USER": "ci", "SRCBUILD_REGISTRY_PASSWORD": "job-token-xyz"}
        cache = bincache.open_cache([url], cache_dir=tmp_path / "c", environ=env)
        archive = _payload(tmp_path, b"token")
        cache.put("t" * 64, archive, bincache.manifest("x", "1", "t" * 64, archive, ["a"], {}))
        got = bincache.open_cache([url], cache_dir=tmp_path / "d", environ=env).get("t" * 64)
        assert got is not None and sha256_file(got) == sha256_file(archive)
        assert {s["scope"] for s in seen} == {"repository:team/srcbuild:pull",
                                              "repository:team/srcbuild:pull,push"}
        assert all(s["user"] == "ci" for s in seen)

        said: list[str] = []
        anonymous = bincache.open_cache([url], cache_dir=tmp_path / "e", environ={},
                                        report=lambda kind, **d: said.append(d.get("text", "")))
        assert anonymous.get("t" * 64) is None  # denied: one line, then from source
        assert anonymous.get("t" * 64) is None
        assert len(said) == 2 and "HTTP 401" in said[0]  # the event and its message line
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        tokens.close()


def _wait_for(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 15
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("docker-registry did not start")


def _flaky_proxy(upstream: int, fail) -> tuple[_Server, list[int]]:
    """Forwards to the registry, except that request number N gets ``fail(N)`` when that is
    a status (429 with Retry-After: 0, or 503). Returns the server and the statuses sent."""
    import http.client

    sent: list[int] = []
    requests: list[str] = []

    def handle(h) -> None:
        requests.append(f"{h.command} {urllib.parse.unquote(h.path)}")
        status = fail(len(sent))
        if status:
            sent.append(status)
            h.send_response(status)
            if status == 429:
                h.send_header("Retry-After", "0")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=30)
        conn.request(h.command, h.path, body=body, headers=dict(h.headers))
        resp = conn.getresponse()
        data = resp.read()
        sent.append(resp.status)
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("content-length", "connection", "transfer-encoding", "date",
                                 "server"):
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)
        conn.close()

    server = _Server(handle)
    server.requests = requests
    return server, sent


def test_429_and_503_are_retried_with_backoff_and_bounded(registry, tmp_path):
    proxy, sent = _flaky_proxy(registry.port, lambda n: (429, 503)[n % 4 // 2] if n % 2 == 0
                               else None)  # every other request fails once
    try:
        ref = Reference(f"127.0.0.1:{proxy.port}", "127.0.0.1", "srcbuild/flaky")
        from srcbuild.ocicache import OciCache

        cache = OciCache(Registry(ref, Credentials(), backoff=0.01), tmp_path / "dl")
        archive = _payload(tmp_path, b"flaky")
        cache.put("f" * 64, archive, bincache.manifest("x", "1", "f" * 64, archive, ["a"], {}))
        got = cache.get("f" * 64)
        assert got is not None and sha256_file(got) == sha256_file(archive)
        assert sent.count(429) >= 3 and sent.count(503) >= 3
        # the same archive under another build hash: HEAD finds the layer, only the new
        # config blob is uploaded
        proxy.requests.clear()
        cache.put("g" * 64, archive, bincache.manifest("x", "1", "g" * 64, archive, ["a"], {}))
        layer = f"sha256:{sha256_file(archive)}"
        assert f"HEAD /v2/srcbuild/flaky/blobs/{layer}" in proxy.requests
        uploads = [r for r in proxy.requests if r.startswith("PUT") and "digest=" in r]
        assert uploads and not [r for r in uploads if layer in r]

        # always 503: given up after 1 + 3 retries, said once, then not asked again
        sent.clear()
        proxy.close()
        proxy, sent = _flaky_proxy(registry.port, lambda n: 503)
        ref = Reference(f"127.0.0.1:{proxy.port}", "127.0.0.1", "srcbuild/flaky")
        said: list[str] = []
        chain_ = bincache.CacheChain([OciCache(Registry(ref, Credentials(), backoff=0.01),
                                               tmp_path / "dl2")],
                                     lambda kind, **d: said.append(d.get("text", "")))
        assert chain_.get("f" * 64) is None and chain_.get("f" * 64) is None
        assert sent == [503] * 4  # the first try and 3 retries of the manifest GET, once
        assert len(said) == 2 and "HTTP 503 after 4 tries" in said[1]
    finally:
        proxy.close()
