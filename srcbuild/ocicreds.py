"""Registry credentials, found where registry users already keep them, and auth challenges.

Order: SRCBUILD_REGISTRY_TOKEN (a bearer token sent as it is), SRCBUILD_REGISTRY_USER and
SRCBUILD_REGISTRY_PASSWORD, then ``auths`` of ``$DOCKER_CONFIG/config.json`` (default
``~/.docker/config.json``) for the registry's host, then its ``credHelpers`` / ``credsStore``
helper. The variables apply to every oci:// cache of a run; per-registry credentials go in
the Docker config. A ``Credentials`` never shows its secret in ``repr``.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)  # a bearer token to send as it is
    origin: str = ""  # where they came from, for messages: never the secret itself

    def basic(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def __bool__(self) -> bool:
        return bool(self.token or self.username or self.password)


def find(host: str, environ: Mapping[str, str]) -> Credentials:
    """The credentials for ``host`` (``name`` or ``name:port``); empty when there are none."""
    if environ.get("SRCBUILD_REGISTRY_TOKEN"):
        return Credentials(token=environ["SRCBUILD_REGISTRY_TOKEN"],
                           origin="SRCBUILD_REGISTRY_TOKEN")
    if environ.get("SRCBUILD_REGISTRY_USER") or environ.get("SRCBUILD_REGISTRY_PASSWORD"):
        return Credentials(environ.get("SRCBUILD_REGISTRY_USER", ""),
                           environ.get("SRCBUILD_REGISTRY_PASSWORD", ""),
                           origin="SRCBUILD_REGISTRY_USER/PASSWORD")
    return from_docker_config(host, environ)


def docker_config_path(environ: Mapping[str, str]) -> Path:
    if environ.get("DOCKER_CONFIG"):
        return Path(environ["DOCKER_CONFIG"]) / "config.json"
    return Path(environ.get("HOME") or Path.home()) / ".docker" / "config.json"


def _host_of(key: str) -> str:
    """``https://HOST/v1/`` and ``HOST`` both name host ``HOST`` (auths keys come in both
    forms)."""
    key = re.sub(r"^[a-z]+://", "", key.strip())
    return key.split("/", 1)[0].lower()


def from_docker_config(host: str, environ: Mapping[str, str]) -> Credentials:
    path = docker_config_path(environ)
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        return Credentials()
    if not isinstance(config, dict):
        return Credentials()
    origin = f"{path} auths"
    for key, entry in (config.get("auths") or {}).items():
        if _host_of(key) != host.lower() or not isinstance(entry, dict):
            continue
        if entry.get("registrytoken"):
            return Credentials(token=entry["registrytoken"], origin=origin)
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except ValueError:
                continue
            return Credentials(user, password, origin=origin)
        if entry.get("username"):
            return Credentials(entry["username"], entry.get("password", ""), origin=origin)
    helper = (config.get("credHelpers") or {}).get(host) or config.get("credsStore")
    if helper:
        return from_helper(str(helper), host, environ)
    return Credentials()


def from_helper(helper: str, host: str, environ: Mapping[str, str]) -> Credentials:
    """Ask ``docker-credential-HELPER get``; its stderr is dropped, it may name the secret."""
    program = shutil.which(f"docker-credential-{helper}", path=environ.get("PATH"))
    if program is None:
        return Credentials()
    try:
        cp = subprocess.run([program, "get"], input=host, env=dict(environ),
                            capture_output=True, text=True, timeout=30, check=False)
        data = json.loads(cp.stdout) if cp.returncode == 0 else {}
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return Credentials()
    if not isinstance(data, dict) or not data.get("Secret"):
        return Credentials()
    origin = f"docker-credential-{helper}"
    if data.get("Username") == "<token>":  # an identity token: the docker CLI's convention
        return Credentials(token=data["Secret"], origin=origin)
    return Credentials(data.get("Username", ""), data["Secret"], origin=origin)


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" or "bearer"
    params: dict[str, str]


_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_challenge(header: str) -> Challenge | None:
    """``Bearer realm="https://x/token",service="x",scope="repository:a/b:pull"``."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
              for m in _PARAM.finditer(rest)}
    return Challenge(scheme.lower(), params)
