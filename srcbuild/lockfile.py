"""srcbuild.lock: what a resolved graph was made of, and how a new resolution drifted from it.

``snapshot`` and ``compare`` are pure; ``read`` is the only function that touches a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srcbuild import __version__
from srcbuild.errors import DriftError, UsageError
from srcbuild.graph import Graph
from srcbuild.identity import describe_change, identity_json
from srcbuild.kinds import DriftKind, Satisfier

# 2: each system entry has the "files" it resolved to (identity.py); a format 1 lock is
# still read, and compared by versions only
LOCK_FORMAT = 2
READABLE_FORMATS = (1, 2)
Lock = dict[str, Any]


@dataclass(frozen=True)
class Drift:
    """One way the machine or the recipes differ from the lock."""

    kind: DriftKind
    subject: str  # a recipe name, a requirement, or the compiler/architecture
    message: str


def snapshot(graph: Graph, targets: list[str], options: dict[str, str], from_source: set[str],
             toolchain: str, machine: str) -> Lock:
    """The lock of a resolved graph: recipes with digests and sources, system requirements."""
    packages = []
    for name in graph.order:
        node = graph.nodes[name]
        r = node.recipe
        packages.append({
            "recipe": name, "version": r.version, "digest": r.digest, "options": node.options,
            "action": node.action, "build_hash": node.build_hash, "deps": list(node.deps),
            "sources": [{"kind": s.kind, "location": s.location, "sha256": s.sha256}
                        for s in r.sources]})
    system = [{"requirement": str(res.requirement), "of": res.of, "where": res.where,
               "version": res.version, "tool": res.tool,
               "files": identity_json(res.version, res.found.identity if res.found else ())[
                   "files"]}
              for res in graph.resolutions if res.satisfied_by == Satisfier.SYSTEM]
    return {"format": LOCK_FORMAT, "srcbuild": __version__, "targets": list(targets),
            "options": dict(options), "from_source": sorted(from_source),
            "prefix": str(graph.prefix), "compiler": toolchain, "architecture": machine,
            "packages": packages, "system": system}


def compare(locked: Lock, now: Lock) -> list[Drift]:
    """Every difference that can change what gets built, each with a message naming it."""
    out: list[Drift] = []
    if locked["compiler"] != now["compiler"]:
        out.append(Drift(DriftKind.COMPILER, "compiler",
                         f"the compiler changed: the lock has {locked['compiler']!r}, this "
                         f"machine has {now['compiler']!r}"))
    if locked["architecture"] != now["architecture"]:
        out.append(Drift(DriftKind.ARCHITECTURE, "architecture",
                         f"the architecture changed: the lock has {locked['architecture']}, "
                         f"this machine is {now['architecture']}"))
    old = {p["recipe"]: p for p in locked["packages"]}
    new = {p["recipe"]: p for p in now["packages"]}
    for name in sorted(old.keys() - new.keys()):
        out.append(Drift(DriftKind.PACKAGE_REMOVED, name,
                         f"recipe {name} is in the lock but no longer in the graph"))
    for name in sorted(new.keys() - old.keys()):
        out.append(Drift(DriftKind.PACKAGE_ADDED, name,
                         f"recipe {name} is in the graph but not in the lock (a requirement the "
                         "system satisfied at lock time now needs a recipe, or a recipe changed "
                         "its requirements)"))
    for name in sorted(old.keys() & new.keys()):
        a, b = old[name], new[name]
        if a["version"] != b["version"]:
            out.append(Drift(DriftKind.VERSION, name, f"recipe {name}: version {a['version']} in the "
                                              f"lock, {b['version']} now"))
        elif a["digest"] != b["digest"]:
            out.append(Drift(DriftKind.RECIPE, name,
                             f"recipe {name} was edited since the lock (digest "
                             f"{a['digest'][:12]} in the lock, {b['digest'][:12]} now: its "
                             "file, its patches or its local source changed)"))
        if a["options"] != b["options"]:
            out.append(Drift(DriftKind.OPTIONS, name, f"recipe {name}: options {a['options']} in the "
                                              f"lock, {b['options']} now"))
    old_sys = {(s["requirement"], s["of"]): s for s in locked["system"]}
    new_sys = {(s["requirement"], s["of"]): s for s in now["system"]}
    for key in sorted(old_sys):
        a = old_sys[key]
        b = new_sys.get(key)
        if b is None:
            out.append(Drift(DriftKind.SYSTEM, key[0],
                             f"{key[0]} (needed by {key[1]}) came from the system "
                             f"({a['version'] or 'no version'} at {a['where']}) at lock time; "
                             "the system no longer satisfies it"))
        elif a["version"] != b["version"]:
            out.append(Drift(DriftKind.SYSTEM, key[0],
                             f"system {key[0]} (needed by {key[1]}) is at version "
                             f"{b['version']} ({b['where']}), the lock has {a['version']} "
                             f"({a['where']})"))
        elif "files" in a and "files" in b and a["files"] != b["files"]:
            change = describe_change({"files": a["files"]}, {"files": b["files"]})
            out.append(Drift(DriftKind.SYSTEM, key[0],
                             f"system {key[0]} (needed by {key[1]}): same version "
                             f"{b['version'] or '(none)'}, but {change}"))
    for key in sorted(new_sys.keys() - old_sys.keys()):
        b = new_sys[key]
        out.append(Drift(DriftKind.SYSTEM, key[0],
                         f"{key[0]} (needed by {key[1]}) now comes from the system "
                         f"({b['version'] or 'no version'} at {b['where']}), not as at lock time"))
    return out


def read(path: Path) -> Lock:
    """Load and check a lock file; every problem names the file and the fix."""
    try:
        data = json.loads(path.read_text())
    except OSError as e:
        raise UsageError(f"Cannot read the lock file {path}: {e.strerror}.",
                         "Write one with `srcbuild lock NAME... > srcbuild.lock`.") from None
    except ValueError as e:
        raise UsageError(f"The lock file {path} is not JSON ({e}).",
                         "Write it again with `srcbuild lock NAME... > srcbuild.lock`.") from None
    if not isinstance(data, dict) or data.get("format") not in READABLE_FORMATS:
        raise UsageError(f"The lock file {path} is not a srcbuild lock of format "
                         f"{' or '.join(map(str, READABLE_FORMATS))}.",
                         "Write it again with this srcbuild: `srcbuild lock NAME...`.")
    missing = [k for k in ("targets", "packages", "system", "compiler", "architecture")
               if k not in data]
    if missing:
        raise UsageError(f"The lock file {path} lacks the key {missing[0]!r}.",
                         "Write it again with `srcbuild lock NAME...`.")
    return data


def drift_error(path: Path, drifts: list[Drift]) -> DriftError:
    listed = "; ".join(f"[{d.kind}] {d.message}" for d in drifts)
    return DriftError(f"The resolution differs from the lock {path} in {len(drifts)} way(s): "
                      f"{listed}.",
                      to_resolve=[("If the change is intended, lock again: `srcbuild lock "
                                  "NAME... > srcbuild.lock`."),
                                  ("Or pass --allow-drift to build anyway (the differences "
                                  "become warnings).")])
