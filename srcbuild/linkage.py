"""The linkage audit: every ELF file a package stages may load only libraries of its own stage,
of the graph's packages in the prefix, of requirements it declares, or of the C/C++ runtime.

Gentoo calls the others "automagic" dependencies; Homebrew's ``brew linkage --test`` finds them
after the fact. Here they stop the merge, before the check. ``elfload`` says where each needed
library resolves; this module says whether that is allowed, and words the refusal. Also the
linkage view of an installed package (``srcbuild info NAME --prefix DIR``).
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from srcbuild.elfload import (
    Abi,
    Layout,
    Link,
    Loader,
    elf_files,
    file_abi,
    host_loader,
    read_elf,
    resolve,
    soname_of,
)
from srcbuild.errors import LinkageError
from srcbuild.identity import link_file, linker_script_names, parse_libs
from srcbuild.kinds import RequirementKind, Satisfier
from srcbuild.probes import prefix_pkgconfig_dirs, run_quiet
from srcbuild.requirement import Requirement
from srcbuild.sysdeps import describe_packages, distribution_packages, packages_for

if TYPE_CHECKING:
    from srcbuild.graph import Graph
    from srcbuild.recipe import Recipe
    from srcbuild.state import PrefixState

# The C and C++ runtime every program may load without declaring it: glibc's libraries, the
# compiler's support libraries, the dynamic loader and the vDSO. libmvec and libanl are glibc
# too (gcc's vectoriser calls libmvec on its own).
BASELINE = re.compile(
    r"^(?:lib(?:c|m|mvec|pthread|dl|rt|util|resolv|anl|gcc_s|stdc\+\+)\.so(?:\.\d+)*"
    r"|ld-linux[\w.-]*\.so(?:\.\d+)*|ld64\.so\.\d+|linux-(?:vdso|gate)\.so\.\d+)$")

Status = Literal["stage", "prefix", "baseline", "declared", "allowed",
                 "undeclared", "foreign", "unresolved"]
PROBLEMS = ("undeclared", "foreign", "unresolved")


# -- what a package may link -------------------------------------------------------------------
@dataclass(frozen=True)
class Policy:
    """What one package may load besides its own stage and the C/C++ runtime."""

    packages: frozenset[str] = frozenset()  # packages whose prefix files it may load
    declared: Mapping[str, str] = field(default_factory=dict)  # soname or lib stem -> requirement
    allow: tuple[str, ...] = ()  # the recipe's allow_undeclared (fnmatch patterns)
    owners: Mapping[str, str] = field(default_factory=dict)  # prefix-relative file -> package


@dataclass(frozen=True)
class Verdict:
    """One needed library of one ELF file, where it resolves and whether that is allowed."""

    file: str  # the ELF file, relative to the prefix
    link: Link
    status: Status
    by: str = ""  # the package, the requirement or the allow_undeclared entry

    @property
    def ok(self) -> bool:
        return self.status not in PROBLEMS


def stem(soname: str) -> str:
    """libgnutls.so.30 -> libgnutls: what ``-lgnutls`` names."""
    return soname.split(".so")[0]


def classify(file: str, link: Link, policy: Policy, layout: Layout) -> Verdict:
    """Pure: the verdict on one resolved library, in this order: not found -> unresolved;
    the C/C++ runtime -> baseline (wherever it resolves); the stage -> stage; the prefix ->
    prefix when its owner is one of ``policy.packages``, else foreign; the system -> declared
    when its soname or stem is, else allowed by an allow_undeclared pattern, else undeclared."""
    def allowed() -> str | None:
        return next((p for p in policy.allow if fnmatch.fnmatchcase(link.needed, p)), None)

    if link.found == "missing":
        return Verdict(file, link, "unresolved")
    if BASELINE.match(link.needed):
        return Verdict(file, link, "baseline")
    if link.found == "stage":
        return Verdict(file, link, "stage")
    if link.found == "prefix":
        assert link.path is not None
        rel = layout.relative(link.path) or ""
        owner = policy.owners.get(rel)
        if owner is None:
            real = layout.relative(os.path.realpath(link.path)) or ""
            owner = policy.owners.get(real)
        if owner in policy.packages:
            return Verdict(file, link, "prefix", owner or "")
        pattern = allowed()
        if pattern:
            return Verdict(file, link, "allowed", pattern)
        return Verdict(file, link, "foreign", owner or "")
    real = os.path.basename(os.path.realpath(link.path or ""))
    for key in (link.needed, stem(link.needed), stem(real)):
        if key in policy.declared:
            return Verdict(file, link, "declared", policy.declared[key])
    pattern = allowed()
    if pattern:
        return Verdict(file, link, "allowed", pattern)
    return Verdict(file, link, "undeclared")


def audit_tree(root: Path, layout: Layout, policy: Policy, loader: Loader
               ) -> tuple[int, list[Verdict]]:
    """(ELF files checked, one verdict per needed library) for the ELF files under ``root``
    whose ABI is the host's; a guest binary (another machine) or a static one is skipped."""
    checked = 0
    verdicts: list[Verdict] = []
    abis: dict[str, Abi | None] = {}

    def abi_of(path: str) -> Abi | None:  # the same few libraries, asked for by every file
        if path not in abis:
            abis[path] = file_abi(path)
        return abis[path]

    base = layout.stage or layout.prefix
    for path, elf in elf_files(root):
        if elf.abi != loader.abi or not elf.dynamic:
            continue
        checked += 1
        rel = path.relative_to(base).as_posix()
        runtime = f"{layout.prefix}/{rel}"
        if elf.interp and layout.locate(elf.interp) is None:
            verdicts.append(Verdict(rel, Link(elf.interp, None, "missing", "PT_INTERP"),
                                    "unresolved"))
        for needed in elf.needed:
            link = resolve(needed, elf, runtime, layout, loader, abi_of)
            verdicts.append(classify(rel, link, policy, layout))
    return checked, verdicts


# -- declared requirements -> sonames ----------------------------------------------------------
def sonames_for(names: list[str], dirs: list[str], files: list[str], loader: Loader
                ) -> set[str]:
    """Sonames and lib stems the linker binds for ``-lNAME``s: the stem itself, and the SONAME
    of the ``libNAME.so`` it would pick (identity.link_file: its -L folders, the linker's
    default folders, the ld.so cache), or of the libraries an ld script there names."""
    out: set[str] = set()
    for name in names:
        if name.startswith(":"):
            out.add(name[1:])
            out.add(stem(name[1:]))
            continue
        out.add(f"lib{name}")
        found = link_file(name, dirs, lambda: loader.cache)
        if found is not None:
            soname = soname_of(found)
            if soname:
                out.add(soname)
            else:
                out.update(linker_script_names(found))
    for f in files:
        soname = soname_of(f)
        out.update(x for x in (soname, stem(os.path.basename(f))) if x)
    return out


def declared_sonames(requirements: Iterable[tuple[Requirement, str]], loader: Loader,
                     pkg_config_env: Mapping[str, str]) -> dict[str, str]:
    """{soname or lib stem: requirement} for requirements the system satisfies, each given with
    the file it resolved to. A pkgconfig module's ``--libs`` and ``--libs --static`` -l names
    count (a static-only name may still be linked dynamically by a build that asks for it)."""
    out: dict[str, str] = {}
    pkg_config = shutil.which("pkg-config", path=pkg_config_env.get("PATH"))
    for req, where in requirements:
        keys: set[str] = set()
        if req.kind == RequirementKind.PKGCONFIG and pkg_config:
            for extra in ([], ["--static"]):
                text = run_quiet([pkg_config, "--libs", *extra, req.name], dict(pkg_config_env))
                keys |= sonames_for(*parse_libs(text or ""), loader)
        elif req.kind == RequirementKind.LIBRARY:
            keys.add(stem(req.name))
            soname = soname_of(where) if where else None
            if soname:
                keys.add(soname)
        for key in keys:
            out.setdefault(key, str(req))
    return out


@dataclass(frozen=True)
class Allowed:
    """What the graph lets one package load besides its own stage and the C/C++ runtime;
    computed once, when its job starts (``allowed``), and carried by the job."""

    packages: frozenset[str] = frozenset()  # prefix packages: its run-time closure
    system: tuple[tuple[Requirement, str], ...] = ()  # system requirements and their files
    patterns: tuple[str, ...] = ()  # the recipe's allow_undeclared (fnmatch patterns)


def closure(graph: Graph, name: str) -> list[str]:
    """``name`` and every package it requires at run time, transitively."""
    seen: list[str] = []
    todo = [name]
    while todo:
        n = todo.pop()
        if n not in seen and n in graph.nodes:
            seen.append(n)
            todo.extend(graph.nodes[n].runtime_deps)
    return seen


def allowed(graph: Graph, name: str) -> Allowed:
    """Pure: the packages of ``name``'s run-time closure, the requirements the system
    satisfies for it or them (not tools), and its recipe's allow_undeclared."""
    members = closure(graph, name)
    inside = set(members)
    system = tuple((r.requirement, r.where) for r in graph.resolutions
                   if r.of in inside and r.satisfied_by == Satisfier.SYSTEM and not r.tool
                   and r.requirement.kind in (RequirementKind.PKGCONFIG,
                                              RequirementKind.LIBRARY))
    return Allowed(frozenset(members) - {name}, system,
                   tuple(graph.nodes[name].recipe.allow_undeclared))


# -- who owns a system file --------------------------------------------------------------------
def suggest_requirement(soname: str, pc_dirs: Iterable[str]) -> str:
    """A requirement that would declare ``soname``: the pkg-config module whose ``Libs:``
    links it, else ``library:libNAME.so``."""
    name = stem(soname)[3:] if soname.startswith("lib") else stem(soname)
    pattern = re.compile(r"^Libs:.*(?:^|\s)-l" + re.escape(name) + r"(?:\s|$)", re.MULTILINE)
    for d in pc_dirs:
        try:
            entries = sorted(os.listdir(d))
        except OSError:
            continue
        for entry in entries:
            if entry.endswith(".pc"):
                try:
                    text = Path(d, entry).read_text(errors="replace")
                except OSError:
                    continue
                if pattern.search(text):
                    return f"pkgconfig:{entry[:-3]}"
    return f"library:{stem(soname)}.so"


# -- the audit of a staged install -------------------------------------------------------------
@dataclass(frozen=True)
class Audit:
    """What the audit of one stage read and found; ``error`` refuses its merge."""

    files: int
    verdicts: tuple[Verdict, ...]
    error: LinkageError | None = None

    @property
    def problems(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.ok]


def refusal(name: str, version: str, recipe_path: Path, prefix: Path, problems: list[Verdict],
            owners: Mapping[str, str], suggestions: Mapping[str, str]) -> LinkageError:
    """Pure: the error for the problems of one package, one paragraph per library."""
    by_lib: dict[str, list[Verdict]] = {}
    for v in problems:
        by_lib.setdefault(v.link.needed, []).append(v)
    lines = []
    for lib, vs in sorted(by_lib.items()):
        files = sorted({v.file for v in vs})
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        v = vs[0]
        if v.status == "unresolved":
            what = ("its interpreter" if v.link.via == "PT_INTERP" else lib)
            lines.append(f"  {what}: not found by the loader (RUNPATH/RPATH, ld.so cache, "
                         f"default folders), needed by {shown}")
        elif v.status == "foreign":
            whose = f"installed by {v.by}, which" if v.by else "not installed by srcbuild; it"
            lines.append(f"  {lib} -> {v.link.path} ({whose} is not a dependency of {name}), "
                         f"needed by {shown}")
        else:
            owner = owners.get(v.link.path or "", "")
            pkg = (f"distribution package {owner}" if owner else
                   describe_packages(packages_for(Requirement(RequirementKind.LIBRARY, stem(lib) + ".so")))
                   or "owned by no known package")
            lines.append(f"  {lib} -> {v.link.path} ({pkg}), needed by {shown}")
    undeclared = sorted({v.link.needed for v in problems if v.status != "unresolved"})
    cures = []
    if undeclared:
        reqs = ", ".join(dict.fromkeys(f'"{suggestions[s]}"' for s in undeclared
                                       if s in suggestions))
        them = "them" if len(undeclared) > 1 else "it"
        first = suggestions.get(undeclared[0], "")
        feature = (first.split(":", 1)[1] if first.startswith("pkgconfig:")
                   else stem(undeclared[0]).removeprefix("lib"))
        accepted = ", ".join(f'"{s}"' for s in undeclared)
        cures = [
            (f"declare {them} in {recipe_path}: requires = [{reqs}] (then every machine "
             f"that builds the recipe needs {them}, and the build hash says so)"),
            ("or switch the feature off in the recipe's configure arguments (e.g. "
             f"--disable-{feature}, --without-{feature} or -D{feature}=disabled, whichever "
             "the package's configure knows)"),
            f"or accept a known case: allow_undeclared = [{accepted}]",
        ]
    if any(v.status == "unresolved" for v in problems):
        cures.append("a library the loader cannot find means the program would not start: "
                     "install it, build it into the prefix, or fix the RUNPATH")
    what = ("loads libraries the recipe does not declare" if undeclared else
            "needs libraries the loader cannot find")
    return LinkageError(
        f"{name} {version}: the staged install {what}; the prefix {prefix} was left as it "
        "was.\n" + "\n".join(lines),
        "\nTo resolve:\n" + "\n".join(f"  {i}. {c}" for i, c in enumerate(cures, 1)))


def audit_package(recipe: Recipe, allowance: Allowed, destdir: Path, prefix: Path,
                  state: PrefixState, environ: Mapping[str, str],
                  loader: Loader | None = None) -> Audit:
    """The audit phase: audit a staged install against what its graph allows; an undeclared
    or unresolved library makes ``error`` the LinkageError that refuses the merge."""
    loader = loader or host_loader()
    previous = state.get(recipe.name)
    layout = Layout(prefix, destdir, frozenset(previous.files) if previous else frozenset())
    stage = layout.stage
    assert stage is not None
    if not stage.is_dir():
        return Audit(0, ())
    env = dict(environ)
    env["PKG_CONFIG_PATH"] = ":".join([str(d) for d in prefix_pkgconfig_dirs(prefix)] + [
        p for p in environ.get("PKG_CONFIG_PATH", "").split(":") if p])
    policy = Policy(allowance.packages, declared_sonames(allowance.system, loader, env),
                    allowance.patterns, state.owner_of())
    files, verdicts = audit_tree(stage, layout, policy, loader)
    audit = Audit(files, tuple(verdicts))
    problems = audit.problems
    if problems:
        owners = distribution_packages(v.link.path for v in problems if v.link.path)
        pc_path = run_quiet(["pkg-config", "--variable", "pc_path", "pkg-config"], env) or ""
        pc_dirs = env["PKG_CONFIG_PATH"].split(":") + pc_path.strip().split(":")
        suggestions = {v.link.needed: suggest_requirement(v.link.needed, pc_dirs)
                       for v in problems if v.status != "unresolved"}
        return Audit(files, audit.verdicts, refusal(
            recipe.name, recipe.version, recipe.path, prefix, problems, owners, suggestions))
    return audit


# -- `srcbuild info NAME --prefix DIR` ---------------------------------------------------------
@dataclass(frozen=True)
class LinkLine:
    file: str  # relative to the prefix
    needed: str
    path: str | None
    provider: str  # "prefix PACKAGE", "system PACKAGE", "C runtime PACKAGE", "missing"


def installed_linkage(prefix: Path, name: str, state: PrefixState,
                      loader: Loader | None = None) -> list[LinkLine]:
    """The linkage of each ELF file package ``name`` installed in ``prefix``: library ->
    prefix package, or system file and the distribution package that ships it."""
    pkg = state.get(name)
    if pkg is None:
        return []
    loader = loader or host_loader()
    layout = Layout(prefix)
    owners = state.owner_of()
    links: list[tuple[str, Link]] = []
    for rel in pkg.files:
        path = prefix / rel
        if path.is_symlink() or not path.is_file():
            continue
        elf = read_elf(path)
        if elf is None or elf.abi != loader.abi or not elf.dynamic:
            continue
        for needed in elf.needed:
            links.append((rel, resolve(needed, elf, str(path), layout, loader, file_abi)))
    dist = distribution_packages(link.path for _, link in links
                                 if link.found == "system" and link.path)
    out = []
    for rel, link in links:
        if link.found == "missing":
            provider = "missing"
        elif link.found in ("prefix", "stage"):
            lrel = layout.relative(link.path or "") or ""
            real = layout.relative(os.path.realpath(link.path or "")) or ""
            provider = f"prefix {owners.get(lrel) or owners.get(real) or '(not srcbuild)'}"
        else:
            kind = "C runtime" if BASELINE.match(link.needed) else "system"
            provider = f"{kind} {dist.get(link.path or '', '(no package)')}"
        out.append(LinkLine(rel, link.needed, link.path, provider))
    return out


def format_linkage(lines: list[LinkLine]) -> list[str]:
    """``bin/qemu-img`` then ``  libz.so.1 -> /lib/x86_64-linux-gnu/libz.so.1 (system zlib1g)``."""
    out: list[str] = []
    current = None
    for line in lines:
        if line.file != current:
            current = line.file
            out.append(line.file)
        out.append(f"  {line.needed} -> {line.path or 'not found'} ({line.provider})")
    return out
