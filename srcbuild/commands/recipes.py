"""list, info, search: the recipes of the book, and what a prefix has installed of them."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srcbuild.errors import EXIT_FAILED, EXIT_OK, SrcbuildError
from srcbuild.locations import builtin_recipe_dir
from srcbuild.recipe import Recipe, RecipeBook, book_dirs
from srcbuild.safety import say
from srcbuild.state import Installed, PrefixState


def book(args: argparse.Namespace) -> RecipeBook:
    return RecipeBook(book_dirs(args.recipe_dirs, builtin_recipe_dir()))


def list_(args: argparse.Namespace) -> int:
    """The recipes; ``--names`` reads no recipe file (a shell's TAB asks for it)."""
    if args.installed:
        return list_installed(args)
    if args.names:
        say("\n".join(book(args).names()))
        return EXIT_OK
    recipes_book = book(args)
    recipes = recipes_book.all()
    if args.json:
        print(json.dumps([{"name": r.name, "version": r.version, "kind": r.kind,
                           "system": r.system, "summary": r.summary, "path": str(r.path),
                           "recipe_dir": str(r.path.parent)}
                          for r in recipes], indent=1))
        return EXIT_OK
    width = max((len(r.name) for r in recipes), default=4)
    builtin = builtin_recipe_dir().resolve()
    for d in recipes_book.dirs:  # search order: a recipe of an earlier folder hides later ones
        here = [r for r in recipes if r.path.parent == d]
        if here:
            say(f"{d}{' (built-in)' if d == builtin else ''}:")
        for r in here:
            kind = "group" if r.is_group else r.system
            say(f"  {r.name:<{width}}  {r.version:<14} {kind:<9} {r.summary}")
    return EXIT_OK


def list_installed(args: argparse.Namespace) -> int:
    """The packages of one prefix: name, version, when, how many files, their size."""
    from srcbuild.api import default_prefix, recover
    from srcbuild.explain import stamp

    prefix = (args.prefix or default_prefix()).resolve()
    recover(prefix)
    packages = sorted(PrefixState(prefix).packages().values(), key=lambda p: p.name)
    if args.names:
        say("\n".join(p.name for p in packages))
        return EXIT_OK
    if args.json:
        print(json.dumps([{"name": p.name, "version": p.version, "build_hash": p.build_hash,
                           "installed_at": p.installed_at, "files": len(p.files),
                           "size": installed_size(prefix, p)} for p in packages], indent=1))
        return EXIT_OK
    if not packages:
        state = "does not exist" if not prefix.exists() else "has no package srcbuild installed"
        say(f"{prefix} {state}.")
        return EXIT_OK
    rows = [(p.name, p.version, stamp(p.installed_at) if p.installed_at else "-",
             f"{len(p.files)} files", human_size(installed_size(prefix, p))) for p in packages]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    say(f"Installed in {prefix}:")
    for r in rows:
        say("  " + "  ".join(f"{c:<{w}}" for c, w in zip(r[:4], widths)) + f"  {r[4]}")
    return EXIT_OK


def installed_size(prefix: Path, pkg: Installed) -> int:
    """Bytes of the package's files as they are now (a symbolic link counts as itself)."""
    total = 0
    for rel in pkg.files:
        try:
            total += os.lstat(prefix / rel).st_size
        except OSError:
            pass
    return total


def human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def info(args: argparse.Namespace) -> int:
    """The recipe; with --prefix, what the prefix holds of it (a package may be installed
    whose recipe is gone: then only that), and the linkage of its ELF files."""
    recipes = book(args)
    prefix = args.prefix.resolve() if args.prefix is not None else None
    if prefix is not None:
        from srcbuild.api import recover

        recover(prefix)
    pkg = PrefixState(prefix).get(args.name) if prefix is not None else None
    r = recipes.get(args.name) if recipes.has(args.name) or pkg is None else None
    fields: dict[str, Any] = recipe_fields(r) if r is not None else {"name": args.name}
    section = installed_section(prefix, pkg, args) \
        if prefix is not None and pkg is not None else None
    if prefix is not None:
        fields["installed"] = section.fields if section is not None else None
    linkage = installed_linkage(prefix, args.name) \
        if prefix is not None and pkg is not None else None
    if args.json:
        print(json.dumps(fields | ({"linkage": linkage} if linkage is not None else {}),
                         indent=1))
        return EXIT_OK
    fields.pop("installed", None)
    for key, value in fields.items():
        if isinstance(value, list):
            value = ", ".join(value) or "-"
        elif isinstance(value, dict):
            value = "; ".join(f"{k}={v['default']} ({v['help']})" for k, v in value.items()) or "-"
        say(f"{key + ':':<14} {value}")
    if prefix is not None and pkg is None:
        say(f"{'installed:':<14} not in {prefix}")
        return EXIT_FAILED
    for line in section.lines if section is not None else []:
        say(line)
    if linkage is not None:
        print_linkage(linkage)
    return EXIT_OK


def recipe_fields(r: Recipe) -> dict[str, Any]:
    return {"name": r.name, "version": r.version, "kind": r.kind, "summary": r.summary,
            "homepage": r.homepage, "license": r.license, "path": str(r.path),
            "build system": r.system, "requires": list(r.requires), "tools": list(r.tools),
            "provides": list(r.provides),
            "allow_undeclared": list(r.allow_undeclared),
            "sources": [s.describe() for s in r.sources],
            "options": {o.name: {"default": o.default, "help": o.help} for o in r.options}}


# -- info NAME --prefix DIR: what the prefix has of the package --------------------------
@dataclass(frozen=True)
class Section:
    """The installed block of `info --prefix`: its fields are the "installed" object of
    --json, its lines are printed after the recipe."""

    fields: dict[str, Any]
    lines: list[str]


def installed_section(prefix: Path, pkg: Installed, args: argparse.Namespace) -> Section:
    """Version, build hash, when, the run that built it and its logs, source, options,
    files and size."""
    from srcbuild.explain import stamp

    out: dict[str, Any] = {
        "prefix": str(prefix), "version": pkg.version, "build_hash": pkg.build_hash,
        "installed_at": stamp(pkg.installed_at) if pkg.installed_at else "",
        "run": pkg.run, "logs": pkg.logs,
        "source": " ".join(f"{k}={v}" for k, v in sorted(pkg.source.items())),
        "options": pkg.options, "built against": list(pkg.requires),
        "files": len(pkg.files), "size": installed_size(prefix, pkg)}
    if args.files:
        out["file list"] = [str(prefix / f) for f in pkg.files]
    lines = [f"installed in {prefix}:"]
    for key in ("version", "build_hash", "installed_at", "run", "logs", "source",
                "built against"):
        value = out[key]
        shown = ", ".join(value) if isinstance(value, list) else str(value)
        lines.append(f"  {key.replace('_', ' ') + ':':<14} {shown or '-'}")
        if key == "logs" and pkg.logs:
            lines.append(f"  {'':<14} (srcbuild log {pkg.name} --prefix {prefix} prints them)")
    opts = out["options"]
    lines.append(f"  {'options:':<14} {' '.join(f'{k}={v}' for k, v in opts.items()) or '-'}")
    lines.append(f"  {'files:':<14} {out['files']} ({human_size(out['size'])})"
                 + ("" if args.files else "; --files lists them"))
    lines += [f"    {f}" for f in out.get("file list", [])]
    return Section(out, lines)


def search(args: argparse.Namespace) -> int:
    """Recipes whose name, summary or provides contain the word; exit 1 when none does."""
    from srcbuild.suggest import did_you_mean, recipe_suggestions

    recipes = book(args)
    word = args.word.lower()
    hits = []
    for r in recipes.all(errors=[]):
        why = []
        if word in r.name.lower():
            why.append("name")
        if word in r.summary.lower():
            why.append("summary")
        why += [f"provides {p}" for p in r.provides if word in p.lower()]
        if why:
            hits.append((r, why))
    if args.json:
        print(json.dumps([{"name": r.name, "version": r.version, "summary": r.summary,
                           "matched": why} for r, why in hits], indent=1))
        return EXIT_OK if hits else EXIT_FAILED
    if not hits:
        close = recipe_suggestions(args.word, recipes)
        raise SrcbuildError(f"No recipe's name, summary or provides contains {args.word!r}.",
                            did_you_mean(close) if close else
                            "`srcbuild list` shows every recipe.")
    width = max(len(r.name) for r, _ in hits)
    for r, why in hits:
        say(f"{r.name:<{width}}  {r.version:<12} {r.summary}")
        say(f"{'':<{width}}  matched: {'; '.join(why)}")
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
