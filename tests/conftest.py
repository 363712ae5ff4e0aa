from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# meson and the srcbuild command come from the environment pytest runs in (a venv in CI)
os.environ["PATH"] = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
sys.path.insert(0, str(Path(__file__).resolve().parent))


class Srcbuild:
    """Runs the real command line against a temp prefix and cache."""

    def __init__(self, tmp: Path) -> None:
        self.prefix = tmp / "prefix"
        self.cache = tmp / "cache"

    def __call__(self, *args: str, check: int | None = 0, env: dict[str, str] | None = None,
                 prefix: Path | None = None) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "srcbuild", *args]
        cmd = args[0] if args else ""
        if cmd not in ("list", "info", "env", "uninstall", "run"):
            argv += ["--cache-dir", str(self.cache)] + ([] if "-j" in args else ["-j", "2"])
        if cmd not in ("list", "info"):
            argv += ["--prefix", str(prefix or self.prefix)]
        cp = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, **(env or {})}, timeout=900)
        if check is not None and cp.returncode != check:
            raise AssertionError(f"srcbuild {' '.join(args)} exited {cp.returncode}, wanted "
                                 f"{check}\nstdout:\n{cp.stdout}\nstderr:\n{cp.stderr}")
        return cp

    def plan(self, *args: str) -> dict:
        return json.loads(self("plan", *args, "--json", check=None).stdout)


@pytest.fixture
def sb(tmp_path: Path) -> Srcbuild:
    return Srcbuild(tmp_path)


def tree(prefix: Path) -> dict[str, bytes]:
    """Every file under a prefix except srcbuild's own state, with contents."""
    out = {}
    if prefix.exists():
        for p in sorted(prefix.rglob("*")):
            rel = p.relative_to(prefix).as_posix()
            if rel.startswith(".srcbuild"):
                continue
            out[rel] = os.readlink(p).encode() if p.is_symlink() else (
                p.read_bytes() if p.is_file() else b"<dir>")
    return out
