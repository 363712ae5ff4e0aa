"""Which accelerator the x86 labs boot their guest under, from what the host's files say
(a /dev/kvm, /sys/module, /proc/cpuinfo written into a temp folder), and the lines they
print. The boots themselves are in test_longbuild (they need the built prefix)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from srcbuild import x86boot

INTEL = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr vmx sse2 hypervisor\n"
AMD = "processor\t: 0\nflags\t\t: fpu vme svm sse2\n"
NESTED_SOFTWARE = "processor\t: 0\nflags\t\t: fpu vme sse2 hypervisor\n"


@pytest.fixture
def host(tmp_path: Path) -> dict[str, Path]:
    dev = tmp_path / "kvm"
    dev.write_text("")
    (tmp_path / "module" / "kvm").mkdir(parents=True)
    return {"dev": dev, "sysmodule": tmp_path / "module", "cpuinfo": tmp_path / "cpuinfo"}


@pytest.mark.parametrize("cpuinfo", [INTEL, AMD])
def test_vmx_or_svm_is_hardware_kvm(host, cpuinfo):
    host["cpuinfo"].write_text(cpuinfo)
    assert x86boot.host_kvm(**host) == x86boot.HostKvm("hardware", "")


def test_kvm_pvm_is_named_even_with_vmx(host):
    host["cpuinfo"].write_text(INTEL)
    (host["sysmodule"] / "kvm_pvm").mkdir()
    found = x86boot.host_kvm(**host)
    assert found.kind == "pvm"
    assert x86boot.skip_line("the x86_64 guest", found.reason) == (
        "SKIP: KVM boot of the x86_64 guest: this host's KVM is kvm-pvm (software nested "
        "virtualization), which cannot run an unmodified 64-bit Linux guest; booted under TCG "
        "instead")


def test_kvm_without_vmx_or_svm_is_software(host):
    host["cpuinfo"].write_text(NESTED_SOFTWARE)
    found = x86boot.host_kvm(**host)
    assert found.kind == "software" and "no vmx or svm" in found.reason


def test_no_usable_dev_kvm(host):
    host["cpuinfo"].write_text(INTEL)
    host["dev"].unlink()
    found = x86boot.host_kvm(**host)
    assert found.kind == "none" and str(host["dev"]) in found.reason


@pytest.mark.parametrize("kind", ["pvm", "none"])
def test_tcg_is_chosen_without_booting_where_kvm_cannot_run_the_guest(tmp_path, kind):
    # an empty prefix: a boot would fail at once, so this proves no boot is tried
    accel, skip = x86boot.choose_accel(tmp_path, "lab-net's two x86_64 guests", tmp_path,
                                       x86boot.HostKvm(kind, "REASON"))
    assert accel == "tcg"
    assert skip == "SKIP: KVM boot of lab-net's two x86_64 guests: REASON; booted under TCG instead"
    assert x86boot.choose_accel(tmp_path, "x", tmp_path, x86boot.HostKvm("hardware", "")) == (
        "kvm", "")


def test_check_names_missing_files(tmp_path):
    cp = subprocess.run([sys.executable, "-m", "srcbuild.x86boot", "check", "--prefix",
                         str(tmp_path)], capture_output=True, text=True, cwd=tmp_path,
                        check=False)
    assert cp.returncode == 1
    assert "FAIL: lab-x86: missing" in cp.stderr and "bzImage" in cp.stderr


def test_a_boot_without_the_kvm_line_under_kvm_is_a_problem():
    banner = "SeaBIOS (version 1.16.2-srcbuild)\n"
    init = x86boot.init_line("t") + " on Linux 6.1\n"
    tcg = x86boot.Boot("tcg", "", banner, "Linux version 6.1\n" + init, 1.0, 2.0)
    assert x86boot.problems(tcg, "t") == []
    kvm = x86boot.Boot("kvm", "", banner, "Linux version 6.1\n" + init, 1.0, 2.0)
    assert x86boot.problems(kvm, "t") == ["the guest kernel did not print 'Hypervisor detected: KVM'"]
    hung = x86boot.Boot("kvm", "", banner, "", None, None)
    assert len(x86boot.problems(hung, "t")) == 2
