"""The library API the CLI is a thin layer over: resolve, install, fetch, doctor, lock,
uninstall, launch. What only building needs (the engine, fetching, the binary cache) is
imported by the functions that build, so that resolving a plan stays quick to start."""

from __future__ import annotations

import errno
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from srcbuild.errors import RecipeError, SrcbuildError, UsageError
from srcbuild.events import Events
from srcbuild.graph import Graph, options_for, require_satisfiable, split_options
from srcbuild.kinds import EventKind, Status
from srcbuild.locations import builtin_recipe_dir, checkout_cache_dir
from srcbuild.probes import SystemProbe, toolchain_id
from srcbuild.recipe import RecipeBook, book_dirs
from srcbuild.resolve import Resolver
from srcbuild.safety import absolute, check_build_path
from srcbuild.state import PrefixBusy, PrefixState, prefix_lock

if TYPE_CHECKING:
    from srcbuild import lockfile
    from srcbuild.doctor import Diagnosis
    from srcbuild.engine import Outcome
    from srcbuild.fetch import Fetched
    from srcbuild.phases import Settings


def default_prefix() -> Path:
    return Path(os.environ.get("SRCBUILD_PREFIX") or Path.home() / ".local" / "srcbuild")


def default_cache_dir() -> Path:
    """SRCBUILD_CACHE, else the checkout's cache/ folder, else ~/.cache/srcbuild."""
    if os.environ.get("SRCBUILD_CACHE"):
        return Path(os.environ["SRCBUILD_CACHE"])
    checkout = checkout_cache_dir()  # None for an installed package: never site-packages
    if checkout is not None:
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
    # folders, file:// or oci:// URLs, read in order; the variable separates them by spaces
    binary_cache: list[str] = field(
        default_factory=lambda: os.environ.get("SRCBUILD_BINARY_CACHE", "").split())
    binary_cache_only: bool = False
    signing_key: Path | None = None
    trusted_keys: Path | None = None
    require_signed: bool = False
    locked: Path | None = None  # a srcbuild.lock to resolve against
    allow_drift: bool = False
    system_packages: bool = False
    ccache: bool = False
    distcc: str | None = None
    max_packages: int = 0
    assume_yes: bool = False
    test: str = ""  # --test: "all", "root" or "" (no test suite runs); not in the build hash

    def __post_init__(self) -> None:
        """Every path absolute, whoever made the Request (the CLI already does it)."""
        self.prefix, self.cache_dir = absolute(self.prefix), absolute(self.cache_dir)
        self.recipe_dirs = [absolute(d) for d in self.recipe_dirs]
        self.mirrors = [absolute(m) for m in self.mirrors]
        if self.locked is not None:
            self.locked = absolute(self.locked)

    def book(self) -> RecipeBook:
        return RecipeBook(book_dirs(self.recipe_dirs, builtin_recipe_dir()))

    def settings(self, events: Events | None = None) -> Settings:
        """How the engine builds; ``events`` hears what happens to the binary caches."""
        from srcbuild.bincache import CacheOptions, open_cache
        from srcbuild.compilers import remote_slots
        from srcbuild.phases import Settings

        jobs = self.jobs + (remote_slots(self.distcc) if self.distcc else 0)
        check_build_path(self.prefix, "--prefix")
        check_build_path(self.cache_dir, "--cache-dir")
        options = CacheOptions(self.signing_key, self.trusted_keys, self.require_signed,
                               self.binary_cache_only, self.offline)
        binary_cache = open_cache(self.binary_cache, options, self.cache_dir,
                                  events.emit if events is not None else None)
        return Settings(prefix=self.prefix, cache_dir=self.cache_dir, jobs=jobs,
                        offline=self.offline, mirrors=self.mirrors, keep_build=self.keep_build,
                        binary_cache=binary_cache, ccache=self.ccache,
                        distcc=self.distcc, max_packages=self.max_packages, test=self.test)


def recover(prefix: Path, notify: Callable[[str], None] | None = None) -> None:
    """Finish or undo what a killed run left unfinished in the prefix (journal.py), before
    a command reads it; every command that opens a prefix calls this. When another run holds
    the prefix, the change in flight is that run's own and is left to it."""
    from srcbuild.journal import pending

    if not pending(prefix):
        return
    try:
        with prefix_lock(prefix, wait=False):
            _recover_locked(prefix, notify)
    except PrefixBusy:
        return


def _recover_locked(prefix: Path, notify: Callable[[str], None] | None) -> None:
    from srcbuild.journal import recover as finish_or_undo

    for line in finish_or_undo(prefix):
        (notify or _to_stderr)(line)


def _to_stderr(line: str) -> None:
    print(f"srcbuild: {line}", file=sys.stderr)


def resolve(req: Request, book: RecipeBook | None = None) -> Graph:
    if not req.targets:
        raise UsageError("Name at least one recipe.", "`srcbuild list` shows them.")
    book = book or req.book()
    prefix = req.prefix.resolve()
    recover(prefix)
    for name in sorted(req.from_source):
        if name != "all" and not book.has(name):
            raise book.unknown(name, f" (given with --from-source {name})")
    _check_option_names(req, book)
    state = PrefixState(prefix)
    packages = state.packages().values()
    probe = SystemProbe(prefix, installed={
        p.split()[0]: pkg.version for pkg in packages for p in pkg.provides
        if p.startswith("program:")})
    # the system programs whose version the last runs needed: asked now, answered while
    # the recipes load
    probe.expect(sorted({key.split(":", 1)[1] for pkg in packages for key, seen in
                         (pkg.system or {}).items()
                         if key.startswith("program:") and seen.get("version")}))
    resolver = Resolver(book, probe, state, prefix, req.options, req.from_source, req.jobs,
                        toolchain=toolchain_id(dict(os.environ)), machine=platform.machine())
    try:
        return resolver.resolve(req.targets)
    finally:
        probe.settle()


def _check_option_names(req: Request, book: RecipeBook) -> None:
    for key in req.options:
        if "." in key:
            recipe, opt = key.split(".", 1)
            book.get(recipe).option_values({opt: req.options[key]})
    plain = [k for k in req.options if "." not in k]
    if plain:
        broken: list[RecipeError] = []
        known = {o.name for r in book.all(broken) for o in r.options}
        for k in plain:
            if k not in known and broken:  # a recipe that did not load may declare it
                raise broken[0]
            if k not in known:
                raise RecipeError(f"No recipe has an option {k!r} (given with -o {k}=...).",
                                  "`srcbuild info NAME` lists a recipe's options.")


def install(req: Request, events: Events) -> tuple[Graph, list[Outcome]]:
    """Resolve under the prefix's lock, then build what the plan says; every event of the run
    is also recorded in CACHE/runs/RUN.jsonl (runs.py; `srcbuild report` reads the last)."""
    from srcbuild.engine import Engine
    from srcbuild.runs import Recorder

    settings = req.settings(events)
    prefix = check_build_path(req.prefix.resolve(), "--prefix")
    prefix.mkdir(parents=True, exist_ok=True)
    settings.prefix = prefix
    with Recorder(req.cache_dir, settings.run_id) as recorder:
        events.subscribe(recorder)
        try:
            lock = apply_lock(req)
            with prefix_lock(prefix, on_wait=events.message):
                _recover_locked(prefix, events.message)
                graph = resolve(req)
                warnings = check_lock(req, lock, graph, events) if lock is not None else []
                if req.system_packages and install_system_packages(graph, req.assume_yes,
                                                                   events):
                    graph = resolve(req)
                events.emit(EventKind.PLAN, run=settings.run_id, **graph.to_json())
                require_satisfiable(graph)
                outcomes = Engine(settings, events).install(graph, warnings)
                if any(o.status in (Status.BUILT, Status.RESTORED) for o in outcomes):
                    write_activate_or_warn(prefix, events)
        finally:
            events.unsubscribe(recorder)
    return graph, outcomes


def write_activate_or_warn(prefix: Path, events: Events) -> None:
    """The packages are installed and recorded by now: a failure to write the activate
    scripts (a full disk) is a warning, not a failed install."""
    from srcbuild.buildenv import write_activate
    from srcbuild.prefixpath import filesystem

    try:
        write_activate(prefix)
    except OSError as e:
        full = f" ({filesystem(prefix)})" if e.errno == errno.ENOSPC else ""
        events.message(f"warning: the packages are installed, but writing {prefix}/activate "
                       f"failed: {e.strerror or e}{full}. `srcbuild env --prefix {prefix}` "
                       "prints the same settings.")


def apply_lock(req: Request) -> lockfile.Lock | None:
    """With --locked, the targets, options and --from-source come from the lock file."""
    from srcbuild import lockfile

    if req.locked is None:
        return None
    lock = lockfile.read(req.locked)
    if req.targets and sorted(req.targets) != sorted(lock["targets"]):
        raise UsageError(f"--locked {req.locked} locks {' '.join(lock['targets'])}, but the "
                         f"command names {' '.join(req.targets)}.",
                         "Drop the names (the lock says what to build) or lock them anew.")
    req.targets = list(lock["targets"])
    req.options = {**lock.get("options", {}), **req.options}
    req.from_source = set(lock.get("from_source", [])) | req.from_source
    return lock


def lock_of(req: Request, graph: Graph) -> lockfile.Lock:
    from srcbuild import lockfile

    return lockfile.snapshot(graph, req.targets, req.options, req.from_source,
                             toolchain_id(dict(os.environ)), platform.machine())


def check_lock(req: Request, lock: lockfile.Lock, graph: Graph, events: Events) -> list[str]:
    """Raise DriftError on any drift, unless --allow-drift: then the drifts are warnings."""
    from srcbuild import lockfile

    assert req.locked is not None
    drifts = lockfile.compare(lock, lock_of(req, graph))
    if drifts and not req.allow_drift:
        raise lockfile.drift_error(req.locked, drifts)
    for d in drifts:
        events.emit(EventKind.DRIFT, drift=d.kind, subject=d.subject, text=d.message)
        events.message(f"warning: drift from {req.locked}: {d.message}")
    return [f"drift from the lock: {d.message}" for d in drifts]


def install_system_packages(graph: Graph, yes: bool, events: Events) -> bool:
    """Install the distribution packages for what neither the system nor a recipe satisfies.

    Shows the command first; runs it only with --yes or an interactive yes. True when it ran.
    """
    from srcbuild.doctor import system_package_command
    from srcbuild.sysdeps import this_machine_manager

    manager = this_machine_manager()
    if manager is None:
        raise UsageError("--system-packages: this distribution's package manager is not one "
                         "srcbuild knows (apt, dnf, apk, pacman).")
    argv = system_package_command(graph, manager)
    if not argv:
        events.message("--system-packages: nothing is missing that a system package provides.")
        return False
    events.message(f"--system-packages: {' '.join(argv)}")
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(f"--system-packages would run `{' '.join(argv)}`.",
                             to_resolve=["Add --yes to run it unattended (CI).",
                                         "Or run it yourself."])
        if input("Run it? [y/N] ").strip().lower() not in ("y", "yes"):
            return False
    cp = subprocess.run(argv, check=False)
    if cp.returncode != 0:
        raise SrcbuildError(f"`{' '.join(argv)}` failed with exit status {cp.returncode}.",
                            "Run it by hand to see why (root is usually needed).")
    return True


def doctor(req: Request) -> tuple[Graph, list[Diagnosis]]:
    """Resolve the whole graph and explain each requirement; then check the prefix's binaries."""
    from srcbuild.doctor import diagnose_graph, unresolved_libraries

    graph = resolve(req)
    probe = SystemProbe(req.prefix.resolve())
    found = diagnose_graph(graph, probe)
    if req.prefix.exists():
        found += unresolved_libraries(req.prefix.resolve(), req.cache_dir)
    return graph, found


def fetch(req: Request, events: Events) -> list[Fetched]:
    """Fetch and verify the sources of every package the graph would build."""
    from srcbuild.fetch import Fetched, SourceCache

    graph = resolve(req)
    require_satisfiable(graph)
    cache = SourceCache(req.cache_dir, req.mirrors, req.offline, log=events.message)
    out = []
    for name in graph.order:
        recipe = graph.nodes[name].recipe
        if recipe.is_group:
            continue
        source, archive, sha = cache.fetch(recipe)
        events.message(f"{name}: {source.describe()} "
                       f"{'-> ' + str(archive) if archive else '(local)'}")
        out.append(Fetched(source, sha, archive, archive or Path(source.location), 0))
    return out


def uninstall(prefix: Path, name: str, notify: Callable[[str], None] | None = None
              ) -> list[str]:
    """Remove exactly the files a package installed; refuse while others were built against it."""
    from srcbuild.install import uninstall as remove_package

    prefix = prefix.resolve()
    with prefix_lock(prefix):
        _recover_locked(prefix, notify)
        state = PrefixState(prefix)
        users = dependents(state, name)
        if users:
            raise UsageError(
                f"{describe_installed(state, users)} installed in {prefix} "
                f"{'was' if len(users) == 1 else 'were'} built against {name}.",
                to_resolve=[f"Uninstall {'it' if len(users) == 1 else 'those'} first.",
                            (f"Or remove {name} with everything built against it: "
                            f"srcbuild uninstall {name} --with-dependents --prefix {prefix}")])
        removed = remove_package(prefix, name, state)
        if not state.packages():  # the prefix is empty again: so is its activate script
            for script in ("activate", "activate.fish"):
                (prefix / script).unlink(missing_ok=True)
        return removed


def dependents(state: PrefixState, name: str) -> list[str]:
    """The installed packages (and groups) built against ``name``, directly or through
    others, each before what it was built against: the order to remove them in."""
    packages = state.packages()
    order: list[str] = []

    def visit(n: str, path: tuple[str, ...]) -> None:
        for user in sorted(p.name for p in packages.values() if n in p.requires):
            if user not in order and user not in path:
                visit(user, path + (n,))
        if n != name and n not in order:
            order.append(n)

    visit(name, ())
    return order


def dependents_of(prefix: Path, name: str) -> list[str]:
    """dependents() of a prefix's state; an error when ``name`` is not installed there."""
    prefix = prefix.resolve()
    recover(prefix)
    state = PrefixState(prefix)
    if state.get(name) is None:
        raise UsageError(f"{name} is not installed in {prefix}.",
                         "Installed there: " + (", ".join(sorted(state.packages())) or
                                                "nothing") + ".")
    return dependents(state, name)


def describe_installed(state: PrefixState, names: list[str]) -> str:
    """'the group lab-x86, qemu': a group is a record with no files (a package always
    installs at least one)."""
    return ", ".join(f"the group {n}" if (p := state.get(n)) is not None and not p.files
                     else n for n in names)


def launch(req: Request, name: str, extra: list[str]) -> int:
    """Run a recipe's documented launch command (its ``run`` key) with the prefix first on
    every search path; the terminal stays attached, so an interactive lab works."""
    from srcbuild.buildenv import check_env
    from srcbuild.templates import command_argvs, template_context

    book = req.book()
    recipe = book.get(name)
    if not recipe.run:
        raise UsageError(f"Recipe {name} ({recipe.path}) has no launch command (key 'run').",
                         "Recipes with one: " + (", ".join(r.name for r in book.all([])
                                                           if r.run) or "none") + ".")
    prefix = req.prefix.resolve()
    recover(prefix)
    if PrefixState(prefix).get(name) is None:
        raise UsageError(f"{name} is not installed in {prefix}.",
                         f"Install it first: srcbuild {name} --prefix {prefix}")
    options = recipe.option_values(options_for(recipe, split_options(req.options)))
    context = template_context(recipe, options, prefix, req.jobs)
    env = check_env(prefix, prefix, dict(os.environ))
    code = 0
    commands = command_argvs(recipe, recipe.run, context, "run")
    for i, argv in enumerate(commands):
        argv = argv + (extra if i == len(commands) - 1 else [])
        code = subprocess.run(argv, env=env, check=False).returncode
        if code != 0:
            break
    return code
