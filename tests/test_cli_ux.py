"""A new user's first minutes, through the real command line: errors at every boundary (no
traceback, the path and the cure), suggestions for mistyped names, help, -V, completion and
the manual page."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from pkgfactory import chain

from srcbuild.cli import SUBCOMMANDS, parser


def srcbuild(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "srcbuild", *args], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, **(env or {})}, check=False)


def no_traceback(cp: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in cp.stderr, cp.stderr
    assert cp.stderr.count("srcbuild: error:") <= 1, cp.stderr


# -- unknown names ---------------------------------------------------------------------------
@pytest.mark.parametrize("argv, wanted", [
    (["qemmu"], "Did you mean qemu?"),
    (["plan", "libpgn"], "Did you mean libpng?"),
    (["plan", "glib-2.0"], "Did you mean glib (provides pkgconfig:glib-2.0)?"),
    (["plan", "pkgconfig:zlib"], "Did you mean zlib (provides pkgconfig:zlib)?"),
    (["instal", "zlib"], "Did you mean `srcbuild install zlib`?"),
    (["doctr", "qemu"], "Did you mean `srcbuild doctor qemu`?"),
])
def test_unknown_names_get_suggestions(argv, wanted):
    cp = srcbuild(*argv)
    assert cp.returncode == 2, cp.stderr
    assert wanted in cp.stderr, cp.stderr
    no_traceback(cp)


def test_instal_is_named_as_neither_subcommand_nor_recipe():
    cp = srcbuild("instal", "zlib")
    assert "'instal' is neither a subcommand nor a recipe." in cp.stderr


def test_from_source_names_where_the_unknown_name_came_from():
    cp = srcbuild("plan", "zlib", "--from-source", "nosuch")
    assert cp.returncode == 2
    assert "No recipe named 'nosuch' (given with --from-source nosuch)" in cp.stderr


# -- usage -----------------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [["install", "-j", "0", "zlib"], ["install", "-j", "x", "zlib"],
                                  ["install", "--max-packages", "0", "zlib"]])
def test_counts_must_be_at_least_one(argv):
    cp = srcbuild(*argv)
    assert cp.returncode == 2
    assert "error:" in cp.stderr and "Traceback" not in cp.stderr


def test_jobs_zero_is_refused_with_the_reason():
    cp = srcbuild("install", "-j", "0", "zlib")
    assert "argument -j/--jobs: must be at least 1, not 0" in cp.stderr


def test_a_missing_recipe_folder_is_a_usage_error(tmp_path):
    cp = srcbuild("plan", "zlib", "--recipes", str(tmp_path / "nope"))
    assert cp.returncode == 2
    assert f"The recipe folder {tmp_path / 'nope'} given as --recipes" in cp.stderr
    assert "does not exist" in cp.stderr
    cp = srcbuild("list", env={"SRCBUILD_RECIPES": str(tmp_path / "gone")})
    assert cp.returncode == 2 and "SRCBUILD_RECIPES" in cp.stderr


def test_an_unreadable_recipe_folder_is_a_usage_error(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads every folder; the same check runs for other users")
    folder = tmp_path / "r"
    folder.mkdir()
    folder.chmod(0)
    try:
        cp = srcbuild("plan", "zlib", "--recipes", str(folder))
    finally:
        folder.chmod(0o755)
    assert cp.returncode == 2 and "cannot be read by you" in cp.stderr


# -- paths the machine refuses ---------------------------------------------------------------
def refusing(folder: Path) -> list[str]:
    """A command prefix under which ``folder`` cannot be written: as root, a read-only tmpfs
    on it in a private mount namespace; otherwise its write bits are taken away."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return []
    if shutil.which("unshare") is None:
        pytest.skip("root without unshare(1): no way to make a folder read-only here")
    return ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o ro none {folder} && exec \"$@\"",
            "sh"]


def run_refused(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*refusing(folder), sys.executable, "-m", "srcbuild", *args],
                          capture_output=True, text=True, cwd=ROOT, check=False)


def test_a_prefix_that_cannot_be_written_is_one_paragraph(tmp_path):
    recipes = chain(tmp_path)
    cp = run_refused(tmp_path / "ro", "alpha", "--recipes", str(recipes), "--prefix",
                     str(tmp_path / "ro" / "p"), "--cache-dir", str(tmp_path / "c"))
    assert cp.returncode == 1, cp.stderr
    no_traceback(cp)
    assert f"Cannot use {tmp_path / 'ro' / 'p'}" in cp.stderr
    assert "(the prefix" in cp.stderr and "--prefix DIR" in cp.stderr


def test_a_cache_that_cannot_be_written_is_one_paragraph(tmp_path):
    recipes = chain(tmp_path)
    cp = run_refused(tmp_path / "ro", "alpha", "--recipes", str(recipes), "--prefix",
                     str(tmp_path / "p"), "--cache-dir", str(tmp_path / "ro" / "c"))
    assert cp.returncode == 1, cp.stderr
    no_traceback(cp)
    assert "(the cache" in cp.stderr and "--cache-dir DIR" in cp.stderr


def test_an_output_file_that_cannot_be_written_is_one_paragraph(tmp_path):
    recipes = chain(tmp_path)
    out = tmp_path / "ro" / "g.svg"
    cp = run_refused(tmp_path / "ro", "graph", "alpha", "--recipes", str(recipes), "-O",
                     str(out))
    assert cp.returncode == 1, cp.stderr
    no_traceback(cp)
    assert f"Cannot use {out} (the output file)" in cp.stderr and "-O FILE" in cp.stderr


def test_a_cache_folder_in_the_way_during_a_build_is_named(tmp_path):
    recipes = chain(tmp_path)
    cache = tmp_path / "c"
    cache.mkdir()
    (cache / "logs").write_text("a file where the logs folder goes")
    cp = srcbuild("alpha", "--recipes", str(recipes), "--prefix", str(tmp_path / "p"),
                  "--cache-dir", str(cache))
    assert cp.returncode == 1, cp.stderr
    no_traceback(cp)
    assert f"srcbuild: error: alpha: Cannot use {cache / 'logs'}" in cp.stderr
    assert "(the cache," in cp.stderr and "--cache-dir DIR" in cp.stderr


def test_plan_and_doctor_warn_that_the_prefix_is_not_writable(tmp_path):
    recipes = chain(tmp_path)
    prefix = tmp_path / "ro" / "p"
    for command in ("plan", "doctor"):
        cp = run_refused(tmp_path / "ro", command, "alpha", "--recipes", str(recipes),
                         "--prefix", str(prefix))
        assert cp.returncode == 0, cp.stderr
        assert f"warning: the prefix {prefix} cannot be written" in cp.stderr, cp.stderr
    cp = srcbuild("plan", "alpha", "--recipes", str(recipes), "--prefix", str(tmp_path / "ok"))
    assert "cannot be written" not in cp.stderr


# -- help ------------------------------------------------------------------------------------
def test_every_subcommand_has_a_description_an_example_and_help_for_each_option():
    top = parser(every=True)
    sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in sub.choices.items():
        assert "example" in (p.description or ""), name
        for action in p._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"{name} {action.option_strings or action.dest}"


@pytest.mark.parametrize("command, absent", [
    ("plan", ("--ccache", "--keep-build", "--distcc", "--yes", "-j")),
    ("graph", ("--ccache", "--keep-build", "--yes", "-j")),
    ("lock", ("--ccache", "--keep-build", "--yes", "-j")),
    ("doctor", ("--ccache", "--keep-build", "--distcc", "-j")),
])
def test_install_only_options_are_not_offered_elsewhere(command, absent):
    from srcbuild.cli import option_strings

    assert not set(absent) & option_strings(command)


def test_version_and_its_short_form():
    for flag in ("--version", "-V"):
        cp = srcbuild(flag)
        assert cp.returncode == 0 and cp.stdout.startswith("srcbuild "), cp


def test_version_imports_only_the_command_line():
    cp = subprocess.run([sys.executable, "-X", "importtime", "-m", "srcbuild", "--version"],
                        capture_output=True, text=True, cwd=ROOT, check=False)
    mine = {line.split("|")[-1].strip() for line in cp.stderr.splitlines()
            if "srcbuild" in line.split("|")[-1]}
    mine = {m for m in mine if not m.startswith("__editable__")}
    assert mine == {"srcbuild", "srcbuild.cli", "srcbuild.errors", "srcbuild.__main__"} or \
        mine == {"srcbuild", "srcbuild.cli", "srcbuild.errors"}, mine


# -- completion and the manual ---------------------------------------------------------------
def completion_script(tmp_path: Path, shell: str) -> Path:
    cp = srcbuild("completion", shell)
    assert cp.returncode == 0, cp.stderr
    path = tmp_path / f"srcbuild.{shell}"
    path.write_text(cp.stdout)
    return path


def shell_env() -> dict[str, str]:
    # the completion scripts run `srcbuild list --names`: the command of this environment
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}


def test_bash_completes_subcommands_options_and_recipe_names(tmp_path):
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    script = completion_script(tmp_path, "bash")
    probe = f"""
        source {script}
        t() {{ COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*";
              COMP_POINT=${{#COMP_LINE}}; COMPREPLY=();
              _shtab_srcbuild srcbuild "${{COMP_WORDS[-1]}}" "${{COMP_WORDS[-2]}}";
              echo "${{COMPREPLY[*]}}"; }}
        t srcbuild pla; t srcbuild plan libp; t srcbuild install --from; t srcbuild uninst
        """
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True,
                         env=shell_env(), check=False).stdout.splitlines()
    assert out == ["plan", "libpng", "--from-source", "uninstall"], out


def test_fish_completes_subcommands_options_and_recipe_names(tmp_path):
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed (apt-get install fish)")
    script = completion_script(tmp_path, "fish")
    probe = (f"source {script}; complete -C 'srcbuild pla'; complete -C 'srcbuild plan libp'; "
             "complete -C 'srcbuild env --sh'")
    out = subprocess.run(["fish", "-c", probe], capture_output=True, text=True,
                         env=shell_env(), check=False).stdout
    words = [line.split("\t")[0] for line in out.splitlines()]
    assert words == ["plan", "libpng", "--shell"], out


ZPTY = r"""
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT='> '; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D"
zpty -w -n z "$2"$'\t'
out=""
integer i
for i in {1..300}; do  # up to 30 s on a loaded machine; done once the wanted word shows
  sleep 0.1; while zpty -r -t z chunk; do out+=$chunk; done
  [[ $out == *$3* ]] && break
done
print -r -- "$out"
zpty -d z
"""


def test_zsh_completes_subcommands_and_recipe_names(tmp_path):
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed (apt-get install zsh)")
    functions = tmp_path / "zfunc"
    functions.mkdir()
    completion_script(tmp_path, "zsh").rename(functions / "_srcbuild")
    (tmp_path / "t.zsh").write_text(ZPTY)

    def complete(line: str, wanted: str) -> str:
        cp = subprocess.run(["zsh", "-f", str(tmp_path / "t.zsh"), str(functions), line,
                             wanted], capture_output=True, text=True, env=shell_env(),
                            timeout=90, check=False)
        return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", cp.stdout)

    assert "srcbuild plan " in complete("srcbuild pla", "plan")
    assert "srcbuild plan libpng" in complete("srcbuild plan libp", "libpng")


def test_completion_does_not_slow_down_a_normal_run():
    cp = subprocess.run([sys.executable, "-X", "importtime", "-m", "srcbuild", "list"],
                        capture_output=True, text=True, cwd=ROOT, check=False)
    imported = cp.stderr
    assert "shtab" not in imported and "argcomplete" not in imported
    assert "argparse_manpage" not in imported


def test_the_manual_page_has_every_subcommand_and_option(tmp_path):
    out = tmp_path / "srcbuild.1"
    cp = srcbuild("manpage", "-O", str(out))
    assert cp.returncode == 0, cp.stderr
    page = out.read_text()
    assert page.startswith(".TH SRCBUILD")
    for name in SUBCOMMANDS:
        assert f"'srcbuild {name}'".replace("-", "\\-") in page, name
    for option in ("\\-\\-from\\-source", "\\-\\-dry\\-run", "\\-\\-every\\-alternative"):
        assert option in page
    assert ".SH EXIT STATUS" in page and "130" in page
    if shutil.which("man"):
        shown = subprocess.run(["man", "-l", str(out)], capture_output=True, text=True,
                               env={**os.environ, "MANWIDTH": "100"}, check=False).stdout
        assert "srcbuild verify-repro" in shown
