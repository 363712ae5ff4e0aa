"""Which distribution package provides a requirement (the data lives in data/sysdeps.toml), and
which one ships a given file (``dpkg -S`` / ``rpm -qf``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from srcbuild.requirement import Requirement

MANAGERS = ("apt", "dnf", "apk", "pacman")
INSTALL = {
    "apt": ["apt-get", "install", "-y", "--no-install-recommends"],
    "dnf": ["dnf", "install", "-y"],
    "apk": ["apk", "add"],
    "pacman": ["pacman", "-S", "--needed", "--noconfirm"],
}
MAP_FILE = Path(__file__).resolve().parent / "data" / "sysdeps.toml"


@lru_cache(maxsize=1)
def package_map() -> dict[str, dict[str, dict[str, str | list[str]]]]:
    with open(MAP_FILE, "rb") as f:
        return tomllib.load(f)


def packages_for(req: Requirement) -> dict[str, str]:
    """{manager: package} for a requirement, {} when the map does not know it; where the map
    lists several packages (cc:), they are one space-separated value."""
    table = package_map().get(req.kind, {})
    entry = table.get(req.name)
    if entry is None and req.kind == "library" and not req.name.endswith(".so"):
        entry = table.get(req.name.split(".so")[0] + ".so")
    if entry is None and req.kind == "python" and "." in req.name:
        entry = table.get(req.name.split(".")[0])  # python:yaml.constructor -> yaml's
    return {m: " ".join(v) if isinstance(v, list) else v for m, v in (entry or {}).items()}


def describe_packages(pkgs: dict[str, str]) -> str:
    """'libglib2.0-dev (apt), glib2-devel (dnf), glib-dev (apk), glib2 (pacman)'."""
    return ", ".join(f"{pkgs[m]} ({m})" for m in MANAGERS if m in pkgs)


def parse_os_release(text: str) -> str | None:
    """The package manager of the distribution an /etc/os-release describes (pure)."""
    fields = {}
    for line in text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            fields[k] = v.strip().strip('"')
    ids = [fields.get("ID", "")] + fields.get("ID_LIKE", "").split()
    for ident in ids:
        for manager, names in (("apt", ("debian", "ubuntu")), ("dnf", ("fedora", "rhel", "centos")),
                               ("apk", ("alpine",)), ("pacman", ("arch",))):
            if ident in names:
                return manager
    return None


def this_machine_manager() -> str | None:
    try:
        return parse_os_release(Path("/etc/os-release").read_text())
    except OSError:
        return None


# -- which distribution package ships a file (the linkage audit names it) ----------------------
def _aliases(path: str) -> list[str]:
    """A path, its real path and their /usr-merged twins (dpkg knows only the shipped one)."""
    out: list[str] = []
    for p in (path, os.path.realpath(path)):
        for q in (p, p[4:] if p.startswith("/usr/") else "/usr" + p):
            if q not in out:
                out.append(q)
    return out


def parse_dpkg_search(text: str) -> dict[str, str]:
    """``dpkg -S`` output -> {path: package} (pure; diversions are skipped)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith(("diversion ", "local diversion")) or ": " not in line:
            continue
        pkgs, path = line.rsplit(": ", 1)
        out[path.strip()] = pkgs.split(",")[0].strip().split(":")[0]  # zlib1g:amd64 -> zlib1g
    return out


def distribution_packages(paths: Iterable[str]) -> dict[str, str]:
    """{path: the distribution package that ships it} via ``dpkg -S`` or ``rpm -qf``."""
    paths = list(dict.fromkeys(paths))
    if not paths:
        return {}
    out: dict[str, str] = {}
    if shutil.which("dpkg"):
        queries = [a for p in paths for a in _aliases(p)]
        try:
            cp = subprocess.run(["dpkg", "-S", *queries], capture_output=True, text=True, errors="replace",
                                check=False, timeout=60)
            found = parse_dpkg_search(cp.stdout)
        except (OSError, subprocess.TimeoutExpired):
            found = {}
        for p in paths:
            owner = next((found[a] for a in _aliases(p) if a in found), None)
            if owner:
                out[p] = owner
    elif shutil.which("rpm"):
        for p in paths:
            try:
                cp = subprocess.run(["rpm", "-qf", "--qf", "%{NAME}\\n", p],
                                    capture_output=True, text=True, errors="replace", check=False, timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if cp.returncode == 0 and cp.stdout.strip():
                out[p] = cp.stdout.split()[0]
    return out
