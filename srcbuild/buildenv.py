"""The environment every step sees: the prefix before the system, whatever the build system (pure)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path

from srcbuild.durable import atomic_write
from srcbuild.probes import prefix_pkgconfig_dirs
from srcbuild.pyprobe import python_path, site_packages
from srcbuild.safety import printable

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


SH_HEAD = """\
# srcbuild prefix {prefix}: source this file in sh, bash or zsh; `deactivate` (or
# srcbuild_deactivate) undoes it. Sourcing it again, or another prefix's, replaces it.
if command -v srcbuild_deactivate >/dev/null 2>&1; then srcbuild_deactivate; fi
"""

FISH_HEAD = """\
# srcbuild prefix {prefix}: source this file in fish; `deactivate` (or srcbuild_deactivate)
# undoes it. Sourcing it again, or another prefix's, replaces it.
if functions -q srcbuild_deactivate
    srcbuild_deactivate
end
"""


def _comment(prefix: Path) -> str:
    """The prefix as it may stand in a comment: a newline in its name would end the comment
    and make the rest of the name a command."""
    return printable(str(prefix)).replace("\n", "\\n")


def _sh(prefix: Path) -> str:
    """POSIX sh (bash, zsh, dash): each variable's previous value, or that it was unset (or
    empty), is kept in a shell variable (not exported) for srcbuild_deactivate to put back."""
    dirs = prefix_dirs(prefix)
    save, export, restore = [], [], []
    for var, first in dirs.items():
        old = f"_SRCBUILD_OLD_{var}"
        # empty counts as unset: it means the same to every one of these variables, and
        # zsh keeps MANPATH "set" (empty, not exported) even when it was never given
        save.append(f'if [ -n "${{{var}:-}}" ]; then {old}=${var}; else unset {old}; fi')
        joined = shlex.quote(":".join(first))
        # MANPATH: a trailing ":" keeps the system's manuals when it was unset
        rest = f'":${{{var}-}}"' if var == "MANPATH" else f'"${{{var}:+:${var}}}"'
        export.append(f"export {var}={joined}{rest}")
        restore.append(f'    if [ -n "${{{old}+x}}" ]; then {var}=${old}; export {var}; '
                       f"else unset {var}; fi; unset {old}")
    return (SH_HEAD.format(prefix=_comment(prefix))
            + "srcbuild_deactivate() {\n" + "\n".join(restore) + "\n"
            "    unset SRCBUILD_ACTIVE_PREFIX\n"
            '    if [ -n "${_SRCBUILD_OWN_DEACTIVATE-}" ]; then unset -f deactivate; fi\n'
            "    unset _SRCBUILD_OWN_DEACTIVATE\n"
            "    unset -f srcbuild_deactivate\n"
            "    hash -r 2>/dev/null || :\n}\n"
            + "\n".join(save + export) + "\n"
            f"export SRCBUILD_ACTIVE_PREFIX={shlex.quote(str(prefix))}\n"
            "# a Python virtual environment's deactivate, if one is active, is left alone\n"
            "if ! command -v deactivate >/dev/null 2>&1; then\n"
            "    deactivate() { srcbuild_deactivate; }\n"
            "    _SRCBUILD_OWN_DEACTIVATE=1\n"
            "fi\n"
            "hash -r 2>/dev/null || :\n")


def _fish(prefix: Path) -> str:
    """fish: the same, with fish's lists (a variable ending in PATH is joined with ":" when
    exported, so an empty last element gives MANPATH its trailing colon)."""
    dirs = prefix_dirs(prefix)
    save, export, restore = [], [], []
    for var, first in dirs.items():
        had, old = f"_srcbuild_had_{var}", f"_srcbuild_old_{var}"
        save += [f"if set -q {var}", f"    set -g {had} 1", f"    set -g {old} ${var}",
                 "else", f"    set -e {had}", "end"]
        quoted = " ".join(shlex.quote(d) for d in first)
        if var == "MANPATH":
            export += [f"if set -q {var}", f"    set -gx {var} {quoted} ${var}", "else",
                       f"    set -gx {var} {quoted} ''", "end"]
        else:
            export.append(f"set -gx {var} {quoted} ${var}")
        restore += [f"    if set -q {had}", f"        set -gx {var} ${old}", "    else",
                    f"        set -e {var}", "    end", f"    set -e {had}", f"    set -e {old}"]
    return (FISH_HEAD.format(prefix=_comment(prefix))
            + "function srcbuild_deactivate\n" + "\n".join(restore) + "\n"
            "    set -e SRCBUILD_ACTIVE_PREFIX\n"
            "    if set -q _srcbuild_own_deactivate\n"
            "        functions -e deactivate\n"
            "        set -e _srcbuild_own_deactivate\n"
            "    end\n"
            "    functions -e srcbuild_deactivate\n"
            "end\n"
            + "\n".join(save + export) + "\n"
            f"set -gx SRCBUILD_ACTIVE_PREFIX {shlex.quote(str(prefix))}\n"
            "if not functions -q deactivate\n"
            "    function deactivate\n"
            "        srcbuild_deactivate\n"
            "    end\n"
            "    set -g _srcbuild_own_deactivate 1\n"
            "end\n")


def shell_exports(prefix: Path, shell: str = "sh") -> str:
    """What `srcbuild env` prints and ``PREFIX/activate`` holds: the prefix's folders in front
    of PATH, PKG_CONFIG_PATH, LD_LIBRARY_PATH, MANPATH and PYTHONPATH (prefix_dirs), and a
    deactivate that restores them; sourcing it twice changes nothing."""
    return _fish(prefix) if shell == "fish" else _sh(prefix)


def write_activate(prefix: Path) -> list[Path]:
    """``PREFIX/activate`` (sh, bash, zsh) and ``PREFIX/activate.fish``: source one to use the
    prefix, like a Python virtual environment."""
    written = []
    for name, shell in (("activate", "sh"), ("activate.fish", "fish")):
        path = prefix / name
        text = shell_exports(prefix, shell)
        if not path.exists() or path.read_text() != text:
            atomic_write(path, text, durable=False)
        written.append(path)
    return written
