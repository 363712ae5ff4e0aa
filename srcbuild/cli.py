"""Parse arguments, call the API, map errors to exit codes. No logic lives here."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from srcbuild import __version__, api
from srcbuild.buildenv import prefix_dirs, shell_exports
from srcbuild.cli_extra import EXTRA
from srcbuild.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNSATISFIED,
    BuildError,
    SrcbuildError,
    UsageError,
)
from srcbuild.locations import builtin_recipe_dir
from srcbuild.ui import Events, error, make_reporter

COMMANDS = ("install", "plan", "doctor", "list", "info", "fetch", "env", "uninstall", "run")


def add_common(p: argparse.ArgumentParser) -> None:
    """The options of install, shared by every command that resolves a graph."""
    p.add_argument("names", nargs="*", metavar="NAME", help="recipe names")
    p.add_argument("--prefix", type=Path, default=None,
                   help="install prefix (default: $SRCBUILD_PREFIX or ~/.local/srcbuild)")
    p.add_argument("--recipes", type=Path, action="append", default=[], metavar="DIR",
                   help="a recipe folder searched before the built-in recipes/ (repeatable)")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("-o", "--option", action="append", default=[], metavar="NAME=VALUE",
                   help="set a recipe option (RECIPE.NAME=VALUE for one recipe)")
    p.add_argument("--from-source", action="append", default=[], metavar="NAME|all",
                   help="build this recipe even when the system satisfies it")
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--offline", action="store_true", help="never touch the network")
    p.add_argument("--mirror", type=Path, action="append", default=[], metavar="DIR",
                   help="a folder of sources laid out like the cache (SHA256/FILE)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--keep-build", action="store_true", help="keep build folders after success")
    p.add_argument("--system-packages", action="store_true",
                   help="install the distribution packages for requirements that neither the "
                        "system nor a recipe satisfies (shows the command first)")
    p.add_argument("--yes", action="store_true", help="with --system-packages: do not ask")
    p.add_argument("--binary-cache", default=None, metavar="DIR",
                   help="restore and store checked staged trees keyed by build hash "
                        "(default: $SRCBUILD_BINARY_CACHE)")
    p.add_argument("--locked", type=Path, default=None, metavar="FILE",
                   help="resolve against a srcbuild.lock; stop on any drift")
    p.add_argument("--allow-drift", action="store_true",
                   help="with --locked: build anyway; drifts become warnings")
    p.add_argument("--max-packages", type=int, default=0, metavar="N",
                   help="build at most N packages at once (default: as the -j budget allows; "
                        "1 builds one package at a time)")
    p.add_argument("--ccache", action="store_true", help="wrap the compilers with ccache")
    p.add_argument("--distcc", default=None, metavar="HOSTS",
                   help="compile on these distcc hosts (DISTCC_HOSTS syntax); -j grows by "
                        "their slots")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="srcbuild", description="Build software from source into a prefix, reproducibly. "
        "`srcbuild NAME` is short for `srcbuild install NAME`.")
    top.add_argument("--version", action="version", version=f"srcbuild {__version__}")
    sub = top.add_subparsers(dest="command")
    for name, text in (("install", "build what is missing and install it"),
                       ("plan", "print the order and the reason for each step; build nothing"),
                       ("doctor", "explain every requirement and every miss, with the cure"),
                       ("fetch", "fetch and verify the sources of the whole graph")):
        add_common(sub.add_parser(name, help=text))
    p = sub.add_parser("list", help="list the recipes")
    p.add_argument("--recipes", type=Path, action="append", default=[])
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("info", help="show one recipe")
    p.add_argument("name")
    p.add_argument("--recipes", type=Path, action="append", default=[])
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("env", help="print shell exports for a prefix")
    p.add_argument("--prefix", type=Path, default=None)
    p.add_argument("--shell", choices=("sh", "bash", "zsh", "fish"), default="sh")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("uninstall", help="remove exactly the files a package installed")
    p.add_argument("name")
    p.add_argument("--prefix", type=Path, default=None)
    p = sub.add_parser("run", help="run an installed recipe's launch command (e.g. a lab); "
                       "arguments after -- are appended to it")
    p.add_argument("name")
    p.add_argument("--prefix", type=Path, default=None)
    p.add_argument("--recipes", type=Path, action="append", default=[])
    p.add_argument("-o", "--option", action="append", default=[], metavar="NAME=VALUE")
    for name, text, add_arguments, _ in EXTRA:
        add_arguments(sub.add_parser(name, help=text))
    return top


def request(args: argparse.Namespace) -> api.Request:
    options = {}
    for item in args.option:
        if "=" not in item:
            raise UsageError(f"-o {item!r} is not NAME=VALUE.", "For example -o targets=x86_64-softmmu.")
        k, v = item.split("=", 1)
        options[k.strip()] = v
    req = api.Request(targets=list(args.names), recipe_dirs=list(args.recipes), jobs=args.jobs,
                      options=options, from_source=set(args.from_source),
                      offline=args.offline, mirrors=list(args.mirror),
                      keep_build=args.keep_build, system_packages=args.system_packages,
                      assume_yes=args.yes)
    if args.prefix is not None:
        req.prefix = args.prefix
    if args.cache_dir is not None:
        req.cache_dir = args.cache_dir
    if args.binary_cache:
        req.binary_cache = args.binary_cache
    req.locked = args.locked
    req.allow_drift = args.allow_drift
    req.ccache = args.ccache
    req.max_packages = args.max_packages
    req.distcc = args.distcc
    return req


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS \
            and argv[0] not in {e[0] for e in EXTRA}:
        argv.insert(0, "install")
    extra: list[str] = []
    if argv and argv[0] == "run" and "--" in argv:
        extra, argv = argv[argv.index("--") + 1:], argv[:argv.index("--")]
    args = parser().parse_args(argv)
    args.extra = extra
    if args.command is None:
        parser().print_help()
        return EXIT_OK
    try:
        table = {**COMMAND_TABLE, **{e[0]: e[3] for e in EXTRA}}
        return table[args.command](args)
    except BuildError as e:
        if e.tail:
            sys.stderr.write(f"--- last lines of {e.log_path} ---\n{e.tail}\n---\n")
        error(str(e))
        if e.diagnosis:
            sys.stderr.write(f"What the logs say is missing:\n{e.diagnosis}\n")
        return e.exit_code
    except SrcbuildError as e:
        error(str(e))
        return e.exit_code
    except BrokenPipeError:  # `srcbuild plan ... | head`: the reader has what it wanted
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        error("interrupted; the prefix holds only packages that finished.")
        return EXIT_FAILED


def cmd_install(args: argparse.Namespace) -> int:
    events = Events()
    events.subscribe(make_reporter(args.json, args.quiet))
    api.install(request(args), events)
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    graph = api.resolve(request(args))
    if args.json:
        print(json.dumps(graph.to_json(), indent=1))
    else:
        print(f"Plan for {' '.join(graph.targets)} into {graph.prefix}:")
        for i, name in enumerate(graph.order, 1):
            n = graph.nodes[name]
            print(f"  {i:>2}. {n.action:<9} {name} {n.recipe.version}  ({n.reason})")
        print("Requirements:")
        for r in graph.resolutions:
            v = f" {r.version}" if r.version else ""
            print(f"  {r.of}: {r.requirement} -> {r.satisfied_by}{v} {r.where}".rstrip()
                  + ("" if r.satisfied_by != "missing" else f" ({r.reason})"))
    return EXIT_UNSATISFIED if graph.missing() else EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    req = request(args)
    if args.system_packages:
        events = Events()
        events.subscribe(make_reporter(False, args.quiet))
        api.install_system_packages(api.resolve(req), args.yes, events)
    graph, found = api.doctor(req)
    loader = [d for d in found if d.case in ("loader-path", "library-missing")]
    found = [d for d in found if d not in loader]
    bad = [d for d in found if d.satisfied_by == "missing"]
    if args.json:
        print(json.dumps({"prefix": str(graph.prefix), "ok": not bad,
                          "diagnoses": [d.to_json() for d in found + loader]}, indent=1))
    else:
        marks = {"prefix": "ok  ", "system": "ok  ", "recipe": "build", "missing": "MISS"}
        for d in found:
            print(f"{marks.get(d.satisfied_by, '    '):<5} [{d.of}] {d.message}")
        print(f"\n{len(found) - len(bad)} of {len(found)} satisfiable"
              + (f"; {len(bad)} not: see the lines marked MISS." if bad else "."))
        if loader:
            print(f"\nInstalled in {graph.prefix}, but the loader cannot find a library:")
            for d in loader:
                print(f"LOAD  {d.message}")
    return EXIT_UNSATISFIED if bad else EXIT_OK


def cmd_fetch(args: argparse.Namespace) -> int:
    events = Events()
    events.subscribe(make_reporter(args.json, args.quiet))
    api.fetch(request(args), events)
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    book = api.Request(targets=[], recipe_dirs=args.recipes).book()
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
            print(f"{d}{' (built-in)' if d == builtin else ''}:")
        for r in here:
            kind = "group" if r.is_group else r.system
            print(f"  {r.name:<{width}}  {r.version:<14} {kind:<9} {r.summary}")
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    r = api.Request(targets=[], recipe_dirs=args.recipes).book().get(args.name)
    info = {"name": r.name, "version": r.version, "kind": r.kind, "summary": r.summary,
            "homepage": r.homepage, "license": r.license, "path": str(r.path),
            "build system": r.system, "requires": list(r.requires), "tools": list(r.tools),
            "provides": list(r.provides),
            "sources": [s.describe() for s in r.sources],
            "options": {o.name: {"default": o.default, "help": o.help} for o in r.options}}
    if args.json:
        print(json.dumps(info, indent=1))
        return EXIT_OK
    for key, value in info.items():
        if isinstance(value, list):
            value = ", ".join(value) or "-"
        elif isinstance(value, dict):
            value = "; ".join(f"{k}={v['default']} ({v['help']})" for k, v in value.items()) or "-"
        print(f"{key + ':':<14} {value}")
    return EXIT_OK


def cmd_env(args: argparse.Namespace) -> int:
    prefix = (args.prefix or api.default_prefix()).resolve()
    if args.json:
        print(json.dumps(prefix_dirs(prefix), indent=1))
    else:
        sys.stdout.write(shell_exports(prefix, "fish" if args.shell == "fish" else "sh"))
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    req = api.Request(targets=[args.name], recipe_dirs=list(args.recipes),
                      options=dict(o.split("=", 1) for o in args.option if "=" in o))
    if args.prefix is not None:
        req.prefix = args.prefix
    return api.launch(req, args.name, args.extra)


def cmd_uninstall(args: argparse.Namespace) -> int:
    prefix = args.prefix or api.default_prefix()
    removed = api.uninstall(prefix, args.name)
    print(f"Removed {args.name}: {len(removed)} file(s) from {prefix.resolve()}.")
    return EXIT_OK


COMMAND_TABLE = {"run": cmd_run, "install": cmd_install, "plan": cmd_plan, "doctor": cmd_doctor, "fetch": cmd_fetch, "list": cmd_list,
                 "info": cmd_info, "env": cmd_env, "uninstall": cmd_uninstall}
