"""srcbuild from a checkout with Debian's own python3 and only the distribution's packages.

No pip, no venv: /usr/bin/python3 -s (user site-packages ignored) with PYTHONPATH at the
checkout and python3-jinja2, python3-rich and python3-pyelftools from apt, the oldest versions
pyproject.toml admits (Debian 12: 3.1.2, 13.3.1, 0.29).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from srcbuild.__main__ import MIN_PYTHON

ROOT = Path(__file__).resolve().parent.parent
DEBIAN_PYTHON = "/usr/bin/python3"
DIST_PACKAGES = "/usr/lib/python3/dist-packages/"
MODULES = {"jinja2": "python3-jinja2", "rich": "python3-rich", "elftools": "python3-pyelftools"}
PROBE = """
import importlib, importlib.metadata, json, sys
out = {"python": "%d.%d.%d" % sys.version_info[:3]}
for name, dist in (("jinja2", "jinja2"), ("rich", "rich"), ("elftools", "pyelftools")):
    try:
        out[name] = [importlib.import_module(name).__file__, importlib.metadata.version(dist)]
    except Exception as e:
        out[name] = [None, repr(e)]
print(json.dumps(out))
"""


def debian_env(**extra: str) -> dict[str, str]:
    """The environment with no trace of the venv the tests run in."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH", "SRCBUILD_RECIPES",
                        "SRCBUILD_CACHE", "SRCBUILD_PREFIX")}
    return {**env, **extra}


def distribution_only_python() -> str:
    """Why Debian's python3 with only the distribution's packages cannot be tried here, or ""."""
    if not os.access(DEBIAN_PYTHON, os.X_OK):
        return f"no {DEBIAN_PYTHON} here"
    cp = subprocess.run([DEBIAN_PYTHON, "-s", "-c", PROBE], check=False, capture_output=True,
                        text=True, env=debian_env(), cwd="/")
    if cp.returncode != 0:
        return f"{DEBIAN_PYTHON} failed: {cp.stderr.strip()[-200:]}"
    found = json.loads(cp.stdout)
    if tuple(int(n) for n in found["python"].split(".")[:2]) < MIN_PYTHON:
        return f"{DEBIAN_PYTHON} is {found['python']}, older than srcbuild supports"
    install = "apt-get install " + " ".join(MODULES.values()) + " (.ci/run does)"
    for module, package in MODULES.items():
        path, version = found[module]
        if path is None:
            return f"{DEBIAN_PYTHON} cannot import {module} ({version}): {install}"
        if not path.startswith(DIST_PACKAGES):
            return (f"{DEBIAN_PYTHON} imports {module} from {path}, not from {package}: "
                    "the test wants the distribution's packages only")
    return ""


@pytest.fixture
def debian_python():
    reason = distribution_only_python()
    if reason:
        pytest.skip(reason)


def test_debian_python_with_distribution_packages_plans_lab_x86(debian_python, tmp_path):
    argv = [DEBIAN_PYTHON, "-s", "-m", "srcbuild", "plan", "lab-x86", "--prefix",
            str(tmp_path / "prefix")]
    env = debian_env(PYTHONPATH=str(ROOT))
    cp = subprocess.run(argv, check=False, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert cp.returncode in (0, 3), cp.stderr  # 3: something this machine cannot satisfy
    assert "Traceback" not in cp.stderr
    plan = json.loads(subprocess.run([*argv, "--json"], check=False, cwd=tmp_path, env=env,
                                     capture_output=True, text=True).stdout)
    assert {"qemu", "glib", "kvm-sample-x86", "lab-x86"} <= {s["recipe"] for s in plan["steps"]}

    listed = subprocess.run([DEBIAN_PYTHON, "-s", "-m", "srcbuild", "list"], check=False,
                            cwd=tmp_path, env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert f"{ROOT / 'recipes'} (built-in):" in listed.stdout
    assert any(line.split()[:1] == ["qemu"] for line in listed.stdout.splitlines())


def test_debian_python_without_shtab_or_argparse_manpage_says_what_to_install(debian_python,
                                                                              tmp_path):
    """Debian 12 packages neither at the versions pyproject.toml asks: the two commands that
    import them say so, with the cure; no traceback."""
    env = debian_env(PYTHONPATH=str(ROOT))
    missing = [(command, requirement) for command, module, requirement in (
        (["completion", "bash"], "shtab", "shtab>=1.13"),
        (["manpage"], "argparse_manpage", "argparse-manpage>=4"))
        if subprocess.run([DEBIAN_PYTHON, "-s", "-c", f"import {module}"], check=False,
                          env=env, capture_output=True, cwd=tmp_path).returncode != 0]
    if not missing:
        pytest.skip(f"{DEBIAN_PYTHON} has shtab and argparse-manpage here")
    for command, requirement in missing:
        cp = subprocess.run([DEBIAN_PYTHON, "-s", "-m", "srcbuild", *command], check=False,
                            cwd=tmp_path, env=env, capture_output=True, text=True)
        assert cp.returncode == 2 and "Traceback" not in cp.stderr, cp.stderr
        assert f"`srcbuild {command[0]}` needs the Python package " in cp.stderr
        assert f"or install {requirement} where {DEBIAN_PYTHON} finds it." in cp.stderr
