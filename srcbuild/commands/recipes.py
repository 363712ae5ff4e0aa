"""list, info: the recipes of the book."""

from __future__ import annotations

import argparse
import json

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
              "sources": [s.describe() for s in r.sources],
              "options": {o.name: {"default": o.default, "help": o.help} for o in r.options}}
    if args.json:
        print(json.dumps(fields, indent=1))
        return EXIT_OK
    for key, value in fields.items():
        if isinstance(value, list):
            value = ", ".join(value) or "-"
        elif isinstance(value, dict):
            value = "; ".join(f"{k}={v['default']} ({v['help']})" for k, v in value.items()) or "-"
        say(f"{key + ':':<14} {value}")
    return EXIT_OK
