"""The OCI distribution API's manifest and blob operations on one repository, every digest
checked: what ocicache.py stores entries with. The HTTP underneath (TLS, auth, redirects,
retries) is ocitransport.py.

The API used is six endpoints of the distribution spec (GET/HEAD/PUT manifests, HEAD/GET
blobs, POST+PUT monolithic blob upload).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from srcbuild.errors import DigestMismatch, RegistryUnavailable
from srcbuild.ocicreds import Credentials
from srcbuild.ocitransport import Reference, Transport

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
MAX_MANIFEST = 4 << 20  # a manifest or a config blob bigger than this is not ours
CHUNK = 1 << 20


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """Manifests and blobs of one repository on one registry, over a ``Transport``.

    Raises ``RegistryUnavailable`` when the registry cannot be used and ``DigestMismatch``
    when what it sends does not hash to the digest asked for.
    """

    def __init__(self, ref: Reference, creds: Credentials, timeout: float = 60.0,
                 retries: int = 3, backoff: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.http = Transport(ref, creds, timeout, retries, backoff, sleep)

    @property
    def ref(self) -> Reference:
        return self.http.ref

    # -- manifests ---------------------------------------------------------------------------
    def get_manifest(self, reference: str) -> tuple[bytes, str] | None:
        """(bytes, digest) of the manifest a tag or digest names; None when there is none."""
        resp = self.http.request("GET", f"manifests/{reference}",
                                 headers={"Accept": MANIFEST_TYPE})
        with resp:
            if resp.status == 404:
                return None
            data = _read_capped(resp, MAX_MANIFEST, f"manifest {reference}")
        digest = sha256_digest(data)
        sent = resp.headers.get("Docker-Content-Digest")
        if reference.startswith("sha256:") and digest != reference or \
                sent and sent.startswith("sha256:") and sent != digest:
            raise DigestMismatch(f"The manifest {reference} of {self.ref} hashes to {digest}, "
                                 f"not {sent or reference}.")
        return data, digest

    def has_manifest(self, reference: str) -> bool:
        with self.http.request("HEAD", f"manifests/{reference}",
                               headers={"Accept": MANIFEST_TYPE}) as resp:
            return resp.status == 200

    def put_manifest(self, reference: str, data: bytes, media_type: str = MANIFEST_TYPE) -> str:
        with self.http.request("PUT", f"manifests/{reference}", "pull,push",
                               headers={"Content-Type": media_type}, body=data,
                               ok=(200, 201)) as resp:
            if resp.status == 404:
                raise RegistryUnavailable(f"Binary cache {self.ref} answered PUT "
                                          f"manifests/{reference} with HTTP 404.")
        return sha256_digest(data)

    # -- blobs -------------------------------------------------------------------------------
    def has_blob(self, digest: str) -> bool:
        with self.http.request("HEAD", f"blobs/{digest}") as resp:
            return resp.status == 200

    @contextmanager
    def _blob(self, digest: str) -> Iterator[http.client.HTTPResponse]:
        resp = self.http.request("GET", f"blobs/{digest}")
        with resp:
            if resp.status == 404:
                raise DigestMismatch(f"Blob {digest} of {self.ref} is missing (HTTP 404).")
            yield resp

    def get_blob_bytes(self, digest: str) -> bytes:
        """A small blob (a config), verified against its digest."""
        with self._blob(digest) as resp:
            data = _read_capped(resp, MAX_MANIFEST, f"blob {digest}")
        if sha256_digest(data) != digest:
            raise DigestMismatch(f"Blob {digest} of {self.ref} hashes to "
                                 f"{sha256_digest(data)}: it is damaged.")
        return data

    def get_blob_file(self, digest: str, size: int, dest: Path) -> None:
        """Stream a blob to ``dest`` (under a temporary name first), verified on the way."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.part")
        h = hashlib.sha256()
        got = 0
        try:
            with self._blob(digest) as resp, open(part, "wb") as out:
                try:
                    while chunk := resp.read(CHUNK):
                        h.update(chunk)
                        got += len(chunk)
                        out.write(chunk)
                except http.client.IncompleteRead:
                    pass  # reported below as a short blob
                except OSError as e:
                    raise RegistryUnavailable(f"Downloading blob {digest} from {self.ref} "
                                              f"failed after {got} bytes ({e}).") from e
            actual = "sha256:" + h.hexdigest()
            if got != size or actual != digest:
                raise DigestMismatch(f"Blob {digest} of {self.ref} is damaged: {got} bytes "
                                     f"(the manifest says {size}) hashing to {actual}.")
            os.replace(part, dest)
        finally:
            part.unlink(missing_ok=True)

    def push_blob(self, digest: str, body: bytes | Path) -> bool:
        """Upload a blob unless the repository has it (HEAD first); True when uploaded.

        Monolithic upload (POST for a session, PUT with the whole body): one round trip per
        blob, and every registry supports it; chunked PATCH uploads add nothing for blobs
        read from a local file.
        """
        if self.has_blob(digest):
            return False
        with self.http.request("POST", "blobs/uploads/", "pull,push", body=b"",
                               ok=(202,)) as resp:
            location = resp.headers.get("Location", "")
            if resp.status != 202 or not location:
                raise RegistryUnavailable(f"Binary cache {self.ref} did not open an upload "
                                          f"(HTTP {resp.status}).")
        url = urllib.parse.urljoin(self.http.url("blobs/uploads/"), location)
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"digest": digest})
        with self.http.request("PUT", url, "pull,push", body=body,
                               headers={"Content-Type": "application/octet-stream"},
                               ok=(201, 204)) as resp:
            if resp.status == 404:
                raise RegistryUnavailable(f"Binary cache {self.ref} lost the upload of "
                                          f"{digest} (HTTP 404).")
        return True


def _read_capped(resp: http.client.HTTPResponse, cap: int, what: str) -> bytes:
    try:
        data = resp.read(cap + 1)
    except (OSError, http.client.HTTPException) as e:
        raise RegistryUnavailable(f"Reading {what} failed ({e}).") from e
    if len(data) > cap:
        raise DigestMismatch(f"{what} is larger than {cap} bytes: not a srcbuild entry.")
    return data
