"""The test phase (--test): a package's own suite between build and install, through the CLI
on generated packages."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import tree
from pkgfactory import (
    autotools_lib,
    cmake_tested,
    delta_recipe,
    make_prog,
    recipe,
    run_log,
    with_check_target,
)


def steps(sb) -> list[tuple[str, str]]:
    """(recipe, phase) of every step_start of the last run, in order."""
    out = []
    for line in (sb.cache / "runs" / "last").read_text().splitlines():
        e = json.loads(line)
        if e["event"] == "step_start":
            out.append((e["recipe"], e["step"]))
    return out


def alpha_recipes(root: Path, passes: bool = True, extra: str = "") -> Path:
    """alpha (autotools, with a `make check` suite) and delta (make, no `test` target) on it."""
    src = with_check_target(autotools_lib(root / "pkgs"), passes=passes)
    d = make_prog(root / "pkgs")
    recipes = root / "r"
    recipe(recipes, "alpha", f"""
        version = "1.2.0"
        provides = ["pkgconfig:alpha", "library:libalpha.so"]
        [[source]]
        path = "{src}"
        [build]
        system = "autotools"
        {extra}
        """)
    delta_recipe(recipes, d)
    return recipes


def test_make_check_runs_between_build_and_install_only_with_test(sb, tmp_path):
    recipes = alpha_recipes(tmp_path)
    sb("alpha", "--recipes", str(recipes))
    assert ("alpha", "test") not in steps(sb)  # without --test no suite runs
    hash_before = sb.plan("alpha", "--recipes", str(recipes))["steps"][0]["build_hash"]
    # --test does not change the build hash: the installed files are the same
    assert "Nothing to do" in sb("alpha", "--recipes", str(recipes), "--test").stderr
    sb("uninstall", "alpha")
    cp = sb("alpha", "--recipes", str(recipes), "--test")
    phases = [p for r, p in steps(sb) if r == "alpha"]
    # alpha has no check of its own: no check step
    assert phases == ["fetch", "configure", "build", "test", "install", "audit", "merge"], phases
    log = run_log(sb.cache, "alpha", "test")
    assert "make check" in log and "suite: all passed" in log
    assert sb.plan("alpha", "--recipes", str(recipes))["steps"][0]["build_hash"] == hash_before
    assert "failed" not in cp.stderr


def test_failing_suite_fails_the_package_shows_its_tail_and_merges_nothing(sb, tmp_path):
    recipes = alpha_recipes(tmp_path, passes=False)
    sb.prefix.mkdir()
    (sb.prefix / "keep.txt").write_text("mine")
    before = tree(sb.prefix)
    cp = sb("delta", "--recipes", str(recipes), "--test", check=1)
    assert "the test step `make check` failed" in cp.stderr
    assert "suite: FAIL: test_value expected 42" in cp.stderr  # the suite's output tail
    assert "leave out --test" in cp.stderr
    assert tree(sb.prefix) == before
    assert not (sb.prefix / ".srcbuild" / "packages" / "alpha.json").exists()
    # the same package installs without --test
    sb("delta", "--recipes", str(recipes))


def test_test_root_runs_only_the_named_packages_suite(sb, tmp_path):
    recipes = alpha_recipes(tmp_path, passes=False)  # alpha's suite would fail
    sb("delta", "--recipes", str(recipes), "--test=root")
    ran = steps(sb)
    assert ("alpha", "test") not in ran
    # delta's Makefile has no test target: said, not run
    assert ("delta", "test") not in ran
    out = sb.cache / "runs" / "last"
    assert "delta: SKIP: no test suite to run (its Makefile has no `test` target" in \
        out.read_text()
    # `--test root` (two words) is the same as --test=root, not a recipe named root
    sb("uninstall", "delta")
    sb("delta", "--recipes", str(recipes), "--test", "root")


def test_recipe_overrides_or_disables_the_suite(sb, tmp_path):
    recipes = alpha_recipes(tmp_path, passes=False,
                            extra='test = [["sh", "-c", "echo own suite for {{ name }}"]]')
    sb("alpha", "--recipes", str(recipes), "--test")
    log = run_log(sb.cache, "alpha", "test")
    assert "own suite for alpha" in log and "make check" not in log
    recipes = alpha_recipes(tmp_path / "2", passes=False, extra="test = []")
    sb("alpha", "--recipes", str(recipes), "--test", prefix=tmp_path / "p2")
    assert ("alpha", "test") not in steps(sb)


def test_ctest_output_on_failure(sb, tmp_path):
    recipes = tmp_path / "r"
    for name, passes in (("good", True), ("bad", False)):
        src = cmake_tested(tmp_path / "pkgs", name, passes=passes)
        recipe(recipes, name, f"""
            version = "1.0"
            provides = ["program:{name}"]
            [[source]]
            path = "{src}"
            [build]
            system = "cmake"
            """)
    sb("good", "--recipes", str(recipes), "--test")
    assert "100% tests passed" in run_log(sb.cache, "good", "test")
    cp = sb("bad", "--recipes", str(recipes), "--test", check=1)
    assert "the test step `ctest --output-on-failure" in cp.stderr
    assert "bad self-test: wrong answer 41" in cp.stderr  # --output-on-failure shows it
    assert not (sb.prefix / "bin" / "bad").exists()
