"""The library API the CLI is a thin layer over: resolve, plan, install, fetch, uninstall."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from srcbuild.engine import Engine, Outcome, Settings
from srcbuild.errors import RecipeError, UsageError
from srcbuild.fetch import Fetched, SourceCache
from srcbuild.install import uninstall as _uninstall
from srcbuild.probes import SystemProbe, toolchain_id
from srcbuild.recipe import RecipeBook, builtin_recipe_dir
from srcbuild.resolve import Graph, Resolver, require_satisfiable
from srcbuild.state import PrefixState, prefix_lock
from srcbuild.ui import Events, FileRecorder


def default_prefix() -> Path:
    return Path(os.environ.get("SRCBUILD_PREFIX") or Path.home() / ".local" / "srcbuild")


def default_cache_dir() -> Path:
    """SRCBUILD_CACHE, else the checkout's cache/ folder, else ~/.cache/srcbuild."""
    if os.environ.get("SRCBUILD_CACHE"):
        return Path(os.environ["SRCBUILD_CACHE"])
    checkout = builtin_recipe_dir().parent / "cache"
    if checkout.is_dir() and os.access(checkout, os.W_OK):
        return checkout
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "srcbuild"


@dataclass
class Request:
    """Everything a command line says about one run."""

    targets: list[str]
    prefix: Path = field(default_factory=default_prefix)
    recipe_dirs: list[Path] = field(default_factory=list)
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    options: dict[str, str] = field(default_factory=dict)
    from_source: set[str] = field(default_factory=set)
    cache_dir: Path = field(default_factory=default_cache_dir)
    offline: bool = False
    mirrors: list[Path] = field(default_factory=list)
    keep_build: bool = False

    def book(self) -> RecipeBook:
        env_dirs = [Path(p) for p in os.environ.get("SRCBUILD_RECIPES", "").split(":") if p]
        return RecipeBook(self.recipe_dirs + env_dirs + [builtin_recipe_dir()])

    def settings(self) -> Settings:
        return Settings(prefix=self.prefix, cache_dir=self.cache_dir, jobs=self.jobs,
                        offline=self.offline, mirrors=self.mirrors, keep_build=self.keep_build)


def resolve(req: Request, book: RecipeBook | None = None) -> Graph:
    if not req.targets:
        raise UsageError("Name at least one recipe.", "`srcbuild list` shows them.")
    book = book or req.book()
    prefix = req.prefix.resolve()
    for name in req.from_source:
        if name != "all" and not book.has(name):
            book.get(name)  # raises the "no recipe named" error with suggestions
    _check_option_names(req, book)
    probe = SystemProbe(prefix)
    resolver = Resolver(book, probe, PrefixState(prefix), prefix, req.options, req.from_source,
                        req.jobs, toolchain_id(dict(os.environ)))
    return resolver.resolve(req.targets)


def _check_option_names(req: Request, book: RecipeBook) -> None:
    for key in req.options:
        if "." in key:
            recipe, opt = key.split(".", 1)
            book.get(recipe).option_values({opt: req.options[key]})
    plain = [k for k in req.options if "." not in k]
    if plain:
        known = {o.name for r in book.all() for o in r.options}
        for k in plain:
            if k not in known:
                raise RecipeError(f"No recipe has an option {k!r} (given with -o {k}=...).",
                                  "`srcbuild info NAME` lists a recipe's options.")


def install(req: Request, events: Events) -> tuple[Graph, list[Outcome]]:
    prefix = req.prefix.resolve()
    prefix.mkdir(parents=True, exist_ok=True)
    settings = req.settings()
    settings.prefix = prefix
    recorder = FileRecorder(req.cache_dir / "runs" / "last.jsonl")
    events.subscribe(recorder)
    with prefix_lock(prefix, on_wait=lambda m: events.emit("message", text=m)):
        graph = resolve(req)
        events.emit("plan", **graph.to_json())
        require_satisfiable(graph)
        outcomes = Engine(settings, events).install(graph)
    return graph, outcomes


def fetch(req: Request, events: Events) -> list[Fetched]:
    """Fetch, verify and extract the sources of every package the graph would build."""
    graph = resolve(req)
    require_satisfiable(graph)
    cache = SourceCache(req.cache_dir, req.mirrors, req.offline,
                        log=lambda m: events.emit("message", text=m))
    out = []
    for name in graph.order:
        recipe = graph.nodes[name].recipe
        if recipe.is_group:
            continue
        source, archive, sha = cache.fetch(recipe)
        events.emit("message", text=f"{name}: {source.describe()} "
                                    f"{'-> ' + str(archive) if archive else '(local)'}")
        out.append(Fetched(source, sha, archive, archive or Path(source.location), 0))
    return out


def uninstall(prefix: Path, name: str) -> list[str]:
    prefix = prefix.resolve()
    with prefix_lock(prefix):
        state = PrefixState(prefix)
        users = [p.name for p in state.packages().values() if name in p.requires]
        if users:
            raise UsageError(f"{', '.join(users)} installed in {prefix} were built against "
                             f"{name}.", "Uninstall those first.")
        return _uninstall(prefix, name, state)
