"""bin/srcbuild, the README's first command: a private venv on first use, else the
distribution's packages, else one error that names the package to install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_distribution_python import DEBIAN_PYTHON, debian_env, distribution_only_python

ROOT = Path(__file__).resolve().parent.parent
BOOTSTRAP = str(ROOT / "bin" / "srcbuild")


def bootstrap(python: str, venv: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, BOOTSTRAP, "list"], check=False, cwd=cwd,
                          capture_output=True, text=True,
                          env=debian_env(SRCBUILD_VENV=str(venv)), timeout=600)


def lists_qemu(out: str) -> bool:
    return any(line.split()[:1] == ["qemu"] for line in out.splitlines())


@pytest.mark.network  # pip fetches jinja2 and rich from the package index
def test_first_run_makes_a_private_venv_and_later_runs_start_at_once(tmp_path):
    venv = tmp_path / "venv"
    first = bootstrap(sys.executable, venv, tmp_path)
    if first.returncode != 0 and "pip could not install" in first.stderr:
        pytest.skip("pip cannot reach the package index: " + first.stderr.strip()[-200:])
    assert first.returncode == 0, first.stderr
    assert "installing this checkout" in first.stderr
    assert f"{ROOT / 'recipes'} (built-in):" in first.stdout and lists_qemu(first.stdout)
    assert (venv / "bin" / "srcbuild").exists()  # an editable install, entry point included

    again = bootstrap(sys.executable, venv, tmp_path)
    assert again.returncode == 0 and again.stderr == "", again.stderr
    assert again.stdout == first.stdout


def test_without_a_venv_it_runs_on_the_distribution_packages(tmp_path):
    reason = distribution_only_python()
    if reason:
        pytest.skip(reason)
    # a venv path under a regular file cannot be made, as on a python3 without python3-venv
    (tmp_path / "file").write_text("")
    cp = bootstrap(DEBIAN_PYTHON, tmp_path / "file" / "venv", tmp_path)
    assert cp.returncode == 0, cp.stderr
    assert lists_qemu(cp.stdout)


def test_without_a_venv_or_the_packages_the_error_names_python3_venv(tmp_path):
    bare = tmp_path / "bare"  # an interpreter with neither jinja2 nor rich
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    (tmp_path / "file").write_text("")
    cp = bootstrap(str(bare / "bin" / "python"), tmp_path / "file" / "venv", tmp_path)
    assert cp.returncode == 2 and cp.stdout == ""
    assert cp.stderr.startswith("srcbuild: error: ") and cp.stderr.count("\n") == 1
    assert "apt-get install python3-venv" in cp.stderr
    assert "Traceback" not in cp.stderr
    assert not os.path.exists(tmp_path / "file" / "venv")
