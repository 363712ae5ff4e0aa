"""Explain every requirement: what satisfied it, or why nothing did and what cures it."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from srcbuild.graph import Graph, Resolution
from srcbuild.kinds import DiagnosisCase, RequirementKind, Satisfier
from srcbuild.logscan import Finding
from srcbuild.probes import SystemProbe
from srcbuild.pyprobe import Interpreter, other_pythons, probe_modules
from srcbuild.requirement import Requirement
from srcbuild.sysdeps import INSTALL, describe_packages, packages_for

# Where a .pc often sits outside pkg-config's default path
PC_PLACES = ("/usr/local/lib*/pkgconfig", "/usr/local/lib/*/pkgconfig", "/usr/local/share/pkgconfig",
             "/opt/*/lib*/pkgconfig", "/opt/*/share/pkgconfig", "/opt/*/*/lib*/pkgconfig",
             "/usr/lib/*/pkgconfig", "/usr/lib*/pkgconfig", "/usr/share/pkgconfig",
             "~/.local/lib*/pkgconfig", "~/.local/srcbuild/lib*/pkgconfig",
             "~/.local/*/lib*/pkgconfig")
LIB_PLACES = ("/usr/local/lib*", "/usr/local/lib/*", "/opt/*/lib*", "/opt/*/*/lib*",
              "~/.local/lib*", "~/.local/srcbuild/lib*")


@dataclass(frozen=True)
class Diagnosis:
    """What `srcbuild doctor` says about one requirement (or one binary of the prefix)."""

    requirement: str
    of: str
    satisfied_by: Satisfier
    case: DiagnosisCase
    message: str
    fix: list[str] = field(default_factory=list)
    packages: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def pc_elsewhere(name: str, search_path: list[str], places: tuple[str, ...] = PC_PLACES
                 ) -> list[str]:
    """``NAME.pc`` files on this machine outside pkg-config's search path."""
    inside = {os.path.realpath(p) for p in search_path}
    found = []
    for pattern in places:
        for d in glob.glob(os.path.expanduser(pattern)):
            if os.path.realpath(d) in inside:
                continue
            candidate = os.path.join(d, f"{name}.pc")
            if os.path.isfile(candidate) and candidate not in found:
                found.append(candidate)
    return found


def pc_version(path: str) -> str | None:
    try:
        for line in Path(path).read_text(errors="replace").splitlines():
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def runtime_libraries(module: str, ldconfig: dict[str, list[str]]) -> list[str]:
    """Runtime libraries (sonames) in ``ldconfig -p`` that a pkg-config module names."""
    stem = module if module.startswith("lib") else f"lib{module}"
    stems = {stem, stem.split("-")[0] if stem.count("-") > 1 else stem}
    if module == "zlib":
        stems.add("libz")
    out = []
    for soname, paths in sorted(ldconfig.items()):
        base = soname.split(".so")[0]
        if base in stems and ".so." in soname:
            out.append(paths[0])
    return out


def _recipe_note(res: Resolution) -> str:
    if res.recipe:
        return f"or let srcbuild build it from the recipe {res.recipe}"
    return "no srcbuild recipe provides it"


def diagnose(res: Resolution, probe: SystemProbe, places: tuple[str, ...] = PC_PLACES,
             pythons: list[Interpreter] | None = None) -> Diagnosis:
    """``pythons``: the other python3 of this machine, started once for every python: module
    of a graph (diagnose_graph); without them, they are asked about this one module."""
    req = res.requirement
    pkgs = packages_for(req)
    base: dict[str, Any] = {"requirement": str(req), "of": res.of,
                            "satisfied_by": res.satisfied_by, "packages": pkgs}
    if res.satisfied_by in (Satisfier.PREFIX, Satisfier.SYSTEM):
        v = f"{res.version} " if res.version else ""
        return Diagnosis(case=DiagnosisCase.FOUND, message=f"{req}: {res.satisfied_by} has {v}at {res.where}.",
                         **base)
    if req.kind == RequirementKind.RECIPE:
        return Diagnosis(case=DiagnosisCase.RECIPE, message=f"{req}: built from its recipe.", **base)
    install = describe_packages(pkgs)
    install_text = f"install {install}" if install else "install the package that ships it"
    found = res.found
    if found is not None and not req.accepts(found.version):
        newer = (f"the recipe {res.recipe} provides {res.version}" if res.recipe
                 else "no srcbuild recipe provides a newer one")
        return Diagnosis(case=DiagnosisCase.TOO_OLD, message=(
            f"{req}: found {found.version or 'an unknown version'} at {found.where}, but "
            f"{req.op} {req.version} is "
            f"wanted; {newer}."), fix=[f"srcbuild {res.recipe}" if res.recipe else install_text],
            **base)
    if req.kind == RequirementKind.CC:
        return cc_missing(res, probe, base)
    if req.kind == RequirementKind.PYTHON:
        if pythons is None:
            pythons = modules_elsewhere([req.name], probe)
        return python_missing(res, probe, pythons, base)
    if req.kind == RequirementKind.PKGCONFIG:
        others = pc_elsewhere(req.name, probe.pc_search_path, places)
        good = [p for p in others if req.accepts(pc_version(p))]
        if good:
            d = os.path.dirname(good[0])
            export = f"export PKG_CONFIG_PATH={d}${{PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}}"
            return Diagnosis(case=DiagnosisCase.PC_OUTSIDE_PATH, message=(
                f"{req}: {good[0]} (version {pc_version(good[0])}) exists, but {d} is not in "
                f"pkg-config's search path. Run: {export}"), fix=[export], **base)
        runtime = runtime_libraries(req.name, probe.ldconfig)
        if runtime:
            return Diagnosis(case=DiagnosisCase.DEV_FILES_MISSING, message=(
                f"{req}: the runtime library is installed ({runtime[0]}), but not its "
                f"development files ({req.name}.pc and the headers): {install_text}, "
                f"{_recipe_note(res)}."), fix=_fixes(pkgs, res), **base)
        return Diagnosis(case=DiagnosisCase.NOT_INSTALLED, message=(
            f"{req}: no {req.name}.pc on this machine and no runtime library for it: "
            f"{install_text}, {_recipe_note(res)}."), fix=_fixes(pkgs, res), **base)
    if req.kind == RequirementKind.PROGRAM:
        return Diagnosis(case=DiagnosisCase.PROGRAM_MISSING, message=(
            f"{req}: {req.name} is not on PATH: {install_text}, {_recipe_note(res)}."),
            fix=_fixes(pkgs, res), **base)
    runtime = [p for soname, ps in probe.ldconfig.items()
               if soname.startswith(req.name + ".") for p in ps]
    if runtime:
        return Diagnosis(case=DiagnosisCase.DEV_FILES_MISSING, message=(
            f"{req}: {runtime[0]} is installed, but not the link-time {req.name} and headers: "
            f"{install_text}, {_recipe_note(res)}."), fix=_fixes(pkgs, res), **base)
    return Diagnosis(case=DiagnosisCase.NOT_INSTALLED, message=(
        f"{req}: not in ldconfig -p nor in the prefix: {install_text}, {_recipe_note(res)}."),
        fix=_fixes(pkgs, res), **base)


def python_missing(res: Resolution, probe: SystemProbe, pythons: list[Interpreter],
                   base: dict[str, Any]) -> Diagnosis:
    """The build's python3 cannot import the module: why, whether another python3 here can,
    the distribution's package (which serves the distribution's python3) and the recipe."""
    req, pkgs = res.requirement, base["packages"]
    if probe.python3 is None:
        what = f"{req}: there is no python3 on PATH to import {req.name} with"
    else:
        build = probe.interpreter.describe() if probe.interpreter else probe.python3
        what = (f"{req}: the build's python3 (the first on PATH), {build}, cannot import "
                f"{req.name} ({probe.module(req.name).error}; PYTHONPATH starts with the "
                "prefix's lib/python3/site-packages)")
    recipe = (f"let srcbuild build it from the recipe {res.recipe} (into "
              "PREFIX/lib/python3/site-packages, on PYTHONPATH for every step)"
              if res.recipe else "no srcbuild recipe provides it")
    install = describe_packages(pkgs)
    distro = "the distribution's python3"
    if probe.interpreter is not None and os.path.realpath(probe.interpreter.executable) != \
            os.path.realpath("/usr/bin/python3"):
        distro = "/usr/bin/python3, which is not the build's python3"
    system = (f"the system package {install} installs it for {distro}" if install
              else "no known system package provides it")
    fix = _fixes(pkgs, res, recipe_first=True)
    elsewhere = [(p, p.modules[req.name]) for p in pythons
                 if req.name in p.modules and p.modules[req.name].found]
    if elsewhere:
        other, found = elsewhere[0]
        v = f"{found.version} " if found.version else ""
        fix = [f"srcbuild {res.recipe}"] if res.recipe else []  # the package is there
        if req.accepts(found.version):
            cure = (f"Either {recipe}, or put {os.path.dirname(other.command)} before "
                    f"{os.path.dirname(probe.python3 or '')} on PATH")
            fix.append(f"export PATH={os.path.dirname(other.command)}:$PATH")
        else:
            cure = f"That one is too old as well ({req.op} {req.version} is wanted): {recipe}"
        return Diagnosis(case=DiagnosisCase.MODULE_OTHER_PYTHON, message=(
            f"{what}. It is installed for another interpreter: {other.describe()} has "
            f"{v}at {found.path}, but the build runs the python3 first on PATH ({system}). "
            f"{cure}."), fix=fix, **base)
    return Diagnosis(case=DiagnosisCase.MODULE_MISSING, message=(
        f"{what}, and no other python3 here has it: {recipe}, or install it for the build's "
        f"python3 ({system})."), fix=fix, **base)


def cc_missing(res: Resolution, probe: SystemProbe, base: dict[str, Any]) -> Diagnosis:
    """No compiler here links a static program for the target: each one tried and why it
    failed (its first error line), the system packages and the recipe."""
    req, pkgs = res.requirement, base["packages"]
    install = describe_packages(pkgs)
    cures = ([f"install {install}"] if install else []) + (
        [f"build {res.recipe} (srcbuild {res.recipe})"] if res.recipe else [])
    cure = " or ".join(cures) or "no known system package or recipe provides one"
    attempts = probe.cc_attempts(req.name)
    if not attempts:
        return Diagnosis(case=DiagnosisCase.CC_MISSING, message=(
            f"{req}: no C compiler for {req.name} on PATH or in the prefix: {cure}."),
            fix=_fixes(pkgs, res), **base)
    why = "; ".join(f"{os.path.basename(a.compiler)} ({a.compiler}) {a.reason}"
                    for a in attempts)
    return Diagnosis(case=DiagnosisCase.CC_INCAPABLE, message=(
        f"{req}: {why}; {cure}."), fix=_fixes(pkgs, res), **base)


def modules_elsewhere(names: list[str], probe: SystemProbe) -> list[Interpreter]:
    """Each other python3 of this machine, started once, importing ``names``."""
    if not names:
        return []
    return [probe_modules(p, names, probe.python_env())
            for p in other_pythons(probe.path_dirs, probe.python3)]


def _fixes(pkgs: dict[str, str], res: Resolution, recipe_first: bool = False) -> list[str]:
    out = [" ".join(INSTALL[m] + p.split()) for m, p in pkgs.items() if m in INSTALL][:1]
    if res.recipe:
        # a module's recipe works for any python3, the distribution's package only for its own
        out.insert(0 if recipe_first else len(out), f"srcbuild {res.recipe}")
    return out


def diagnose_graph(graph: Graph, probe: SystemProbe) -> list[Diagnosis]:
    # every python: module in one start of the build's python3, the missing ones in one
    # start of each other python3
    probe.prefetch(r.requirement for r in graph.resolutions)
    missing = [r.requirement.name for r in graph.resolutions
               if r.requirement.kind == RequirementKind.PYTHON
               and r.satisfied_by not in (Satisfier.PREFIX, Satisfier.SYSTEM)
               and not probe.module(r.requirement.name).found]
    pythons = modules_elsewhere(list(dict.fromkeys(missing)), probe)
    seen: set[tuple[str, str]] = set()
    out = []
    for res in graph.resolutions:
        key = (str(res.requirement), res.of)
        if key not in seen:
            seen.add(key)
            out.append(diagnose(res, probe, pythons=pythons))
    return out


# -- after an install: binaries whose libraries the loader cannot find ------------------------
def prefix_elf_files(prefix: Path) -> list[Path]:
    """The prefix's programs and libraries: files (not links) under bin, sbin, lib, lib64 and
    libexec; under lib only shared objects (``.so`` in the name)."""
    from srcbuild.elfload import elf_header

    files = []
    for sub in ("bin", "sbin", "lib", "lib64", "libexec"):
        d = prefix / sub
        if d.is_dir():
            for p in sorted(d.rglob("*")):
                if p.is_file() and not p.is_symlink() and (sub != "lib" or ".so" in p.name) \
                        and elf_header(p) is not None:
                    files.append(p)
    return files


def unresolved_libraries(prefix: Path, cache_dir: Path | None = None) -> list[Diagnosis]:
    """Diagnosis 5: a program or library of the prefix needs a library the loader cannot
    find. Each file's DT_NEEDED entries are resolved as ld.so does (elfload.resolve: RPATH,
    RUNPATH, the ld.so cache, the default folders; never LD_LIBRARY_PATH), in this process:
    a library is named once, by the file that needs it and whose search path lacks it.
    Each file's facts come from elfcache (read again only when the file changed)."""
    from srcbuild.elfcache import ElfFacts
    from srcbuild.elfload import Abi, Layout, file_abi, host_loader, resolve

    loader = host_loader()
    layout = Layout(prefix)
    abis: dict[str, Abi | None] = {}

    def abi_of(path: str) -> Abi | None:  # the same few libraries, asked for by every file
        if path not in abis:
            abis[path] = file_abi(path)
        return abis[path]

    facts = ElfFacts(cache_dir)
    out = []
    for path in prefix_elf_files(prefix):
        elf = facts.read(path)
        if elf is None or elf.abi != loader.abi:  # a guest's binary: not this loader's
            continue
        for needed in elf.needed:
            if resolve(needed, elf, str(path), layout, loader, abi_of).found == "missing":
                out.append(loader_diagnosis(prefix, path, needed))
    facts.save(prefix)
    return out


def loader_diagnosis(prefix: Path, binary: Path, lib: str) -> Diagnosis:
    req = Requirement(RequirementKind.LIBRARY, lib.split(".so")[0] + ".so")
    pkgs = packages_for(req)
    in_prefix = [str(p) for sub in ("lib", "lib64") for p in [prefix / sub / lib] if p.exists()]
    rel = binary.relative_to(prefix)
    if in_prefix:
        d = os.path.dirname(in_prefix[0])
        export = f"export LD_LIBRARY_PATH={d}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"
        return Diagnosis(str(req), str(rel), Satisfier.PREFIX, DiagnosisCase.LOADER_PATH, (
            f"{rel}: {lib} is in the prefix ({in_prefix[0]}) but {rel} carries no rpath to it. "
            f"Rebuilding it with srcbuild sets the rpath; until then: {export} "
            "(never edit /etc/ld.so.conf for a private prefix)."), [export], pkgs)
    elsewhere = [p for pattern in LIB_PLACES for d in glob.glob(os.path.expanduser(pattern))
                 for p in [os.path.join(d, lib)] if os.path.exists(p)]
    if elsewhere:
        d = os.path.dirname(elsewhere[0])
        export = f"export LD_LIBRARY_PATH={d}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"
        return Diagnosis(str(req), str(rel), Satisfier.MISSING, DiagnosisCase.LOADER_PATH, (
            f"{rel}: {lib} exists at {elsewhere[0]}, outside the loader's path. {export} cures "
            "it now; an rpath (-Wl,-rpath," + d + ") cures it for good."), [export], pkgs)
    install = describe_packages(pkgs) or "the package that ships it"
    return Diagnosis(str(req), str(rel), Satisfier.MISSING, DiagnosisCase.LIBRARY_MISSING, (
        f"{rel}: {lib} is not on this machine: install {install}, or build it into the "
        "prefix."), [], pkgs)


# -- a failed configure: what its logs say is missing -----------------------------------------
def explain_findings(findings: list[Finding], providers: Callable[[Requirement], list[str]]
                     ) -> str:
    paragraphs = []
    for f in findings:
        pkgs = describe_packages(packages_for(f.requirement))
        recipes = providers(f.requirement)
        cure = []
        if pkgs:
            cure.append(f"system package: {pkgs}")
        if recipes:
            cure.append(f"recipe: {', '.join(recipes)} (add \"{f.requirement.key}\" to the "
                        "recipe's requires)")
        cure_text = "; ".join(cure) or "no known package or recipe provides it"
        evidence = "\n".join("    " + line for line in f.evidence.splitlines()[:12])
        paragraphs.append(f"Missing {f.requirement.key} ({cure_text}). From {f.source}:\n"
                          f"{evidence}")
    return "\n".join(paragraphs)


def system_package_command(graph: Graph, manager: str) -> list[str]:
    """The install command for the requirements that neither the system nor any recipe
    satisfies (what recipes can build, srcbuild builds)."""
    wanted: list[str] = []
    for res in graph.resolutions:
        if res.satisfied_by == Satisfier.MISSING and res.requirement.kind != RequirementKind.RECIPE:
            # a value may name several packages (cc: needs a compiler and its C library)
            for pkg in packages_for(res.requirement).get(manager, "").split():
                if pkg not in wanted:
                    wanted.append(pkg)
    return INSTALL[manager] + wanted if wanted else []
