"""log: the phase logs of the build that produced what a prefix has installed of a package;
for a package it does not have (a build that failed), those of its latest build in the
cache, the failed phase's first; --run ID for any run the cache keeps.

The log goes to stdout as it is (control characters escaped), what it is to stderr, so
that `srcbuild log zlib | grep -i warning` reads only the log.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from srcbuild import api
from srcbuild.buildlogs import BuildLogs, cached_logs, installed_logs, runs_with_logs
from srcbuild.errors import EXIT_OK, SrcbuildError, UnknownName, UsageError
from srcbuild.runs import is_run_id, list_runs
from srcbuild.safety import is_valid_name, printable


def log(args: argparse.Namespace) -> int:
    prefix = (args.prefix or api.default_prefix()).resolve()
    cache = (args.cache_dir or api.default_cache_dir()).resolve()
    name = args.name
    if args.run is not None and not is_run_id(args.run):
        raise UsageError(f"--run {args.run} is not a run id (YYYYMMDD-HHMMSS-PID).",
                         "`srcbuild report --list` lists the runs this cache keeps.")
    api.recover(prefix)
    logs = find(prefix, cache, name, args.run)
    files = logs.files()
    if not files:
        raise SrcbuildError(
            f"{name}: run {logs.run} wrote no phase log in {logs.folder}: it was restored "
            "from a binary cache, or stopped before its first phase.",
            f"`srcbuild report --run {logs.run}` shows what that run did.")
    chosen = pick(files, args.phase, logs)
    tell(header(logs, files, chosen, prefix, cache))
    for path in chosen:
        if len(chosen) > 1:
            sys.stdout.write(f"==> {printable(str(path))} <==\n")
        sys.stdout.write(printable(path.read_text(encoding="utf-8", errors="replace")))
    sys.stdout.flush()
    return EXIT_OK


def find(prefix: Path, cache: Path, name: str, run: str | None) -> BuildLogs:
    """The logs asked for; an error names what exists instead."""
    if not is_valid_name(name):
        raise UnknownName(f"{name!r} is not a recipe name.", "", name)
    if run is not None:
        found = cached_logs(cache, name, run)
        if found is None:
            kept = "kept" if any(r.run_id == run for r in list_runs(cache)) else "not kept"
            others = runs_with_logs(cache, name)
            raise UsageError(f"Run {run} ({kept} in {cache}) has no logs of {name}.",
                             f"Runs with logs of {name}: {', '.join(others[:5])}." if others
                             else f"No run in {cache} has logs of {name}.")
        return found
    installed = installed_logs(prefix, name)
    if installed is not None and not installed.run:
        raise SrcbuildError(
            f"{name} in {prefix} was installed by a srcbuild that kept no log per run.",
            f"`srcbuild log {name} --run ID` shows a later build's logs, if the cache has "
            "one (`srcbuild report --list`).")
    if installed is not None:
        if not installed.folder.is_dir():
            raise SrcbuildError(
                f"The logs of {name}'s build (run {installed.run}) were in {installed.folder}, "
                "which is gone.",
                "They were deleted by hand: srcbuild clean keeps every run an install "
                "record points at.")
        return installed
    found = cached_logs(cache, name)
    if found is None:
        from srcbuild.state import PrefixState
        from srcbuild.suggest import close, did_you_mean

        near = close(name, sorted(PrefixState(prefix).packages()))
        raise UnknownName(f"{name} is not installed in {prefix}, and {cache} keeps no log "
                          f"of a build of {name}.",
                          did_you_mean(near) if near else
                          "--prefix DIR and --cache-dir DIR say where to look.", name)
    return found


def pick(files: list[Path], phase: str | None, logs: BuildLogs) -> list[Path]:
    """--phase all: every log; --phase PHASE: that one; none: the failed phase's log for a
    failed build, else the last one written (the check's, when there is one)."""
    if phase == "all":
        return files
    if phase is None:
        failed = [p for p in files if logs.failed and p.stem == logs.failed]
        return failed or files[-1:]
    for path in files:
        if path.stem == phase:
            return [path]
    raise UsageError(f"{logs.name}: run {logs.run} wrote no {phase} log in {logs.folder}.",
                     f"Its logs: {', '.join(p.stem for p in files)}.")


def header(logs: BuildLogs, files: list[Path], chosen: list[Path], prefix: Path,
           cache: Path) -> list[str]:
    """What the log is: whose, which run, which phases there are, and a newer run's."""
    if logs.installed:
        what = f"{logs.name}: the build installed in {prefix}, run {logs.run}"
    else:
        has_log = any(p.stem == logs.failed for p in files)
        ended = (f"it failed in its {logs.failed} step" if has_log else
                 f"it failed in its {logs.failed} step, which writes no log (the run "
                 f"printed why); its last log is {files[-1].stem}"
                 if logs.failed else f"its last log is {files[-1].stem}")
        what = f"{logs.name}: run {logs.run} (not installed in {prefix}; {ended})"
    lines = [what, f"  logs: {logs.folder}: " + ", ".join(
        f"{p.stem}{' (shown)' if p in chosen else ''}" for p in files)]
    if len(chosen) == 1 and len(files) > 1:
        lines.append("  --phase PHASE shows another, --phase all shows them all")
    runs = runs_with_logs(cache, logs.name)  # newest first
    newer = runs[:runs.index(logs.run)] if logs.run in runs else []
    if newer:
        lines.append(f"  note: a newer run also has logs of {logs.name}: --run {newer[0]}")
    return lines


def tell(lines: list[str]) -> None:
    sys.stderr.write("".join(f"{printable(line)}\n" for line in lines))
    sys.stderr.flush()
