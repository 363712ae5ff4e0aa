"""list, info: the recipes of the book."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from srcbuild import api
from srcbuild.errors import EXIT_OK
from srcbuild.locations import builtin_recipe_dir
from srcbuild.safety import say


def list_(args: argparse.Namespace) -> int:
    book = api.Request(targets=[], recipe_dirs=args.recipe_dirs).book()
    recipes = book.all()
    if args.json:
        print(json.dumps([{"name": r.name, "version": r.version, "kind": r.kind,
                           "system": r.system, "summary": r.summary, "path": str(r.path),
                           "recipe_dir": str(r.path.parent)}
                          for r in recipes], indent=1))
        return EXIT_OK
    width = max((len(r.name) for r in recipes), default=4)
    builtin = builtin_recipe_dir().resolve()
    for d in book.dirs:  # in search order: a recipe of an earlier folder hides later ones
        here = [r for r in recipes if r.path.parent == d]
        if here:
            say(f"{d}{' (built-in)' if d == builtin else ''}:")
        for r in here:
            kind = "group" if r.is_group else r.system
            say(f"  {r.name:<{width}}  {r.version:<14} {kind:<9} {r.summary}")
    return EXIT_OK


def info(args: argparse.Namespace) -> int:
    r = api.Request(targets=[], recipe_dirs=args.recipe_dirs).book().get(args.name)
    fields = {"name": r.name, "version": r.version, "kind": r.kind, "summary": r.summary,
              "homepage": r.homepage, "license": r.license, "path": str(r.path),
              "build system": r.system, "requires": list(r.requires), "tools": list(r.tools),
              "provides": list(r.provides),
              "allow_undeclared": list(r.allow_undeclared),
              "sources": [s.describe() for s in r.sources],
              "options": {o.name: {"default": o.default, "help": o.help} for o in r.options}}
    linkage = installed_linkage(args.prefix, r.name) if args.prefix is not None else None
    if args.json:
        print(json.dumps(fields | ({"linkage": linkage} if linkage is not None else {}),
                         indent=1))
        return EXIT_OK
    for key, value in fields.items():
        if isinstance(value, list):
            value = ", ".join(value) or "-"
        elif isinstance(value, dict):
            value = "; ".join(f"{k}={v['default']} ({v['help']})" for k, v in value.items()) or "-"
        say(f"{key + ':':<14} {value}")
    if linkage is not None:
        print_linkage(linkage)
    return EXIT_OK


# -- info --prefix: the linkage of the installed package (linkage.py) ----------------------
def installed_linkage(prefix: Path, name: str) -> list[dict[str, str | None]] | None:
    """Each needed library of each ELF file ``name`` installed in ``prefix``, with where it
    resolves and who provides it; None when ``name`` is not installed there."""
    from srcbuild.linkage import installed_linkage as links
    from srcbuild.state import PrefixState

    prefix = prefix.resolve()
    state = PrefixState(prefix)
    if state.get(name) is None:
        return None
    return [{"file": line.file, "needed": line.needed, "path": line.path,
             "provider": line.provider} for line in links(prefix, name, state)]


def print_linkage(lines: list[dict[str, str | None]]) -> None:
    """``linkage:`` then each ELF file and, under it, ``  LIBRARY -> PATH (PROVIDER)``."""
    from srcbuild.linkage import LinkLine, format_linkage

    shown = format_linkage([LinkLine(str(d["file"]), str(d["needed"]), d["path"],
                                     str(d["provider"])) for d in lines])
    say(f"{'linkage:':<14} {'-' if not shown else ''}".rstrip())
    for line in shown:  # file names escaped: a name may hold control characters
        say(f"  {line}")
