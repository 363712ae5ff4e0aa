"""clean: remove what the cache no longer needs, then show what it holds."""

from __future__ import annotations

import argparse
from collections import Counter

from srcbuild import api
from srcbuild.clean import old_runs, remove, stale_work, unused_trees, usage
from srcbuild.commands.recipes import human_size
from srcbuild.errors import EXIT_OK
from srcbuild.safety import say

KEPT = {"sources": "verified archives, kept", "apt": "the private Debian source index, kept",
        "logs": "phase logs of the runs kept", "runs": "events and report pages of the runs kept",
        "ccache": "ccache's own cache (ccache -C empties it)"}


def clean(args: argparse.Namespace) -> int:
    cache = (args.cache_dir or api.default_cache_dir()).resolve()
    recipes = api.Request(targets=[], recipe_dirs=args.recipe_dirs).book().all(errors=[])
    runs, kept_runs = old_runs(cache, args.keep_days, (api.default_prefix().resolve(),))
    found = stale_work(cache) + unused_trees(cache, recipes) + runs
    verb = "Would remove" if args.dry_run else "Removed"
    for item in found:
        say(f"{verb} {item.label(cache)} ({human_size(item.size)}): {item.why}")
    if not args.dry_run:
        for item in remove(cache, found):
            say(f"Left {item.label(cache)}: a run began to build in it meanwhile.")
            found.remove(item)
    freed = sum(item.size for item in found)
    say(f"{verb} {len(found)} item(s), {human_size(freed)}." if found else
        "Nothing to remove: no stale work folder, no unused source tree, no old run.")
    if kept_runs:
        reasons = Counter("with packages still installed" if why.startswith("installed from")
                          else why for why in kept_runs.values())
        say(f"{'Would keep' if args.dry_run else 'Kept'} {len(kept_runs)} run(s): " + ", ".join(
            why if why.startswith("the last") else f"{n} {why}"
            for why, n in reasons.most_common()) + " (--keep-days D sets the age).")
    sizes = usage(cache)
    if sizes:
        say(f"The cache {cache} holds {human_size(sum(n for _, n in sizes))}:")
        for name, n in sizes:
            note = KEPT.get(name, "")
            say(f"  {name:<9} {human_size(n):>10}" + (f"  ({note})" if note else ""))
    return EXIT_OK
