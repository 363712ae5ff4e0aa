"""Walk a resolved graph: fetch, stage-build, check and merge each package that needs it."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srcbuild import bincache, builders, compilers
from srcbuild.buildenv import check_env, prefix_env
from srcbuild.doctor import explain_findings
from srcbuild.errors import BuildError, CorruptEntry, SrcbuildError
from srcbuild.fetch import Fetched, SourceCache
from srcbuild.install import merge, staged_files
from srcbuild.logscan import scan_build
from srcbuild.recipe import Recipe, Step, render
from srcbuild.requirement import Requirement
from srcbuild.resolve import Graph, Node
from srcbuild.runner import Result, run, terminate_all
from srcbuild.scheduler import Jobserver, run_graph
from srcbuild.state import Installed, PrefixState
from srcbuild.ui import Events

TAIL_LINES = 40


@dataclass
class Settings:
    prefix: Path
    cache_dir: Path
    jobs: int = 1
    offline: bool = False
    mirrors: list[Path] = field(default_factory=list)
    keep_build: bool = False
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    binary_cache: bincache.BinaryCache | None = None
    ccache: bool = False
    distcc: str | None = None  # DISTCC_HOSTS
    max_packages: int = 0  # packages building at once; 0: as many as the -j budget allows


@dataclass
class Outcome:
    recipe: str
    version: str
    status: str  # built | restored | installed | skipped | failed | not started
    seconds: float = 0.0


def check_steps(recipe: Recipe, entries: tuple[Any, ...], context: dict[str, Any],
                key: str = "check") -> list[Step]:
    """A check string is split like a shell would split it, but never run by one."""
    out: list[Step] = []
    for entry in entries:
        if isinstance(entry, str):
            out.append(shlex.split(render(entry, context, f"{recipe.path} {key}")))
        else:
            out.append([render(a, context, f"{recipe.path} {key}") for a in entry])
    return out


class Engine:
    def __init__(self, settings: Settings, events: Events) -> None:
        self.s = settings
        self.events = events
        self.state = PrefixState(settings.prefix)
        # recipes that provide a requirement, to name them when a configure step fails
        self.providers: Callable[[Requirement], list[str]] = lambda req: []
        self.cache = SourceCache(settings.cache_dir, settings.mirrors, settings.offline,
                                 log=lambda m: events.emit("fetch_progress", text=f"    {m}"))
        self._merge_lock = threading.Lock()  # one merge (and state write) at a time
        self.jobserver: Jobserver | None = None  # during install(): the shared job budget

    def work_dir(self, node: Node) -> Path:
        return self.s.cache_dir / "work" / f"{node.name}-{node.build_hash[:12]}"

    def log_dir(self, node: Node) -> Path:
        return self.s.cache_dir / "logs" / node.name

    # -- the run ---------------------------------------------------------------------------
    def install(self, graph: Graph, warnings: list[str] | None = None) -> list[Outcome]:
        """Build every package whose action is build, independent ones at the same time."""
        todo = [n for n in graph.order if graph.nodes[n].action == "build"]
        outcomes = {n: Outcome(n, graph.nodes[n].recipe.version,
                               {"installed": "installed", "skip": "skipped"}.get(
                                   graph.nodes[n].action, "not started"))
                    for n in graph.order}
        errors: dict[str, SrcbuildError] = {}
        counter = iter(range(1, len(todo) + 1))
        jobserver = self.jobserver = Jobserver(self.s.jobs)

        def build(name: str) -> None:
            node = graph.nodes[name]
            with jobserver.slot():
                start = time.monotonic()
                self.events.emit("package_start", recipe=name, version=node.recipe.version,
                                 index=next(counter), total=len(todo),
                                 build_hash=node.build_hash)
                try:
                    status = self.build_one(node)
                except BaseException:
                    outcomes[name].status = "failed"
                    outcomes[name].seconds = time.monotonic() - start
                    self.events.emit("package_end", recipe=name, status="failed",
                                     seconds=round(outcomes[name].seconds, 3))
                    raise
                outcomes[name].status = status
                outcomes[name].seconds = time.monotonic() - start
                self.events.emit("package_end", recipe=name, status=status,
                                 seconds=round(outcomes[name].seconds, 3))

        def on_error(name: str, error: BaseException) -> None:
            errors[name] = error if isinstance(error, SrcbuildError) else SrcbuildError(
                f"{name}: {type(error).__name__}: {error}")

        deps = {n: graph.nodes[n].deps for n in todo}
        try:
            run_graph(todo, deps, self.s.max_packages or self.s.jobs, build, on_error)
        except KeyboardInterrupt:
            # the steps run in sessions of their own: Ctrl-C reaches only srcbuild, which
            # stops them; nothing of theirs is merged
            terminate_all()
            raise
        finally:
            jobserver.close()
            self.jobserver = None
        notes = list(warnings or [])
        if errors:
            waiting = [o.recipe for o in outcomes.values() if o.status == "not started"]
            if waiting:
                notes.append(f"not started because {', '.join(errors)} failed: "
                             f"{', '.join(waiting)} (packages already running were allowed to "
                             "finish, so their work is merged and consistent)")
        self.events.emit("summary", ok=not errors, packages=[
            {"recipe": o.recipe, "version": o.version, "status": o.status,
             "seconds": round(o.seconds, 3)}
            for o in outcomes.values() if o.status not in ("installed", "skipped")],
            **({"warnings": notes} if notes else {}))
        if errors:
            raise next(iter(errors.values()))
        return list(outcomes.values())

    def build_one(self, node: Node) -> str:
        """Build (or restore from the binary cache), check and merge one package: its status."""
        recipe = node.recipe
        work = self.work_dir(node)
        logs = self.log_dir(node)
        if logs.exists():
            shutil.rmtree(logs)
        logs.mkdir(parents=True)
        if work.exists():
            shutil.rmtree(work)
        build_dir, destdir = work / "build", work / "stage"
        destdir.mkdir(parents=True)

        if recipe.is_group:
            self._check(node, build_dir, destdir, logs)
            self._merge(node, destdir, None)
            shutil.rmtree(work, ignore_errors=True)
            return "built"

        restored = self._restore(node, destdir)
        if restored is not None:
            self._merge(node, destdir, None, source=restored)
            shutil.rmtree(work, ignore_errors=True)
            return "restored"

        self._step(node, "fetch")
        t0 = time.monotonic()
        fetched = self.cache.prepare(recipe, lambda top: self._patch(recipe, top, logs))
        self.events.emit("step_end", recipe=node.name, step="fetch",
                         seconds=round(time.monotonic() - t0, 3), source=fetched.source.kind)
        cls = builders.BUILDERS[recipe.system]
        source_dir = fetched.source_dir
        if cls.needs_copy(recipe, source_dir):
            builders.base.copy_source(source_dir, build_dir)
            source_dir = build_dir
        ctx = builders.BuildContext(recipe, node.options, self.s.prefix, source_dir, build_dir,
                                    destdir, self.s.jobs)
        builder = cls(ctx)
        build_dir.mkdir(parents=True, exist_ok=True)
        env = prefix_env(self.s.prefix, self.s.environ,
                         compiler_flags=recipe.system != "kbuild")
        env = compilers.wrap(env, self.s.cache_dir, self.s.ccache, self.s.distcc)
        env["SOURCE_DATE_EPOCH"] = str(fetched.epoch)
        if recipe.system == "kbuild":  # kbuild stamps time, user and host into the image
            env.setdefault("KBUILD_BUILD_TIMESTAMP", f"@{fetched.epoch}")
            env.setdefault("KBUILD_BUILD_USER", "srcbuild")
            env.setdefault("KBUILD_BUILD_HOST", "srcbuild")
        env.update(builder.env())
        for key, value in recipe.build.get("env", {}).items():
            env[key] = ctx.render(value, f"env.{key}")
        for phase in builders.base.PHASES:
            steps = builder.steps(phase)
            if steps:
                self._run_phase(node, phase, steps, build_dir, env, logs / f"{phase}.log")
        self._check(node, build_dir, destdir, logs, ctx=ctx)
        self._store(node, work, destdir, fetched)
        self._merge(node, destdir, fetched)
        if not self.s.keep_build:
            shutil.rmtree(work, ignore_errors=True)
        return "built"

    # -- pieces ----------------------------------------------------------------------------
    def _step(self, node: Node, step: str, **data: Any) -> None:
        self.events.emit("step_start", recipe=node.name, step=step, **data)

    def _run_phase(self, node: Node, phase: str, steps: list[Step], cwd: Path,
                   env: dict[str, str], log: Path) -> None:
        self._step(node, phase)
        t0 = time.monotonic()
        for step in steps:
            result = self._run_step(node, phase, step, cwd, env, log)
            if result.returncode != 0:
                self.events.emit("step_end", recipe=node.name, step=phase, ok=False,
                                 seconds=round(time.monotonic() - t0, 3), log=str(log))
                diagnosis = ""
                if phase in ("configure", "build"):
                    diagnosis = explain_findings(scan_build(log, cwd), self.providers)
                raise BuildError(
                    f"{node.name} {node.recipe.version}: the {phase} step `{result.command}` "
                    f"failed with exit status {result.returncode}. The prefix "
                    f"{self.s.prefix} was left as it was.",
                    f"Full log: {log}", log_path=str(log), tail=result.tail,
                    diagnosis=diagnosis)
        self.events.emit("step_end", recipe=node.name, step=phase, ok=True,
                         seconds=round(time.monotonic() - t0, 3), log=str(log))

    def _run_step(self, node: Node, phase: str, step: Step, cwd: Path, env: dict[str, str],
                  log: Path) -> Result:
        """Run one step under the job budget.

        In the build phase, make joins srcbuild's jobserver (its own -jN is dropped, MAKEFLAGS
        carries the pipe); a tool that cannot join (ninja, meson, cmake --build) takes the
        tokens that are free right now and gets -j of that many plus the package's own slot.
        Install steps run serially, as a careful hand would.
        """
        def on_line(line: str) -> None:
            self.events.emit("line", recipe=node.name, text=line)

        jobserver = self.jobserver
        if phase != "build" or jobserver is None:
            return run(step, cwd, env, log, on_line=on_line, tail_lines=TAIL_LINES)
        env = {**env, "MAKEFLAGS": jobserver.makeflags()}
        if isinstance(step, dict):
            return run(step, cwd, env, log, on_line=on_line, tail_lines=TAIL_LINES,
                       pass_fds=jobserver.fds)
        tool = os.path.basename(step[0])
        if tool in ("make", "gmake"):
            argv = strip_jobs(step)
            return run(argv, cwd, env, log, on_line=on_line, tail_lines=TAIL_LINES,
                       pass_fds=jobserver.fds)
        if has_jobs(step):
            with jobserver.extra(self.s.jobs - 1) as extra:
                return run(set_jobs(step, extra + 1), cwd, env, log, on_line=on_line,
                           tail_lines=TAIL_LINES, pass_fds=jobserver.fds)
        return run(step, cwd, env, log, on_line=on_line, tail_lines=TAIL_LINES,
                   pass_fds=jobserver.fds)

    def _patch(self, recipe: Recipe, top: Path, logs: Path) -> None:
        for patch in recipe.patches:
            log = logs / "patch.log"
            result = run(["patch", "-p1", "--forward", "--batch", "-i", str(patch)], top,
                         dict(self.s.environ), log)
            if result.returncode != 0:
                raise BuildError(f"Patch {patch} of {recipe.name} does not apply.",
                                 f"Full log: {log}", log_path=str(log), tail=result.tail)

    def _check(self, node: Node, build_dir: Path, destdir: Path, logs: Path,
               ctx: builders.BuildContext | None = None) -> None:
        recipe = node.recipe
        if not recipe.check:
            return
        # a group has no source: its check sees the build folder in that place
        ctx = ctx or builders.BuildContext(recipe, node.options, self.s.prefix, build_dir,
                                           build_dir, destdir, self.s.jobs)
        context = ctx.template_vars()
        env = check_env(self.s.prefix, ctx.stage, self.s.environ)
        build_dir.mkdir(parents=True, exist_ok=True)
        self._run_phase(node, "check", check_steps(recipe, recipe.check, context), build_dir,
                        env, logs / "check.log")

    def _merge(self, node: Node, destdir: Path, fetched: Fetched | None,
               source: dict[str, str] | None = None) -> None:
        self._step(node, "merge")
        t0 = time.monotonic()
        source = dict(source or {})
        if fetched is not None:
            source = {"kind": fetched.source.kind, "location": fetched.source.location,
                      "sha256": fetched.sha256}
        with self._merge_lock:
            merge(destdir, self.s.prefix, Installed(
                name=node.name, version=node.recipe.version, build_hash=node.build_hash,
                provides=tuple(str(p) for p in node.provides),
                requires=tuple(node.runtime_deps), options=node.options, source=source,
                installed_at=time.time()), self.state)
        self.events.emit("step_end", recipe=node.name, step="merge", ok=True,
                         seconds=round(time.monotonic() - t0, 3))

    # -- the binary cache --------------------------------------------------------------------
    def _restore(self, node: Node, destdir: Path) -> dict[str, str] | None:
        """Unpack a cached, verified staged tree into destdir; its recorded source, or None."""
        cache = self.s.binary_cache
        if cache is None:
            return None
        try:
            archive = cache.get(node.build_hash)
        except CorruptEntry as e:
            self.events.emit("cache_corrupt", recipe=node.name, build_hash=node.build_hash,
                             where=cache.describe(), text=str(e))
            self.events.emit("message", text=f"    {node.name}: {e}")
            return None
        if archive is None:
            return None
        stage = Path(str(destdir) + str(self.s.prefix))
        try:
            bincache.unpack(archive, stage)
        except SrcbuildError as e:
            self.events.emit("cache_corrupt", recipe=node.name, build_hash=node.build_hash,
                             where=str(archive), text=str(e))
            self.events.emit("message", text=f"    {node.name}: {e} Rebuilding it.")
            shutil.rmtree(destdir, ignore_errors=True)
            destdir.mkdir(parents=True)
            return None
        self.events.emit("cache_hit", recipe=node.name, build_hash=node.build_hash,
                         where=str(archive))
        manifest = cache.manifest(node.build_hash) or {}
        return dict(manifest.get("source", {}))

    def _store(self, node: Node, work: Path, destdir: Path, fetched: Fetched) -> None:
        """Put the checked staged tree into the binary cache; a failure only warns."""
        cache = self.s.binary_cache
        if cache is None:
            return
        stage = Path(str(destdir) + str(self.s.prefix))
        archive = work / f"{node.build_hash}.tar.gz"
        source = {"kind": fetched.source.kind, "location": fetched.source.location,
                  "sha256": fetched.sha256}
        try:
            staged_files(destdir, self.s.prefix, node.name)  # refuse files outside the prefix
            files = bincache.pack(stage, archive, fetched.epoch)
            cache.put(node.build_hash, archive, bincache.manifest(
                node.name, node.recipe.version, node.build_hash, archive, files, source))
        except OSError as e:
            self.events.emit("message", text=f"    {node.name}: not stored in the binary cache "
                                              f"{cache.describe()} ({e}).")
            return
        finally:
            archive.unlink(missing_ok=True)
        self.events.emit("cache_store", recipe=node.name, build_hash=node.build_hash,
                         where=cache.describe())


_JOBS = re.compile(r"^(?:-j\d*|--jobs=\d+|-j)$")


def strip_jobs(argv: list[str]) -> list[str]:
    """make's own -jN would leave the jobserver: drop it (and a separate numeric value)."""
    out: list[str] = []
    skip = False
    for i, a in enumerate(argv):
        if skip:
            skip = False
            continue
        if _JOBS.match(a):
            if a in ("-j", "--jobs") and i + 1 < len(argv) and argv[i + 1].isdigit():
                skip = True
            continue
        out.append(a)
    return out


def has_jobs(argv: list[str]) -> bool:
    return any(_JOBS.match(a) or a == "--jobs" for a in argv)


def set_jobs(argv: list[str], n: int) -> list[str]:
    """Replace the -j value of a tool that cannot join a jobserver."""
    out = strip_jobs(argv)
    if out and os.path.basename(out[0]) == "meson" or (len(out) > 1 and out[1] == "--build"):
        return out + ["-j", str(n)]
    return out + [f"-j{n}"]
