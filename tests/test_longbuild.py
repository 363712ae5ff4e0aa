"""The flagship labs built for real: QEMU, the cross toolchain, the arm64 kernel (tens of
minutes on 2 cores). Opt in with ``pytest -m longbuild``.

SRCBUILD_LONGBUILD_PREFIX picks the prefix (default: a temp folder, so everything builds);
pointing it at a prefix that already holds the labs checks them and their no-op rerun.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import Srcbuild

pytestmark = pytest.mark.longbuild


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("SRCBUILD_LONGBUILD_PREFIX")
    return Path(given) if given else tmp_path_factory.mktemp("labs") / "prefix"


@pytest.mark.parametrize("lab", ["lab-x86", "lab-arm64", "lab-arm64-kvm"])
def test_lab_builds_checks_and_reruns_as_a_no_op(prefix, lab):
    # the default cache (the checkout's cache/) and -j: what a user's run would use
    srcbuild = Srcbuild(prefix, cache=None, jobs=None)
    first = srcbuild(lab, "--quiet", check=None, timeout=7200)
    assert first.returncode == 0, first.stderr[-3000:]
    again = srcbuild(lab, check=None, timeout=7200)
    assert again.returncode == 0 and "Nothing to do" in again.stderr, again.stderr[-2000:]
    guest = prefix / "share" / "srcbuild" / "arm64"
    if lab == "lab-x86":
        assert (prefix / "bin" / "qemu-system-x86_64").exists()
        out = subprocess.run([prefix / "bin" / "kvm-sample-x86"], check=False, capture_output=True,
                             text=True)
        assert out.returncode == 77 or "Hello from the KVM guest" in out.stdout
    elif lab == "lab-arm64":
        assert (prefix / "share" / "linux-headers" / "arm64" / "include" / "asm" /
                "kvm.h").exists()
        assert (guest / "hello-guest.elf").exists()
    else:
        assert (guest / "Image").exists() and (guest / "initramfs.cpio.gz").exists()
        boot = subprocess.run(
            [prefix / "bin" / "qemu-system-aarch64", "-M", "virt,virtualization=on", "-cpu",
             "max", "-m", "512", "-nographic", "-nic", "none", "-monitor", "none",
             "-no-reboot", "-kernel", guest / "Image", "-initrd", guest / "initramfs.cpio.gz",
             "-append", "console=ttyAMA0 rdinit=/init panic=-1 srcbuild.mode=check"], check=False,
            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert "Hello from the arm64 KVM guest" in boot.stdout, boot.stdout[-3000:]
