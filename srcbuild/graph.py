"""The plan's data: how each requirement was satisfied (Resolution), the recipes to act on
(Node) and the whole resolved graph (Graph), with their JSON forms. Pure."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srcbuild.errors import UnsatisfiedError
from srcbuild.identity import identity_json
from srcbuild.kinds import Action, Satisfier
from srcbuild.probes import Found
from srcbuild.providers import ProviderIndex
from srcbuild.recipe import Recipe
from srcbuild.requirement import Requirement

# Bumped when the way srcbuild builds changes enough that old installs should rebuild.
BUILD_ABI = "1"


@dataclass(frozen=True)
class Resolution:
    """How one requirement of one recipe was (or was not) satisfied."""

    requirement: Requirement
    of: str
    satisfied_by: Satisfier
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
    action: Action = Action.BUILD
    reason: str = ""
    # what the system provides it, {requirement key: identity.identity_json}: in its build
    # hash and its state record
    system: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.recipe.name

    def link(self, dep: str, tool: bool) -> None:
        """Depend on the recipe ``dep`` (at run time too, unless only as a tool)."""
        if dep not in self.deps:
            self.deps.append(dep)
        if not tool and dep not in self.runtime_deps:
            self.runtime_deps.append(dep)


@dataclass
class Graph:
    """The resolved graph: the plan steps in build order and every requirement's resolution."""

    targets: list[str]
    nodes: dict[str, Node]
    order: list[str]
    resolutions: list[Resolution]
    prefix: Path
    warnings: list[str] = field(default_factory=list)
    providers: ProviderIndex | None = None  # what the resolver knew of who provides what

    def missing(self) -> list[Resolution]:
        return [r for r in self.resolutions if r.satisfied_by == Satisfier.MISSING]

    def to_json(self) -> dict[str, Any]:
        """plan --json; "steps" are the plan steps (docs/glossary.md)."""
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


def system_identity(resolutions: list[Resolution]) -> dict[str, Any]:
    """{requirement key: version and files} of the resolutions the system satisfies (one
    recipe's, requirements and tools alike): what the system provides it."""
    return {r.requirement.key: identity_json(r.version, r.found.identity if r.found else ())
            for r in sorted(resolutions, key=lambda r: r.requirement.key)
            if r.satisfied_by == Satisfier.SYSTEM}


def build_hash(node: Node, dep_hashes: Mapping[str, str], prefix: Path, toolchain: str,
               machine: str, system: Mapping[str, Any] | None = None) -> str:
    """What an installed package is compared by: the recipe's digest, its options, the prefix,
    the compiler, the machine, what the system provides it (``node.system`` unless given) and
    the build hashes of its run-time dependencies."""
    system = node.system if system is None else system
    h = hashlib.sha256()
    h.update(json.dumps({
        "abi": BUILD_ABI, "recipe": node.recipe.digest, "options": node.options,
        "prefix": str(prefix), "toolchain": toolchain, "machine": machine,
        "deps": {d: dep_hashes[d] for d in sorted(node.runtime_deps)},
        **({"system": system} if system else {}),
    }, sort_keys=True).encode())
    return h.hexdigest()


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
