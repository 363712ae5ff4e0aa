"""HTTP to one repository of an OCI registry: TLS (or plain HTTP on loopback only), the
registry's auth challenge (basic, or bearer tokens from its token endpoint), redirects that do
not carry credentials, and bounded retries of 429 and 5xx. oci.py builds the distribution API's
manifest and blob operations on it.

Written on the standard library (urllib without its redirect and error handlers, so each
status is handled here) rather than oras-py, requests or httpx, for reasons measured against
what this cache needs:
- HTTPS must use the system's CA store. ``ssl.create_default_context()`` does (and honours
  SSL_CERT_FILE / SSL_CERT_DIR); requests and httpx from PyPI use certifi's bundle instead,
  so a company CA installed on the runner would not be trusted.
- A blob GET is usually redirected to another host (GHCR and GitLab send it to object
  storage). The Authorization header must not follow it there; urllib's redirect handler
  and older requests versions forward it, so redirects are followed here, by hand.
- Nothing to install: the cache works on a Debian-only install path and in every CI image.
  oras-py is not packaged in Debian 12 and pulls requests and jsonschema.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import re
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srcbuild.errors import RegistryDenied, RegistryUnavailable, UsageError
from srcbuild.ocicreds import Credentials, parse_challenge

MAX_TOKEN_ANSWER = 4 << 20  # a token endpoint's JSON answer bigger than this is not one
_REPO = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"


@dataclass(frozen=True)
class Reference:
    """``oci://HOST[:PORT]/REPOSITORY``: where a cache lives."""

    host: str  # as in URLs: name, name:port, [::1]:port
    hostname: str  # without port or brackets
    repository: str

    def __str__(self) -> str:
        return f"oci://{self.host}/{self.repository}"

    @property
    def loopback(self) -> bool:
        if self.hostname == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.hostname).is_loopback
        except ValueError:
            return False


def parse_reference(text: str) -> Reference:
    """An ``oci://`` value of --binary-cache as a Reference; a UsageError names what is wrong
    (never a credential written into the URL)."""
    parts = urllib.parse.urlsplit(text)
    repository = parts.path.strip("/")
    if "@" in parts.netloc:  # never echo what may be a password
        raise UsageError(f"--binary-cache oci://...@{parts.netloc.rsplit('@', 1)[1]}/"
                         f"{repository}: credentials in the URL are refused (nothing was sent).",
                         "Use `docker login`, or SRCBUILD_REGISTRY_USER and "
                         "SRCBUILD_REGISTRY_PASSWORD.")
    bad = (parts.scheme != "oci" or not parts.hostname or not repository or parts.query
           or parts.fragment or not re.fullmatch(_REPO, repository))
    if bad:
        raise UsageError(f"--binary-cache {text} is not oci://HOST[:PORT]/REPOSITORY with a "
                         "lowercase repository name.",
                         "For example oci://HOST/OWNER/srcbuild-cache, or "
                         "oci://127.0.0.1:5000/srcbuild. Credentials never go in the URL.")
    try:
        port = parts.port
    except ValueError:
        raise UsageError(f"--binary-cache {text}: the port is not a number.") from None
    hostname = parts.hostname or ""
    host = f"[{hostname}]" if ":" in hostname else hostname
    return Reference(host + (f":{port}" if port else ""), hostname, repository)


def _status_text(resp: http.client.HTTPResponse) -> str:
    """``HTTP 404 MANIFEST_UNKNOWN`` from a registry's error body, without echoing it whole."""
    code = ""
    try:
        body = json.loads(resp.read(8192) or b"{}")
        code = " ".join(str(e.get("code", "")) for e in body.get("errors", [])[:2])
    except (ValueError, AttributeError, OSError, http.client.HTTPException):
        pass
    return f"HTTP {resp.status}" + (f" {code}" if code else "")


class Transport:
    """Requests to one repository on one registry, authenticated as the registry asks.
    Thread-safe: packages are stored from several threads.

    Every failure to talk to it is a ``RegistryUnavailable`` (``RegistryDenied`` for 401 and
    403) carrying a message that names the cache and the status but never a credential.
    """

    def __init__(self, ref: Reference, creds: Credentials, timeout: float = 60.0,
                 retries: int = 3, backoff: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.ref = ref
        self.creds = creds
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self._lock = threading.Lock()
        self._opener: urllib.request.OpenerDirector | None = None
        self._scheme: str | None = None
        self._challenge: tuple[str, dict[str, str]] | None = None  # learnt from a 401
        self._tokens: dict[str, str] = {}  # actions ("pull", "pull,push") -> bearer token

    def _base(self) -> str:
        """https://HOST, or http://HOST for a loopback registry that does not speak TLS."""
        if self._scheme is None:
            scheme = "https"
            if self.ref.loopback:  # as Docker does: try TLS first, plain HTTP only here
                try:
                    self._open("GET", f"https://{self.ref.host}/v2/", {}, None).close()
                except RegistryUnavailable as e:
                    cause = e.__cause__
                    reason = getattr(cause, "reason", cause)
                    if not (isinstance(reason, ssl.SSLError)
                            and not isinstance(reason, ssl.SSLCertVerificationError)):
                        raise
                    scheme = "http"
            self._scheme = scheme
        return f"{self._scheme}://{self.ref.host}"

    def _get_opener(self) -> urllib.request.OpenerDirector:
        """urllib without its redirect and error handlers (each status is handled in
        ``request``); built on first use, when the CA store is read."""
        with self._lock:
            if self._opener is None:
                self._opener = urllib.request.OpenerDirector()
                for handler in (urllib.request.ProxyHandler(), urllib.request.HTTPHandler(),
                                urllib.request.HTTPSHandler(
                                    context=ssl.create_default_context())):
                    self._opener.add_handler(handler)
            return self._opener

    def url(self, path: str) -> str:
        """The URL of ``path`` below /v2/REPOSITORY/."""
        return f"{self._base()}/v2/{self.ref.repository}/{path}"

    def _open(self, method: str, url: str, headers: dict[str, str],
              body: bytes | Path | None) -> http.client.HTTPResponse:
        data: Any = None
        headers = dict(headers)
        if isinstance(body, Path):
            data = open(body, "rb")  # noqa: SIM115 - closed below, after the request
            headers["Content-Length"] = str(body.stat().st_size)
        elif body is not None:
            data = body
            headers["Content-Length"] = str(len(body))
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            resp: http.client.HTTPResponse = self._get_opener().open(req, timeout=self.timeout)
            return resp
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            reason = getattr(e, "reason", e)
            raise RegistryUnavailable(
                f"Binary cache {self.ref} cannot be reached ({_reason(reason)}).",
                _tls_hint(reason)) from e
        finally:
            if isinstance(body, Path):
                data.close()

    def request(self, method: str, path: str, actions: str = "pull",
                headers: dict[str, str] | None = None, body: bytes | Path | None = None,
                ok: tuple[int, ...] = (200,)) -> http.client.HTTPResponse:
        """Send one request (``path`` below /v2/REPOSITORY/, or an absolute URL the registry
        gave); answer 401 challenges, follow redirects, retry 429 and 5xx with backoff.

        Returns the response when its status is in ``ok`` or is 404; raises
        RegistryUnavailable (RegistryDenied for 401/403) otherwise.
        """
        url = path if "://" in path else self.url(path)
        answered_challenge = False
        redirects = 0
        attempt = 0
        while True:
            same_host = urllib.parse.urlsplit(url).netloc == self.ref.host
            send = dict(headers or {})
            if same_host:
                send.update(self._auth_header(actions))
            resp = self._open(method, url, send, body)
            status = resp.status
            if status in ok or status == 404:
                return resp
            if status in (301, 302, 303, 307, 308) and method in ("GET", "HEAD") \
                    and redirects < 5 and resp.headers.get("Location"):
                url = urllib.parse.urljoin(url, resp.headers["Location"])
                resp.close()
                redirects += 1
                continue
            if status == 401 and same_host and not answered_challenge:
                challenge = resp.headers.get("WWW-Authenticate", "")
                resp.close()
                self._answer(challenge, actions)
                answered_challenge = True
                continue
            if (status == 429 or status >= 500) and attempt < self.retries:
                delay = self.backoff * (2 ** attempt)
                retry_after = resp.headers.get("Retry-After", "")
                if retry_after.isdigit():
                    delay = max(delay, min(float(retry_after), 30.0))
                resp.close()
                attempt += 1
                self.sleep(delay)
                continue
            text = _status_text(resp)
            resp.close()
            tries = f" after {attempt + 1} tries" if attempt else ""
            if status in (401, 403):
                raise RegistryDenied(
                    f"Binary cache {self.ref} refused {method} ({text}; credentials from "
                    f"{self.creds.origin or 'nowhere: none were found'}).",
                    "Log in with `docker login`, or set SRCBUILD_REGISTRY_USER and "
                    "SRCBUILD_REGISTRY_PASSWORD (or SRCBUILD_REGISTRY_TOKEN).", status)
            raise RegistryUnavailable(
                f"Binary cache {self.ref} answered {method} with {text}{tries}.", "", status)

    # -- auth --------------------------------------------------------------------------------
    def _auth_header(self, actions: str) -> dict[str, str]:
        with self._lock:
            challenge = self._challenge
            token = self._tokens.get(actions)
        if challenge is None:
            return {"Authorization": f"Bearer {self.creds.token}"} if self.creds.token else {}
        scheme, params = challenge
        if scheme == "basic":
            return {"Authorization": self.creds.basic()} if self.creds else {}
        if token is None:
            token = self._fetch_token(params, actions)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _answer(self, header: str, actions: str) -> None:
        """Remember how the registry wants to be asked; fail when we have nothing to give."""
        challenge = parse_challenge(header)
        if challenge is None or challenge.scheme not in ("basic", "bearer"):
            raise RegistryDenied(f"Binary cache {self.ref} wants authentication srcbuild "
                                 f"cannot give ({header.split(' ')[0] or 'no challenge'}).",
                                 status=401)
        if challenge.scheme == "basic" and not (self.creds.username or self.creds.password):
            raise RegistryDenied(f"Binary cache {self.ref} needs a user name and password "
                                 "(HTTP 401, basic auth); none were found.",
                                 "Log in with `docker login`, or set SRCBUILD_REGISTRY_USER "
                                 "and SRCBUILD_REGISTRY_PASSWORD.", 401)
        with self._lock:
            self._challenge = (challenge.scheme, challenge.params)
            self._tokens.pop(actions, None)

    def _fetch_token(self, params: dict[str, str], actions: str) -> str:
        """The bearer token for ``repository:NAME:ACTIONS`` from the challenge's realm."""
        if self.creds.token:  # a token given by the user is sent as it is
            return self.creds.token
        realm = params.get("realm", "")
        parts = urllib.parse.urlsplit(realm)
        if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(
                parts.hostname or "")):
            raise RegistryDenied(f"Binary cache {self.ref}: its token endpoint {realm!r} is "
                                 "not an https URL; no credentials were sent.", status=401)
        query = {"scope": f"repository:{self.ref.repository}:{actions}"}
        if params.get("service"):
            query["service"] = params["service"]
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        headers = {"Authorization": self.creds.basic()} if self.creds else {}
        resp = self._open("GET", url, headers, None)
        try:
            if resp.status != 200:
                raise RegistryDenied(f"Binary cache {self.ref}: the token endpoint "
                                     f"{parts.netloc} answered HTTP {resp.status} for scope "
                                     f"{query['scope']}.",
                                     "Check the credentials and that they may use this "
                                     "repository.", resp.status)
            data = json.loads(resp.read(MAX_TOKEN_ANSWER) or b"{}")
        except ValueError:
            raise RegistryUnavailable(f"Binary cache {self.ref}: the token endpoint "
                                      f"{parts.netloc} did not answer JSON.") from None
        finally:
            resp.close()
        token = str(data.get("token") or data.get("access_token") or "")
        with self._lock:
            self._tokens[actions] = token
        return token


def _is_loopback(host: str) -> bool:
    return Reference(host, host, "x").loopback


def _reason(reason: object) -> str:
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {reason.verify_message}"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return "timed out"
    return str(reason) or type(reason).__name__


def _tls_hint(reason: object) -> str:
    if isinstance(reason, ssl.SSLCertVerificationError):
        return ("Install the registry's CA in the system store, or point SSL_CERT_FILE at a "
                "PEM file holding it.")
    return ""
