"""The labs' x86_64 guest: which accelerator this host can boot it under, one bounded boot
that reports what its consoles showed, and lab-x86's boot check built on the two.

KVM where the host's KVM is hardware virtualization (the CPU has vmx or svm), and there the
check requires the kernel's ``Hypervisor detected: KVM``. Where it is not, the guest boots
under TCG and one SKIP line says why the KVM boot was not made:

- no usable /dev/kvm;
- kvm-pvm (``/sys/module/kvm_pvm``), a software nested-virtualization module: it runs
  real-mode code by emulation (SeaBIOS, kvm-sample-x86) but not an unmodified 64-bit Linux
  guest, which needs PVM guest support upstream Linux does not have;
- any other KVM without vmx/svm behind it, when a KVM boot shows no kernel line within
  KVM_KERNEL_BOUND seconds while a TCG boot reaches the init line.

On a host with vmx or svm a KVM boot that hangs is a failure, not a SKIP: there the host can
run the guest, so a hang is a fault of the guest, the firmware or QEMU that a SKIP would hide.

    python -m srcbuild.x86boot check --prefix DIR     lab-x86's boot check
    python -m srcbuild.x86boot run --prefix DIR       a shell in the guest (Ctrl-a x leaves)
    python -m srcbuild.x86boot host                   what this host's KVM is
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

# QEMU's default model, under KVM and TCG alike. It exists in every QEMU on every x86 host
# and asks for nothing a host may lack: `-cpu host` aborts on this machine kind (the
# nested KVM refuses MSR 0x10a, IA32_ARCH_CAPABILITIES, which `host` passes through), and
# named models warn of missing features on hosts of the other vendor or under nested KVM
# (EPYC-Rome: 35 warnings here; qemu64: only SSE3). The guest kernel needs no more than
# x86-64 baseline, and it detects KVM from QEMU's hypervisor CPUID leaf whatever the model.
CPU = "qemu64"
MEMORY = "128"
KVM_KERNEL_BOUND = 60.0  # a KVM boot shows the kernel's first line within seconds
BOOT_TIMEOUT = 300.0  # to the init line; TCG takes ~6 s here, a loaded machine far more
KERNEL_LINE = "Linux version"
KVM_LINE = "Hypervisor detected: KVM"
BIOS_BANNER = "SeaBIOS (version"
PVM_REASON = ("this host's KVM is kvm-pvm (software nested virtualization), which cannot run "
              "an unmodified 64-bit Linux guest")
HostKind = Literal["hardware", "pvm", "software", "none"]
Accel = Literal["kvm", "tcg"]


@dataclass(frozen=True)
class HostKvm:
    """What this host's /dev/kvm is; ``reason`` says why a guest may not boot under it."""

    kind: HostKind
    reason: str


def host_kvm(dev: Path = Path("/dev/kvm"), sysmodule: Path = Path("/sys/module"),
             cpuinfo: Path = Path("/proc/cpuinfo")) -> HostKvm:
    """Hardware KVM (vmx or svm among the CPU flags), kvm-pvm, another KVM without them, or
    none usable. Read from the files only; nothing is booted."""
    if not os.access(dev, os.R_OK | os.W_OK):
        return HostKvm("none", f"no usable {dev} (read and write)")
    if (sysmodule / "kvm_pvm").is_dir():
        return HostKvm("pvm", PVM_REASON)
    flags: set[str] = set()
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("flags"):
                flags.update(line.partition(":")[2].split())
    except OSError:
        pass
    if flags & {"vmx", "svm"}:
        return HostKvm("hardware", "")
    return HostKvm("software", f"this host's KVM is not hardware virtualization (no vmx or svm "
                               f"flag in {cpuinfo})")


def skip_line(subject: str, reason: str) -> str:
    """The one line that says a KVM boot was not made and what ran instead."""
    return f"SKIP: KVM boot of {subject}: {reason}; booted under TCG instead"


@dataclass(frozen=True)
class Boot:
    """One boot: what QEMU, SeaBIOS (debug port) and the serial console printed, and when
    the kernel's first line and the init's line appeared (seconds after QEMU started)."""

    accel: Accel
    qemu: str
    bios: str
    console: str
    kernel_at: float | None
    init_at: float | None

    @property
    def kvm_detected(self) -> bool:
        return KVM_LINE in self.console

    @property
    def bios_banner(self) -> str:
        return next((line for line in self.bios.splitlines() if BIOS_BANNER in line), "")

    def shown(self) -> list[str]:
        """The lines worth printing: QEMU's own, the BIOS banner, the kernel's and init's."""
        lines = [line for line in self.qemu.splitlines() if line.strip()]
        if self.bios_banner:
            lines.append(self.bios_banner)
        lines += [line for line in self.console.splitlines()
                  if KERNEL_LINE in line or "Hypervisor detected" in line
                  or "srcbuild x86_64 guest" in line]
        return lines


def guest_files(prefix: Path) -> tuple[Path, Path, Path]:
    """qemu-system-x86_64, the kernel and the initramfs of the prefix."""
    lab = prefix / "share" / "srcbuild" / "x86_64"
    return (prefix / "bin" / "qemu-system-x86_64", lab / "bzImage", lab / "initramfs.cpio.gz")


def missing_files(prefix: Path) -> list[str]:
    return [str(p) for p in guest_files(prefix) if not p.exists()]


def init_line(name: str) -> str:
    """What the initramfs's /init prints once it runs (recipes/files/initramfs-x86_64/init)."""
    return f"srcbuild x86_64 guest {name}: init running"


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the process that started it dies, so a killed
    check leaves no QEMU behind (prctl PR_SET_PDEATHSIG; Linux only, like KVM)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1: PR_SET_PDEATHSIG


def boot(prefix: Path, accel: Accel, name: str, workdir: Path, timeout: float = BOOT_TIMEOUT,
         kernel_bound: float | None = None) -> Boot:
    """Boot the guest once in check mode (its /init prints its line and reboots, which ends
    QEMU: -no-reboot). Stops at QEMU's exit, at ``timeout``, or at ``kernel_bound`` when no
    kernel line has shown by then; QEMU is killed in every case but the first."""
    qemu, kernel, initrd = guest_files(prefix)
    logs = {k: workdir / f"{name}-{accel}-{k}.log" for k in ("console", "bios", "qemu")}
    for log in logs.values():
        log.unlink(missing_ok=True)
    argv = [str(qemu), "-accel", accel, "-cpu", CPU, "-m", MEMORY, "-display", "none",
            "-vga", "std",  # SeaBIOS's vgabios-stdvga.bin from the seabios recipe
            "-nic", "none", "-no-reboot", "-serial", f"file:{logs['console']}",
            "-debugcon", f"file:{logs['bios']}", "-global", "isa-debugcon.iobase=0x402",
            "-kernel", str(kernel), "-initrd", str(initrd), "-append",
            f"console=ttyS0 rdinit=/init panic=-1 srcbuild.mode=check srcbuild.name={name}"]
    kernel_at = init_at = None
    with open(logs["qemu"], "wb") as out:
        # preexec_fn is unsafe only with threads, and the processes that boot start none
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent)  # noqa: PLW1509
    t0 = time.monotonic()
    try:
        while True:
            done = proc.poll() is not None
            elapsed = time.monotonic() - t0
            console = _read(logs["console"])
            if kernel_at is None and KERNEL_LINE in console:
                kernel_at = elapsed
            if init_at is None and init_line(name) in console:
                init_at = elapsed
            if done or elapsed > timeout or (
                    kernel_bound is not None and kernel_at is None and elapsed > kernel_bound):
                break
            time.sleep(0.1)
    finally:
        proc.kill()
        proc.wait()
    return Boot(accel, _read(logs["qemu"]), _read(logs["bios"]), _read(logs["console"]),
                kernel_at, init_at)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def problems(b: Boot, name: str) -> list[str]:
    """What a boot lacked: the BIOS banner, the init line, under KVM the kernel's KVM line."""
    out = []
    if not b.bios_banner:
        out.append("no SeaBIOS banner on the debug port")
    if b.init_at is None:
        out.append(f"no line from the guest's init ({init_line(name)!r})")
    if b.accel == "kvm" and not b.kvm_detected:
        out.append(f"the guest kernel did not print {KVM_LINE!r}")
    return out


def choose_accel(prefix: Path, subject: str, workdir: Path, host: HostKvm | None = None
                 ) -> tuple[Accel, str]:
    """The accelerator to boot the guest under, and the SKIP line to print once ("" when it
    is KVM). Another KVM without vmx/svm is tried first with a bounded boot."""
    host = host or host_kvm()
    if host.kind == "hardware":
        return "kvm", ""
    if host.kind == "software":
        trial = boot(prefix, "kvm", "probe", workdir, kernel_bound=KVM_KERNEL_BOUND)
        if trial.kernel_at is not None:
            return "kvm", ""
        return "tcg", skip_line(subject, f"{host.reason} and showed no kernel line within "
                                         f"{KVM_KERNEL_BOUND:.0f} s")
    return "tcg", skip_line(subject, host.reason)


def check(prefix: Path, name: str, workdir: Path, host: HostKvm | None = None) -> int:
    """lab-x86's boot check: KVM on a hardware-KVM host (with the kernel's KVM line), else
    one SKIP line and a TCG boot that must reach the init line. 0 on PASS."""
    missing = missing_files(prefix)
    if missing:
        print(f"FAIL: lab-x86: missing {', '.join(missing)}", file=sys.stderr)
        return 1
    host = host or host_kvm()
    subject = "the x86_64 guest"
    if host.kind == "software":
        first = boot(prefix, "kvm", name, workdir, kernel_bound=KVM_KERNEL_BOUND)
        if first.kernel_at is not None:
            return _verdict(first, name, host)
        tcg = boot(prefix, "tcg", name, workdir)
        if tcg.init_at is not None:  # the rule: KVM shows nothing while TCG boots
            print(skip_line(subject, f"{host.reason} and showed no kernel line within "
                                     f"{KVM_KERNEL_BOUND:.0f} s, while TCG boots it"))
        else:
            print(f"lab-x86: KVM showed no kernel line within {KVM_KERNEL_BOUND:.0f} s; "
                  "under TCG:")
        return _verdict(tcg, name, host)
    if host.kind != "hardware":
        print(skip_line(subject, host.reason))
        return _verdict(boot(prefix, "tcg", name, workdir), name, host)
    kvm = boot(prefix, "kvm", name, workdir)
    status = _verdict(kvm, name, host)
    if status != 0:  # say whether the same files boot at all, to point at KVM or at them
        tcg = boot(prefix, "tcg", name, workdir)
        print(f"lab-x86: under TCG the same guest reaches its init line in {tcg.init_at:.1f} s"
              if tcg.init_at is not None else
              "lab-x86: under TCG the same guest does not reach its init line either",
              file=sys.stderr)
    return status


def _verdict(b: Boot, name: str, host: HostKvm) -> int:
    for line in b.shown():
        print(line)
    wrong = problems(b, name)
    if wrong:
        for w in wrong:
            print(f"FAIL: lab-x86 under {b.accel.upper()}: {w}", file=sys.stderr)
        print("--- console tail:", file=sys.stderr)
        print("\n".join(b.console.splitlines()[-30:]) or "(nothing on the serial console)",
              file=sys.stderr)
        return 1
    assert b.init_at is not None
    how = f"KVM ({KVM_LINE})" if b.accel == "kvm" else "TCG"
    print(f"PASS: lab-x86: qemu-system-x86_64 -accel {b.accel} -cpu {CPU} booted the x86_64 "
          f"guest under {how} from the prefix's SeaBIOS to its init line in "
          f"{b.init_at:.1f} s")
    return 0


def run(prefix: Path, extra: list[str]) -> int:
    """A shell in the guest on the serial console, under the accelerator choose_accel picks
    (said on stderr when it is TCG); becomes QEMU."""
    missing = missing_files(prefix)
    if missing:
        print(f"lab-x86: missing {', '.join(missing)}", file=sys.stderr)
        return 1
    workdir = Path(os.environ.get("TMPDIR", "/tmp"))
    accel, skip = choose_accel(prefix, "the x86_64 guest", workdir)
    if skip:
        print(skip.removeprefix("SKIP: "), file=sys.stderr)
    qemu, kernel, initrd = guest_files(prefix)
    argv = [str(qemu), "-accel", accel, "-cpu", CPU, "-m", MEMORY, "-nographic",
            "-nodefaults", "-serial", "mon:stdio", "-nic", "none", "-no-reboot",
            "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", "console=ttyS0 rdinit=/init panic=-1 srcbuild.name=lab-x86", *extra]
    os.execv(argv[0], argv)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m srcbuild.x86boot")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="lab-x86's boot check")
    c.add_argument("--prefix", type=Path, required=True)
    c.add_argument("--name", default="lab-x86", help="the guest's name in its init line")
    r = sub.add_parser("run", help="a shell in the guest; other arguments go to QEMU")
    r.add_argument("--prefix", type=Path, required=True)
    sub.add_parser("host", help="print what this host's KVM is")
    # `srcbuild run lab-x86 -- -m 512` appends QEMU's own options, which argparse does not know
    args, extra = p.parse_known_args(argv)
    if extra and args.command != "run":
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "check":
        return check(args.prefix, args.name, Path.cwd())
    if args.command == "run":
        return run(args.prefix, [a for a in extra if a != "--"])
    host = host_kvm()
    print(f"{host.kind}{': ' + host.reason if host.reason else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
