"""The phases one package goes through, in order (PHASES): each a small function of a Job
that does its part, or nothing when it does not apply, and emits its own events.

A new phase (a test phase after build, say) is a function here and one entry in PHASES; a
build system's quirks belong in its Builder, not here.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srcbuild import compilers, linkage
from srcbuild.buildenv import check_env, prefix_env
from srcbuild.builders import BUILDERS, BuildContext, Builder
from srcbuild.builders.base import copy_source
from srcbuild.entrycheck import tree_entries
from srcbuild.errors import BuildError, InstallError, NotStored, SrcbuildError
from srcbuild.events import Events
from srcbuild.fetch import Fetched, SourceCache
from srcbuild.graph import Node
from srcbuild.install import merge as merge_stage
from srcbuild.install import staged_files, staged_prefix
from srcbuild.kinds import EventKind, Phase
from srcbuild.loglines import check_lines
from srcbuild.prefixwatch import PrefixWatch
from srcbuild.requirement import Requirement
from srcbuild.runner import Result, Sessions, run
from srcbuild.runs import new_run_id
from srcbuild.scheduler import Jobserver
from srcbuild.sessions import SessionTracker
from srcbuild.state import Installed, PrefixState
from srcbuild.templates import Command, command_argvs

if TYPE_CHECKING:
    from srcbuild.bincache import BinaryCache

TAIL_LINES = 40


class Stopped(SrcbuildError):
    """A package that did not go on because srcbuild was interrupted (a signal)."""


@dataclass
class Settings:
    """How a run builds: where, with how many jobs, from which sources, with which caches."""

    prefix: Path
    cache_dir: Path
    jobs: int = 1
    offline: bool = False
    mirrors: list[Path] = field(default_factory=list)
    keep_build: bool = False
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    binary_cache: BinaryCache | None = None
    ccache: bool = False
    distcc: str | None = None  # DISTCC_HOSTS
    max_packages: int = 0  # packages building at once; 0: as many as the -j budget allows
    run_id: str = field(default_factory=new_run_id)  # names the run's logs and events
    test: str = ""  # --test: "all" (every package built), "root" (the named ones), "" (none)


@dataclass
class Services:
    """What every phase of every package of one run shares."""

    settings: Settings
    events: Events
    cache: SourceCache
    state: PrefixState
    sessions: Sessions
    # recipes that provide a requirement, to name them when a configure step fails
    providers: Callable[[Requirement], list[str]] = lambda req: []
    jobserver: Jobserver | None = None  # while Engine.install runs: the shared job budget
    merge_lock: threading.Lock = field(default_factory=threading.Lock)  # one merge at a time
    merged: list[frozenset[str]] = field(default_factory=list)  # paths each merge touched
    tested: frozenset[str] = frozenset()  # the packages whose test suite runs (--test)


@dataclass
class Job:
    """One package on its way through PHASES: its folders and what earlier phases found."""

    node: Node
    svc: Services
    work: Path  # CACHE/work/NAME-HASH: build/ and stage/ (the DESTDIR)
    logs: Path  # CACHE/logs/RUN/NAME: one PHASE.log per phase
    allowed: linkage.Allowed  # what the audit lets it load, from the graph (linkage.allowed)
    sessions: SessionTracker | None = None  # its commands' sessions (default: the run's)
    restored: dict[str, str] | None = None  # a binary cache hit: the source it recorded
    fetched: Fetched | None = None
    builder: Builder | None = None  # set once the source is ready to build
    env: dict[str, str] = field(default_factory=dict)
    watch: PrefixWatch | None = None  # the prefix as it was when the first step started

    @property
    def build_dir(self) -> Path:
        return self.work / "build"

    @property
    def destdir(self) -> Path:
        return self.work / "stage"

    @property
    def s(self) -> Settings:
        return self.svc.settings

    @property
    def tracker(self) -> SessionTracker:
        return self.sessions if self.sessions is not None else self.svc.sessions

    def emit(self, kind: EventKind, **data: Any) -> None:
        self.svc.events.emit(kind, recipe=self.node.name, **data)


# -- restore or fetch --------------------------------------------------------------------
def restore_or_fetch(job: Job) -> None:
    """A binary cache hit unpacks into the stage; otherwise fetch, extract and patch the
    source and get its builder ready. A group has no source."""
    if job.node.recipe.is_group:
        return
    # a package whose test suite was asked for is built: a cached stage has no build tree
    job.restored = None if job.node.name in job.svc.tested else _restore(job)
    if job.restored is None:
        _fetch(job)


def _restore(job: Job) -> dict[str, str] | None:
    """Put a cached staged tree, checked file by file against its manifest, into the stage;
    its recorded source, or None. A refused entry (one line each, quarantined by its cache)
    means a build from source; with --binary-cache-only CacheMiss, and the package fails."""
    from srcbuild.bincache import CacheChain
    from srcbuild.entrycheck import Wanted

    cache, node = job.s.binary_cache, job.node
    if cache is None:
        return None
    chain = cache if isinstance(cache, CacheChain) else CacheChain([cache])

    def refused(where: str, text: str) -> None:
        job.emit(EventKind.CACHE_CORRUPT, build_hash=node.build_hash, where=where, text=text)
        job.svc.events.message(f"    {node.name}: {text}")

    got = chain.restore(Wanted(node.build_hash, node.name, node.recipe.version),
                        staged_prefix(job.destdir, job.s.prefix), refused)
    if got is None:
        return None
    archive, manifest = got
    job.emit(EventKind.CACHE_HIT, build_hash=node.build_hash, where=str(archive))
    source = manifest.get("source")
    return {str(k): str(v) for k, v in source.items()} if isinstance(source, dict) else {}


def _fetch(job: Job) -> None:
    recipe = job.node.recipe
    job.emit(EventKind.STEP_START, step=Phase.FETCH)
    t0 = time.monotonic()
    fetched = job.svc.cache.prepare(
        recipe, lambda top: _patch(job, top),
        log=lambda m: job.emit(EventKind.FETCH_PROGRESS, text=f"    {recipe.name}: {m}"))
    job.emit(EventKind.STEP_END, step=Phase.FETCH, seconds=round(time.monotonic() - t0, 3),
             source=fetched.source.kind)
    job.fetched = fetched
    cls = BUILDERS[recipe.system]
    source_dir = fetched.source_dir
    if cls.needs_copy(recipe, source_dir):
        copy_source(source_dir, job.build_dir)
        source_dir = job.build_dir
    ctx = BuildContext(recipe, job.node.options, job.s.prefix, source_dir, job.build_dir,
                       job.destdir, job.s.jobs, fetched.epoch)
    job.builder = cls(ctx)
    job.build_dir.mkdir(parents=True, exist_ok=True)
    job.env = build_env(job.builder, job.s)


def build_env(builder: Builder, s: Settings) -> dict[str, str]:
    """The prefix first on every search path, the compiler wrappers, SOURCE_DATE_EPOCH, the
    build system's variables, then the recipe's ``[build] env``."""
    env = prefix_env(s.prefix, s.environ, compiler_flags=builder.compiler_flags)
    env = compilers.wrap(env, s.cache_dir, s.ccache, s.distcc)
    env["SOURCE_DATE_EPOCH"] = str(builder.ctx.epoch)
    env.update(builder.env())
    for key, value in builder.ctx.recipe.build.get("env", {}).items():
        env[key] = builder.ctx.render(value, f"env.{key}")
    return env


def _patch(job: Job, top: Path) -> None:
    recipe = job.node.recipe
    for patch in recipe.patches:
        log = job.logs / "patch.log"
        result = run(["patch", "-p1", "--forward", "--batch", "-i", str(patch)], top,
                     dict(job.s.environ), log, sessions=job.tracker)
        if result.returncode != 0:
            raise BuildError(f"Patch {patch} of {recipe.name} does not apply.",
                             f"Full log: {log}", log_path=str(log), tail=result.tail)


# -- the builder's phases ------------------------------------------------------------------
def configure(job: Job) -> None:
    if job.builder is not None:
        job.builder.preflight(job.env)
    _builder_phase(job, Phase.CONFIGURE)


def build(job: Job) -> None:
    _builder_phase(job, Phase.BUILD)


def test(job: Job) -> None:
    """The package's own test suite (make check, meson test, ctest, make test), between build
    and install, only with --test; a failing suite fails the package: nothing is merged."""
    builder = job.builder
    if builder is None or job.node.name not in job.svc.tested:
        return
    if not builder.gives(Phase.TEST):
        why = builder.missing_test_suite(job.env) if builder.test() else (
            f"the {builder.name} build system has no default test suite")
        if why:
            job.svc.events.message(f"    {job.node.name}: SKIP: no test suite to run ({why}; "
                                   "[build] test = [...] gives one).")
            return
    _builder_phase(job, Phase.TEST)
    log = job.logs / f"{Phase.TEST}.log"
    marker = builder.no_tests_marker
    if marker and not builder.gives(Phase.TEST) and log.is_file() and marker in log.read_text(
            encoding="utf-8", errors="replace"):
        job.svc.events.message(f"    {job.node.name}: SKIP: its test suite defines no test "
                               f"({marker!r}).")


def install(job: Job) -> None:
    """The install commands; then a stage without a single file is refused: the commands
    wrote somewhere else (a DESTDIR they ignored: the live prefix), or nowhere."""
    _builder_phase(job, Phase.INSTALL)
    if job.builder is None or _has_files(job.destdir):
        return
    node, log = job.node, job.logs / f"{Phase.INSTALL}.log"
    raise BuildError(
        f"{node.name} {node.recipe.version}: the install step put no file into the stage "
        f"{job.builder.ctx.stage}; a package that installs nothing is refused. The prefix "
        f"{job.s.prefix} was left as it was.",
        "Its install commands must write under DESTDIR (make install DESTDIR=...) or "
        f"{{{{ stage }}}} in the recipe, never into the prefix itself. Install log: {log}",
        log_path=str(log))


def _has_files(folder: Path) -> bool:
    return any(files or any((Path(d) / s).is_symlink() for s in subdirs)
               for d, subdirs, files in os.walk(folder))


def _builder_phase(job: Job, phase: Phase) -> None:
    if job.builder is None:  # a group, or restored from the binary cache
        return
    commands = job.builder.commands(phase)
    if commands:
        run_phase(job, phase, commands, job.build_dir, job.env, job.logs / f"{phase}.log")


def run_phase(job: Job, phase: Phase, commands: list[Command], cwd: Path,
              env: dict[str, str], log: Path) -> None:
    """Run a phase's commands in order, between its step_start and step_end events; the
    first that fails raises BuildError with its log (and, for configure and build, what the
    tool's own logs say is missing)."""
    node = job.node
    if job.watch is None:
        with job.svc.merge_lock:
            job.watch = PrefixWatch.begin(job.s.prefix, job.svc.merged)
    job.emit(EventKind.STEP_START, step=phase)
    t0 = time.monotonic()
    for command in commands:
        result = _run_command(job, phase, command, cwd, env, log)
        if result.returncode != 0:
            job.emit(EventKind.STEP_END, step=phase, ok=False,
                     seconds=round(time.monotonic() - t0, 3), log=str(log))
            raise BuildError(
                f"{node.name} {node.recipe.version}: the {phase} step `{result.command}` "
                f"failed with exit status {result.returncode}. {_prefix_note(job)}",
                f"Full log: {log}", log_path=str(log), tail=result.tail,
                diagnosis=_diagnosis(job, phase, log, cwd), to_resolve=_ways_out(job, phase))
    job.emit(EventKind.STEP_END, step=phase, ok=True, seconds=round(time.monotonic() - t0, 3),
             log=str(log))


def _prefix_note(job: Job) -> str:
    """Whether the prefix is as it was when the package's first step started: the truth,
    either way."""
    if job.watch is not None:
        with job.svc.merge_lock:
            changes = job.watch.changes()
        if changes:
            owners = job.svc.state.owner_of()
            return (f"Nothing of {job.node.name} was merged, but its steps changed the prefix "
                    f"{job.s.prefix} themselves (a recipe bug: they must write only into the "
                    f"stage): {changes.describe(owners.get)}. Those changes are still there.")
    return f"The prefix {job.s.prefix} was left as it was."


def _ways_out(job: Job, phase: Phase) -> list[str]:
    """For a failed test suite: how to install anyway."""
    if phase != Phase.TEST:
        return []
    return ["Fix what the suite's output above reports, then run again with --test.",
            ("Or install without running the suite: leave out --test (or give this recipe "
            "`[build] test = []`).")]


def _diagnosis(job: Job, phase: Phase, log: Path, cwd: Path) -> str:
    if phase not in (Phase.CONFIGURE, Phase.BUILD):
        return ""
    from srcbuild.doctor import explain_findings
    from srcbuild.logscan import scan_build

    return explain_findings(scan_build(log, cwd), job.svc.providers)


def _run_command(job: Job, phase: Phase, command: Command, cwd: Path, env: dict[str, str],
                 log: Path) -> Result:
    """Run one command; in the build and test phases under the job budget (Jobserver.command
    says how each tool joins it: `make check` joins the jobserver, meson test and ctest take
    free tokens for their -j). Install commands run serially, as a careful hand would."""
    def on_line(line: str) -> None:
        job.emit(EventKind.LINE, text=line)

    jobserver = job.svc.jobserver
    if phase not in (Phase.BUILD, Phase.TEST) or jobserver is None:
        return run(command, cwd, env, log, on_line=on_line, tail_lines=TAIL_LINES,
                   sessions=job.tracker)
    with jobserver.command(command, job.s.jobs) as (joined, extra_env):
        return run(joined, cwd, {**env, **extra_env}, log, on_line=on_line,
                   tail_lines=TAIL_LINES, pass_fds=jobserver.fds, sessions=job.tracker)


# -- audit, check, store, merge -----------------------------------------------------------
def audit(job: Job) -> None:
    """The linkage audit of the stage, built or restored from the binary cache: an ELF file
    that loads an undeclared library, or one the loader cannot find, refuses the merge
    (LinkageError). Under the merge lock: no other package's merge changes the prefix or
    its state records while the audit reads them."""
    if job.node.recipe.is_group:
        return
    job.emit(EventKind.STEP_START, step=Phase.AUDIT)
    t0 = time.monotonic()
    audit = None
    try:
        with job.svc.merge_lock:
            audit = linkage.audit_package(job.node.recipe, job.allowed, job.destdir,
                                          job.s.prefix, job.svc.state, job.s.environ)
    finally:
        job.emit(EventKind.STEP_END, step=Phase.AUDIT,
                 ok=audit is not None and audit.error is None,
                 files=audit.files if audit else 0, seconds=round(time.monotonic() - t0, 3))
    if audit.error is not None:
        raise audit.error


def check(job: Job) -> None:
    """The recipe's check in buildenv.check_env (the stage, then the prefix, first on every
    search path). A restored package is checked again: its stage was checked where it was
    built, not on this machine (its libraries, its kernel), and a check is cheap next to a
    build."""
    recipe = job.node.recipe
    if not recipe.check:
        return
    # a group or a restored package has no source: its check sees the build folder there
    ctx = job.builder.ctx if job.builder is not None else BuildContext(
        recipe, job.node.options, job.s.prefix, job.build_dir, job.build_dir, job.destdir,
        job.s.jobs)
    # a group installs nothing of its own: its check sees the prefix, not an empty stage
    env = check_env(job.s.prefix, job.s.prefix if recipe.is_group else ctx.stage,
                    job.s.environ)
    job.build_dir.mkdir(parents=True, exist_ok=True)
    commands: list[Command] = list(command_argvs(recipe, recipe.check, ctx.template_vars(),
                                                 "check"))
    log = job.logs / "check.log"
    run_phase(job, Phase.CHECK, commands, job.build_dir, env, log)
    verdicts = check_lines(log.read_text(encoding="utf-8", errors="replace").splitlines())
    if verdicts:  # shown in the summary under the package: a skip must not pass unseen
        job.emit(EventKind.CHECK_LINES, passed=verdicts.passed, skipped=verdicts.skipped)


def store(job: Job) -> None:
    """Put the checked staged tree into the binary cache; a failure only warns."""
    from srcbuild import bincache

    cache, node, fetched = job.s.binary_cache, job.node, job.fetched
    if cache is None or fetched is None:
        return
    archive = job.work / f"{node.build_hash}.tar.gz"
    try:
        staged_files(job.destdir, job.s.prefix, node.name)  # refuse files outside the prefix
        stage = staged_prefix(job.destdir, job.s.prefix)
        files = bincache.pack(stage, archive, fetched.epoch)
        cache.put(node.build_hash, archive, bincache.manifest(
            node.name, node.recipe.version, node.build_hash, archive, files,
            _source_record(fetched), tree_entries(stage)))
    except NotStored:
        return  # the cache chain has said why, once for the run
    except OSError as e:
        job.svc.events.message(f"    {node.name}: not stored in the binary cache "
                               f"{cache.describe()} ({e}).")
        return
    finally:
        archive.unlink(missing_ok=True)
    job.emit(EventKind.CACHE_STORE, build_hash=node.build_hash, where=cache.describe())


def merge(job: Job) -> None:
    """Move the stage into the prefix, all or nothing, and record the package."""
    node = job.node
    job.emit(EventKind.STEP_START, step=Phase.MERGE)
    t0 = time.monotonic()
    source = _source_record(job.fetched) if job.fetched is not None else dict(
        job.restored or {})
    with job.svc.merge_lock:
        if job.svc.sessions.stopping:  # a signal came: nothing more is merged
            raise Stopped(f"{node.name}: not merged, srcbuild was interrupted.")
        _refuse_prefix_writes(job)
        touched: set[str] = set()
        try:
            merge_stage(job.destdir, job.s.prefix, Installed(
                name=node.name, version=node.recipe.version, build_hash=node.build_hash,
                provides=tuple(str(p) for p in node.provides),
                requires=tuple(node.runtime_deps), options=node.options, source=source,
                installed_at=time.time(), run=job.s.run_id, logs=str(job.logs),
                system=node.system), job.svc.state, touched=touched)
        finally:  # a merge rolled back touched them too
            job.svc.merged.append(frozenset(touched))
    job.emit(EventKind.STEP_END, step=Phase.MERGE, ok=True,
             seconds=round(time.monotonic() - t0, 3))


def _refuse_prefix_writes(job: Job) -> None:
    """A package whose steps wrote into the live prefix is not merged: its stage is not what
    it installed, and the prefix damage is reported as it is. The caller holds merge_lock."""
    changes = job.watch.changes() if job.watch is not None else None
    if not changes:
        return
    node, prefix = job.node, job.s.prefix
    owners = job.svc.state.owner_of()
    damaged = sorted({o for p in changes.modified + changes.deleted if (o := owners.get(p))})
    ways = [f"Fix the install commands of {node.recipe.path}."]
    if changes.created:
        ways.append(f"Remove what they created: {', '.join(changes.created[:5])}"
                    + (" ..." if len(changes.created) > 5 else "."))
    if damaged:
        ways.append(f"Reinstall what they changed ({', '.join(damaged)}): `srcbuild uninstall "
                    "NAME`, then install it again (missing files alone are reinstalled by the "
                    "next install).")
    raise InstallError(
        f"{node.name} {node.recipe.version}: its steps wrote into the prefix {prefix} instead "
        f"of the stage {staged_prefix(job.destdir, prefix)} (a recipe bug): "
        f"{changes.describe(owners.get)}. {node.name} was not merged; those changes are still "
        "in the prefix.",
        "Install steps must write under $DESTDIR ({{ stage }}), never into {{ prefix }}.",
        to_resolve=ways)


def _source_record(fetched: Fetched) -> dict[str, str]:
    return {"kind": fetched.source.kind, "location": fetched.source.location,
            "sha256": fetched.sha256}


# The order every package goes through; each phase decides whether it applies.
PHASES: tuple[Callable[[Job], None], ...] = (
    restore_or_fetch, configure, build, test, install, audit, check, store, merge)


def tested_packages(targets: list[str], nodes: Mapping[str, Node], mode: str) -> frozenset[str]:
    """The packages whose test suite runs: every one (--test, "all"), the named ones
    ("root"; a named group stands for its members), or none ("")."""
    if mode == "all":
        return frozenset(nodes)
    if mode != "root":
        return frozenset()
    named = set()
    for name in targets:
        node = nodes.get(name)
        if node is not None and node.recipe.is_group:
            named.update(node.runtime_deps)
        else:
            named.add(name)
    return frozenset(named)
