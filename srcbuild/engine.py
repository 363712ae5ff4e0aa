"""Walk a resolved graph: every package whose plan step says build goes through PHASES,
independent packages at the same time under one job budget."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from srcbuild import linkage, runs, workdirs
from srcbuild.bincache import CacheChain, LocalDirCache
from srcbuild.boundary import Place, explain_in
from srcbuild.errors import SrcbuildError
from srcbuild.events import Events
from srcbuild.fetch import SourceCache
from srcbuild.graph import Graph, Node
from srcbuild.kinds import Action, EventKind, Status
from srcbuild.phases import PHASES, Job, Services, Settings, Stopped, tested_packages
from srcbuild.runner import Sessions
from srcbuild.safety import is_valid_name
from srcbuild.scheduler import Jobserver, run_graph
from srcbuild.sessions import SessionLog
from srcbuild.state import PrefixState


@dataclass
class Outcome:
    """How one package of the graph ended in this run."""

    recipe: str
    version: str
    status: Status
    seconds: float = 0.0


# what a package that is not built ends as
NOT_BUILT = {Action.INSTALLED: Status.INSTALLED, Action.SKIP: Status.SKIPPED}


class Engine:
    def __init__(self, settings: Settings, events: Events) -> None:
        self.svc = Services(
            settings, events,
            SourceCache(settings.cache_dir, settings.mirrors, settings.offline,
                        log=lambda m: events.emit(EventKind.FETCH_PROGRESS, text=f"    {m}"),
                        note=lambda m: events.message(f"    {m}")),
            PrefixState(settings.prefix), Sessions())

    def work_dir(self, node: Node) -> Path:
        if not is_valid_name(node.name):  # never a path component such as ".."
            raise ValueError(f"not a recipe name: {node.name!r}")
        return self.svc.settings.cache_dir / "work" / f"{node.name}-{node.build_hash[:12]}"

    def log_dir(self, node: Node) -> Path:
        """CACHE/logs/RUN/NAME: this run's logs of the package, beside no other run's."""
        return runs.log_dir(self.svc.settings.cache_dir, self.svc.settings.run_id, node.name)

    def sweep(self) -> None:
        """Remove what killed runs left in the caches this run uses: work folders (after
        killing the commands that outlived them) and partial temporaries."""
        s, say = self.svc.settings, self.svc.events.message
        for folder, killed in workdirs.sweep_work(s.cache_dir):
            say(f"Removed {folder}, left by a killed run"
                + (f" (stopped its leftover processes {', '.join(map(str, killed))})."
                   if killed else "."))
        folders = [d for d in (s.cache_dir / "sources").glob("*") if d.is_dir()]
        caches = (s.binary_cache.caches if isinstance(s.binary_cache, CacheChain)
                  else [s.binary_cache])  # the command line always gives a chain
        folders += [c.root for c in caches if isinstance(c, LocalDirCache)]
        for folder in folders:
            for path in workdirs.sweep_temporaries(folder):
                say(f"Removed {path}, a partial file of a killed run.")

    def install(self, graph: Graph, warnings: list[str] | None = None) -> list[Outcome]:
        """Build every node whose action is build, independent ones at the same time."""
        s, events = self.svc.settings, self.svc.events
        if graph.providers is not None:
            self.svc.providers = graph.providers.names
        self.svc.tested = tested_packages(graph.targets, graph.nodes, s.test)
        todo = [n for n in graph.order if graph.nodes[n].action == Action.BUILD]
        outcomes = {n: Outcome(n, graph.nodes[n].recipe.version,
                               NOT_BUILT.get(graph.nodes[n].action, Status.NOT_STARTED))
                    for n in graph.order}
        errors: dict[str, SrcbuildError] = {}
        counter = iter(range(1, len(todo) + 1))
        jobserver = self.svc.jobserver = Jobserver(s.jobs)

        def build(name: str) -> None:
            node, outcome = graph.nodes[name], outcomes[name]
            with jobserver.slot():
                start = time.monotonic()
                events.emit(EventKind.PACKAGE_START, recipe=name, version=node.recipe.version,
                            index=next(counter), total=len(todo), build_hash=node.build_hash)
                outcome.status = Status.FAILED
                try:
                    outcome.status = self.build_one(node, linkage.allowed(graph, name))
                finally:
                    outcome.seconds = time.monotonic() - start
                    # failed because a signal stopped its commands: the reporters say so
                    stopped = outcome.status == Status.FAILED and self.svc.sessions.stopping
                    events.emit(EventKind.PACKAGE_END, recipe=name, status=outcome.status,
                                seconds=round(outcome.seconds, 3),
                                **({"interrupted": True} if stopped else {}))

        def on_error(name: str, error: BaseException) -> None:
            if isinstance(error, OSError):  # a folder the machine refuses: named, with a cure
                error = explain_in(error, [Place(s.prefix, "the prefix", "--prefix DIR"),
                                           Place(s.cache_dir, "the cache", "--cache-dir DIR")])
                error.message = f"{name}: {error.message}"
            errors[name] = error if isinstance(error, SrcbuildError) else SrcbuildError(
                f"{name}: {type(error).__name__}: {error}")

        deps = {n: graph.nodes[n].deps for n in todo}
        if todo:
            self.sweep()
        try:
            # the commands run in sessions of their own: Ctrl-C reaches only srcbuild, which
            # stops them (a signal: interrupts.py), waits for them, and merges nothing more
            run_graph(todo, deps, s.max_packages or s.jobs, build, on_error,
                      on_interrupt=self.svc.sessions.stop)
        finally:
            jobserver.close()
            self.svc.jobserver = None
        self._summary(outcomes, errors, warnings)
        if errors:
            raise next(iter(errors.values()))
        return list(outcomes.values())

    def _summary(self, outcomes: dict[str, Outcome], errors: dict[str, SrcbuildError],
                 warnings: list[str] | None) -> None:
        notes = list(warnings or [])
        if errors:
            waiting = [o.recipe for o in outcomes.values() if o.status == Status.NOT_STARTED]
            if waiting:
                notes.append(f"not started because {', '.join(errors)} failed: "
                             f"{', '.join(waiting)} (packages already running were allowed to "
                             "finish, so their work is merged and consistent)")
        self.svc.events.emit(EventKind.SUMMARY, ok=not errors, packages=[
            {"recipe": o.recipe, "version": o.version, "status": o.status,
             "seconds": round(o.seconds, 3)}
            for o in outcomes.values() if o.status not in (Status.INSTALLED, Status.SKIPPED)],
            **({"warnings": notes} if notes else {}))

    def build_one(self, node: Node, allowed: linkage.Allowed) -> Status:
        """Take one package through PHASES in a fresh work folder that this run owns (see
        workdirs.claim): its status. ``allowed``: what its graph lets it load (the audit
        phase)."""
        job = Job(node, self.svc, self.work_dir(node), self.log_dir(node), allowed)
        if job.logs.exists():
            shutil.rmtree(job.logs)
        job.logs.mkdir(parents=True)
        with workdirs.claim(job.work) as sessions_file:
            job.sessions = SessionLog(self.svc.sessions, sessions_file)
            job.destdir.mkdir(parents=True)
            for phase in PHASES:
                if self.svc.sessions.stopping:
                    raise Stopped(f"{node.name}: stopped before its {phase.__name__} phase, "
                                  "srcbuild was interrupted.")
                phase(job)
            if job.builder is None or not self.svc.settings.keep_build:
                shutil.rmtree(job.work, ignore_errors=True)
        return Status.RESTORED if job.restored is not None else Status.BUILT
