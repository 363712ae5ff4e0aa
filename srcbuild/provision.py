"""CI provisioning: mirror a graph's sources, check that its builds are reproducible.

(Locking is lockfile.py and api.lock_of; the commands are in commands/provision.py.)
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from srcbuild import api
from srcbuild.bincache import LocalDirCache
from srcbuild.engine import Engine
from srcbuild.errors import FetchError
from srcbuild.events import Events
from srcbuild.fetch import SourceCache, copy_verified
from srcbuild.graph import Graph, require_satisfiable
from srcbuild.kinds import Action, EventKind, SourceKind
from srcbuild.phases import Settings


# -- mirror ---------------------------------------------------------------------------------
def mirror(req: api.Request, dest: Path, events: Events,
           every_alternative: bool = False) -> list[Path]:
    """Copy the sources of every recipe of the graph into ``dest/SHA256/FILE``, verified.

    By default the source each recipe would use; with ``every_alternative`` every one that
    can be fetched (a failure of an alternative is then a message, not an error).
    """
    graph = api.resolve(req)
    require_satisfiable(graph)
    # the destination is a mirror too: a second run (a CI cache hit) downloads nothing
    cache = SourceCache(req.cache_dir, list(req.mirrors) + [dest], req.offline,
                        log=lambda m: events.message(f"    {m}"))
    out: list[Path] = []
    for name in graph.order:
        recipe = graph.nodes[name].recipe
        if recipe.is_group:
            continue
        choices = [recipe]
        if every_alternative:
            choices = [dataclasses.replace(recipe, sources=(s,)) for s in recipe.sources]
        for one in choices:
            if all(s.kind == SourceKind.PATH for s in one.sources):
                continue  # a local source travels with the recipes
            try:
                source, archive, sha = cache.fetch(one)
            except FetchError as e:
                if not every_alternative:
                    raise
                events.message(f"{name}: skipped an alternative: {e.message}")
                continue
            if archive is None or not sha:
                continue
            target = copy_verified(archive, dest / sha / archive.name, sha)
            events.emit(EventKind.MIRRORED, recipe=name, source=source.describe(),
                        path=str(target))
            events.message(f"{name}: {source.describe()} -> {target}")
            out.append(target)
    return out


# -- verify-repro ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ReproResult:
    recipe: str
    version: str
    files: int
    differ: list[str]  # paths relative to the prefix whose sha256 differ (or exist once)


def staged_digests(archive: Path) -> dict[str, str]:
    """path -> sha256 (or link target, or mode) of each member of a binary cache archive."""
    out: dict[str, str] = {}
    with tarfile.open(archive) as tf:
        for m in tf.getmembers():
            if m.isreg():
                f = tf.extractfile(m)
                assert f is not None
                out[m.name] = f"{hashlib.sha256(f.read()).hexdigest()} {m.mode:o}"
            elif m.issym() or m.islnk():
                out[m.name] = f"-> {m.linkname}"
            else:
                out[m.name] = f"dir {m.mode:o}"
    return out


def verify_repro(req: api.Request, events: Events) -> tuple[Graph, list[ReproResult]]:
    """Build the named recipes (and what they need that the system lacks) twice from source,
    same prefix path, separate build folders; compare the staged trees file by file.

    The targets are always built from source, as with --from-source: a system copy would
    leave nothing to compare. Each build runs with its own cache folder (its own extracted
    sources and build folders) into the same temporary prefix path, and stores its checked
    staged trees in its own binary cache, whose archives are compared. No result (an empty
    list) when the graph builds no package: the caller says why.
    """
    with tempfile.TemporaryDirectory(prefix="srcbuild-repro-") as tmp:
        root = Path(tmp)
        prefix = root / "prefix"
        req = dataclasses.replace(req, prefix=prefix, binary_cache=[],
                                  from_source=set(req.from_source) | set(req.targets))
        graph = api.resolve(req)
        require_satisfiable(graph)
        compared = [n for n in graph.order if graph.nodes[n].action == Action.BUILD
                    and not graph.nodes[n].recipe.is_group]
        if not compared:
            return graph, []
        stores = []
        for run in ("a", "b"):
            if prefix.exists():
                shutil.rmtree(prefix)
            prefix.mkdir()
            cache_dir = root / f"cache-{run}"
            store = LocalDirCache(root / f"bin-{run}")
            stores.append(store)
            events.message(f"verify-repro: build {run} in {cache_dir}")
            settings = Settings(prefix=prefix, cache_dir=cache_dir, jobs=req.jobs,
                                offline=req.offline,
                                mirrors=list(req.mirrors) + [req.cache_dir / "sources",
                                                             root / "cache-a" / "sources"],
                                binary_cache=store)
            # resolve again: the first build's install must not count as "installed"
            Engine(settings, events).install(api.resolve(req))
        out = []
        for name in compared:
            node = graph.nodes[name]
            a, b = (s.paths(node.build_hash)[0] for s in stores)
            da, db = staged_digests(a), staged_digests(b)
            differ = sorted(k for k in da.keys() | db.keys() if da.get(k) != db.get(k))
            files = sum(1 for v in da.values() if not v.startswith("dir "))
            out.append(ReproResult(name, node.recipe.version, files, differ))
        return graph, out


def nothing_compared(graph: Graph) -> list[str]:
    """Why each target left nothing to build: what of the system satisfies the group."""
    lines = []
    for name in graph.targets:
        node = graph.nodes[name]
        system = [f"{r.requirement} ({r.version + ', ' if r.version else ''}{r.where})"
                  for r in graph.resolutions if r.of == name and r.satisfied_by == "system"]
        what = "a group whose requirements the system satisfies" if node.recipe.is_group \
            else "nothing to build"
        lines.append(f"{name}: {what}" + (f": {'; '.join(system)}" if system else "")
                     + "; --from-source all builds every recipe of the graph")
    return lines
