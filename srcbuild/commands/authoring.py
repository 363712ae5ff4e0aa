"""create, lint: writing recipes (the library parts are srcbuild.create and srcbuild.lint)."""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

from srcbuild import api
from srcbuild.errors import EXIT_OK, EXIT_USAGE, UsageError
from srcbuild.locations import builtin_recipe_dir

NAME = re.compile(r"^[a-z0-9][a-z0-9+._-]*$")


def create(args: argparse.Namespace) -> int:
    """`srcbuild create NAME --debian SRCPKG | --url URL [--sha256 HASH]`."""
    from srcbuild import create as creating
    from srcbuild.fetch import SourceCache

    name = args.name
    if not NAME.match(name):
        raise UsageError(f"{name!r} cannot be a recipe name (it is the file name).",
                         "Use lower-case letters, digits and + . _ -, starting with a letter or "
                         "a digit.")
    if args.sha256 and not args.url:
        raise UsageError("--sha256 goes with --url (a Debian source's hash comes from the "
                         "archive's index).")
    folder = (args.recipes_dir or Path("recipes")).resolve()
    path = folder / f"{name}.toml"
    if path.exists() and not args.force:
        raise UsageError(f"{path} exists; srcbuild create does not overwrite a recipe.",
                         "Give --force to replace it, or another NAME or --recipes-dir.")
    cache = SourceCache(args.cache_dir or api.default_cache_dir(), args.mirrors,
                        log=lambda m: print(f"  {m}", file=sys.stderr))
    if args.debian:
        origin = creating.fetch_debian(cache, name, args.debian, path)
    else:
        origin = creating.fetch_url(cache, name, args.url, args.sha256 or "", path,
                                    args.version or "")
    if args.version:
        origin = creating.Origin(origin.source, origin.filename, args.version, origin.note)
    if not origin.version:
        raise UsageError(f"No version in the file name {origin.filename}.",
                         "Give it with --version V.")
    fetched = creating.unpack(cache, name, origin, path)
    found = creating.detect(fetched.source_dir)
    given = ["--debian", args.debian] if args.debian else ["--url", args.url] + (
        ["--sha256", args.sha256] if args.sha256 else [])
    command = shlex.join(["srcbuild", "create", name, *given])
    creating.write(path, creating.recipe_text(name, origin, found, command), args.force)
    print(f"Wrote {path}")
    print(f"  source:   {origin.source.describe()} ({origin.filename}), sha256 "
          f"{origin.source.sha256}")
    print(f"  build:    {found.system} (found: {found.reason})"
          + (f", in the archive's folder {found.subdir}/" if found.subdir else ""))
    provides = [m.name for m in found.modules]
    print(f"  provides: {', '.join(provides) or 'nothing found: fill in provides'}")
    recipes = "" if folder == builtin_recipe_dir().resolve() else f" --recipes {folder}"
    print(f"Next: srcbuild plan {name}{recipes}, then srcbuild {name}{recipes} --prefix DIR")
    return EXIT_OK


def lint(args: argparse.Namespace) -> int:
    """`srcbuild lint [DIR...]`: every recipe of each folder (default: the recipe book's)."""
    from srcbuild.lint import lint_folders

    folders = [d.resolve() for d in args.dirs] or api.Request(targets=[]).book().dirs
    for d in folders:
        if not d.is_dir():
            raise UsageError(f"{d} is not a folder of recipes.")
    report = lint_folders(folders, args.recipe_dirs)
    for problem in report.problems:
        print(problem)
    names = ", ".join(str(d) for d in folders)
    if report.problems:
        print(f"lint: {len(report.problems)} problem(s) in {report.bad} of {report.checked} "
              f"recipe(s) in {names}.")
        return EXIT_USAGE
    print(f"lint: {report.checked} recipe(s) in {names}: no problem found.")
    return EXIT_OK
