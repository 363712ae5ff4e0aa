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
    """Runs the real command line against a prefix and a cache (temp folders by default).

    Every subcommand gets --prefix, --cache-dir and -j 2 when it takes them (the CLI's own
    table says which); ``srcbuild NAME`` is install. The only way the tests run srcbuild.
    """

    def __init__(self, prefix: Path, cache: Path | None, jobs: int | None = 2) -> None:
        self.prefix = prefix
        self.cache = cache
        self.jobs = jobs

    def argv(self, *args: str, prefix: Path | None = None) -> list[str]:
        from srcbuild.cli import SUBCOMMANDS, option_strings

        command = args[0] if args and args[0] in SUBCOMMANDS else "install"
        takes = option_strings(command)
        argv = [sys.executable, "-m", "srcbuild", *args]
        if "--cache-dir" in takes and self.cache is not None:
            argv += ["--cache-dir", str(self.cache)]
        if "-j" in takes and "-j" not in args and self.jobs is not None:
            argv += ["-j", str(self.jobs)]
        if "--prefix" in takes:
            argv += ["--prefix", str(prefix or self.prefix)]
        return argv

    def __call__(self, *args: str, check: int | None = 0, env: dict[str, str] | None = None,
                 prefix: Path | None = None, timeout: float = 900
                 ) -> subprocess.CompletedProcess[str]:
        cp = subprocess.run(self.argv(*args, prefix=prefix), capture_output=True, text=True,
                            cwd=ROOT, env={**os.environ, **(env or {})}, timeout=timeout,
                            check=False)
        if check is not None and cp.returncode != check:
            raise AssertionError(f"srcbuild {' '.join(args)} exited {cp.returncode}, wanted "
                                 f"{check}\nstdout:\n{cp.stdout}\nstderr:\n{cp.stderr}")
        return cp

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """A run that the test waits on or interrupts itself; its stderr is a pipe."""
        return subprocess.Popen(self.argv(*args), cwd=ROOT, stderr=subprocess.PIPE, text=True)

    def plan(self, *args: str) -> dict:
        return json.loads(self("plan", *args, "--json", check=None).stdout)


@pytest.fixture
def sb(tmp_path: Path) -> Srcbuild:
    return Srcbuild(tmp_path / "prefix", tmp_path / "cache")


def tarball(path: Path, members: dict[str, bytes] | None = None, links: dict[str, str] | None
            = None, tree: Path | None = None) -> str:
    """A .tar.gz of ``tree`` (under its own name), or of the given members and symbolic
    links; its sha256."""
    import hashlib
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tf:
        if tree is not None:
            tf.add(tree, arcname=tree.name)
        for name, data in (members or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
