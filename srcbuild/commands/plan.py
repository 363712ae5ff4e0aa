"""plan, doctor, graph, lock: resolve a graph and show it; nothing is built."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from srcbuild import api
from srcbuild.commands.common import request
from srcbuild.errors import EXIT_FAILED, EXIT_OK, EXIT_UNSATISFIED
from srcbuild.events import Events
from srcbuild.graph import Graph, require_satisfiable
from srcbuild.kinds import Action, DiagnosisCase, Satisfier
from srcbuild.runs import last_build_seconds
from srcbuild.safety import say
from srcbuild.ui import fmt_seconds, make_reporter

DOCTOR_MARKS = {Satisfier.PREFIX: "ok  ", Satisfier.SYSTEM: "ok  ", Satisfier.RECIPE: "build",
                Satisfier.MISSING: "MISS"}


def warn_if_unwritable(graph: Graph) -> None:
    """plan and doctor look ahead: an install into this prefix would stop at once."""
    from srcbuild.boundary import not_writable

    if not any(graph.nodes[n].action == Action.BUILD for n in graph.order):
        return
    why = not_writable(graph.prefix)
    if why:
        sys.stderr.write(f"warning: the prefix {graph.prefix} cannot be written: {why}; "
                         "`srcbuild install` would stop before building. Choose another "
                         "--prefix, or get write access to it.\n")


def plan(args: argparse.Namespace) -> int:
    req = request(args)
    graph = api.resolve(req)
    warn_if_unwritable(graph)
    if args.json:
        print(json.dumps(graph.to_json(), indent=1))
    else:
        say(f"Plan for {' '.join(graph.targets)} into {graph.prefix}:")
        builds = {name for name in graph.order if graph.nodes[name].action == Action.BUILD}
        took = last_build_seconds(req.cache_dir, builds) if builds else {}
        for i, name in enumerate(graph.order, 1):
            n = graph.nodes[name]
            last = f"; took {fmt_seconds(took[name])} last time" if name in took else ""
            say(f"  {i:>2}. {n.action:<9} {name} {n.recipe.version}  ({n.reason}{last})")
        say("Requirements:")
        for r in graph.resolutions:
            group = r.recipe in graph.nodes and graph.nodes[r.recipe].recipe.is_group
            v = f" {r.version}" if r.version and not group else ""  # a group's version is 0
            say(f"  {r.of}: {r.requirement} -> {r.satisfied_by}{v} {r.where}".rstrip()
                  + ("" if r.satisfied_by != Satisfier.MISSING else f" ({r.reason})"))
    return EXIT_UNSATISFIED if graph.missing() else EXIT_OK


def doctor(args: argparse.Namespace) -> int:
    req = request(args)
    if req.system_packages:  # its messages go to stderr as text, even with --json
        events = Events()
        events.subscribe(make_reporter(False, args.quiet))
        api.install_system_packages(api.resolve(req), req.assume_yes, events)
    graph, found = api.doctor(req)
    warn_if_unwritable(graph)
    loader = [d for d in found
              if d.case in (DiagnosisCase.LOADER_PATH, DiagnosisCase.LIBRARY_MISSING)]
    found = [d for d in found if d not in loader]
    bad = [d for d in found if d.satisfied_by == Satisfier.MISSING]
    checked_prefix = graph.prefix.is_dir()
    code = EXIT_UNSATISFIED if bad else EXIT_FAILED if loader else EXIT_OK
    if args.json:
        print(json.dumps({"prefix": str(graph.prefix), "ok": code == EXIT_OK,
                          "prefix_checked": checked_prefix,
                          "diagnoses": [d.to_json() for d in found + loader]}, indent=1))
        return code
    for d in found:
        say(f"{DOCTOR_MARKS.get(d.satisfied_by, '    '):<5} [{d.of}] {d.message}")
    if loader:
        say(f"\nInstalled in {graph.prefix}, but the loader cannot find a library:")
        for d in loader:
            say(f"LOAD  {d.message}")
    say("\n" + doctor_verdict(graph.targets, len(found), len(bad), len(loader), graph.prefix,
                              checked_prefix))
    return code


def doctor_verdict(targets: list[str], total: int, bad: int, loader: int, prefix: Path,
                   checked: bool) -> str:
    """One line that says what was checked and what was found, skips included."""
    reqs = f"{total - bad} of {total} requirement(s) satisfiable" if total else \
        f"{' '.join(targets)} {'has' if len(targets) == 1 else 'have'} no requirement"
    binaries = (f"{loader} binary(ies) in {prefix} miss a library (LOAD lines)" if loader
                else f"the binaries in {prefix} find their libraries" if checked
                else f"{prefix} does not exist, so no installed binary was checked")
    if bad:
        return f"doctor: NOT OK: {reqs}, {bad} not (MISS lines); {binaries}"
    if loader:
        return f"doctor: NOT OK: {reqs}; {binaries}"
    return f"doctor: ok: {reqs}; {binaries}"


def graph(args: argparse.Namespace) -> int:
    from srcbuild.graphview import to_dot, to_svg

    resolved = api.resolve(request(args))
    fmt = args.format or ("svg" if args.output and args.output.suffix == ".svg" else "dot")
    text = to_svg(resolved) if fmt == "svg" else to_dot(resolved)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        say(args.output)
    # like `plan`: the picture is written, and the exit code says something is missing
    return EXIT_UNSATISFIED if resolved.missing() else EXIT_OK


def lock(args: argparse.Namespace) -> int:
    req = request(args)
    resolved = api.resolve(req)
    require_satisfiable(resolved)
    print(json.dumps(api.lock_of(req, resolved), indent=1, sort_keys=True))
    return EXIT_OK
