"""`srcbuild create`: a first recipe from a source archive, the way `brew create` and
`spack create` start a formula or a package: fetched through the source cache (so a Debian
source comes through the private index), its sha256 computed, unpacked, its build system,
project folder and pkg-config modules detected, and a commented recipe written that builds
unedited for common packages.

Detection reads files only; nothing of the source runs.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from srcbuild.errors import FetchError, RecipeError, UsageError
from srcbuild.fetch import Fetched, SourceCache, orig_version, upstream_version
from srcbuild.kinds import BuildSystem, SourceKind
from srcbuild.recipe import Recipe, Source, load

# folders whose build files or .pc files are not the project's own
SKIP_DIRS = frozenset(("test", "tests", "testing", "example", "examples", "contrib", "doc",
                       "docs", "fuzz", "fuzzing", "bench", "benchmark", "benchmarks", "build",
                       "ci", "third_party", "thirdparty", "vendor", "external", "extern"))
MAKEFILES = ("GNUmakefile", "makefile", "Makefile")
# dependency() names meson resolves without pkg-config
MESON_INTERNAL = frozenset(("threads", "dl", "m", "openmp", "intl", "iconv", "libc"))


@dataclass(frozen=True)
class Module:
    """A pkg-config module the project installs: its name, its library (when the .pc file
    says -lNAME plainly) and the file it was found in."""

    name: str
    library: str
    found_in: str


@dataclass
class Detected:
    """What the unpacked source says about how to build it."""

    system: BuildSystem
    reason: str  # why this build system, for the recipe's comment
    subdir: str = ""
    autoreconf: bool = False
    build_files: list[str] = field(default_factory=list)
    modules: list[Module] = field(default_factory=list)
    configure_args: list[str] = field(default_factory=list)
    looks_for: list[str] = field(default_factory=list)  # dependencies the build files name


# -- detection ------------------------------------------------------------------------------
def build_files(folder: Path) -> list[str]:
    """The build files at the top of ``folder`` that a builder understands."""
    names = ["meson.build", "CMakeLists.txt", "configure", "configure.ac", "configure.in",
             *MAKEFILES]
    return [n for n in names if (folder / n).is_file()]


def project_folder(top: Path) -> tuple[Path, str]:
    """The folder that holds the project, and its ``subdir`` ('' for the top): the top when
    it has build files, else its one subfolder that has them (expat's Debian orig: expat/)."""
    if build_files(top):
        return top, ""
    candidates = [d for d in sorted(top.iterdir()) if d.is_dir() and not d.name.startswith(".")
                  and d.name.lower() not in SKIP_DIRS and build_files(d)]
    if len(candidates) == 1:
        return candidates[0], candidates[0].name
    return top, ""


def _walk(root: Path, depth: int = 3) -> list[Path]:
    """Files under ``root`` down to ``depth`` levels, not in SKIP_DIRS or hidden folders."""
    out: list[Path] = []
    todo = [(root, 0)]
    while todo:
        folder, level = todo.pop()
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for p in entries:
            if p.is_dir() and not p.is_symlink():
                if level < depth and not p.name.startswith(".") \
                        and p.name.lower() not in SKIP_DIRS:
                    todo.append((p, level + 1))
            elif p.is_file():
                out.append(p)
    return sorted(out)


PC_SUFFIXES = (".pc.in", ".pc.cmake", ".pc")


def pc_modules(root: Path) -> list[Module]:
    """The pkg-config modules of ``.pc.in``/``.pc.cmake``/``.pc`` files, with the library of a
    plain ``Libs: ... -lNAME`` line; names still holding @VARIABLES@ are left out."""
    found: dict[str, Module] = {}
    for path in _walk(root):
        suffix = next((s for s in PC_SUFFIXES if path.name.endswith(s)), None)
        if suffix is None:
            continue
        module = path.name[: -len(suffix)]
        if not module or "@" in module or "$" in module or module in found:
            continue
        library = ""
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Libs:"):
                libs = re.findall(r"(?:^|\s)-l([A-Za-z0-9_+.-]+)(?=\s|$)", line[5:])
                if libs:
                    library = f"lib{libs[0]}.so"
        found[module] = Module(module, library, path.relative_to(root).as_posix())
    return list(found.values())


def meson_modules(root: Path) -> list[Module]:
    """``pkg.generate(..., name: 'NAME')`` of meson.build files: the module, and the library
    when the file builds exactly one."""
    found = []
    for path in _walk(root):
        if path.name != "meson.build":
            continue
        text = _text([path])
        libraries = re.findall(r"\b(?:shared_)?library\(\s*'([^']+)'", text)
        for name in re.findall(r"\.generate\([^)]*?\bname\s*:\s*'([^']+)'", text, re.DOTALL):
            library = f"lib{libraries[0]}.so" if len(libraries) == 1 else ""
            found.append(Module(name, library, path.relative_to(root).as_posix()))
    return found


def _text(paths: list[Path]) -> str:
    out = []
    for p in paths:
        try:
            out.append(p.read_text(errors="replace"))
        except OSError:
            pass
    return "\n".join(out)


def _installs_modules(text: str, modules: list[Module]) -> bool:
    return any(f"{m.name}.pc" in text for m in modules)


def choose_system(folder: Path, modules: list[Module]) -> tuple[BuildSystem, bool, str]:
    """(build system, autoreconf, why), in this order: a shipped configure script (what the
    release was made for); then meson, CMake or autoreconf, preferring the one whose build
    files install the project's .pc files (libyaml's CMakeLists.txt builds only a static
    library without one); then a plain Makefile; else custom."""
    files = build_files(folder)
    everything = _walk(folder)
    if "configure" in files:
        return BuildSystem.AUTOTOOLS, False, "a configure script"
    candidates: list[tuple[BuildSystem, bool, str, str]] = []
    if "meson.build" in files:
        text = _text([p for p in everything if p.name == "meson.build"])
        installs = ".generate(" in text or _installs_modules(text, modules)
        candidates.append((BuildSystem.MESON, False, "meson.build", "pc" if installs else ""))
    if "CMakeLists.txt" in files:
        text = _text([p for p in everything if p.name == "CMakeLists.txt"
                      or p.name.endswith(".cmake") or p.name.endswith(".cmake.in")])
        installs = _installs_modules(text, modules)
        candidates.append((BuildSystem.CMAKE, False, "CMakeLists.txt", "pc" if installs else ""))
    ac = next((f for f in ("configure.ac", "configure.in") if f in files), "")
    if ac:
        text = _text([p for p in everything if p.name in (ac, "Makefile.am")])
        installs = _installs_modules(text, modules)
        candidates.append((BuildSystem.AUTOTOOLS, True, f"{ac} without a configure script",
                           "pc" if installs else ""))
    if candidates:
        best = next((c for c in candidates if c[3]), candidates[0])
        others = [c[2] for c in candidates if c is not best]
        why = best[2]
        if best[3] and others:
            why += f" (it installs the .pc file; also found: {', '.join(others)})"
        elif others:
            why += f" (also found: {', '.join(others)})"
        return best[0], best[1], why
    if any(m in files for m in MAKEFILES):
        return BuildSystem.MAKE, False, "a Makefile (and no configure script)"
    return BuildSystem.CUSTOM, False, "no build file srcbuild knows"


def dependencies_named(folder: Path) -> list[str]:
    """What the build files look for (pkg-config modules, CMake packages), for a comment:
    which of them are required is for the author to say."""
    found: list[str] = []
    for p in _walk(folder, depth=2):
        try:
            text = p.read_text(errors="replace") if p.stat().st_size < 2_000_000 else ""
        except OSError:
            continue
        if p.name == "meson.build":
            for dep in re.findall(r"dependency\(\s*'([^']+)'", text):
                if dep not in MESON_INTERNAL:
                    found.append(f"pkgconfig:{dep}  (meson.build: dependency('{dep}'))")
        elif p.name == "CMakeLists.txt" or p.name.endswith(".cmake"):
            for mods in re.findall(r"pkg_check_modules\s*\(\s*\w+([^)]*)\)", text, re.IGNORECASE):
                for mod in re.findall(r"[A-Za-z][\w.+-]*", mods):
                    if mod not in ("REQUIRED", "QUIET", "IMPORTED_TARGET", "GLOBAL", "NO_CMAKE_PATH",
                                   "NO_CMAKE_ENVIRONMENT_PATH"):
                        found.append(f"pkgconfig:{mod}  (CMake: pkg_check_modules)")
            for pkg in re.findall(r"find_package\s*\(\s*([A-Za-z][\w-]*)", text):
                found.append(f"CMake package {pkg}  (find_package({pkg}))")
        elif p.name in ("configure.ac", "configure.in"):
            for mods in re.findall(r"PKG_CHECK_MODULES\(\s*\[?\w+\]?\s*,\s*\[?([^\],)]+)", text):
                mod = mods.split()[0] if mods.split() else ""
                if mod and not mod.startswith("$"):
                    found.append(f"pkgconfig:{mod}  ({p.name}: PKG_CHECK_MODULES)")
    return list(dict.fromkeys(found))


# find_package() names that are CMake's own modules, not dependencies
CMAKE_OWN = frozenset(("PkgConfig", "Threads", "Doxygen", "GNUInstallDirs", "Git", "Python",
                       "Python3", "Perl", "PythonInterp"))


def detect(top: Path) -> Detected:
    """How to build the unpacked source at ``top``."""
    folder, subdir = project_folder(top)
    modules = pc_modules(folder)
    if "meson.build" in build_files(folder):
        known = {m.name for m in modules}
        modules += [m for m in meson_modules(folder) if m.name not in known]
    system, autoreconf, why = choose_system(folder, modules)
    detected = Detected(system, why, subdir, autoreconf, build_files(folder), modules)
    if system == BuildSystem.CMAKE and "BUILD_SHARED_LIBS" in _text([folder / "CMakeLists.txt"]):
        detected.configure_args.append("-DBUILD_SHARED_LIBS=ON")
    own = {m.name for m in modules}
    detected.looks_for = [d for d in dependencies_named(folder)
                          if d.split()[0].removeprefix("pkgconfig:") not in own
                          and not any(f"find_package({c})" in d for c in CMAKE_OWN)
                          and not any(f"find_package({m})" in d for m in own)]
    return detected


# -- fetching -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Origin:
    """Where the new recipe's source comes from, as the recipe will say it."""

    source: Source
    filename: str
    version: str
    note: str  # where the sha256 comes from


def fetch_debian(cache: SourceCache, name: str, package: str, recipe_path: Path) -> Origin:
    """A Debian source package's orig tarball; the sha256 is the one the signed index lists."""
    _url, filename, sha = cache.debian_orig(package)
    if not sha:
        raise FetchError(f"apt-get lists {filename} of {package} without a SHA256.",
                         "Use --url with the file's address instead.")
    srcpkg = filename.split("_", 1)[0]
    debian_version = orig_version(filename)
    origin = Origin(Source(SourceKind.DEBIAN, srcpkg, sha), filename,
                    upstream_version(debian_version) or "0",
                    f"from Debian's signed index, checked on the download of {filename}")
    _fetch(cache, name, origin, recipe_path)
    return origin


def fetch_url(cache: SourceCache, name: str, url: str, sha256: str, recipe_path: Path,
              version: str) -> Origin:
    """A URL: verified against ``sha256`` when given, else hashed as downloaded."""
    filename = url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    version = version or version_from_filename(filename, name)
    if sha256:
        origin = Origin(Source(SourceKind.URL, url, sha256), filename, version,
                        "given with --sha256 and checked on the download")
        _fetch(cache, name, origin, recipe_path)
        return origin
    _path, sha = cache.download_new(url, filename)
    return Origin(Source(SourceKind.URL, url, sha), filename, version,
                  f"computed from the download on {time.strftime('%Y-%m-%d')}: compare it with "
                  "the checksum upstream publishes")


def _fetch(cache: SourceCache, name: str, origin: Origin, recipe_path: Path) -> None:
    cache.fetch(_draft(name, origin, recipe_path))


def _draft(name: str, origin: Origin, recipe_path: Path) -> Recipe:
    return Recipe(name=name, path=recipe_path, version=origin.version or "0",
                  sources=(origin.source,))


def unpack(cache: SourceCache, name: str, origin: Origin, recipe_path: Path) -> Fetched:
    """Extract once into the source cache (the first build reuses the tree)."""
    return cache.prepare(_draft(name, origin, recipe_path), lambda top: None)


def version_from_filename(filename: str, name: str = "") -> str:
    """1.5.4 from zstd-1.5.4.tar.gz, NAME_1.2.orig.tar.xz or v1.2.tar.gz; '' when none."""
    base = re.sub(r"\.(tar\.[a-z0-9]+|tgz|tbz2|txz|zip)$", "", filename)
    m = re.search(r"(?:^|[-_v])(\d+(?:\.\d+)+[a-z0-9.+~-]*)$", base)
    return upstream_version(m[1]) if m else ""


# -- writing --------------------------------------------------------------------------------
def _q(text: str) -> str:
    """A TOML basic string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _list(items: list[str]) -> str:
    return "[" + ", ".join(_q(i) for i in items) + "]"


TEST_DEFAULTS = {
    BuildSystem.AUTOTOOLS: "make check (when the Makefile has that target)",
    BuildSystem.MESON: "meson test --print-errorlogs",
    BuildSystem.CMAKE: "ctest --output-on-failure",
    BuildSystem.MAKE: "make test (when the Makefile has that target)",
}


def recipe_text(name: str, origin: Origin, found: Detected, command: str) -> str:
    """The commented recipe: every key a first recipe needs, what was detected and why."""
    provides = [f"pkgconfig:{m.name}" for m in found.modules]
    provides += [f"library:{m.library}" for m in found.modules if m.library]
    provides = list(dict.fromkeys(provides))
    lines = [
        f"# {name}: written by `{command}`.",
        "# Check it, fill in what is empty, then:",
        f"#   srcbuild plan {name} --recipes DIR      (what would be built, and why)",
        f"#   srcbuild {name} --recipes DIR --prefix ~/p",
        "# Every key is described in docs/recipes.md.",
        f"name = {_q(name)}",
        f"version = {_q(origin.version)}",
        'summary = ""                  # one line: what it is',
        'homepage = ""',
        'license = ""                  # an SPDX identifier, e.g. "MIT"',
        "# needed to build and at run time: KIND:NAME [OP VERSION], KIND one of pkgconfig,",
        '# library, program, python, recipe; e.g. "pkgconfig:zlib >= 1.2"',
        "requires = []",
    ]
    if found.looks_for:
        lines.append("# its build files look for these (add those it cannot do without):")
        lines += [f"#   {d}" for d in found.looks_for[:20]]
    lines += [
        (f"# needed only to build; srcbuild adds the {found.system} build system's own "
        "programs itself"),
        "tools = []",
    ]
    if provides:
        sources = ", ".join(sorted({m.found_in for m in found.modules}))
        lines.append(f"# from {sources}")
    lines.append(f"provides = {_list(provides)}")
    lines += _check_lines(found)
    lines += ["", "[[source]]"]
    if origin.source.kind == SourceKind.DEBIAN:
        lines.append(f"debian = {_q(origin.source.location)}   # the .orig tarball of Debian's "
                     f"source package ({origin.filename})")
    else:
        lines.append(f"url = {_q(origin.source.location)}")
    lines.append(f"sha256 = {_q(origin.source.sha256)}")
    lines.append(f"# sha256: {origin.note}")
    if found.subdir:
        lines.append(f"subdir = {_q(found.subdir)}   # the project is in this folder of the "
                     "archive")
    lines += ["", "[build]", f"system = {_q(found.system)}   # found: {found.reason}"]
    if found.autoreconf:
        lines.append("autoreconf = true   # no configure script: srcbuild runs autoreconf -fi "
                     "in a copy (autoconf, automake, libtool and m4 join the plan)")
    if found.system in (BuildSystem.AUTOTOOLS, BuildSystem.MESON, BuildSystem.CMAKE):
        lines.append(f"configure_args = {_list(found.configure_args)}")
    elif found.system == BuildSystem.MAKE:
        lines.append("make_args = []   # srcbuild passes PREFIX=...; DESTDIR=... to make install")
    if found.system in TEST_DEFAULTS:
        lines.append(f"# test = [[...]]   # what --test runs; default: "
                     f"{TEST_DEFAULTS[found.system]}; [] for none")
    if found.system == BuildSystem.CUSTOM:
        lines += ["# nothing srcbuild knows how to build was found: give the commands",
                  "configure = []", "build = []",
                  'install = []   # e.g. [["make", "install", "DESTDIR={{ destdir }}"]]']
    return "\n".join(lines) + "\n"


def _check_lines(found: Detected) -> list[str]:
    checks: list[list[str]] = []
    for m in found.modules[:3]:
        checks.append(["pkg-config", "--exists", "--print-errors", m.name])
    for m in found.modules:
        if m.library:
            checks.append(["test", "-e", f"{{{{ stage }}}}/lib/{m.library}"])
            break
    out = ["# run against the staged install, before the merge (stage first on every path)"]
    if not checks:
        return out + ["check = []   # e.g. [[\"NAME\", \"--version\"]]"]
    return out + ["check = [" + ", ".join(_list(c) for c in checks) + "]"]


def write(path: Path, text: str, force: bool) -> None:
    """Write the recipe, then load it: a recipe create writes always loads."""
    if path.exists() and not force:
        raise UsageError(f"{path} exists; srcbuild create does not overwrite a recipe.",
                         "Give --force to replace it, or another NAME or --recipes-dir.")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    try:
        load(path)
    except RecipeError as e:  # a bug of create: say so rather than leave a broken file
        raise RecipeError(f"srcbuild create wrote a recipe that does not load: {e}",
                          f"Fix {path} by hand and report the case.") from None
