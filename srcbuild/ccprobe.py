"""The cc: probe: is there a C compiler here that builds static programs for a target?

A ``cc:ARCH-OS`` requirement (``cc:aarch64-linux``) names a capability, not a program: a
cross compiler that compiles and links a static hello world for ARCH, with the binutils
beside it. A compiler being on PATH proves little: Debian's ``gcc-aarch64-linux-gnu``
without ``libc6-dev-arm64-cross`` reads the host's ``/usr/include`` and fails on
``bits/wordsize.h``; Fedora's aarch64 cross gcc and a freestanding gcc have no C library
at all. So each candidate really compiles and links a program in a temporary folder, and
the program must be a static ELF for ARCH. The first candidate that passes is chosen; every
one that fails keeps the first error line, for ``doctor``.

Candidates, in order: the prefix's own toolchains (``PREFIX/cross/*/bin/ARCH-*OS*-gcc``,
what recipe ``cross-toolchain`` installs), then the usual names on PATH (CANDIDATE_NAMES).

A verdict is cached (CACHE_NAME in srcbuild's cache folder) so that plan and doctor stay
fast: a pass by the compiler's path, size and mtime and the C library (``libc.a``) it
linked; a failure by the compiler and the files a fix would change (the package manager's
database, the compiler's sysroot folders), so that installing the missing package, or
building the missing C library, is seen at once.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

# bump when what a verdict means changes: every cached verdict is then asked again
PROBE_VERSION = 1
CACHE_NAME = "cc-verdicts.json"

# ELF e_machine of each ARCH a cc: requirement may name
E_MACHINE = {"aarch64": 183, "x86_64": 62, "riscv64": 243, "arm": 40, "i686": 3,
             "powerpc64le": 21, "s390x": 22}
# {arch}-{os}-...: GNU triplets of the usual cross compilers (Debian/Ubuntu, Arch, musl-cross,
# Arm's and Linaro's releases), looked up on PATH after the prefix's own toolchains
CANDIDATE_NAMES = ("{arch}-{os}-gnu-gcc", "{arch}-{os}-musl-gcc",
                   "{arch}-unknown-{os}-gnu-gcc", "{arch}-none-{os}-gnu-gcc")
# what the arm64 recipes run beside the compiler (CROSS_COMPILE=...): a compiler without them
# is no toolchain (objcopy for the kernel's Image, strip for BusyBox)
BINUTILS = ("as", "ld", "ar", "objcopy", "strip", "readelf")
# a fix for a failing compiler changes one of these (a package installed or removed)
PACKAGE_DATABASES = ("/var/lib/dpkg/status", "/var/lib/rpm", "/lib/apk/db/installed",
                     "/var/lib/pacman/local")
_HELLO = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'
_NAME = re.compile(r"^([a-z0-9_]+)-([a-z]+)$")


@dataclass(frozen=True)
class Attempt:
    """One candidate compiler and what became of it."""

    compiler: str  # the path as found (PATH entry or the prefix's cross folder)
    ok: bool
    reason: str = ""  # why it failed: "cannot link a static program: <first error line>"
    version: str | None = None

    @property
    def cross_compile(self) -> str:
        """The CROSS_COMPILE prefix: the compiler's path without ``gcc``."""
        return self.compiler[: -len("gcc")]


def split_name(name: str) -> tuple[str, str] | None:
    """``aarch64-linux`` -> ("aarch64", "linux"); None when it is not ARCH-OS."""
    m = _NAME.match(name)
    return (m[1], m[2]) if m else None


def candidates(name: str, prefix: Path, path: str) -> list[str]:
    """The compilers to try for ``cc:NAME``, best first, each real file once."""
    parts = split_name(name)
    if parts is None:
        return []
    arch, os_name = parts
    found = sorted(glob.glob(str(prefix / "cross" / "*" / "bin" / f"{arch}-*{os_name}*-gcc")))
    dirs = [str(prefix / "bin")] + [d for d in path.split(":") if d]
    for pattern in CANDIDATE_NAMES:
        exe = shutil.which(pattern.format(arch=arch, os=os_name), path=":".join(dirs))
        if exe:
            found.append(exe)
    out, seen = [], set()
    for exe in found:
        real = os.path.realpath(exe)
        if real not in seen and os.access(exe, os.X_OK):
            seen.add(real)
            out.append(exe)
    return out


def first_error(text: str) -> str:
    """The first line that says what went wrong, without the file:line: prefix."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        m = re.search(r"(?:fatal error|error): (.*)$", line)
        if m:
            return m[1].strip()
    for line in lines:
        if "cannot find" in line or "undefined reference" in line or "No such file" in line:
            return re.sub(r"^.*?(?:ld|collect2)(?:\.bfd)?: ", "", line)
    return lines[0] if lines else "no output"


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _watched(compiler: str) -> dict[str, list[int] | None]:
    """Files a fix for a failing compiler changes: package databases, the sysroot folders."""
    triplet = os.path.basename(compiler)[: -len("-gcc")]
    bindir = os.path.dirname(os.path.realpath(compiler))
    places = list(PACKAGE_DATABASES) + [
        f"/usr/{triplet}", f"/usr/{triplet}/include", f"/usr/{triplet}/lib",
        os.path.join(bindir, "..", triplet), os.path.join(bindir, "..", "sysroot"),
        os.path.join(bindir, "..", "sysroot", "usr", "lib")]
    return {p: _stat(p) for p in places}


def _key(compiler: str, arch: str) -> str:
    return f"{PROBE_VERSION}:{arch}:{os.path.realpath(compiler)}:{_stat(compiler)}"


class VerdictCache:
    """Verdicts on disk, one JSON file; a miss or a damaged file just means probing again."""

    def __init__(self, folder: Path | None) -> None:
        self.file = folder / CACHE_NAME if folder is not None else None
        self._data: dict[str, dict[str, object]] | None = None

    def _load(self) -> dict[str, dict[str, object]]:
        if self._data is None:
            self._data = {}
            if self.file is not None:
                try:
                    data = json.loads(self.file.read_text())
                    if isinstance(data, dict):
                        self._data = data
                except (OSError, ValueError):
                    pass
        return self._data

    def get(self, compiler: str, arch: str) -> Attempt | None:
        entry = self._load().get(_key(compiler, arch))
        if not entry:
            return None
        watch = entry.get("watch")
        if not isinstance(watch, dict) or any(_stat(p) != v for p, v in watch.items()):
            return None
        a = entry.get("attempt")
        if not isinstance(a, dict):
            return None
        return Attempt(compiler, bool(a.get("ok")), str(a.get("reason", "")),
                       a.get("version") if isinstance(a.get("version"), str) else None)

    def put(self, attempt: Attempt, arch: str, watch: dict[str, list[int] | None]) -> None:
        data = self._load()
        data[_key(attempt.compiler, arch)] = {"attempt": asdict(attempt), "watch": watch}
        if self.file is None:
            return
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.file.parent, prefix=".cc-verdicts.")
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, sort_keys=True)
            os.replace(tmp, self.file)  # another srcbuild may write it at the same time
        except OSError:
            pass  # a read-only cache only costs a probe next time


def try_compiler(compiler: str, arch: str, environ: dict[str, str]) -> tuple[Attempt, dict[str, list[int] | None]]:
    """Compile and link a static hello world with ``compiler``; the attempt and what its
    verdict depends on."""
    prefix = compiler[: -len("gcc")]
    missing = [t for t in BINUTILS if shutil.which(prefix + t) is None]
    if missing:
        names = ", ".join(os.path.basename(prefix) + t for t in missing)
        return Attempt(compiler, False, f"has no {names} beside it"), _watched(compiler)
    with tempfile.TemporaryDirectory(prefix="srcbuild-cc-") as tmp:
        src, out = os.path.join(tmp, "hello.c"), os.path.join(tmp, "hello")
        Path(src).write_text(_HELLO)
        try:
            cp = subprocess.run([compiler, "-static", "-O2", "-o", out, src], cwd=tmp,
                                capture_output=True, text=True, errors="replace", env=environ, timeout=120,
                                stdin=subprocess.DEVNULL, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            return Attempt(compiler, False, f"did not run: {e}"), _watched(compiler)
        if cp.returncode != 0 or not os.path.exists(out):
            reason = f"cannot link a static program: {first_error(cp.stderr + cp.stdout)}"
            return Attempt(compiler, False, reason), _watched(compiler)
        wrong = _not_static_for(out, arch)
        if wrong:
            return Attempt(compiler, False, wrong), _watched(compiler)
    version = _version(compiler, environ)
    libc = _libc(compiler, environ)
    watch = {libc: _stat(libc)} if libc else _watched(compiler)
    return Attempt(compiler, True, version=version), watch


def _not_static_for(program: str, arch: str) -> str:
    """Why ``program`` is not a static ELF for ``arch`` ("" when it is)."""
    from srcbuild.elfload import read_elf  # pyelftools: only when a compiler was run

    elf = read_elf(program)
    if elf is None:
        return "made something that is not an ELF program"
    want = E_MACHINE.get(arch)
    if want is not None and elf.abi[2] != want:
        return f"makes programs for ELF machine {elf.abi[2]}, not {arch} ({want})"
    if elf.dynamic:
        return "links dynamically even with -static (the program has an interpreter)"
    return ""


def _version(compiler: str, environ: dict[str, str]) -> str | None:
    try:
        cp = subprocess.run([compiler, "-dumpfullversion"], capture_output=True, text=True, errors="replace",
                            env=environ, timeout=20, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return cp.stdout.strip() or None if cp.returncode == 0 else None


def _libc(compiler: str, environ: dict[str, str]) -> str | None:
    """The libc.a the compiler links (its identity joins the verdict's key)."""
    try:
        cp = subprocess.run([compiler, "-print-file-name=libc.a"], capture_output=True,
                            text=True, errors="replace", env=environ, timeout=20, check=False,
                            stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    path = cp.stdout.strip()
    return os.path.realpath(path) if os.path.isabs(path) and os.path.exists(path) else None


# one answer per (name, prefix, PATH) and process: plan, the template of every build step
# and doctor ask the same question
_MEMO: dict[tuple[str, str, str], list[Attempt]] = {}


def probe(name: str, prefix: Path, environ: dict[str, str], cache_dir: Path | None,
          fresh: bool = False) -> list[Attempt]:
    """Try the candidates for ``cc:NAME`` in order until one passes; every attempt made.

    ``fresh``: not this process's earlier answer (a build step, after a merge may have put a
    toolchain into the prefix); the verdicts on disk still spare the compiles."""
    path = environ.get("PATH", "")
    memo = (name, str(prefix), path)
    if memo in _MEMO and not fresh:
        return _MEMO[memo]
    parts = split_name(name)
    attempts: list[Attempt] = []
    if parts is not None:
        arch = parts[0]
        cache = VerdictCache(cache_dir)
        env = dict(environ, LC_ALL="C")  # the error line in English whatever the locale
        for compiler in candidates(name, prefix, path):
            attempt = cache.get(compiler, arch)
            if attempt is None:
                attempt, watch = try_compiler(compiler, arch, env)
                cache.put(attempt, arch, watch)
            attempts.append(attempt)
            if attempt.ok:
                break
    _MEMO[memo] = attempts
    return attempts


def chosen(attempts: list[Attempt]) -> Attempt | None:
    return next((a for a in attempts if a.ok), None)


def default_cache_dir(environ: dict[str, str]) -> Path:
    """Where verdicts are kept: srcbuild's default cache folder (api.default_cache_dir:
    SRCBUILD_CACHE, else the checkout's cache/, else ~/.cache/srcbuild)."""
    from srcbuild.locations import checkout_cache_dir

    given = environ.get("SRCBUILD_CACHE")
    if given:
        return Path(given)
    return checkout_cache_dir() or (
        Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "srcbuild")
