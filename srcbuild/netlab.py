"""The lab-net network: a private network namespace holding a veth pair and one macvtap
device per guest, created before the guests start and removed after they stop.

Nothing of it touches the host's own links, addresses or routes: every link lives in a
namespace named ``srcbuild-net-PID-RANDOM``, which `remove` deletes with all its links. A
reaper process in its own session watches a pipe from the process that created the
namespace; when that process ends in any way (even SIGKILL), the reaper kills the guests by
pid and deletes the namespace, so nothing is left behind.

    python -m srcbuild.netlab selftest       create, list, remove; no guests
    python -m srcbuild.netlab check --prefix DIR
    python -m srcbuild.netlab run --prefix DIR
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PREFIX = "srcbuild-net-"
# The veth pair is the parent of the macvtap devices and the namespace's only wire: its
# two ends are both inside the namespace, so no frame can leave it.
VETH = ("veth0", "veth1")


class NetlabError(Exception):
    """A set-up step failed; ``missing`` names the right or feature that was lacking."""

    def __init__(self, message: str, missing: str = "") -> None:
        super().__init__(message)
        self.missing = missing


@dataclass(frozen=True)
class Port:
    """One guest's attachment: a macvtap device in the namespace and its character device."""

    guest: str
    device: str  # the macvtap link's name inside the namespace
    mac: str  # the macvtap's MAC, which the guest's NIC must use
    mode: str  # macvtap mode: bridge, passthru, ...
    parent: str  # the veth end it sits on
    node: Path  # a private /dev/tapN-style node (mknod from the device's major:minor)


@dataclass(frozen=True)
class Net:
    name: str
    workdir: Path  # nodes, the pid list; removed with the namespace
    ports: tuple[Port, ...]

    def port(self, guest: str) -> Port:
        return next(p for p in self.ports if p.guest == guest)

    @property
    def pidfile(self) -> Path:
        return self.workdir / "pids"


def ip(*args: str, netns: str = "") -> str:
    """Run ``ip [-n NS] ARGS``; its output, or NetlabError with ip's own message."""
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    try:
        cp = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    except FileNotFoundError:
        raise NetlabError("the `ip` program (iproute2) is not on PATH",
                          "the ip program (iproute2)") from None
    if cp.returncode != 0:
        raise NetlabError(f"`{' '.join(argv)}` failed: {cp.stderr.strip()}")
    return cp.stdout


def missing_rights() -> str:
    """What is lacking to build the network, before trying ("" when nothing obvious is)."""
    if shutil.which("ip") is None:
        return "the ip program (iproute2)"
    if not _has_cap_net_admin():
        return "CAP_NET_ADMIN (root) to create network namespaces and macvtap devices"
    return ""  # no /dev/kvm is no reason to skip: the guests then run under TCG


def _has_cap_net_admin() -> bool:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> 12 & 1)  # CAP_NET_ADMIN is bit 12
    except OSError:
        pass
    return os.geteuid() == 0


def unique_name() -> str:
    return f"{PREFIX}{os.getpid()}-{secrets.token_hex(3)}"


def namespaces() -> list[str]:
    """The names of the network namespaces this machine has (``ip netns list``)."""
    return [line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()]


def create(guests: Sequence[tuple[str, str, str]], name: str = "") -> Net:
    """The namespace, the veth pair and one macvtap per ``(guest, mac, mode)``.

    A ``bridge`` port sits on the first veth end (bridge-mode siblings switch frames between
    each other inside the macvlan driver); a ``passthru`` port takes the second end for itself.
    On any failure, what was created is removed again before NetlabError is raised.
    """
    name = name or unique_name()
    workdir = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    try:
        ip("netns", "add", name)
    except NetlabError as e:
        shutil.rmtree(workdir, ignore_errors=True)
        raise NetlabError(str(e), "the right to create a network namespace") from None
    net = Net(name, workdir, ())
    try:
        ip("link", "add", VETH[0], "type", "veth", "peer", "name", VETH[1], netns=name)
        ports = []
        for i, (guest, mac, mode) in enumerate(guests):
            parent = VETH[1] if mode == "passthru" else VETH[0]
            if mode == "passthru":  # the macvtap inherits its parent's MAC
                ip("link", "set", parent, "address", mac, netns=name)
            device = f"mvtap{i}"
            try:
                ip("link", "add", "link", parent, "name", device, "address", mac,
                   "type", "macvtap", "mode", mode, netns=name)
            except NetlabError as e:
                raise NetlabError(str(e), "macvtap devices (CONFIG_MACVTAP)") from None
            ports.append(Port(guest, device, mac, mode, parent,
                              _tap_node(name, device, workdir)))
        for link in (*VETH, *(p.device for p in ports)):
            ip("link", "set", link, "up", netns=name)
        return Net(name, workdir, tuple(ports))
    except BaseException:
        remove(net)
        raise


def _tap_node(netns: str, device: str, workdir: Path) -> Path:
    """A character node for the macvtap's queue, made from its sysfs major:minor.

    The host's /dev/tapN is named after the ifindex, which is per namespace: two namespaces
    can both have a tap4, so the global node may belong to another namespace's device.
    """
    cp = subprocess.run(["ip", "netns", "exec", netns, "sh", "-c",
                         f"cat /sys/class/net/{device}/macvtap/tap*/dev"],
                        capture_output=True, text=True, check=False, timeout=30)
    if cp.returncode != 0 or ":" not in cp.stdout:
        raise NetlabError(f"no character device for {device} in {netns}: {cp.stderr.strip()}")
    major, minor = (int(x) for x in cp.stdout.strip().split(":"))
    node = workdir / device
    os.mknod(node, 0o600 | 0o020000, os.makedev(major, minor))  # S_IFCHR
    return node


def remove(net: Net) -> None:
    """Kill the guests the pid file names, delete the namespace (and its links), the nodes."""
    kill_recorded(net.pidfile)
    if net.name in namespaces():
        ip("netns", "del", net.name)
    shutil.rmtree(net.workdir, ignore_errors=True)


def record_pid(net: Net, pid: int) -> None:
    with open(net.pidfile, "a") as f:
        f.write(f"{pid}\n")


def kill_recorded(pidfile: Path) -> None:
    """SIGKILL every pid the file names (guests are disposable); reap our own children."""
    try:
        pids = [int(x) for x in pidfile.read_text().split()]
    except (OSError, ValueError):
        return
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


@contextmanager
def network(guests: Sequence[tuple[str, str, str]]) -> Iterator[Net]:
    """The network for the duration of a ``with`` block, removed however the block ends.

    SIGTERM and SIGHUP become SystemExit, so ``finally`` runs; a reaper in its own session
    covers the cases where it cannot (SIGKILL, a crash).
    """
    previous = {s: signal.signal(s, _exit_on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    net = create(guests)
    reaper = _start_reaper(net)
    try:
        yield net
    finally:
        try:
            remove(net)
        finally:
            assert reaper.stdin is not None
            reaper.stdin.close()
            reaper.wait(timeout=60)
            for s, handler in previous.items():
                signal.signal(s, handler)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _start_reaper(net: Net) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "srcbuild.netlab", "reap", net.name, str(net.workdir)],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)


def reap(name: str, workdir: Path) -> int:
    """Wait until the creator's end of stdin closes, then remove whatever is left."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    while sys.stdin.buffer.read(4096):
        pass
    try:
        remove(Net(name, workdir, ()))
    except NetlabError:
        return 1
    return 0


def selftest() -> int:
    """Create the lab's network without guests, list it, remove it, list again."""
    before = set(namespaces())
    with network([("a", "52:54:00:99:00:0a", "bridge"),
                  ("b", "52:54:00:99:00:0b", "bridge")]) as net:
        print(f"created {net.name}: {', '.join(p.device + '@' + p.parent for p in net.ports)}")
        links = ip("-o", "link", "show", netns=net.name)
        print(f"listed: {net.name} in `ip netns list`: {net.name in namespaces()}; "
              f"{len(links.splitlines())} links")
    left = set(namespaces()) - before
    print(f"removed: {'nothing left' if not left else 'LEFT: ' + ', '.join(sorted(left))}")
    return 1 if left else 0


def main(argv: list[str]) -> int:
    from srcbuild import netguests  # the guest side; imported here to keep this module small

    if argv[:1] == ["reap"] and len(argv) == 3:
        return reap(argv[1], Path(argv[2]))
    if argv[:1] == ["selftest"]:
        reason = missing_rights()
        if reason:
            print(f"SKIP: lab-net: no {reason}")
            return 0
        try:
            return selftest()
        except NetlabError as e:
            print(f"SKIP: lab-net: no {e.missing} ({e})" if e.missing else f"FAIL: {e}")
            return 0 if e.missing else 1
    return netguests.main(argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
