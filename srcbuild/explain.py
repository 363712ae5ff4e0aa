"""What a run says last, in words: why nothing was built, target by target (the system has it,
or this prefix does, since when), and how to use a prefix that was just built into."""

from __future__ import annotations

import time
from pathlib import Path

from srcbuild.graph import Graph
from srcbuild.kinds import Action, RequirementKind
from srcbuild.state import PrefixState


def why_nothing(graph: Graph) -> list[str]:
    """One line per target that needs nothing: ``zlib: the system has it (1.2.13,
    /usr/lib/.../zlib.pc); --from-source zlib builds it into the prefix`` or ``zlib: installed
    in PREFIX (1.2.13, built 2024-05-01 10:12)``."""
    from srcbuild.probes import SystemProbe

    state = PrefixState(graph.prefix)
    probe = SystemProbe(graph.prefix)
    lines = []
    for name in graph.targets:
        node = graph.nodes[name]
        if node.action == Action.SKIP:
            seen = ""
            for p in node.provides:
                if p.kind == RequirementKind.RECIPE:
                    continue
                found = probe.lookup(p)
                if found is not None:
                    seen = f" ({found.version + ', ' if found.version else ''}{found.where})"
                    break
            lines.append(f"{name}: the system has it{seen}; --from-source {name} builds it "
                         "into the prefix")
        elif node.action == Action.INSTALLED:
            pkg = state.get(name)
            when = f", built {stamp(pkg.installed_at)}" if pkg and pkg.installed_at else ""
            version = pkg.version if pkg else node.recipe.version
            lines.append(f"{name}: installed in {graph.prefix} ({version}{when})")
    return lines


def stamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def how_to_use(graph: Graph, report: Path | None) -> list[str]:
    """Where the packages went and the two ways to use them; where the run's report is."""
    prefix = graph.prefix
    lines = [f"Installed into {prefix}.",
             f"Use it: source {prefix}/activate   (fish: activate.fish; `deactivate` undoes it)"]
    runnable = [n for n in graph.targets if graph.nodes[n].recipe.run]
    if runnable:
        lines.append(f"    or: srcbuild run {runnable[0]} --prefix {prefix}")
    if report is not None:
        lines.append(f"Report: {report}")
    return lines
