"""The DPDK lab built for real (about 10 minutes on 2 free cores): DPDK from an empty prefix,
our consumer, testpmd counting frames on a veth pair. Opt in with ``pytest -m longbuild``.

SRCBUILD_LONGBUILD_PREFIX picks the prefix (default: a temp folder, so everything builds);
SRCBUILD_CACHE the source cache and logs (default: a temp folder).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import tree

from srcbuild.runs import package_logs

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.longbuild


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    given = os.environ.get("SRCBUILD_LONGBUILD_PREFIX")
    prefix = Path(given) if given else tmp_path_factory.mktemp("dpdk") / "prefix"
    cache = Path(os.environ.get("SRCBUILD_CACHE") or tmp_path_factory.mktemp("dpdk-cache"))
    return prefix, cache


def srcbuild(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "srcbuild", *args, "--cache-dir", str(cache)],
                          cwd=ROOT, text=True, capture_output=True, timeout=7200, check=False)


def test_lab_dpdk_builds_and_testpmd_counts_the_frames(dirs):
    prefix, cache = dirs
    first = srcbuild("lab-dpdk", "--prefix", str(prefix), "-j2", "--quiet", cache=cache)
    assert first.returncode == 0, first.stderr[-3000:]
    logs = package_logs(prefix, "lab-dpdk")  # the logs of the build that installed it
    assert logs is not None
    check = (logs / "check.log").read_text()
    assert "PASS: EAL, mbuf pool, rings and a worker lcore work" in check
    m = re.search(r"^RX count: (\d+) \(testpmd on dpdk-lab0 in namespace dpdk-lab-\d+, "
                  r"64 frames sent into dpdk-lab1\)$", check, re.MULTILINE)
    if m is None:  # no namespaces here: testpmd ran on the null PMD and said SKIP
        assert re.search(r"^SKIP: packet check: .+\n", check, re.MULTILINE), check[-3000:]
        assert re.search(r"^testpmd on net_null0: RX count [1-9]", check, re.MULTILINE)
    else:
        assert int(m[1]) > 0
    # hermetic: the programs link only the C runtime and the prefix's DPDK
    for exe in (prefix / "bin" / "dpdk-testpmd", prefix / "bin" / "dpdk-sample"):
        ldd = subprocess.run(["ldd", str(exe)], capture_output=True, text=True,
                             check=True).stdout
        for line in ldd.splitlines():
            lib = line.split()[0]
            assert (lib.startswith(("linux-vdso", "/lib64/ld-linux", "libc.so", "libm.so"))
                    or f"{prefix}/lib/" in line), line
    again = srcbuild("lab-dpdk", "--prefix", str(prefix), cache=cache)
    assert again.returncode == 0 and "Nothing to do" in again.stderr, again.stderr[-2000:]


def test_an_unknown_driver_fails_at_configure_and_leaves_the_prefix_alone(dirs):
    prefix, cache = dirs
    before = tree(prefix)
    cp = srcbuild("dpdk", "--prefix", str(prefix), "-o", "dpdk.drivers=net/nosuch", cache=cache)
    assert cp.returncode == 1
    assert 'enable_drivers: "net/nosuch" matches no driver folder under drivers/' in cp.stderr
    assert "the configure step" in cp.stderr and "was left as it was" in cp.stderr
    assert tree(prefix) == before
