"""Issue 14, logs and runs: `srcbuild log` prints the log of the build that produced what is
installed (or where a failed build ended), `report --list` and `report --run` reach any kept
run, `info --prefix` names the run and its logs, and `clean` prunes old runs but never one
that an installed package came from."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from conftest import Srcbuild
from pkgfactory import recipe


def recipes(root: Path) -> Path:
    """echoer: a build and a check that say which prefix they ran for; fails: a build that
    configures, then fails."""
    r = root / "r"
    recipe(r, "echoer", """
        version = "1"
        check = [["sh", "-c", "echo 'PASS: checked for {{ prefix }}'"]]
        [[source]]
        path = "."
        [build]
        system = "custom"
        build = [["sh", "-c", "echo building for {{ prefix }}"]]
        install = [["sh", "-c", "mkdir -p {{ stage }}/share && echo x > {{ stage }}/share/e"]]
        """)
    recipe(r, "fails", """
        version = "1"
        [[source]]
        path = "."
        [build]
        system = "custom"
        configure = [["sh", "-c", "echo configured"]]
        build = [["sh", "-c", "echo 'cc: error: no such file'; exit 1"]]
        install = [["true"]]
        """)
    return r


def record(prefix: Path, name: str) -> dict:
    return json.loads((prefix / ".srcbuild" / "packages" / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Srcbuild, Path, Path, Path]:
    """echoer built into prefix one, then (another run, same cache) into prefix two; then a
    failed build of fails into one."""
    root = tmp_path_factory.mktemp("logs")
    r = recipes(root)
    sb = Srcbuild(root / "one", root / "cache")
    sb("echoer", "--recipes", str(r), "--quiet")
    sb("echoer", "--recipes", str(r), "--quiet", prefix=root / "two")
    sb("fails", "--recipes", str(r), "--quiet", check=1)
    return sb, r, root / "one", root / "two"


def test_log_prints_the_check_log_of_the_installed_build(two_runs):
    sb, _, one, _ = two_runs
    rec = record(one, "echoer")
    cp = sb("log", "echoer", prefix=one)
    logs = Path(rec["logs"])
    assert cp.stdout == (logs / "check.log").read_text()
    assert f"PASS: checked for {one}" in cp.stdout
    head = cp.stderr.splitlines()
    assert head[0] == f"echoer: the build installed in {one}, run {rec['run']}"
    assert head[1] == f"  logs: {logs}: build, install, check (shown)"
    # the second prefix's run is newer and has its own logs of echoer
    two_run = record(two_runs[3], "echoer")["run"]
    assert f"  note: a newer run also has logs of echoer: --run {two_run}" in head


def test_log_phase_and_all(two_runs):
    sb, _, one, two = two_runs
    build = sb("log", "echoer", "--phase", "build", prefix=two).stdout
    assert f"building for {two}\n" in build and "PASS:" not in build
    every = sb("log", "echoer", "--phase", "all", prefix=one).stdout
    logs = Path(record(one, "echoer")["logs"])
    assert [line for line in every.splitlines() if line.startswith("==> ")] == [
        f"==> {logs / p}.log <==" for p in ("build", "install", "check")]
    missing = sb("log", "echoer", "--phase", "configure", prefix=one, check=2)
    assert "wrote no configure log" in missing.stderr
    assert "Its logs: build, install, check." in missing.stderr


def test_log_of_a_failed_build_shows_where_it_ended(two_runs):
    sb, _, one, _ = two_runs
    cp = sb("log", "fails", prefix=one)
    assert "cc: error: no such file" in cp.stdout  # build.log, not configure.log
    assert "configured" not in cp.stdout
    assert f"(not installed in {one}; it failed in its build step)" in cp.stderr
    assert "configure, build (shown)" in cp.stderr


def test_log_of_an_unknown_name_suggests(two_runs):
    sb, _, one, _ = two_runs
    cp = sb("log", "echoe", prefix=one, check=2)
    assert "echoe is not installed in" in cp.stderr and "echoer" in cp.stderr
    bad = sb("log", "echoer", "--run", "yesterday", check=2)
    assert "--run yesterday is not a run id" in bad.stderr


def test_info_prefix_names_the_run_and_its_logs(two_runs):
    sb, r, one, _ = two_runs
    rec = record(one, "echoer")
    out = sb("info", "echoer", "--recipes", str(r), prefix=one).stdout
    assert f"  run:           {rec['run']}" in out.splitlines()
    assert f"  logs:          {rec['logs']}" in out.splitlines()
    assert f"(srcbuild log echoer --prefix {one} prints them)" in out
    got = json.loads(sb("info", "echoer", "--recipes", str(r), "--json", prefix=one).stdout)
    assert got["installed"]["run"] == rec["run"] and got["installed"]["logs"] == rec["logs"]


def test_report_lists_runs_and_draws_any_of_them(two_runs):
    sb, _, one, two = two_runs
    first, second = record(one, "echoer")["run"], record(two, "echoer")["run"]
    listed = sb("report", "--list").stdout.splitlines()
    ours = [line for line in listed if line.split()[0] in (first, second)]
    assert ours[0].startswith(first) and ours[0].endswith(f"echoer -> {one}: 1 built")
    assert ours[1].startswith(second) and ours[1].endswith(f"echoer -> {two}: 1 built")
    assert listed[-2].endswith("fails -> " + str(one) + ": 1 failed  (last)")
    cp = sb("report", "--run", first)
    page = sb.cache / "runs" / f"{first}.html"
    assert cp.stdout.strip() == str(page) and str(one) in page.read_text()
    unknown = sb("report", "--run", "20000101-000000-1", check=2)
    assert "is not kept in" in unknown.stderr and second in unknown.stderr
    listed_json = json.loads(sb("report", "--list", "--json").stdout)
    assert [(r["run"], r["built"], r["prefix"]) for r in listed_json
            if r["run"] in (first, second)] == [(first, ["echoer"], str(one)),
                                                  (second, ["echoer"], str(two))]
    assert listed_json[-1]["failed"] == ["fails"] and listed_json[-1]["last"] is True
    assert "goes with --list" in sb("report", "--json", check=2).stderr


def old_run(cache: Path, run_id: str, prefix: Path) -> None:
    """A run as an older srcbuild would have left it: events naming the prefix, and logs."""
    (cache / "runs" / f"{run_id}.jsonl").write_text(json.dumps(
        {"event": "plan", "time": 0, "prefix": str(prefix), "targets": ["echoer"],
         "steps": []}) + "\n")
    logs = cache / "logs" / run_id / "echoer"
    logs.mkdir(parents=True)
    (logs / "build.log").write_text("x" * 5000)


def test_clean_prunes_old_runs_but_not_those_installed_from(tmp_path):
    r = recipes(tmp_path)
    one, two = tmp_path / "one", tmp_path / "two"
    sb = Srcbuild(one, tmp_path / "cache")
    sb("echoer", "--recipes", str(r), "--quiet")  # run A: installed in one
    sb("echoer", "--recipes", str(r), "--quiet", prefix=two)  # run B: the last real run
    sb("echoer", "--recipes", str(r), "--quiet")  # run C: nothing to do
    a, b = record(one, "echoer")["run"], record(two, "echoer")["run"]
    sb("uninstall", "echoer", prefix=two)  # B is still the last run that built something
    cache = sb.cache
    old_run(cache, "20200101-000000-99999", tmp_path / "gone")
    old_run(cache, "20200102-000000-99999", one)
    legacy = cache / "logs" / "echoer"  # the layout before run ids
    legacy.mkdir()
    (legacy / "build.log").write_text("old")
    past = time.time() - 90 * 86400
    os.utime(legacy, (past, past))
    runs = sorted(p.name.removesuffix(".jsonl") for p in (cache / "runs").glob("*.jsonl"))
    c = [x for x in runs if x not in (a, b) and not x.startswith("2020")]
    assert len(runs) == 5 and len(c) == 1

    dry = sb("clean", "--dry-run").stdout  # the default: older than 30 days
    assert "Would remove run 20200101-000000-99999 (" in dry
    assert "Would remove run 20200102-000000-99999 (" in dry  # no record points at it
    assert "Would remove logs/echoer (" in dry and "from before run ids" in dry
    assert f"run {c[0]}" not in dry and "Would keep 3 run(s): " in dry
    assert (cache / "runs" / "20200101-000000-99999.jsonl").exists() and legacy.exists()

    out = sb("clean", "--keep-days", "0").stdout
    assert f"Removed run {c[0]} (" in out  # the no-op run, at once with --keep-days 0
    assert f"run {a}" not in out and f"run {b}" not in out
    assert "Kept 2 run(s): " in out and "1 with packages still installed" in out
    assert "the last run that built something" in out
    left = sorted(p.name for p in (cache / "runs").glob("*.jsonl"))
    assert left == sorted([f"{a}.jsonl", f"{b}.jsonl"])
    assert not (cache / "logs" / "20200101-000000-99999").exists() and not legacy.exists()
    assert sb("log", "echoer").stdout  # the installed build's logs are still there

    sb("uninstall", "echoer")  # nothing comes from A any more
    again = sb("clean", "--keep-days", "0").stdout
    assert f"Removed run {a} (" in again and f"run {b}" not in again
    assert not (cache / "logs" / a).exists() and (cache / "logs" / b).exists()


def test_clean_keeps_a_running_run_and_prunes_it_once_killed(tmp_path):
    """A run holds the lock of its events file until it ends, however it ends: clean keeps
    a run that is still building (though neither last nor installed from), and prunes it,
    with the work folder its kill -9 left, once it is gone."""
    r = recipes(tmp_path)
    go, pid = tmp_path / "go", tmp_path / "pid"
    recipe(r, "waiter", """
        version = "1"
        [[source]]
        path = "."
        [build]
        system = "custom"
        build = [["sh", "-c", "echo $$ > PID; while [ ! -e GO ]; do sleep 0.1; done"]]
        install = [["true"]]
        """.replace("PID", str(pid)).replace("GO", str(go)))
    one = tmp_path / "one"
    sb = Srcbuild(one, tmp_path / "cache")
    waiter = Srcbuild(tmp_path / "w", sb.cache).popen("waiter", "--recipes", str(r), "--quiet")
    step = 0
    try:
        for _ in range(6000):  # a loaded machine can take long to start the step
            if pid.exists() and pid.read_text().strip() or waiter.poll() is not None:
                break
            time.sleep(0.05)
        assert waiter.poll() is None, waiter.communicate()[1]
        step = int(pid.read_text())
        sb("echoer", "--recipes", str(r), "--quiet")  # now the last run that built something
        running = [p.name.removesuffix(".jsonl") for p in (sb.cache / "runs").glob("*.jsonl")
                   if p.name.removesuffix(".jsonl") != record(one, "echoer")["run"]]
        assert len(running) == 1

        out = sb("clean", "--keep-days", "0").stdout
        assert f"run {running[0]}" not in out and "1 still running" in out, out
        assert (sb.cache / "runs" / f"{running[0]}.jsonl").exists()
        listed = sb("report", "--list").stdout
        assert f"waiter -> {tmp_path / 'w'}: building waiter now" in listed, listed

        waiter.kill()  # kill -9: its build step lives on in its own session
        waiter.communicate(timeout=60)
        assert Path(f"/proc/{step}").exists()
        out = sb("clean", "--keep-days", "0").stdout
        assert f"Removed run {running[0]} (" in out, out
        assert "interrupted while building waiter; older than 0 days" in out
        assert "left by a killed run" in out  # its work folder, after stopping the step
        assert not (sb.cache / "runs" / f"{running[0]}.jsonl").exists()
        assert not (sb.cache / "logs" / running[0]).exists()
        stat = Path(f"/proc/{step}/stat")
        assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] in "ZX"
    finally:
        go.touch()
        waiter.kill()
        waiter.communicate(timeout=60)


def test_log_of_a_build_that_failed_its_audit(tmp_path):
    """The audit writes no log: `log` says that the build failed there and shows the last
    log written (the install's), not a log of a phase that succeeded as if it had failed.
    (prog needs libghost.so, which the build made and the install left out.)"""
    r = tmp_path / "r"
    recipe(r, "ghost", """
        version = "1"
        [[source]]
        path = "."
        [build]
        system = "custom"
        build = [{shell = "printf 'int g(void) { return 0; }\\n' > g.c"},
                 ["cc", "-shared", "-fPIC", "-o", "libghost.so", "g.c"],
                 {shell = "printf 'int g(void);\\nint main(void) { return g(); }\\n' > m.c"},
                 ["cc", "-o", "prog", "m.c", "-L.", "-lghost"]]
        install = [["sh", "-c", "mkdir -p {{ stage }}/bin && cp prog {{ stage }}/bin/"]]
        """)
    sb = Srcbuild(tmp_path / "p", tmp_path / "cache")
    failed = sb("ghost", "--recipes", str(r), "--quiet", check=1)
    assert "libghost.so: not found by the loader" in failed.stderr, failed.stderr
    cp = sb("log", "ghost")
    assert "(not installed in " in cp.stderr
    assert ("; it failed in its audit step, which writes no log (the run printed why); its "
            "last log is install)") in cp.stderr, cp.stderr
    assert "  logs: " in cp.stderr and ": build, install (shown)" in cp.stderr


def test_clean_prunes_no_run_while_a_prefix_record_is_damaged(tmp_path):
    """Which runs a damaged record points at is unknown: clean keeps every run and says why,
    and prunes as usual once the record is repaired (here: the package uninstalled)."""
    r = recipes(tmp_path)
    sb = Srcbuild(tmp_path / "one", tmp_path / "cache")
    sb("echoer", "--recipes", str(r), "--quiet")
    sb("echoer", "--recipes", str(r), "--quiet")  # a no-op run: prunable at once
    old_run(sb.cache, "20200101-000000-99999", tmp_path / "gone")
    damaged = tmp_path / "one" / ".srcbuild" / "packages" / "broken.json"
    damaged.write_text("{not json")
    out = sb("clean", "--keep-days", "0").stdout
    assert "Removed run" not in out and "Nothing to remove" in out, out
    assert "Kept 3 run(s): 3 kept while a prefix's records cannot be read: " in out, out
    assert str(damaged) in out
    assert (sb.cache / "runs" / "20200101-000000-99999.jsonl").exists()
    damaged.unlink()
    again = sb("clean", "--keep-days", "0").stdout
    assert again.count("Removed run ") == 2, again  # the old run and the no-op run
