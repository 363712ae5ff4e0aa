"""The two x86_64 guests of lab-net on the network of ``srcbuild.netlab``: the check
(guest a pings guest b and b's macvlan sub-interface) and the student's consoles (tmux).

Both guests run under KVM where the host's KVM can run them, else under TCG, said once in a
SKIP line (srcbuild.x86boot.choose_accel decides, as for lab-x86).

Guest a: eth0 10.99.0.1/24. Guest b: eth0 10.99.0.2/24 and mv0 10.99.0.3/24, a macvlan
sub-interface on its eth0 made by the guest kernel's own macvlan driver. These addresses
exist only inside the guests, whose only wire is the namespace's veth pair.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from srcbuild import netlab, x86boot
from srcbuild.x86boot import CPU, KVM_LINE, MEMORY, Accel

TIMEOUT = 180.0
ACCELS = ("auto", "kvm", "tcg")
SUBJECT = "lab-net's two x86_64 guests"


@dataclass(frozen=True)
class Guest:
    name: str
    mac: str
    mode: str  # the macvtap mode of its host-side port
    args: str  # srcbuild.* words for its /init


# b's port is passthru: the macvlan driver forwards unicast frames to a macvtap only by the
# destination MAC it knows (the macvtap's own), so frames for the sub-interface's MAC that
# b's kernel made would never reach b through a bridge-mode port (README, The labs).
GUESTS = (
    Guest("a", "52:54:00:99:00:0a", "bridge", "srcbuild.ip=10.99.0.1/24"),
    Guest("b", "52:54:00:99:00:0b", "passthru",
          "srcbuild.ip=10.99.0.2/24 srcbuild.macvlan=10.99.0.3/24"),
)
PINGS = ("10.99.0.2", "10.99.0.3")
# the lines of recipes/files/initramfs-x86_64/init that say which MAC holds which address
B_MACS = (re.compile(r"srcbuild-net b: eth0 (\S+) "),
          re.compile(r"srcbuild-net b: mv0 \(macvlan on eth0\) (\S+) "))
A_ARP = re.compile(r"srcbuild-net a: arp (\S+) (\S+)")
SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received, .*?(\d+)% packet loss")


def qemu_argv(prefix: Path, guest: Guest, fd: int, mode: str, cpu: str = CPU,
              accel: Accel = "kvm") -> list[str]:
    """qemu-system-x86_64 for one guest: the NIC on the macvtap's fd, its MAC, no ROM."""
    lab = prefix / "share" / "srcbuild" / "x86_64"
    append = f"console=ttyS0 rdinit=/init panic=-1 srcbuild.name={guest.name} {guest.args}"
    if mode == "check":
        append += " srcbuild.mode=check"
        if guest.name == "a":
            append += " srcbuild.ping=" + ",".join(PINGS)
    serial = ["-serial", "stdio", "-display", "none"] if mode == "check" else ["-nographic",
                                                                                "-serial", "mon:stdio"]
    return [str(prefix / "bin" / "qemu-system-x86_64"), "-accel", accel, "-cpu", cpu,
            "-m", MEMORY, "-nodefaults", "-no-user-config", *serial, "-no-reboot",
            "-kernel", str(lab / "bzImage"), "-initrd", str(lab / "initramfs.cpio.gz"),
            "-append", append,
            "-netdev", f"tap,id=net0,fd={fd}",
            "-device", f"virtio-net-pci,netdev=net0,mac={guest.mac},romfile="]


def start_guest(net: netlab.Net, prefix: Path, guest: Guest, console: Path, mode: str,
                cpu: str, accel: Accel) -> subprocess.Popen[bytes]:
    fd = os.open(net.port(guest.name).node, os.O_RDWR)
    try:
        with open(console, "wb") as out:
            proc = subprocess.Popen(qemu_argv(prefix, guest, fd, mode, cpu, accel),
                                    stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, pass_fds=(fd,))
    finally:
        os.close(fd)
    netlab.record_pid(net, proc.pid)
    return proc


def guests(b_mode: str) -> tuple[Guest, ...]:
    """The two guests, b's port in ``b_mode`` (``bridge`` shows why passthru is needed)."""
    return tuple(Guest(g.name, g.mac, b_mode, g.args) if g.name == "b" else g for g in GUESTS)


def pick_accel(prefix: Path, accel: str) -> tuple[Accel, str]:
    """``auto``: what x86boot.choose_accel says for this host (with the SKIP line to print
    once); ``kvm`` or ``tcg`` as asked."""
    if accel == "auto":
        return x86boot.choose_accel(prefix, SUBJECT, Path.cwd())
    return ("kvm" if accel == "kvm" else "tcg"), ""


def check(prefix: Path, cpu: str, timeout: float, b_mode: str = "passthru",
          accel: str = "auto") -> int:
    """Boot both guests, wait for a's pings, print them; 0 only with every ping answered
    (and, under KVM, both kernels saying so)."""
    reason = netlab.missing_rights()
    if reason:
        print(f"SKIP: lab-net: no {reason}")
        return 0
    missing = x86boot.missing_files(prefix)
    if missing:
        print(f"FAIL: lab-net: missing {', '.join(missing)}", file=sys.stderr)
        return 1
    chosen, skip = pick_accel(prefix, accel)
    if skip:
        print(skip)
    consoles = {g.name: Path.cwd() / f"console-{g.name}.log" for g in GUESTS}
    try:
        with netlab.network([(g.name, g.mac, g.mode) for g in guests(b_mode)]) as net:
            ports = ", ".join(f"{p.device} ({p.mode} on {p.parent}, {p.mac}) for guest {p.guest}"
                              for p in net.ports)
            print(f"lab-net: namespace {net.name}: {ports}")
            t0 = time.monotonic()
            procs = {g.name: start_guest(net, prefix, g, consoles[g.name], "check", cpu, chosen)
                     for g in reversed(GUESTS)}  # b first: it is the one pinged
            done = _wait_for(consoles["a"], "srcbuild-net a: done", procs["a"], timeout)
            print(f"lab-net: guest a finished its pings {time.monotonic() - t0:.1f} s after start"
                  if done else f"lab-net: guest a did not finish within {timeout:.0f} s")
            for proc in procs.values():
                proc.kill()
                proc.wait()
    except netlab.NetlabError as e:
        if e.missing:
            print(f"SKIP: lab-net: no {e.missing} ({e})")
            return 0
        print(f"FAIL: lab-net: {e}", file=sys.stderr)
        return 1
    print(f"lab-net: namespace removed: {net.name not in netlab.namespaces()}")
    return _verdict(consoles, chosen)


def _wait_for(console: Path, marker: str, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker in console.read_text(errors="replace"):
            return True
        if proc.poll() is not None:
            return marker in console.read_text(errors="replace")
        time.sleep(0.2)
    return False


def _verdict(consoles: dict[str, Path], accel: Accel) -> int:
    text = {name: path.read_text(errors="replace") for name, path in consoles.items()}
    for name in ("b", "a"):
        for line in text[name].splitlines():
            if line.startswith(("srcbuild x86_64 guest", "srcbuild-net", "--- ")) or \
                    SUMMARY.search(line):
                print(f"  [{name}] {line.strip()}")
    summaries = [m for m in (SUMMARY.search(line) for line in text["a"].splitlines()) if m]
    good = sum(1 for m in summaries if int(m[1]) > 0 and m[1] == m[2] and m[3] == "0")
    no_kvm = [name for name in text if accel == "kvm" and KVM_LINE not in text[name]]
    wrong_mac = arp_mismatches(text["a"], text["b"])
    for w in wrong_mac:
        print(f"FAIL: lab-net: {w}", file=sys.stderr)
    if good == len(PINGS) == len(summaries) and not no_kvm and not wrong_mac:
        print("lab-net: guest a's ARP table: " + ", ".join(
            f"{ip} at {mac} ({what})" for ip, mac, what in
            zip(PINGS, _b_macs(text["b"]), ("b's eth0", "b's mv0"))))
        print(f"PASS: lab-net: guest a pinged {' and '.join(PINGS)} (b's eth0 and b's macvlan "
              f"mv0) with 0% packet loss, both guests under {accel.upper()}")
        return 0
    if no_kvm:
        print(f"FAIL: lab-net: under KVM, no {KVM_LINE!r} from guest {', '.join(no_kvm)}",
              file=sys.stderr)
    print(f"FAIL: lab-net: {good} of {len(PINGS)} ping runs without loss; consoles:",
          file=sys.stderr)
    for name, path in consoles.items():
        print(f"--- {path} (last 40 lines)", file=sys.stderr)
        print("\n".join(text[name].splitlines()[-40:]), file=sys.stderr)
    return 1


def _b_macs(console_b: str) -> list[str | None]:
    return [next((m[1].lower() for m in map(r.search, console_b.splitlines()) if m), None)
            for r in B_MACS]


def arp_mismatches(console_a: str, console_b: str) -> list[str]:
    """Each of a's ping targets must sit, in a's ARP table, at the MAC of the interface that
    holds it in b (eth0, mv0): a ping of mv0's address answered through eth0's MAC would
    prove nothing about the macvlan."""
    arp = {m[1]: m[2].lower() for m in map(A_ARP.search, console_a.splitlines()) if m}
    out = []
    for ip, mac, what in zip(PINGS, _b_macs(console_b), ("eth0", "mv0")):
        if mac is None:
            out.append(f"guest b did not print the MAC of its {what}")
        elif ip not in arp:
            out.append(f"guest a has no ARP entry for {ip} (b's {what})")
        elif arp[ip] != mac:
            out.append(f"guest a reached {ip} at {arp[ip]}, not at the MAC of b's {what} {mac}")
    return out


def run(prefix: Path, cpu: str, b_mode: str = "passthru", accel: str = "auto") -> int:
    """Both guests in one tmux session (a left, b right); the network goes when tmux ends."""
    reason = netlab.missing_rights()
    if reason:
        print(f"lab-net needs {reason}.", file=sys.stderr)
        return 1
    if shutil.which("tmux") is None:
        print("lab-net shows its two guest consoles side by side in tmux, which is not "
              "installed (apt-get install tmux).", file=sys.stderr)
        return 1
    missing = x86boot.missing_files(prefix)
    if missing:
        print(f"lab-net: missing {', '.join(missing)}", file=sys.stderr)
        return 1
    chosen, skip = pick_accel(prefix, accel)
    if skip:  # said before tmux takes the terminal; each pane names its accelerator
        print(skip.removeprefix("SKIP: "), file=sys.stderr)
    with netlab.network([(g.name, g.mac, g.mode) for g in guests(b_mode)]) as net:
        sock = ["tmux", "-L", net.name]
        panes = [shlex.join([sys.executable, "-m", "srcbuild.netguests", "console", net.name,
                             str(net.workdir), g.name, "--prefix", str(prefix), "--cpu", cpu,
                             "--accel", chosen])
                 for g in GUESTS]
        env = {k: v for k, v in os.environ.items() if k != "TMUX"}
        subprocess.run([*sock, "new-session", "-d", "-s", "lab-net", "-x", "200", "-y", "50",
                        panes[0]], check=True, env=env)
        subprocess.run([*sock, "split-window", "-h", "-t", "lab-net", panes[1]], check=True,
                       env=env)
        subprocess.run([*sock, "attach", "-t", "lab-net"], check=False, env=env)
        subprocess.run([*sock, "kill-server"], check=False, env=env,
                       stderr=subprocess.DEVNULL)
    print(f"lab-net: guests stopped, namespace {net.name} removed.")
    return 0


def console(name: str, workdir: Path, guest_name: str, prefix: Path, cpu: str,
            accel: Accel) -> int:
    """One tmux pane: open the guest's macvtap node, record the pid, become its QEMU."""
    net = netlab.Net(name, workdir, ())
    guest = next(g for g in GUESTS if g.name == guest_name)
    node = workdir / f"mvtap{GUESTS.index(guest)}"
    other = "; ".join(f"ping {t}" for t in PINGS) if guest.name == "a" else "ip addr"
    print(f"lab-net guest {guest.name} ({guest.args.replace('srcbuild.', '')}) under "
          f"{accel.upper()}, namespace {name}. Try: {other}. Leave with `reboot -f` (or "
          "Ctrl-a x) in both panes.")
    fd = os.open(node, os.O_RDWR)
    os.set_inheritable(fd, True)
    netlab.record_pid(net, os.getpid())
    os.execv(str(prefix / "bin" / "qemu-system-x86_64"),
             qemu_argv(prefix, guest, fd, "run", cpu, accel))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m srcbuild.netlab")
    sub = p.add_subparsers(dest="command", required=True)
    for command in ("check", "run"):
        s = sub.add_parser(command)
        s.add_argument("--prefix", type=Path, required=True)
        s.add_argument("--cpu", default=CPU)
        s.add_argument("--timeout", type=float, default=TIMEOUT)
        s.add_argument("--b-mode", choices=("passthru", "bridge"), default="passthru",
                       help="macvtap mode of guest b's port (bridge: beside a on one veth end)")
        s.add_argument("--accel", choices=ACCELS, default="auto",
                       help="auto: KVM where this host's KVM can run the guests, else TCG "
                            "(srcbuild.x86boot)")
    s = sub.add_parser("console")
    s.add_argument("name")
    s.add_argument("workdir", type=Path)
    s.add_argument("guest")
    s.add_argument("--prefix", type=Path, required=True)
    s.add_argument("--cpu", default=CPU)
    s.add_argument("--accel", choices=("kvm", "tcg"), default="kvm")
    args = p.parse_args(argv)
    if args.command == "check":
        return check(args.prefix, args.cpu, args.timeout, args.b_mode, args.accel)
    if args.command == "run":
        return run(args.prefix, args.cpu, args.b_mode, args.accel)
    return console(args.name, args.workdir, args.guest, args.prefix, args.cpu, args.accel)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
