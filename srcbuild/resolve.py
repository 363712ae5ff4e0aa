"""Requirement -> prefix | system | recipe | missing, through one ordered lookup chain; the
graph of recipes that follows from it, in build order, with an action for each.

Pure over its inputs: the recipe book, a Probe (anything with ``lookup(req)``), the prefix's
state record, and the machine's facts (toolchain id, architecture) passed in by the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from srcbuild.errors import RecipeError
from srcbuild.graph import (
    Graph,
    Node,
    Resolution,
    build_hash,
    options_for,
    split_options,
    system_identity,
    topological,
)
from srcbuild.identity import system_changes
from srcbuild.kinds import Action, RequirementKind, Satisfier
from srcbuild.probes import Found
from srcbuild.providers import Provider, ProviderIndex
from srcbuild.recipe import Recipe, RecipeBook
from srcbuild.requirement import Requirement, parse
from srcbuild.state import Installed, PrefixState
from srcbuild.templates import check_templates, render_requirements, template_context


class Probe(Protocol):
    """What the resolver asks the machine (probes.SystemProbe, or a fake in tests).

    A probe may also have ``prefetch(requirements)``: the resolver calls it with each
    recipe's requirements before looking them up, so that it can answer several in one go.
    """

    def lookup(self, req: Requirement) -> Found | None: ...


@dataclass(frozen=True)
class Ask:
    """One requirement of one recipe, to be resolved."""

    requirement: Requirement
    of: str
    tool: bool


# A lookup answers an Ask, or passes (None) to the next lookup of the chain.
Lookup = Callable[["Resolver", Ask], Resolution | None]


def named_recipe(r: Resolver, ask: Ask) -> Resolution | None:
    """``recipe:NAME``: the package installed in the prefix, else the recipe, else missing."""
    req, of, tool = ask.requirement, ask.of, ask.tool
    if req.kind != RequirementKind.RECIPE:
        return None
    if not r.book.has(req.name):
        return Resolution(req, of, Satisfier.MISSING, tool=tool,
                          reason=f"no recipe named {req.name}")
    installed = r.state.get(req.name)
    if installed is not None:
        return Resolution(req, of, Satisfier.PREFIX, installed.version, req.name, req.name,
                          "installed in the prefix by srcbuild", tool)
    return Resolution(req, of, Satisfier.RECIPE, r.book.get(req.name).version, req.name,
                      req.name, "built from its recipe", tool)


def from_source(r: Resolver, ask: Ask) -> Resolution | None:
    """A providing recipe that --from-source names wins over whatever the machine has."""
    req = ask.requirement
    for p in r.good_providers(req):
        if r.builds_from_source(p.recipe.name):
            by = Satisfier.PREFIX if r.state.get(p.recipe.name) is not None \
                else Satisfier.RECIPE
            return Resolution(req, ask.of, by, p.version, p.recipe.name, p.recipe.name,
                              "--from-source asks for the recipe", ask.tool)
    return None


def in_prefix(r: Resolver, ask: Ask) -> Resolution | None:
    """Found in the prefix, at a good version: the package that installed it owns it."""
    req = ask.requirement
    found = r.found(req)
    if found is None or not found.in_prefix or not req.accepts(found.version):
        return None
    return Resolution(req, ask.of, Satisfier.PREFIX, found.version, found.where,
                      r.providers.installed(req), "found in the prefix", ask.tool, found)


def from_graph_recipe(r: Resolver, ask: Ask) -> Resolution | None:
    """The system has it, but a recipe of this graph installs it into the prefix: the
    recipe's copy is the one every build uses (the prefix comes first on every search path),
    in this run and in every later one; without this, the second run would find it in the
    prefix and rebuild. Only once the graph's recipes are known (see Resolver.resolve)."""
    req, of = ask.requirement, ask.of
    found = r.found(req)
    if not r.graph_known or found is None or found.in_prefix or not req.accepts(found.version):
        return None
    provider = r.providers.in_graph(req)
    if provider is None or provider == of or r.skipped_target(provider):
        return None
    recipe = r.nodes[provider].recipe
    if not req.accepts(recipe.version) or r.reaches(provider, of):
        return None
    return Resolution(req, of, Satisfier.RECIPE, recipe.version, provider, provider,
                      f"the system has it too ({found.where}), but this graph installs "
                      f"{provider} into the prefix, ahead on PATH", ask.tool, found)


def from_system(r: Resolver, ask: Ask) -> Resolution | None:
    req = ask.requirement
    found = r.found(req)
    if found is None or found.in_prefix or not req.accepts(found.version):
        return None
    return Resolution(req, ask.of, Satisfier.SYSTEM, found.version, found.where, None,
                      "found on the system", ask.tool, found)


def from_recipe_fallback(r: Resolver, ask: Ask) -> Resolution:
    """The first recipe that provides a good version; else missing, saying what was seen."""
    req, of, tool = ask.requirement, ask.of, ask.tool
    found = r.found(req)
    if found is None and req.kind == RequirementKind.CC:  # candidates may exist: none passed
        why = "no compiler here links a static program for it (`srcbuild doctor` says why)"
    elif found is None:
        why = "not found"
    else:
        why = f"found {found.version or 'an unknown version'} at {found.where}, " \
              f"but {req.op} {req.version} is wanted"
    good = r.good_providers(req)
    if good:
        p = good[0]
        # a group has no version of its own (0): "the group cross-toolchain provides it"
        what = f"the group {p.recipe.name} provides it" if p.recipe.is_group else \
            f"the recipe {p.recipe.name} provides {p.version}"
        return Resolution(req, of, Satisfier.RECIPE, p.version, p.recipe.name, p.recipe.name,
                          f"{why}; {what}", tool, found)
    providers = r.providers.recipes(req)
    if providers:
        versions = ", ".join(f"{p.recipe.name} {p.version}" for p in providers)
        why += f"; the recipes that provide it are too old or too new ({versions})"
    return Resolution(req, of, Satisfier.MISSING, found.version if found else None,
                      found.where if found else "", None, why, tool, found)


# The order in which a requirement is looked up; the first lookup that answers wins.
LOOKUPS: tuple[Lookup, ...] = (named_recipe, from_source, in_prefix, from_graph_recipe,
                               from_system, from_recipe_fallback)


def builder_tools(recipe: Recipe, given: tuple[Requirement, ...]) -> tuple[Requirement, ...]:
    """The programs the recipe's build system runs in the default commands it keeps
    (Builder.default_tools), beyond the requirements it states itself."""
    from srcbuild.builders import BUILDERS

    cls = BUILDERS.get(recipe.system)
    if cls is None:  # a group
        return ()
    stated = {r.key for r in given}
    out = []
    for text in cls.default_tools(recipe):
        req = parse(text)
        if req.key not in stated:
            stated.add(req.key)
            out.append(req)
    return tuple(out)


class Resolver:
    """Resolves targets into a Graph: every requirement through LOOKUPS, every recipe once."""

    def __init__(self, book: RecipeBook, probe: Probe, state: PrefixState, prefix: Path,
                 options: Mapping[str, str] | None = None, from_source: set[str] | None = None,
                 jobs: int = 1, *, toolchain: str, machine: str) -> None:
        self.book = book
        self.probe = probe
        self.state = state
        self.prefix = prefix
        self.options = split_options(options or {})
        self.from_source = from_source or set()
        self.jobs = jobs
        self.toolchain = toolchain
        self.machine = machine
        self.providers = ProviderIndex(book, state, self._render_provides)
        self.nodes: dict[str, Node] = {}
        self.order: list[str] = []
        self.asks: list[Ask] = []
        self.resolutions: list[Resolution] = []
        self.targets: list[str] = []
        self.graph_known = False  # True once every recipe of the graph has been added
        self._found: dict[tuple[str, bool], Found | None] = {}

    # -- what the lookups use -------------------------------------------------------------
    def found(self, req: Requirement) -> Found | None:
        """The probe's answer, asked once per requirement key (and whether a version is
        wanted: a program's --version runs only then)."""
        key = (req.key, bool(req.op))
        if key not in self._found:
            self._found[key] = self.probe.lookup(req)
        return self._found[key]

    def good_providers(self, req: Requirement) -> list[Provider]:
        return [p for p in self.providers.recipes(req) if req.accepts(p.version)]

    def builds_from_source(self, recipe: str) -> bool:
        return "all" in self.from_source or recipe in self.from_source

    def context(self, recipe: Recipe, options: Mapping[str, str] | None = None
                ) -> dict[str, Any]:
        if options is None:
            options = recipe.option_values(options_for(recipe, self.options))
        return template_context(recipe, options, self.prefix, self.jobs)

    def _render_provides(self, recipe: Recipe, texts: tuple[str, ...]
                         ) -> tuple[Requirement, ...]:
        return render_requirements(texts, self.context(recipe), f"{recipe.path} provides")

    def lookup(self, ask: Ask) -> Resolution:
        for step in LOOKUPS:
            res = step(self, ask)
            if res is not None:
                return res
        raise AssertionError("from_recipe_fallback always answers")

    def reaches(self, start: str, goal: str) -> bool:
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

    def skipped_target(self, name: str) -> str:
        """Why a target is not built at all (the system provides it), or ''."""
        node = self.nodes[name]
        if name in self.targets and not node.recipe.is_group and self.state.get(name) is None \
                and not self.builds_from_source(name):
            return self._system_provides(node)
        return ""

    def _system_provides(self, node: Node) -> str:
        """A description of the system's copy when it satisfies every provide, else ''."""
        if not node.provides:
            return ""
        seen = []
        for p in node.provides:
            if p.kind == RequirementKind.RECIPE:
                return ""
            found = self.found(p)
            if found is None or found.in_prefix:
                return ""
            seen.append(f"{p.key} {found.describe()}")
        return "; ".join(seen)

    # -- the graph -------------------------------------------------------------------------
    def add(self, name: str, stack: tuple[str, ...] = ()) -> None:
        """Add a recipe and, depth first, the recipes its requirements resolve to."""
        if name in stack:
            cycle = " -> ".join(stack[stack.index(name):] + (name,))
            raise RecipeError(f"Dependency cycle: {cycle}.",
                              "Break it by removing one of these requirements.")
        if name in self.nodes:
            return
        recipe = self.book.get(name)
        options = recipe.option_values(options_for(recipe, self.options))
        ctx = self.context(recipe, options)
        check_templates(recipe, ctx)
        requires = render_requirements(recipe.requires, ctx, f"{recipe.path} requires")
        tools = render_requirements(recipe.tools, ctx, f"{recipe.path} tools")
        node = Node(recipe, options, requires, tools + builder_tools(recipe, requires + tools),
                    render_requirements(recipe.provides, ctx, f"{recipe.path} provides"))
        prefetch = getattr(self.probe, "prefetch", None)  # SystemProbe: python: modules
        if prefetch is not None:  # of one recipe in one interpreter start
            prefetch(node.requires + node.tools)
        for reqs, tool in ((node.requires, False), (node.tools, True)):
            for req in reqs:
                ask = Ask(req, name, tool)
                res = self.lookup(ask)
                self.asks.append(ask)
                self.resolutions.append(res)
                dep = self._dep(res)
                if dep:
                    self.add(dep, stack + (name,))
                    node.link(dep, tool)
        self.nodes[name] = node
        self.order.append(name)
        self.providers.add_graph_node(name, node.provides)

    @staticmethod
    def _dep(res: Resolution) -> str | None:
        """The recipe a resolution makes its recipe depend on (never itself)."""
        if res.satisfied_by in (Satisfier.RECIPE, Satisfier.PREFIX) and res.recipe \
                and res.recipe != res.of:
            return res.recipe
        return None

    def resolve(self, targets: list[str]) -> Graph:
        """Two rounds of one chain: the first finds the graph's recipes; the second asks
        again, now that from_graph_recipe knows them, in the first round's order."""
        self.targets = list(targets)
        for t in targets:
            self.add(t)
        self.graph_known = True
        for i, ask in enumerate(self.asks):
            res = self.lookup(ask)
            if res != self.resolutions[i]:
                self.resolutions[i] = res
                dep = self._dep(res)
                if dep:
                    self.nodes[ask.of].link(dep, ask.tool)
        self.order = topological(self.order, {n: self.nodes[n].deps for n in self.order})
        self._decide_actions()
        return Graph(list(targets), self.nodes, self.order, self.resolutions, self.prefix,
                     [str(e) for e in self.providers.broken], self.providers)

    def _decide_actions(self) -> None:
        """Build hashes in build order; then build, keep what is installed, or skip."""
        rebuilt: set[str] = set()
        for name in self.order:
            node = self.nodes[name]
            node.system = system_identity([r for r in self.resolutions if r.of == name])
            dep_hashes = {d: self.nodes[d].build_hash for d in node.runtime_deps}
            node.build_hash = build_hash(node, dep_hashes, self.prefix, self.toolchain,
                                         self.machine)
            installed = self.state.get(name)
            stale_deps = [d for d in node.deps if d in rebuilt]
            system = self.skipped_target(name)
            if system:
                node.action, node.reason = Action.SKIP, f"the system already provides {system}"
                continue
            same = installed is not None and installed.build_hash == node.build_hash \
                and not stale_deps
            missing = self.state.missing_files(name) if same else []
            if missing:  # (an uninstall killed half-way, a hand): put them back
                node.action = Action.BUILD  # not in `rebuilt`: its build hash is the same
                node.reason = (f"reinstall: {len(missing)} recorded file(s) are missing from "
                               f"the prefix ({', '.join(missing[:3])})")
            elif installed is not None and same:
                node.action = Action.INSTALLED
                node.reason = (f"{installed.version} is installed in the prefix with the same "
                               "build hash")
            elif installed is not None:
                node.action = Action.BUILD
                node.reason = "rebuild: " + self._why_rebuild(node, installed, stale_deps,
                                                              dep_hashes)
                rebuilt.add(name)
            else:
                node.action, node.reason = Action.BUILD, "not installed in the prefix"
                rebuilt.add(name)

    def _why_rebuild(self, node: Node, installed: Installed, stale_deps: list[str],
                     dep_hashes: Mapping[str, str]) -> str:
        """What differs from the installed package: what the system provides it (named,
        when the recorded identities say so), the dependencies being rebuilt, or else the
        recipe, its options or a dependency."""
        why = []
        if installed.system is not None and installed.system != node.system:
            why += system_changes(installed.system, node.system)
            if build_hash(node, dep_hashes, self.prefix, self.toolchain, self.machine,
                          installed.system) != installed.build_hash and not stale_deps:
                why.append("and the recipe, its options or a dependency changed")
        if stale_deps:
            why.append(f"{', '.join(stale_deps)} will be rebuilt")
        if not why:
            why.append("the recipe, its options or a dependency changed" if installed.system
                       is not None else "the recipe, its options or a dependency changed, or "
                       "it was installed by a srcbuild whose build hash did not include what "
                       "the system provides")
        return "; ".join(why)
