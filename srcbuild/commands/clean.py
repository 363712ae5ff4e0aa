"""clean: remove what the cache no longer needs, then show what it holds."""

from __future__ import annotations

import argparse

from srcbuild import api
from srcbuild.clean import remove, stale_work, unused_trees, usage
from srcbuild.commands.recipes import human_size
from srcbuild.errors import EXIT_OK
from srcbuild.safety import say

KEPT = {"sources": "verified archives, kept", "apt": "the private Debian source index, kept",
        "logs": "phase logs, kept", "runs": "run records, kept",
        "ccache": "ccache's own cache (ccache -C empties it)"}


def clean(args: argparse.Namespace) -> int:
    cache = (args.cache_dir or api.default_cache_dir()).resolve()
    recipes = api.Request(targets=[], recipe_dirs=args.recipe_dirs).book().all(errors=[])
    found = stale_work(cache) + unused_trees(cache, recipes)
    verb = "Would remove" if args.dry_run else "Removed"
    for item in found:
        say(f"{verb} {item.path.relative_to(cache)} ({human_size(item.size)}): {item.why}")
    if not args.dry_run:
        for item in remove(found):
            say(f"Left {item.path.relative_to(cache)}: a run began to build in it meanwhile.")
            found.remove(item)
    freed = sum(item.size for item in found)
    say(f"{verb} {len(found)} folder(s), {human_size(freed)}." if found else
        "Nothing to remove: no stale work folder, no unused source tree.")
    sizes = usage(cache)
    if sizes:
        say(f"The cache {cache} holds {human_size(sum(n for _, n in sizes))}:")
        for name, n in sizes:
            note = KEPT.get(name, "")
            say(f"  {name:<9} {human_size(n):>10}" + (f"  ({note})" if note else ""))
    return EXIT_OK
