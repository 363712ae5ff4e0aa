"""Which distribution package provides a requirement (the data lives in data/sysdeps.toml)."""

from __future__ import annotations

import tomllib
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
def package_map() -> dict[str, dict[str, dict[str, str]]]:
    with open(MAP_FILE, "rb") as f:
        return tomllib.load(f)


def packages_for(req: Requirement) -> dict[str, str]:
    """{manager: package} for a requirement, {} when the map does not know it."""
    table = package_map().get(req.kind, {})
    entry = table.get(req.name)
    if entry is None and req.kind == "library" and not req.name.endswith(".so"):
        entry = table.get(req.name.split(".so")[0] + ".so")
    if entry is None and req.kind == "python" and "." in req.name:
        entry = table.get(req.name.split(".")[0])  # python:yaml.constructor -> yaml's
    return dict(entry or {})


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
