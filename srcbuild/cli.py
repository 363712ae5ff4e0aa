"""The command line: one table of subcommands, the groups of options they share, and the
printing of errors. Each handler lives in srcbuild/commands/ and is imported only when its
subcommand runs, so `srcbuild --version` imports nothing but this module and argparse.

A new subcommand is one SUBCOMMANDS entry (help, description with an example, the argument
groups it takes, "module:function" of its handler) and a handler ``(args) -> exit code``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

from srcbuild import __version__
from srcbuild.errors import (
    EXIT_OK,
    BuildError,
    SrcbuildError,
    UnknownName,
    UsageError,
)

TYPE_CHECKING = False  # mypy reads this name as typing's; importing typing costs --version
if TYPE_CHECKING:
    import pathlib

Adder = Callable[[argparse.ArgumentParser], None]


def path(text: str) -> pathlib.Path:
    """argparse's type for paths: absolute from here on (a relative --cache-dir once made
    DESTDIR relative to the build folder); pathlib is imported only when a path is given."""
    from srcbuild.safety import absolute

    return absolute(text)


def cache_location(text: str) -> str:
    """--binary-cache: a folder (made absolute) or a URL (kept as given)."""
    return text if "://" in text else str(path(text))


def positive_int(text: str) -> int:
    """argparse's type for counts that must be at least 1 (-j, --max-packages)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


# -- groups of options; each dest is the api.Request field it sets ---------------------------
# what `srcbuild completion SHELL` completes a recipe name with (shtab reads the attribute
# "complete" of an argument; nothing else does, so it costs a normal run nothing)
RECIPE_NAMES = {
    "bash": "_srcbuild_recipe_names", "zsh": "_srcbuild_recipe_names",
    "fish": "(srcbuild list --names 2>/dev/null)",
    "preamble": {
        "bash": '_srcbuild_recipe_names() {\n'
                '  compgen -W "$(srcbuild list --names 2>/dev/null)" -- "$1"\n}\n',
        "zsh": '_srcbuild_recipe_names() {\n'
               '  local -a names; names=(${(f)"$(srcbuild list --names 2>/dev/null)"})\n'
               '  compadd -a names\n}\n',
    },
}


def recipe_name(p: argparse.ArgumentParser, dest: str, help: str, nargs: str | None = None,
                metavar: str = "NAME") -> None:
    """A positional recipe name (or several), completed with the recipe names."""
    action = p.add_argument(dest, nargs=nargs, metavar=metavar, help=help)
    action.complete = RECIPE_NAMES  # type: ignore[attr-defined]


def add_targets(p: argparse.ArgumentParser) -> None:
    recipe_name(p, "targets", "recipe names", nargs="*")


def add_recipe_dirs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipes", dest="recipe_dirs", type=path, action="append", default=[],
                   metavar="DIR",
                   help="a recipe folder searched before the built-in recipes/ (repeatable)")


def add_prefix(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prefix", type=path, default=None, metavar="DIR",
                   help="install prefix (default: $SRCBUILD_PREFIX or ~/.local/srcbuild)")


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--option", dest="options", action="append", default=[],
                   metavar="NAME=VALUE",
                   help="set a recipe option (RECIPE.NAME=VALUE for one recipe)")


def add_resolution(p: argparse.ArgumentParser) -> None:
    """Which recipes, from where, into which prefix, with which options: every subcommand
    that resolves a graph takes these."""
    add_targets(p)
    add_prefix(p)
    add_recipe_dirs(p)
    add_options(p)
    p.add_argument("--from-source", action="append", default=[], metavar="NAME|all",
                   help="build this recipe even when the system satisfies it")


def add_cache_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-dir", type=path, default=None, metavar="DIR",
                   help="the source cache, with logs and run records (default: "
                        "$SRCBUILD_CACHE, the checkout's cache/, ~/.cache/srcbuild)")


def add_sources(p: argparse.ArgumentParser) -> None:
    """Where sources come from: for the subcommands that fetch."""
    add_cache_dir(p)
    p.add_argument("--offline", action="store_true", help="never touch the network")
    p.add_argument("--mirror", dest="mirrors", type=path, action="append", default=[],
                   metavar="DIR", help="a folder of sources laid out like the cache (SHA256/FILE)")


def add_jobs(p: argparse.ArgumentParser) -> None:
    p.add_argument("-j", "--jobs", type=positive_int, default=None, metavar="N",
                   help="the job budget shared by every package, at least 1 (default: the "
                        "number of cores)")


def add_build(p: argparse.ArgumentParser) -> None:
    """How to build: for the subcommands that build into a prefix."""
    add_jobs(p)
    p.add_argument("--keep-build", action="store_true", help="keep build folders after success")
    p.add_argument("--max-packages", type=positive_int, default=None, metavar="N",
                   help="build at most N packages at once (default: as the -j budget allows; "
                        "1 builds one package at a time)")
    p.add_argument("--test", nargs="?", const="all", default=None, choices=("all", "root"),
                   help="run each package's own test suite (make check, meson test, ctest) "
                        "between build and install: --test for every package built, "
                        "--test=root for the named ones; a failing suite merges nothing")
    p.add_argument("--ccache", action="store_true", help="wrap the compilers with ccache")
    p.add_argument("--distcc", default=None, metavar="HOSTS",
                   help="compile on these distcc hosts (DISTCC_HOSTS syntax); -j grows by "
                        "their slots")


def add_binary_cache(p: argparse.ArgumentParser) -> None:
    """Where checked stages are restored from and stored, and whose signatures count: for the
    subcommands that build into a prefix."""
    p.add_argument("--binary-cache", type=cache_location, action="append", default=None,
                   metavar="DIR|oci://HOST/REPO",
                   help="restore and store checked staged trees keyed by build hash; "
                        "repeatable: read in order, store into the first writable one "
                        "(default: $SRCBUILD_BINARY_CACHE, separated by spaces)")
    p.add_argument("--binary-cache-only", action="store_true",
                   help="a package no binary cache has is an error: compile nothing")
    p.add_argument("--signing-key", type=path, default=None, metavar="FILE",
                   help="sign the entries stored into a binary cache (srcbuild keys generate)")
    p.add_argument("--trusted-keys", type=path, default=None, metavar="DIR",
                   help="check signatures of restored entries against the .pub keys in DIR")
    p.add_argument("--require-signed", action="store_true",
                   help="with --trusted-keys: refuse entries without a valid signature")


def add_system_packages(p: argparse.ArgumentParser) -> None:
    p.add_argument("--system-packages", action="store_true",
                   help="install the distribution packages for requirements that neither the "
                        "system nor a recipe satisfies (shows the command first)")
    p.add_argument("--yes", dest="assume_yes", action="store_true",
                   help="with --system-packages: do not ask")


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def add_progress(p: argparse.ArgumentParser) -> None:
    """--json events or --quiet progress: for the subcommands that report a run."""
    p.add_argument("--json", action="store_true", help="one JSON event per line on stdout")
    p.add_argument("--quiet", action="store_true",
                   help="only outcomes and errors, no live progress")


# -- the arguments of each subcommand ---------------------------------------------------------
def install_arguments(p: argparse.ArgumentParser, locked_option: bool = True) -> None:
    add_resolution(p)
    add_sources(p)
    add_build(p)
    add_binary_cache(p)
    add_system_packages(p)
    if locked_option:
        p.add_argument("--locked", type=path, default=None, metavar="FILE",
                       help="resolve against a srcbuild.lock; stop on any drift")
    p.add_argument("--allow-drift", action="store_true",
                   help="with a lock: build anyway; drifts become warnings")
    add_progress(p)


def install_locked_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("locked", type=path, metavar="FILE", help="a lock written by srcbuild lock")
    install_arguments(p, locked_option=False)


def plan_arguments(p: argparse.ArgumentParser) -> None:
    add_resolution(p)
    add_json(p)


def doctor_arguments(p: argparse.ArgumentParser) -> None:
    add_resolution(p)
    add_system_packages(p)
    add_json(p)
    p.add_argument("--quiet", action="store_true", help="with --system-packages: less output")


def fetch_arguments(p: argparse.ArgumentParser) -> None:
    add_resolution(p)
    add_sources(p)
    add_progress(p)


def mirror_arguments(p: argparse.ArgumentParser) -> None:
    fetch_arguments(p)
    p.add_argument("dir", type=path, metavar="DIR", help="the mirror folder (SHA256/FILE)")
    p.add_argument("--every-alternative", action="store_true",
                   help="mirror every source alternative that can be fetched, not only the first")


def graph_arguments(p: argparse.ArgumentParser) -> None:
    add_resolution(p)
    p.add_argument("--format", choices=("dot", "svg"), default=None,
                   help="dot text or a self-contained SVG (default: svg when -O ends in .svg, "
                        "else dot)")
    p.add_argument("-O", "--output", type=path, default=None, metavar="FILE",
                   help="write to FILE instead of standard output")


def verify_repro_arguments(p: argparse.ArgumentParser) -> None:
    add_resolution(p)
    add_sources(p)
    add_jobs(p)
    add_json(p)


def list_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--installed", action="store_true",
                   help="the packages installed in the prefix instead of the recipes")
    add_prefix(p)
    add_recipe_dirs(p)
    p.add_argument("--names", action="store_true", help="only the names, one a line")
    add_json(p)


def info_arguments(p: argparse.ArgumentParser) -> None:
    recipe_name(p, "name", "a recipe name")
    p.add_argument("--prefix", type=path, default=None, metavar="DIR",
                   help="also what is installed in DIR: version, build hash, when, files, "
                        "size, and the library each of its ELF files loads")
    p.add_argument("--files", action="store_true",
                   help="with --prefix: list every installed file")
    add_recipe_dirs(p)
    add_json(p)


def search_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("word", metavar="WORD",
                   help="searched, case-insensitively, in recipe names, summaries and provides")
    add_recipe_dirs(p)
    add_json(p)


def env_arguments(p: argparse.ArgumentParser) -> None:
    add_prefix(p)
    p.add_argument("--shell", choices=("sh", "bash", "zsh", "fish"), default="sh",
                   help="the syntax to print (sh, bash and zsh share one)")
    add_json(p)


def uninstall_arguments(p: argparse.ArgumentParser) -> None:
    recipe_name(p, "names", "installed packages, removed in reverse dependency order",
                nargs="+")
    add_prefix(p)
    p.add_argument("--with-dependents", action="store_true",
                   help="also remove every package and group built against them (listed, "
                        "then asked)")
    p.add_argument("--yes", dest="assume_yes", action="store_true",
                   help="with --with-dependents: do not ask")


def test_arguments(p: argparse.ArgumentParser) -> None:
    recipe_name(p, "names", "installed packages or groups whose check to run again",
                nargs="+")
    add_prefix(p)
    add_recipe_dirs(p)


def run_arguments(p: argparse.ArgumentParser) -> None:
    recipe_name(p, "name", "an installed recipe with a launch command (its `run` key)")
    add_prefix(p)
    add_recipe_dirs(p)
    add_options(p)


def create_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="the new recipe's name (its file name)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--debian", metavar="SRCPKG",
                       help="the .orig tarball of this Debian source package (its sha256 comes "
                            "from the archive's signed index)")
    where.add_argument("--url", metavar="URL", help="a source archive's address")
    p.add_argument("--sha256", metavar="HASH",
                   help="with --url: the archive's sha256 (checked); without it, srcbuild "
                        "computes it from the download")
    p.add_argument("--version", metavar="V",
                   help="the version, when the file name does not carry it")
    p.add_argument("--recipes-dir", type=path, default=None, metavar="DIR",
                   help="where to write NAME.toml (default: ./recipes)")
    p.add_argument("--force", action="store_true", help="replace an existing NAME.toml")
    p.add_argument("--cache-dir", type=path, default=None,
                   help="the source cache (default: $SRCBUILD_CACHE, the checkout's cache/, "
                        "~/.cache/srcbuild)")
    p.add_argument("--mirror", dest="mirrors", type=path, action="append", default=[],
                   metavar="DIR", help="a folder of sources laid out like the cache (SHA256/FILE)")


def lint_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dirs", nargs="*", type=path, metavar="DIR",
                   help="recipe folders (default: the recipe book's: SRCBUILD_RECIPES and the "
                        "built-in recipes)")
    add_recipe_dirs(p)


def report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", default=None, metavar="ID",
                   help="the run to draw (default: the last that built something)")
    p.add_argument("--list", action="store_true",
                   help="list the runs the cache keeps instead: id, start, targets, prefix, "
                        "what each did")
    p.add_argument("--prefix", type=path, default=None, metavar="DIR",
                   help="the prefix the run should have been for (a note when it was not)")
    add_cache_dir(p)
    p.add_argument("-O", "--output", type=path, default=None, metavar="FILE",
                   help="where to write the page (default: CACHE/runs/RUN.html)")
    p.add_argument("--json", action="store_true", help="with --list: machine-readable output")


def log_arguments(p: argparse.ArgumentParser) -> None:
    from srcbuild.buildlogs import PHASE_LOGS

    recipe_name(p, "name", "an installed package (or one whose build failed)")
    p.add_argument("--phase", choices=(*PHASE_LOGS, "all"), default=None,
                   help="which phase's log (default: the failed phase's for a failed "
                        "build, else the last one written, the check's when there is one); "
                        "all: every one, in order")
    p.add_argument("--run", default=None, metavar="ID",
                   help="the logs of this run (`srcbuild report --list`) instead of the "
                        "build that produced what is installed")
    add_prefix(p)
    add_cache_dir(p)


def days(text: str) -> float:
    """argparse's type for --keep-days: a number of days, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def clean_arguments(p: argparse.ArgumentParser) -> None:
    add_cache_dir(p)
    add_recipe_dirs(p)
    p.add_argument("--keep-days", type=days, default=30.0, metavar="D",
                   help="prune runs (events, logs, report page) older than D days (default: "
                        "30); the last run that built something and every run a prefix still "
                        "has packages from are kept")
    p.add_argument("--dry-run", action="store_true",
                   help="say what would be removed and how much space it frees; remove nothing")


def completion_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell to complete in")


def manpage_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-O", "--output", type=path, default=None, metavar="FILE",
                   help="write to FILE instead of standard output")


def keys_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="keys_command", required=True, metavar="ACTION",
                           help="generate: make a key pair")
    g = sub.add_parser("generate", help="write DIR/KEYID.key (secret, mode 0600) and "
                                        "DIR/KEYID.pub")
    g.add_argument("dir", type=path, metavar="DIR", help="where to write the key pair")


# -- the table ---------------------------------------------------------------------------------
class Subcommand:
    """One row of the table (a plain class: dataclasses would cost --version an import)."""

    __slots__ = ("arguments", "description", "handler", "help")

    def __init__(self, help: str, description: str, arguments: Adder, handler: str) -> None:
        self.help = help  # one line, for `srcbuild --help`
        self.description = description  # what it does, with an example
        self.arguments = arguments
        self.handler = handler  # "module:function" under srcbuild.commands


SUBCOMMANDS: dict[str, Subcommand] = {
    "install": Subcommand(
        "build what is missing and install it",
        "Resolve the graph, build what the prefix lacks (staged, checked, merged all or "
        "nothing).\n\nexample: srcbuild install libpng --prefix ~/png   (or: srcbuild libpng)",
        install_arguments, "install:install"),
    "install-locked": Subcommand(
        "install --locked FILE, failing on drift",
        "Install exactly what a srcbuild.lock pins; any drift stops the run (exit 2).\n\n"
        "example: srcbuild install-locked srcbuild.lock --prefix /opt/lab --offline "
        "--mirror mirror/",
        install_locked_arguments, "install:install"),
    "plan": Subcommand(
        "print the order and the reason for each step; build nothing",
        "The plan steps in build order and how every requirement is satisfied.\n\n"
        "example: srcbuild plan qemu --prefix ~/lab --json",
        plan_arguments, "plan:plan"),
    "doctor": Subcommand(
        "explain every requirement and every miss, with the cure",
        "What satisfies each requirement, or why nothing does and what cures it; then the "
        "prefix's binaries whose libraries the loader cannot find.\n\n"
        "example: srcbuild doctor qemu --prefix ~/lab",
        doctor_arguments, "plan:doctor"),
    "fetch": Subcommand(
        "fetch and verify the sources of the whole graph",
        "Download (or copy from a mirror) and verify every source the graph would build.\n\n"
        "example: srcbuild fetch lab-x86 --mirror /srv/sources",
        fetch_arguments, "install:fetch"),
    "list": Subcommand(
        "list the recipes, or what a prefix has installed",
        "Every recipe: name, version, build system, summary. With --installed, the packages "
        "installed in the prefix: name, version, when, files, size.\n\n"
        "examples: srcbuild list --recipes ./my-recipes\n"
        "          srcbuild list --installed --prefix ~/lab",
        list_arguments, "recipes:list_"),
    "info": Subcommand(
        "show one recipe, and what of it a prefix holds",
        "One recipe with its sources, requirements and options; with --prefix, also the "
        "installed package: version, build hash, when, source, files and size, and the "
        "library each of its ELF files loads and who provides it.\n\n"
        "example: srcbuild info qemu --prefix ~/lab --files",
        info_arguments, "recipes:info"),
    "search": Subcommand(
        "find recipes by name, summary or what they provide",
        "Recipes whose name, summary or provides contain WORD (pkgconfig:NAME, "
        "program:NAME, library:NAME), with what matched.\n\n"
        "example: srcbuild search glib-2.0",
        search_arguments, "recipes:search"),
    "env": Subcommand(
        "print shell exports for a prefix",
        "Exports that put the prefix first on PATH, PKG_CONFIG_PATH, LD_LIBRARY_PATH, "
        "MANPATH.\n\nexample: eval \"$(srcbuild env --prefix ~/lab)\"",
        env_arguments, "prefix:env"),
    "uninstall": Subcommand(
        "remove exactly the files packages installed",
        "Remove packages' files (those srcbuild recorded) from the prefix; several names are "
        "removed dependents first.\n\n"
        "example: srcbuild uninstall libpng zlib --prefix ~/png",
        uninstall_arguments, "prefix:uninstall"),
    "run": Subcommand(
        "run an installed recipe's launch command (e.g. a lab); arguments after -- are "
        "appended to it",
        "Run a recipe's `run` command with the prefix first on every search path.\n\n"
        "example: srcbuild run lab-arm64-kvm --prefix ~/lab -- -m 1024",
        run_arguments, "prefix:run"),
    "test": Subcommand(
        "run an installed package's check again, against the prefix",
        "Run the check of each installed package or group again, with the prefix first on "
        "every search path (like brew test); prints its PASS: and SKIP: lines and one "
        "verdict line. Exit 0 when every check passed, 1 when one failed or checked "
        "nothing.\n\n"
        "example: srcbuild test lab-x86 --prefix ~/lab",
        test_arguments, "prefix:test"),
    "graph": Subcommand(
        "draw the resolved graph as dot text or an SVG picture",
        "The resolved graph, coloured by how each recipe or requirement is satisfied.\n\n"
        "example: srcbuild graph lab-x86 -O lab.svg",
        graph_arguments, "plan:graph"),
    "create": Subcommand(
        "write a first recipe from a source archive (like brew create, spack create)",
        "Fetch a source (a Debian source package or a URL), compute its sha256, detect its "
        "build system, project folder and pkg-config modules, and write a commented "
        "NAME.toml that builds unedited for common packages.\n\n"
        "example: srcbuild create libyaml --debian libyaml --recipes-dir ./my-recipes",
        create_arguments, "authoring:create"),
    "lint": Subcommand(
        "check every recipe of a folder without building",
        "Load each recipe (keys, types), render its templates with its default options, and "
        "check its sha256s, that something provides each requirement, and that the files it "
        "names under files/ exist. Exit 2 when a problem is found.\n\n"
        "example: srcbuild lint recipes/",
        lint_arguments, "authoring:lint"),
    "report": Subcommand(
        "an HTML timeline of a run: where the time went; --list: the runs kept",
        "A self-contained HTML page of the last run that built something "
        "(CACHE/runs/last -> RUN.jsonl), or of any run the cache keeps (--run ID); --list "
        "lists them.\n\n"
        "examples: srcbuild report -O run.html\n"
        "          srcbuild report --list\n"
        "          srcbuild report --run 20250301-101500-4242",
        report_arguments, "report:report"),
    "log": Subcommand(
        "print the log of the build that produced an installed package",
        "The phase logs of the build whose result the prefix has installed (its state "
        "record names the run); for a package the prefix does not have, those of its latest "
        "build in the cache. Without --phase, the log of the phase a failed build failed "
        "in, else the last log written: the check's when there is one. What is shown goes "
        "to stderr, the log to stdout.\n\n"
        "examples: srcbuild log zlib --prefix ~/lab\n"
        "          srcbuild log qemu --phase build | grep -i warning",
        log_arguments, "log:log"),
    "lock": Subcommand(
        "print a srcbuild.lock (JSON) of the resolved graph",
        "Pin the resolved graph: recipes, digests, sources, system requirements.\n\n"
        "example: srcbuild lock lab-x86 --prefix /opt/lab > srcbuild.lock",
        add_resolution, "plan:lock"),
    "mirror": Subcommand(
        "copy every source of the graph into DIR/SHA256/FILE, verified",
        "A folder of verified sources for --mirror DIR --offline elsewhere.\n\n"
        "example: srcbuild mirror lab-x86 mirror/ --prefix /opt/lab",
        mirror_arguments, "provision:mirror"),
    "verify-repro": Subcommand(
        "build from source twice and compare the staged files; a verdict per package",
        "Build the named recipes (and what they need that the system lacks) from source "
        "twice, in separate folders, and compare the staged trees file by file: one verdict "
        "line per package and one for the run. Exit 1 when a file differs or nothing was "
        "compared.\n\n"
        "example: srcbuild verify-repro zlib",
        verify_repro_arguments, "provision:verify_repro"),
    "clean": Subcommand(
        "free cache space: stale work folders, unused source trees, old runs",
        "Remove work folders that no running srcbuild holds, extracted source trees that no "
        "recipe's current sha256 uses, and runs (events, logs, report page) older than "
        "--keep-days that no installed package came from; then show what the cache holds. "
        "The verified archives (CACHE/sources) are kept.\n\n"
        "example: srcbuild clean --dry-run --keep-days 7",
        clean_arguments, "clean:clean"),
    "completion": Subcommand(
        "print a shell completion script (bash, zsh, fish)",
        "A completion script for subcommands, options and recipe names, generated from this "
        "parser.\n\n"
        "examples: srcbuild completion bash > ~/.local/share/bash-completion/completions/"
        "srcbuild\n"
        "          srcbuild completion zsh > ~/.zfunc/_srcbuild   (with fpath+=~/.zfunc)\n"
        "          srcbuild completion fish > ~/.config/fish/completions/srcbuild.fish",
        completion_arguments, "shell:completion"),
    "manpage": Subcommand(
        "print the manual page srcbuild(1)",
        "The manual page, generated from this parser (every subcommand and option).\n\n"
        "example: srcbuild manpage -O ~/.local/share/man/man1/srcbuild.1 && man srcbuild",
        manpage_arguments, "shell:manpage"),
    "keys": Subcommand(
        "make a key pair that signs binary cache entries",
        "Write an ed25519 key pair: the .key signs what a machine pushes to an oci:// binary "
        "cache (--signing-key), the .pub goes into the --trusted-keys folder of the machines "
        "that restore.\n\n"
        "example: srcbuild keys generate ~/.config/srcbuild/keys",
        keys_arguments, "keys:keys"),
}


def parser(selected: str | None = None, every: bool = False) -> argparse.ArgumentParser:
    """The parser; only the ``selected`` subcommand gets its arguments (the others need
    none to be listed), or ``every`` one of them (for completion and the manual page)."""
    top = argparse.ArgumentParser(
        prog="srcbuild", description="Build software from source into a prefix, reproducibly. "
        "`srcbuild NAME` is short for `srcbuild install NAME`.",
        epilog="`srcbuild COMMAND --help` shows a command's options, with an example. Exit "
        "status: 0 success, 1 a build, fetch, check or file operation failed, 2 bad usage or "
        "a bad recipe, 3 a requirement nothing satisfies, 130 interrupted (Ctrl-C), 143 "
        "terminated (SIGTERM), 129 hung up (SIGHUP).")
    top.add_argument("-V", "--version", action="version", version=f"srcbuild {__version__}",
                     help="print the version and exit")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=command.help, description=wrap(command.description),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        if every or name == selected:
            command.arguments(p)
    return top


def wrap(description: str) -> str:
    """The prose paragraphs filled to 88 columns; the examples kept as written."""
    import textwrap  # argparse has imported it already

    return "\n\n".join(part if part.startswith("example") else textwrap.fill(part, 88)
                       for part in description.split("\n\n"))


def option_strings(name: str) -> set[str]:
    """The options a subcommand takes (``--prefix``, ``-j``, ...)."""
    p = argparse.ArgumentParser()
    SUBCOMMANDS[name].arguments(p)
    return {s for a in p._actions for s in a.option_strings}


def handler(name: str) -> Callable[[argparse.Namespace], int]:
    module, function = SUBCOMMANDS[name].handler.split(":")
    found: Callable[[argparse.Namespace], int] = getattr(
        importlib.import_module(f"srcbuild.commands.{module}"), function)
    return found


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    implicit = None  # `srcbuild NAME ...`: the word taken for a recipe name
    if argv and not argv[0].startswith("-") and argv[0] not in SUBCOMMANDS:
        implicit = argv[0]
        argv.insert(0, "install")
    extra: list[str] = []
    if argv and argv[0] == "run" and "--" in argv:
        extra, argv = argv[argv.index("--") + 1:], argv[:argv.index("--")]
    argv = test_flag(argv)
    selected = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    args = parser(selected).parse_args(argv)
    args.extra = extra
    if args.command is None:
        parser().print_help()
        return EXIT_OK
    from srcbuild import interrupts

    interrupts.handle_signals()
    try:
        check_recipe_dirs(args)
        return handler(args.command)(args)
    except SrcbuildError as e:
        if implicit is not None:
            e = with_subcommand_hint(e, implicit, argv[2:])
        report_error(e)
        return e.exit_code
    except BrokenPipeError:  # `srcbuild plan ... | head`: the reader has what it wanted
        sys.stderr.close()
        return EXIT_OK
    except OSError as e:  # a path the machine refuses: named, with the cure, never a traceback
        from srcbuild.boundary import explain

        error = explain(e, args)
        report_error(error)
        return error.exit_code
    except KeyboardInterrupt as e:  # Ctrl-C, SIGTERM, SIGHUP (interrupts.py)
        said_interrupted(interrupts.signal_name(e))
        return interrupts.exit_code(e)


def test_flag(argv: list[str]) -> list[str]:
    """``--test`` alone means ``--test=all``, and ``--test root`` ``--test=root``: argparse
    would otherwise read the recipe name after a bare --test as its value."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == "--test":
            value = argv[i + 1] if i + 1 < len(argv) and argv[i + 1] in ("all", "root") \
                else ""
            out.append(f"--test={value or 'all'}")
            i += 2 if value else 1
            continue
        out.append(argv[i])
        i += 1
    return out


def said_interrupted(signal_name: str) -> None:
    """The last line after a signal (the reporter said what was stopped); the cursor is
    shown again, whoever hid it. A terminal that is gone (SIGHUP) takes no more writes."""
    try:
        if sys.stderr.isatty():
            sys.stderr.write("\x1b[?25h")
        sys.stderr.write(f"srcbuild: interrupted by {signal_name}"
                         f"{' (Ctrl-C)' if signal_name == 'SIGINT' else ''}.\n")
        sys.stderr.flush()
    except OSError:
        pass


def check_recipe_dirs(args: argparse.Namespace) -> None:
    """A recipe folder that does not exist is a usage error, not a folder silently skipped."""
    import os

    given = [(d, f"--recipes {d}") for d in getattr(args, "recipe_dirs", [])]
    given += [(d, f"SRCBUILD_RECIPES (entry {d})")
              for d in os.environ.get("SRCBUILD_RECIPES", "").split(":") if d]
    for folder, where in given:
        if not os.path.isdir(folder):
            what = "is not a folder" if os.path.exists(folder) else "does not exist"
        elif not os.access(folder, os.R_OK | os.X_OK):
            what = f"cannot be read by you (uid {os.geteuid()})"
        else:
            continue
        raise UsageError(f"The recipe folder {folder} given as {where} {what}.",
                         "Give a folder of NAME.toml recipes you may read, or leave it out.")


def with_subcommand_hint(e: SrcbuildError, word: str, rest: list[str]) -> SrcbuildError:
    """`srcbuild instal zlib`: the unknown "recipe" was a mistyped subcommand."""
    if not isinstance(e, UnknownName) or e.name != word:
        return e
    import difflib

    close = difflib.get_close_matches(word, list(SUBCOMMANDS), 1, 0.7)
    if not close:
        return e
    commands = " or ".join(f"`srcbuild {' '.join([c, *rest])}`" for c in close)
    return UnknownName(f"{word!r} is neither a subcommand nor a recipe.",
                       f"Did you mean {commands}? (`srcbuild --help` lists the subcommands.)",
                       word)


def report_error(e: SrcbuildError) -> None:
    """The message, the hint on its own line, then "To resolve:" and numbered items; a failed
    command's log tail before them and what its logs say is missing after them. Control
    characters are shown escaped: the text may come from an archive, a recipe or a build."""
    from srcbuild.safety import printable  # file names, link targets, build output

    out = sys.stderr
    if isinstance(e, BuildError) and e.tail:
        out.write(printable(f"--- last lines of {e.log_path} ---\n{e.tail}\n---\n"))
    first, *rest = e.lines()
    out.write(printable(f"srcbuild: error: {first}\n" + "".join(f"{line}\n" for line in rest)))
    if isinstance(e, BuildError) and e.diagnosis:
        out.write(printable(f"What the logs say is missing:\n{e.diagnosis}\n"))
