"""The only place that asks the system: pkg-config, ldconfig -p, PATH, --version, the
build's python3 (through pyprobe.py) and cross compilers (through ccprobe.py).

A probe returns a Found (with provenance: the .pc file, library or program path and its
version; for what the system has, outside the prefix, the identity of the files it resolved
to) or None; it never raises for a miss.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from srcbuild import ccprobe
from srcbuild.identity import FileId, content_id, library_files, stat_id
from srcbuild.kinds import RequirementKind
from srcbuild.pyprobe import Interpreter, Module, probe_modules, python_path
from srcbuild.requirement import Requirement

LIB_DIRS = ("lib", "lib64")
_VERSION = re.compile(r"(\d+(?:\.\d+)+)")


@dataclass(frozen=True)
class Found:
    """A requirement found on this machine: where, at which version, and whether in the prefix."""

    version: str | None
    where: str
    in_prefix: bool
    # the system's files it resolved to (identity.py): a .pc and the libraries its --libs
    # link, a library, a program; empty in the prefix, where the package's build hash says it
    identity: tuple[FileId, ...] = ()

    def describe(self) -> str:
        v = f"{self.version} " if self.version else ""
        return f"{v}({self.where})"


def prefix_pkgconfig_dirs(prefix: Path) -> list[Path]:
    return [prefix / "lib" / "pkgconfig", prefix / "lib64" / "pkgconfig",
            prefix / "share" / "pkgconfig"]


def run_quiet(argv: list[str], env: dict[str, str] | None = None, timeout: float = 20) -> str | None:
    """stdout of a probe command, or None when it is missing or fails."""
    try:
        cp = subprocess.run(argv, check=False, capture_output=True, text=True, errors="replace", env=env, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return cp.stdout if cp.returncode == 0 else None


def parse_ldconfig(text: str) -> dict[str, list[str]]:
    """``ldconfig -p`` output -> {soname or linker name: [paths]} (pure)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines()[1:]:
        m = re.match(r"\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)", line)
        if m:
            out.setdefault(m[1], []).append(m[3])
    return out


def library_version(path: str) -> str | None:
    """The version in the real file name of a library (libz.so.1.2.13 -> 1.2.13)."""
    real = os.path.basename(os.path.realpath(path))
    m = re.search(r"\.so\.(\d+(?:\.\d+)*)$", real)
    return m[1] if m else None


class SystemProbe:
    """Looks requirements up with the prefix first, then the system."""

    def __init__(self, prefix: Path, environ: dict[str, str] | None = None,
                 installed: dict[str, str] | None = None) -> None:
        self.prefix = prefix.resolve()
        self.environ = dict(os.environ if environ is None else environ)
        self._memo: dict[str, Found | None] = {}
        # "program:NAME" -> version, for what srcbuild installed in the prefix: a program
        # of the prefix need not be started to learn the version its package recorded
        self.installed = installed or {}
        self.interpreter: Interpreter | None = None  # the build's python3, once started
        self.cache_dir = ccprobe.default_cache_dir(self.environ)  # cc: verdicts
        self._modules: dict[str, Module] = {}
        self._started: dict[str, subprocess.Popen[str]] = {}  # exe -> its --version, running

    # -- search paths -------------------------------------------------------------
    @cached_property
    def pkg_config(self) -> str | None:
        return shutil.which("pkg-config", path=self.environ.get("PATH"))

    @cached_property
    def default_pc_path(self) -> list[str]:
        """pkg-config's compiled-in search path (one process, once)."""
        if not self.pkg_config:
            return []
        out = run_quiet([self.pkg_config, "--variable", "pc_path", "pkg-config"], self.environ)
        return [p for p in (out or "").strip().split(":") if p]

    @cached_property
    def pc_search_path(self) -> list[str]:
        user = [p for p in self.environ.get("PKG_CONFIG_PATH", "").split(":") if p]
        libdir = self.environ.get("PKG_CONFIG_LIBDIR")
        system = [p for p in libdir.split(":") if p] if libdir is not None else self.default_pc_path
        mine = [str(d) for d in prefix_pkgconfig_dirs(self.prefix)]
        return list(dict.fromkeys(mine + user + system))

    def pkg_config_env(self) -> dict[str, str]:
        env = dict(self.environ)
        user = [p for p in self.environ.get("PKG_CONFIG_PATH", "").split(":") if p]
        env["PKG_CONFIG_PATH"] = ":".join(
            [str(d) for d in prefix_pkgconfig_dirs(self.prefix)] + user)
        return env

    @cached_property
    def path_dirs(self) -> list[str]:
        return [str(self.prefix / "bin")] + [
            p for p in self.environ.get("PATH", "").split(":") if p]

    @cached_property
    def ldconfig(self) -> dict[str, list[str]]:
        exe = shutil.which("ldconfig") or "/sbin/ldconfig"
        out = run_quiet([exe, "-p"]) if os.path.exists(exe) else None
        return parse_ldconfig(out or "")

    # -- lookups --------------------------------------------------------------------
    def lookup(self, req: Requirement) -> Found | None:
        """Where this machine has the requirement, prefix first; None when it does not.

        One method per RequirementKind (``recipe:`` requirements are never probed): a new
        kind of requirement gets its lookup here.
        """
        key = f"{req.kind}:{req.name}:{bool(req.op)}"
        if key not in self._memo:
            fn = {RequirementKind.PKGCONFIG: self.pkgconfig,
                  RequirementKind.LIBRARY: self.library,
                  RequirementKind.PROGRAM: self.program,
                  RequirementKind.PYTHON: self.python,
                  RequirementKind.CC: self.cc}[req.kind]
            self._memo[key] = fn(req.name, want_version=bool(req.op))
        return self._memo[key]

    def find_pc(self, name: str) -> str | None:
        for d in self.pc_search_path:
            candidate = os.path.join(d, f"{name}.pc")
            if os.path.isfile(candidate):
                return candidate
        return None

    def pkgconfig(self, name: str, want_version: bool = True) -> Found | None:
        pc = self.find_pc(name)
        if pc is None or not self.pkg_config:
            return None
        env = self.pkg_config_env()
        out = run_quiet([self.pkg_config, "--modversion", name], env)
        if out is None:
            return None  # the .pc exists but pkg-config rejects it (e.g. its Requires are missing)
        if self._under_prefix(pc):
            return Found(out.strip() or None, pc, True)
        # one more pkg-config (~2 ms): the libraries a build links for this module
        libs = run_quiet([self.pkg_config, "--libs", name], env) or ""
        identity = (content_id(pc), *(stat_id(f) for f in library_files(libs, lambda: self.ldconfig)))
        return Found(out.strip() or None, pc, False, identity)

    def library(self, name: str, want_version: bool = True) -> Found | None:
        for sub in LIB_DIRS:
            candidate = self.prefix / sub / name
            if candidate.exists():
                return Found(library_version(str(candidate)), str(candidate), True)
        paths = self.ldconfig.get(name)
        if paths:
            return Found(library_version(paths[0]), paths[0], False, (stat_id(paths[0]),))
        return None

    def program(self, name: str, want_version: bool = True) -> Found | None:
        exe = shutil.which(name, path=":".join(self.path_dirs))
        if exe is None:
            return None
        in_prefix = self._under_prefix(exe)
        version = self.installed.get(f"program:{name}") if in_prefix else None
        if version is None and self.interpreter is not None and self.interpreter.command == exe:
            version = _dotted(self.interpreter.version)  # the python: probe started it already
        if version is None and want_version:
            started = self._started.pop(exe, None)
            version = (version_of(started) if started is not None
                       else program_version(exe, self.environ))
        return Found(version, exe, in_prefix, () if in_prefix else (stat_id(exe),))

    def expect(self, programs: Iterable[str]) -> None:
        """Start ``--version`` of these programs now, side by side, so that the answer is
        ready when the resolver asks (after loading the recipes, which takes as long).

        api.resolve names the programs whose version the prefix's records say the last run
        needed (a pyenv shim's ``python3 --version`` alone takes 0.16 s). Only a start moves:
        the answer is the program's own, read as program() would; a wrong guess costs one
        process, reaped by settle(). Programs of the prefix are never started (their
        version is the one their package recorded).
        """
        for name in programs:
            exe = shutil.which(name, path=":".join(self.path_dirs))
            if exe is None or exe in self._started or self._under_prefix(exe):
                continue
            try:
                self._started[exe] = subprocess.Popen(
                    [exe, "--version"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, text=True, errors="replace", env=self.environ)
            except OSError:
                continue

    def settle(self) -> None:
        """Wait for the started probes nobody asked for (a guess that was wrong)."""
        while self._started:
            version_of(self._started.popitem()[1])

    # -- python: modules of the build's python3 --------------------------------------------
    @cached_property
    def python3(self) -> str | None:
        """The build's python3: the first on the PATH of the steps (the prefix's bin first)."""
        return shutil.which("python3", path=":".join(self.path_dirs))

    def python_env(self) -> dict[str, str]:
        """The environment of the steps as far as Python cares: the prefix's site-packages
        first on PYTHONPATH (buildenv.prefix_env puts it there)."""
        env = dict(self.environ)
        env["PYTHONPATH"] = python_path([self.prefix], self.environ.get("PYTHONPATH"))
        return env

    def prefetch(self, reqs: Iterable[Requirement]) -> None:
        """Import every python: module of ``reqs`` not asked yet, in one interpreter start
        (the resolver hands over one recipe's requirements at a time)."""
        names = [r.name for r in reqs
                 if r.kind == RequirementKind.PYTHON and r.name not in self._modules]
        if not names:
            return
        if self.python3 is None:
            why = "no python3 on PATH"
            self._modules.update({n: Module(n, error=why) for n in names})
            return
        report = probe_modules(self.python3, names, self.python_env())
        if self.interpreter is None or not report.error:
            self.interpreter = report
        self._modules.update(report.modules)

    def module(self, name: str) -> Module:
        """What importing ``name`` in the build's python3 gave (found or not, and why)."""
        if name not in self._modules:
            self.prefetch([Requirement(RequirementKind.PYTHON, name)])
        return self._modules[name]

    def python(self, name: str, want_version: bool = True) -> Found | None:
        m = self.module(name)
        if not m.found:
            return None
        return Found(m.version, m.path, os.path.isabs(m.path) and self._under_prefix(m.path))

    # -- cc: cross compilers that link static programs ---------------------------------------
    def cc_attempts(self, name: str) -> list[ccprobe.Attempt]:
        """Every candidate compiler for ``cc:NAME`` tried, up to the first that passed."""
        return ccprobe.probe(name, self.prefix, self.environ, self.cache_dir)

    def cc(self, name: str, want_version: bool = True) -> Found | None:
        good = ccprobe.chosen(self.cc_attempts(name))
        if good is None:
            return None
        in_prefix = self._under_prefix(good.compiler)
        return Found(good.version, good.compiler, in_prefix,
                     () if in_prefix else (stat_id(good.compiler),))

    def _under_prefix(self, path: str) -> bool:
        try:
            Path(path).resolve().relative_to(self.prefix)
            return True
        except ValueError:
            return False


def _dotted(version: str | None) -> str | None:
    """The dotted part of a version, as program_version reads it from ``--version``."""
    m = _VERSION.search(version or "")
    return m[1] if m else None


def program_version(exe: str, environ: dict[str, str] | None = None) -> str | None:
    """First dotted version number that ``exe --version`` prints."""
    try:
        cp = subprocess.run([exe, "--version"], check=False, capture_output=True, text=True,
                            errors="replace", env=environ, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return version_in(cp.stdout + cp.stderr)


def version_of(started: subprocess.Popen[str], timeout: float = 10) -> str | None:
    """program_version's answer from a ``--version`` already started (SystemProbe.expect)."""
    try:
        out, err = started.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        started.kill()
        started.communicate()
        return None
    return version_in(out + err)


def version_in(text: str) -> str | None:
    m = _VERSION.search(text)
    return m[1] if m else None


def toolchain_id(environ: dict[str, str]) -> str:
    """The C compiler and its version: part of every build hash."""
    cc = environ.get("CC", "cc").split()[0]
    exe = shutil.which(cc, path=environ.get("PATH"))
    if exe is None:
        return f"{cc} (not found)"
    out = run_quiet([exe, "--version"], environ)
    return (out or cc).splitlines()[0].strip() if out else cc
