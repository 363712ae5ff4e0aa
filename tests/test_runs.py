"""Issue 12 case 14 and issue 14: logs and events per run, so that runs sharing a cache
never mix; and (case 15) text from recipes and builds never drives the terminal."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pkgfactory import recipe


def echoer(tmp_path: Path) -> Path:
    """A package whose build log says which prefix it was built for."""
    recipe(tmp_path / "r", "echoer", """
        version = "1"
        [[source]]
        path = "."
        [build]
        system = "custom"
        build = [["sh", "-c", "echo building for {{ prefix }}"]]
        install = [["sh", "-c", "mkdir -p {{ stage }}/share && echo {{ prefix }} > {{ stage }}/share/p"]]
        """)
    return tmp_path / "r"


def record(prefix: Path, name: str) -> dict:
    return json.loads((prefix / ".srcbuild" / "packages" / f"{name}.json").read_text())


def events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_two_prefixes_sharing_a_cache_keep_their_own_logs_and_events(sb, tmp_path):
    recipes = echoer(tmp_path)
    one, two = tmp_path / "one", tmp_path / "two"
    sb("echoer", "--recipes", str(recipes), "--quiet", prefix=one)
    sb("echoer", "--recipes", str(recipes), "--quiet", prefix=two)
    for prefix in (one, two):
        rec = record(prefix, "echoer")
        build_log = Path(rec["logs"]) / "build.log"
        assert f"building for {prefix}\n" in build_log.read_text()  # its own, not overwritten
        assert Path(rec["logs"]) == sb.cache / "logs" / rec["run"] / "echoer"
        plan = [e for e in events(sb.cache / "runs" / f"{rec['run']}.jsonl")
                if e["event"] == "plan"]
        assert [p["prefix"] for p in plan] == [str(prefix)] and plan[0]["run"] == rec["run"]
    assert record(one, "echoer")["run"] != record(two, "echoer")["run"]


def test_a_noop_run_does_not_replace_the_last_real_one(sb, tmp_path):
    from srcbuild.runs import last_run, list_runs, package_logs

    recipes = echoer(tmp_path)
    sb("echoer", "--recipes", str(recipes), "--quiet")
    built = record(sb.prefix, "echoer")["run"]
    assert (sb.cache / "runs" / "last").resolve() == sb.cache / "runs" / f"{built}.jsonl"
    out = sb("echoer", "--recipes", str(recipes))
    assert "Nothing to do" in out.stderr
    runs = list_runs(sb.cache)
    assert len(runs) == 2 and runs[0].run_id == built and runs[0].last and not runs[1].last
    assert last_run(sb.cache) == built
    assert package_logs(sb.prefix, "echoer") == sb.cache / "logs" / built / "echoer"
    page = sb("report")
    assert "echoer" in Path(page.stdout.strip()).read_text()


def test_escape_sequences_never_reach_the_terminal(sb, tmp_path):
    """Case 15: a recipe's text, a file name or a build's output with ESC or other control
    characters is printed with them escaped."""
    recipe(tmp_path / "r", "loud", r"""
        version = "1"
        summary = "\u001b]0;owned\u0007\u001b[2J"
        [[source]]
        path = "."
        [build]
        system = "custom"
        build = [["sh", "-c", "printf '\\033[2J\\033]0;owned\\007 boom\\n'; exit 1"]]
        """)
    listed = sb("list", "--recipes", str(tmp_path / "r"))
    assert "\x1b" not in listed.stdout and "\\x1b]0;owned\\x07" in listed.stdout
    failed = sb("loud", "--recipes", str(tmp_path / "r"), "--quiet", check=1)
    assert "\x1b" not in failed.stderr and "\x07" not in failed.stderr
    assert "\\x1b[2J\\x1b]0;owned\\x07 boom" in failed.stderr


def test_plan_says_how_long_a_build_took_last_time(sb, tmp_path):
    # the toolchain's GCC takes tens of minutes: the plan says so before it starts again
    from pkgfactory import recipe

    recipe(tmp_path / "r", "slowish", """
        version = "1"
        [[source]]
        path = "."
        [build]
        system = "custom"
        install = [["sh", "-c", "mkdir -p \\"$0/share\\" && echo x > \\"$0/share/slowish\\"", "{{ stage }}"]]
        """)
    env = {"SRCBUILD_CACHE": str(sb.cache)}  # plan reads the runs of the default cache
    first = sb("plan", "slowish", "--recipes", str(tmp_path / "r"), env=env).stdout
    assert "last time" not in first
    sb("slowish", "--recipes", str(tmp_path / "r"))
    sb("uninstall", "slowish")
    again = sb("plan", "slowish", "--recipes", str(tmp_path / "r"), env=env).stdout
    assert re.search(r"build +slowish 1 +\(not installed in the prefix; took [0-9.ms]+ last time\)",
                     again), again
