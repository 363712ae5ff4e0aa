"""Requirement -> prefix | system | recipe, with reasons; builds the recipe graph.

Pure over its inputs: the recipe book, a probe (anything with ``lookup(req)``) and the
prefix's state record.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from srcbuild.errors import RecipeError, UnsatisfiedError
from srcbuild.probes import Found
from srcbuild.recipe import Recipe, RecipeBook, check_templates, render_requirements
from srcbuild.requirement import Requirement, parse
from srcbuild.state import PrefixState

# Bumped when the way srcbuild builds changes enough that old installs should rebuild.
BUILD_ABI = "1"


class Probe(Protocol):
    def lookup(self, req: Requirement) -> Found | None: ...


@dataclass(frozen=True)
class Resolution:
    """How one requirement of one recipe was (or was not) satisfied."""

    requirement: Requirement
    of: str
    satisfied_by: str  # prefix | system | recipe | missing
    version: str | None = None
    where: str = ""  # .pc/library/program path, or the recipe name
    recipe: str | None = None  # the recipe that provides it, when one does
    reason: str = ""
    tool: bool = False
    found: Found | None = None  # what the probe saw, even when it was not good enough

    def to_json(self) -> dict[str, Any]:
        return {"requirement": str(self.requirement), "of": self.of,
                "satisfied_by": self.satisfied_by, "version": self.version,
                "where": self.where, "recipe": self.recipe, "reason": self.reason,
                "tool": self.tool}


@dataclass
class Node:
    """One recipe in the graph, with its options, its dependencies and what to do with it."""

    recipe: Recipe
    options: dict[str, str]
    requires: tuple[Requirement, ...]
    tools: tuple[Requirement, ...]
    provides: tuple[Requirement, ...]
    deps: list[str] = field(default_factory=list)  # recipe names, build order matters
    runtime_deps: list[str] = field(default_factory=list)  # the subset from `requires`
    build_hash: str = ""
    action: str = "build"  # build | installed | skip
    reason: str = ""

    @property
    def name(self) -> str:
        return self.recipe.name


@dataclass
class Graph:
    targets: list[str]
    nodes: dict[str, Node]
    order: list[str]
    resolutions: list[Resolution]
    prefix: Path
    warnings: list[str] = field(default_factory=list)

    def missing(self) -> list[Resolution]:
        return [r for r in self.resolutions if r.satisfied_by == "missing"]

    def to_json(self) -> dict[str, Any]:
        return {
            "prefix": str(self.prefix),
            "targets": self.targets,
            "steps": [{"recipe": n, "version": self.nodes[n].recipe.version,
                       "action": self.nodes[n].action, "reason": self.nodes[n].reason,
                       "deps": self.nodes[n].deps, "build_hash": self.nodes[n].build_hash}
                      for n in self.order],
            "requirements": [r.to_json() for r in self.resolutions],
            "warnings": self.warnings,
        }


def plan_context(recipe: Recipe, options: Mapping[str, str], prefix: Path,
                 jobs: int) -> dict[str, Any]:
    return {"name": recipe.name, "version": recipe.version, "prefix": str(prefix),
            "jobs": jobs, "options": dict(options), "recipe_dir": str(recipe.path.parent),
            "python": sys.executable}


def split_options(given: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``-o NAME=V`` applies to every recipe with that option; ``-o RECIPE.NAME=V`` to one."""
    out: dict[str, dict[str, str]] = {}
    for key, value in given.items():
        if "." in key:
            recipe, opt = key.split(".", 1)
            out.setdefault(recipe, {})[opt] = value
        else:
            out.setdefault("*", {})[key] = value
    return out


def options_for(recipe: Recipe, split: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """The -o values that apply to one recipe: the global ones it declares, then its own."""
    known = {o.name for o in recipe.options}
    given = {k: v for k, v in split.get("*", {}).items() if k in known}
    given.update(split.get(recipe.name, {}))
    return given


class Resolver:
    def __init__(self, book: RecipeBook, probe: Probe, state: PrefixState, prefix: Path,
                 options: Mapping[str, str] | None = None, from_source: set[str] | None = None,
                 jobs: int = 1, toolchain: str = "") -> None:
        self.book = book
        self.probe = probe
        self.state = state
        self.prefix = prefix
        self.options = split_options(options or {})
        self.from_source = from_source or set()
        self.jobs = jobs
        self.toolchain = toolchain
        self.nodes: dict[str, Node] = {}
        self.order: list[str] = []
        self.resolutions: list[Resolution] = []
        self._providers: dict[str, list[Recipe]] | None = None
        self.broken: list[RecipeError] = []  # recipes skipped while looking for providers

    # -- providers -------------------------------------------------------------------
    def providers(self, req: Requirement) -> list[tuple[Recipe, str]]:
        """Recipes whose provides match the requirement's kind and name, with the version."""
        if self._providers is None:
            index: dict[str, list[Recipe]] = {}
            everything = self.book.all(self.broken)
            for recipe in everything:
                for text in recipe.provides:
                    if "{" in text:
                        continue
                    index.setdefault(parse(text).key, []).append(recipe)
                index.setdefault(f"recipe:{recipe.name}", []).append(recipe)
            # provides that depend on options are rendered with the default options
            for recipe in everything:
                templated = tuple(t for t in recipe.provides if "{" in t)
                if templated:
                    ctx = plan_context(recipe, recipe.option_values(self._opts(recipe)),
                                       self.prefix, self.jobs)
                    for r in render_requirements(templated, ctx, f"{recipe.path} provides"):
                        index.setdefault(r.key, []).append(recipe)
            self._providers = index
        out = []
        for recipe in self._providers.get(req.key, []):
            version = recipe.version
            for text in recipe.provides:
                if "{" not in text:
                    p = parse(text)
                    if p.key == req.key and p.op == "=":
                        version = p.version
            out.append((recipe, version))
        return out

    def _opts(self, recipe: Recipe) -> dict[str, str]:
        return options_for(recipe, self.options)

    def _builds_from_source(self, recipe: str) -> bool:
        return "all" in self.from_source or recipe in self.from_source

    # -- one requirement ---------------------------------------------------------------
    def resolve_requirement(self, req: Requirement, of: str, tool: bool) -> Resolution:
        if req.kind == "recipe":
            if not self.book.has(req.name):
                return Resolution(req, of, "missing", tool=tool,
                                  reason=f"no recipe named {req.name}")
            installed = self.state.get(req.name)
            if installed is not None:
                return Resolution(req, of, "prefix", installed.version, req.name, req.name,
                                  "installed in the prefix by srcbuild", tool)
            return Resolution(req, of, "recipe", self.book.get(req.name).version, req.name,
                              req.name, "built from its recipe", tool)

        providers = self.providers(req)
        good = [(r, v) for r, v in providers if req.accepts(v)]
        for recipe, version in good:
            if self._builds_from_source(recipe.name):
                installed = self.state.get(recipe.name)
                by = "prefix" if installed is not None else "recipe"
                return Resolution(req, of, by, version, recipe.name, recipe.name,
                                  "--from-source asks for the recipe", tool)

        found = self.probe.lookup(req)
        if found is not None and req.accepts(found.version):
            if found.in_prefix:
                owner = self._prefix_owner(req)
                return Resolution(req, of, "prefix", found.version, found.where, owner,
                                  "found in the prefix", tool, found)
            return Resolution(req, of, "system", found.version, found.where, None,
                              "found on the system", tool, found)

        if found is None:
            why = "not found"
        else:
            why = f"found {found.version or 'an unknown version'} at {found.where}, " \
                  f"but {req.op} {req.version} is wanted"
        if good:
            recipe, version = good[0]
            return Resolution(req, of, "recipe", version, recipe.name, recipe.name,
                              f"{why}; the recipe {recipe.name} provides {version}", tool, found)
        if providers:
            versions = ", ".join(f"{r.name} {v}" for r, v in providers)
            why += f"; the recipes that provide it are too old or too new ({versions})"
        return Resolution(req, of, "missing", found.version if found else None,
                          found.where if found else "", None, why, tool, found)

    def _prefix_owner(self, req: Requirement) -> str | None:
        for pkg in self.state.packages().values():
            if any(parse(p).key == req.key for p in pkg.provides if "{" not in p):
                return pkg.name if self.book.has(pkg.name) else None
        return None

    # -- the graph -----------------------------------------------------------------------
    def add(self, name: str, stack: tuple[str, ...] = ()) -> None:
        if name in stack:
            cycle = " -> ".join(stack[stack.index(name):] + (name,))
            raise RecipeError(f"Dependency cycle: {cycle}.",
                              "Break it by removing one of these requirements.")
        if name in self.nodes:
            return
        recipe = self.book.get(name)
        options = recipe.option_values(self._opts(recipe))
        ctx = plan_context(recipe, options, self.prefix, self.jobs)
        check_templates(recipe, ctx)
        node = Node(
            recipe, options,
            render_requirements(recipe.requires, ctx, f"{recipe.path} requires"),
            render_requirements(recipe.tools, ctx, f"{recipe.path} tools"),
            render_requirements(recipe.provides, ctx, f"{recipe.path} provides"),
        )
        for reqs, tool in ((node.requires, False), (node.tools, True)):
            for req in reqs:
                res = self.resolve_requirement(req, name, tool)
                self.resolutions.append(res)
                dep = res.recipe if res.satisfied_by in ("recipe", "prefix") else None
                if dep and dep != name:
                    self.add(dep, stack + (name,))
                    if dep not in node.deps:
                        node.deps.append(dep)
                    if not tool and dep not in node.runtime_deps:
                        node.runtime_deps.append(dep)
        self.nodes[name] = node
        self.order.append(name)

    def build_hash(self, node: Node) -> str:
        h = hashlib.sha256()
        h.update(json.dumps({
            "abi": BUILD_ABI, "recipe": node.recipe.digest, "options": node.options,
            "prefix": str(self.prefix), "toolchain": self.toolchain,
            "machine": platform.machine(),
            "deps": {d: self.nodes[d].build_hash for d in sorted(node.runtime_deps)},
        }, sort_keys=True).encode())
        return h.hexdigest()

    def _skipped_target(self, name: str, targets: list[str]) -> str:
        """Why a target is not built at all (the system provides it), or ''."""
        node = self.nodes[name]
        if name in targets and not node.recipe.is_group and self.state.get(name) is None \
                and not self._builds_from_source(name):
            return self._system_provides(node)
        return ""

    def prefer_graph_providers(self, targets: list[str]) -> None:
        """A requirement the system satisfies, but that a recipe of this graph will install
        into the prefix, is the recipe's: the prefix comes first on every search path, so
        that copy is the one the build uses, in this run and in every later one (without
        this, the second run would see it in the prefix and rebuild)."""
        provided: dict[str, str] = {}
        for name in self.order:
            for p in self.nodes[name].provides:
                provided.setdefault(p.key, name)
        for i, res in enumerate(self.resolutions):
            provider = provided.get(res.requirement.key)
            if res.satisfied_by != "system" or provider is None or provider == res.of \
                    or self._skipped_target(provider, targets):
                continue
            recipe = self.nodes[provider].recipe
            if not res.requirement.accepts(recipe.version) or self._reaches(provider, res.of):
                continue
            self.resolutions[i] = replace(
                res, satisfied_by="recipe", version=recipe.version, where=provider,
                recipe=provider, reason=f"the system has it too ({res.where}), but this graph "
                                        f"installs {provider} into the prefix, ahead on PATH")
            consumer = self.nodes[res.of]
            if provider not in consumer.deps:
                consumer.deps.append(provider)
            if not res.tool and provider not in consumer.runtime_deps:
                consumer.runtime_deps.append(provider)
        self.order = topological(self.order, {n: self.nodes[n].deps for n in self.order})

    def _reaches(self, start: str, goal: str) -> bool:
        """True when ``start`` depends on ``goal`` (an edge goal -> start would close a cycle)."""
        seen, todo = set(), [start]
        while todo:
            n = todo.pop()
            if n == goal:
                return True
            if n not in seen:
                seen.add(n)
                todo.extend(self.nodes[n].deps)
        return False

    def resolve(self, targets: list[str]) -> Graph:
        for t in targets:
            self.add(t)
        self.prefer_graph_providers(targets)
        rebuilt: set[str] = set()
        for name in self.order:
            node = self.nodes[name]
            node.build_hash = self.build_hash(node)
            installed = self.state.get(name)
            stale_deps = [d for d in node.deps if d in rebuilt]
            system = self._skipped_target(name, targets)
            if system:
                node.action, node.reason = "skip", f"the system already provides {system}"
                continue
            if installed is not None and installed.build_hash == node.build_hash \
                    and not stale_deps:
                node.action, node.reason = "installed", \
                    f"{installed.version} is installed in the prefix with the same build hash"
            elif installed is not None:
                node.action = "build"
                node.reason = (f"rebuild: {', '.join(stale_deps)} will be rebuilt" if stale_deps
                               else "rebuild: the recipe, its options or a dependency changed")
                rebuilt.add(name)
            else:
                node.action, node.reason = "build", "not installed in the prefix"
                rebuilt.add(name)
        return Graph(list(targets), self.nodes, self.order, self.resolutions, self.prefix,
                     [str(e) for e in self.broken])

    def _system_provides(self, node: Node) -> str:
        """A description of the system's copy when it satisfies every provide, else ''."""
        if not node.provides:
            return ""
        seen = []
        for p in node.provides:
            if p.kind == "recipe":
                return ""
            found = self.probe.lookup(p)
            if found is None or found.in_prefix:
                return ""
            seen.append(f"{p.key} {found.describe()}")
        return "; ".join(seen)


def topological(order: list[str], deps: Mapping[str, list[str]]) -> list[str]:
    """``order`` rearranged so that every package comes after its deps, otherwise as it was."""
    out: list[str] = []
    placed: set[str] = set()
    pending = list(order)
    while pending:
        for name in pending:
            if all(d in placed for d in deps.get(name, []) if d in deps):
                out.append(name)
                placed.add(name)
                pending.remove(name)
                break
        else:  # cannot happen: edges that would close a cycle are never added
            out.extend(pending)
            break
    return out


def provider_names(book: RecipeBook) -> Callable[[Requirement], list[str]]:
    """A lookup of the recipes whose (untemplated) provides match a requirement."""
    def find(req: Requirement) -> list[str]:
        return [r.name for r in book.all([]) if any(
            "{" not in p and parse(p).key == req.key for p in r.provides)]
    return find


def require_satisfiable(graph: Graph) -> None:
    """Raise UnsatisfiedError naming every requirement nothing satisfies."""
    missing = graph.missing()
    if missing:
        lines = "; ".join(f"{r.requirement} (needed by {r.of}): {r.reason}" for r in missing)
        raise UnsatisfiedError(
            f"Nothing satisfies {lines}.",
            to_resolve=[("Install the system package that provides it (`srcbuild doctor NAME` "
                         "names it and explains each miss)."),
                        "Or add a recipe that provides it (--recipes DIR)."])
