"""The environment every step sees: the prefix before the system, whatever the build system (pure)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path

from srcbuild.durable import atomic_write
from srcbuild.probes import prefix_pkgconfig_dirs
from srcbuild.pyprobe import python_path, site_packages

# Inherited make state would leak the caller's flags and jobserver into every package.
DROP = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "DESTDIR", "CONFIG_SITE")


def _join(first: list[str], existing: str | None, sep: str = ":") -> str:
    parts = first + [p for p in (existing or "").split(sep) if p]
    return sep.join(dict.fromkeys(parts))


def prefix_env(prefix: Path, environ: Mapping[str, str], compiler_flags: bool = True,
               extra_prefixes: tuple[Path, ...] = ()) -> dict[str, str]:
    """PATH, PKG_CONFIG_PATH, CPPFLAGS, LDFLAGS (with an rpath), CMAKE_PREFIX_PATH, ACLOCAL_PATH,
    PYTHONPATH (PREFIX/lib/python3/site-packages, where recipes install Python modules).

    ``extra_prefixes`` (a staged prefix, for checks) come before the prefix itself.
    """
    env = {k: v for k, v in environ.items() if k not in DROP}
    roots = list(dict.fromkeys([*extra_prefixes, prefix]))
    env["PATH"] = _join([str(r / "bin") for r in roots], environ.get("PATH", "/usr/bin:/bin"))
    env["PKG_CONFIG_PATH"] = _join(
        [str(d) for r in roots for d in prefix_pkgconfig_dirs(r)], environ.get("PKG_CONFIG_PATH"))
    env["CMAKE_PREFIX_PATH"] = _join([str(r) for r in roots], environ.get("CMAKE_PREFIX_PATH"))
    env["ACLOCAL_PATH"] = _join([str(r / "share" / "aclocal") for r in roots],
                                environ.get("ACLOCAL_PATH"))
    env["PYTHONPATH"] = python_path(roots, environ.get("PYTHONPATH"))
    if compiler_flags:
        env["CPPFLAGS"] = " ".join([f"-I{r / 'include'}" for r in roots]
                                   + ([environ["CPPFLAGS"]] if environ.get("CPPFLAGS") else []))
        env["LDFLAGS"] = " ".join(
            [f"-L{r / 'lib'}" for r in roots] + [f"-Wl,-rpath,{prefix / 'lib'}"]
            + ([environ["LDFLAGS"]] if environ.get("LDFLAGS") else []))
    env.setdefault("LC_ALL", "C.UTF-8")
    return env


def check_env(prefix: Path, stage: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """What a check (a package's or a group's) and `srcbuild run` see: the stage, then the
    prefix, first on PATH, PKG_CONFIG_PATH, CMAKE_PREFIX_PATH, ACLOCAL_PATH, PYTHONPATH
    and LD_LIBRARY_PATH (the staged libraries are not in the prefix yet: the rpath cannot find
    them), CPPFLAGS with both include folders and LDFLAGS with both lib folders and the
    prefix's rpath, so that a program a check compiles finds the libraries after the merge
    too. A group has no stage of its own: its check sees the prefix."""
    env = prefix_env(prefix, environ, compiler_flags=True, extra_prefixes=(stage,))
    env["LD_LIBRARY_PATH"] = _join(
        [str(r / d) for r in dict.fromkeys((stage, prefix)) for d in ("lib", "lib64")],
        environ.get("LD_LIBRARY_PATH"))
    return env


def prefix_dirs(prefix: Path) -> dict[str, list[str]]:
    """The folders of a prefix that go in front of each search-path variable."""
    return {
        "PATH": [str(prefix / "bin")],
        "PKG_CONFIG_PATH": [str(d) for d in prefix_pkgconfig_dirs(prefix)],
        "LD_LIBRARY_PATH": [str(prefix / "lib"), str(prefix / "lib64")],
        "MANPATH": [str(prefix / "share" / "man")],
        "PYTHONPATH": [str(site_packages(prefix))],
    }


def shell_exports(prefix: Path, shell: str = "sh") -> str:
    """What `srcbuild env` prints: lines that put the prefix in front of the current values."""
    lines = []
    for var, dirs in prefix_dirs(prefix).items():
        if shell == "fish":
            lines.append(f"set -gx {var} {' '.join(shlex.quote(d) for d in dirs)} ${var}")
        else:
            joined = shlex.quote(":".join(dirs))
            lines.append(f"export {var}={joined}${{{var}:+:${var}}}")
    return "\n".join(lines) + "\n"


def write_activate(prefix: Path) -> list[Path]:
    """``PREFIX/activate`` (sh, bash, zsh) and ``PREFIX/activate.fish``: source one to use the
    prefix, like a Python virtual environment."""
    written = []
    for name, shell in (("activate", "sh"), ("activate.fish", "fish")):
        path = prefix / name
        text = (f"# srcbuild prefix {prefix}: source this file ({shell})\n"
                + shell_exports(prefix, shell))
        if not path.exists() or path.read_text() != text:
            atomic_write(path, text, durable=False)
        written.append(path)
    return written
