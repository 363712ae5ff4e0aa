"""The flagship labs built for real: QEMU, SeaBIOS, the cross toolchain, the arm64 and
x86_64 kernels (tens of minutes on 2 cores). Opt in with ``pytest -m longbuild``.

SRCBUILD_LONGBUILD_PREFIX picks the prefix (default: a temp folder, so everything builds);
pointing it at a prefix that already holds the labs checks them and their no-op rerun.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Srcbuild

from srcbuild import x86boot

pytestmark = pytest.mark.longbuild


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("SRCBUILD_LONGBUILD_PREFIX")
    return Path(given) if given else tmp_path_factory.mktemp("labs") / "prefix"


@pytest.mark.parametrize("lab", ["lab-x86", "lab-net", "lab-arm64", "lab-arm64-kvm"])
def test_lab_builds_checks_and_reruns_as_a_no_op(prefix, lab, tmp_path):
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
        x86_64_guest_boots_on_the_prefix_firmware(prefix, tmp_path)
    elif lab == "lab-net":
        lab_net_check_passes_or_skips(prefix, tmp_path)
    elif lab == "lab-arm64":
        assert (prefix / "share" / "linux-headers" / "arm64" / "include" / "asm" /
                "kvm.h").exists()
        assert (guest / "hello-guest.elf").exists()
    else:
        assert (guest / "Image").exists() and (guest / "initramfs.cpio.gz").exists()
        console = boot_arm64_guest(prefix)
        assert "Hello from the arm64 KVM guest" in console, console[-3000:]


def _comment(readelf: Path, binary: Path) -> str:
    return subprocess.run([readelf, "-p", ".comment", binary], capture_output=True,
                          text=True, check=True).stdout


def test_lab_arm64_kvm_with_the_toolchain_built_from_source(tmp_path_factory):
    """An empty prefix, no aarch64 compiler needed from the system: binutils, GCC and musl
    are built first (recipe cross-toolchain), then the kernel, a static BusyBox and the
    KVM sample with them; the lab's check boots it to the innermost guest's message."""
    given = os.environ.get("SRCBUILD_LONGBUILD_TOOLCHAIN_PREFIX")
    prefix = Path(given) if given else tmp_path_factory.mktemp("toolchain") / "prefix"
    target = "aarch64-linux-musl"
    srcbuild = Srcbuild(prefix, cache=None, jobs=None)
    first = srcbuild("lab-arm64-kvm", "--from-source", "cross-toolchain", "--quiet",
                     check=None, timeout=4 * 3600)
    assert first.returncode == 0, first.stderr[-3000:]
    again = srcbuild("lab-arm64-kvm", "--from-source", "cross-toolchain", check=None)
    assert again.returncode == 0 and "Nothing to do" in again.stderr, again.stderr[-2000:]
    # the toolchain lives in PREFIX/cross/TARGET; PREFIX/bin has only TARGET-* links to it
    bindir = prefix / "bin"
    for host_name in ("gcc", "cc", "cpp", "as", "ld", "ar"):
        assert not (bindir / host_name).exists(), host_name
    gcc = bindir / f"{target}-gcc"
    assert gcc.is_symlink() and gcc.resolve().is_relative_to(prefix / "cross" / target)
    readelf = bindir / f"{target}-readelf"
    guest = prefix / "share" / "srcbuild" / "arm64"
    for binary in (guest / "busybox" / "bin" / "busybox", guest / "bin" / "kvm-sample-arm64"):
        headers = subprocess.run([readelf, "-lh", binary], capture_output=True, text=True,
                                 check=True).stdout
        assert "AArch64" in headers and "INTERP" not in headers, binary
        # our GCC says "(GNU) 12.2.0"; Debian's cross gcc says "(Debian 12.2.0-14) 12.2.0"
        assert "GCC: (GNU) 12.2.0" in _comment(readelf, binary), binary
    # the guest's /init is a script of that BusyBox (#!/bin/busybox sh; echo, uname, grep,
    # mount are its applets): its lines on the console are BusyBox running in the guest,
    # then the KVM sample (ours too) runs its own guest inside it
    console = boot_arm64_guest(prefix)
    assert re.search(r"^srcbuild lab: Linux \S+ aarch64; \d+ cpu\(s\)\r?$", console,
                     re.MULTILINE), console[-3000:]
    assert "Hello from the arm64 KVM guest" in console, console[-3000:]
    assert "--- kvm-sample-arm64 exit status 0 ---" in console, console[-3000:]


def boot_arm64_guest(prefix: Path) -> str:
    """The lab's arm64 host (kernel + initramfs of the prefix) on the prefix's QEMU, in
    check mode (/init powers off after the sample); its console."""
    guest = prefix / "share" / "srcbuild" / "arm64"
    boot = subprocess.run(
        [prefix / "bin" / "qemu-system-aarch64", "-M", "virt,virtualization=on", "-cpu",
         "max", "-m", "512", "-nographic", "-nic", "none", "-monitor", "none",
         "-no-reboot", "-kernel", guest / "Image", "-initrd", guest / "initramfs.cpio.gz",
         "-append", "console=ttyAMA0 rdinit=/init panic=-1 srcbuild.mode=check"], check=False,
        capture_output=True, text=True, errors="replace", timeout=300, stdin=subprocess.DEVNULL)
    return boot.stdout


def x86_64_guest_boots_on_the_prefix_firmware(prefix: Path, workdir: Path) -> None:
    """The x86_64 kernel and initramfs on SeaBIOS and option ROMs of the prefix only (the
    firmware path has nothing outside it), under KVM where this host's KVM can run it."""
    x86 = prefix / "share" / "srcbuild" / "x86_64"
    qemu = prefix / "bin" / "qemu-system-x86_64"
    for f in (prefix / "share" / "qemu-firmware" / "bios-256k.bin",
              prefix / "share" / "qemu-firmware" / "vgabios-stdvga.bin",
              prefix / "share" / "qemu" / "linuxboot_dma.bin", x86 / "bzImage",
              x86 / "initramfs.cpio.gz", x86 / "busybox" / "bin" / "busybox"):
        assert f.is_file(), f
    assert not list((prefix / "bin").glob("busybox*")) and not (prefix / "bin" / "bzImage").exists()
    # QEMU prints them relative to its binary (PREFIX/bin/../share/...)
    dirs = [Path(d).resolve() for d in subprocess.run(
        [qemu, "-L", "help"], capture_output=True, text=True, check=True).stdout.split()]
    assert dirs == [(prefix / "share" / "qemu-firmware").resolve(),
                    (prefix / "share" / "qemu").resolve()]
    # lab-x86's own boot check, run again: KVM on a hardware-KVM host, else TCG after a SKIP
    host = x86boot.host_kvm()
    cp = subprocess.run([sys.executable, "-m", "srcbuild.x86boot", "check", "--prefix",
                         str(prefix), "--name", "test"], capture_output=True, text=True,
                        timeout=900, check=False, cwd=workdir)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "srcbuild x86_64 guest test: init running" in cp.stdout
    if host.kind == "hardware":
        assert "under KVM (Hypervisor detected: KVM)" in cp.stdout, cp.stdout
        assert "SKIP" not in cp.stdout
    elif host.kind in ("pvm", "none"):
        assert cp.stdout.startswith(x86boot.skip_line("the x86_64 guest", host.reason))
        assert "under TCG" in cp.stdout


def lab_net_check_passes_or_skips(prefix: Path, workdir: Path) -> None:
    """The lab's own check, run again against the installed prefix."""
    cp = subprocess.run([sys.executable, "-m", "srcbuild.netlab", "check", "--prefix",
                         str(prefix)], capture_output=True, text=True, timeout=600,
                        check=False, cwd=workdir)  # the guests' consoles go there
    assert cp.returncode == 0, cp.stdout + cp.stderr
    if cp.stdout.startswith("SKIP: lab-net:"):  # no rights to build the network
        pytest.skip(cp.stdout.strip())
    assert cp.stdout.count(" 0% packet loss") == 2, cp.stdout
    passed = re.search(r"^PASS: lab-net: guest a pinged 10\.99\.0\.2 and 10\.99\.0\.3 \(b's eth0 "
                       r"and b's macvlan mv0\) with 0% packet loss, both guests under (KVM|TCG)$",
                       cp.stdout, re.MULTILINE)
    assert passed, cp.stdout
    kind = x86boot.host_kvm().kind
    if kind != "software":  # there a bounded KVM boot decides
        assert passed[1] == ("KVM" if kind == "hardware" else "TCG"), cp.stdout
    assert cp.stdout.count("SKIP: KVM boot") == (passed[1] == "TCG"), cp.stdout
