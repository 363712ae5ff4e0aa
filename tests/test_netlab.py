"""lab-net's network without guests: a real namespace, veth pair and macvtap devices are
created, listed and removed, and nothing is left on the host, however the creator ends.

Needs root (CAP_NET_ADMIN) and a kernel with network namespaces, veth and macvtap; skipped
with the reason otherwise.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from srcbuild import netlab

GUESTS = [("a", "52:54:00:99:00:0a", "bridge"), ("b", "52:54:00:99:00:0b", "passthru")]
MACS = {mac for _, mac, _ in GUESTS}


def _rights() -> str:
    reason = netlab.missing_rights()
    if reason:
        return reason
    try:
        net = netlab.create([GUESTS[0]])
    except netlab.NetlabError as e:
        return f"{e.missing or 'network set-up'}: {e}"
    netlab.remove(net)
    return ""


@pytest.fixture(scope="module", autouse=True)
def rights() -> None:
    reason = _rights()
    if reason:
        pytest.skip(f"no {reason}")


def host_macs() -> set[str]:
    """The MAC addresses of the links in this (the host's) namespace."""
    out = netlab.ip("-o", "link", "show")
    return {w for line in out.splitlines() for w in line.split()
            if w.count(":") == 5 and len(w) == 17}


def wait_gone(name: str, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if name not in netlab.namespaces():
            return True
        time.sleep(0.2)
    return False


def test_create_list_remove_leaves_nothing_on_the_host():
    before = set(netlab.namespaces())
    net = netlab.create(GUESTS)
    try:
        assert net.name.startswith(f"{netlab.PREFIX}{os.getpid()}-")
        assert net.name in netlab.namespaces()
        links = netlab.ip("-o", "-d", "link", "show", netns=net.name)
        assert "veth0" in links and "veth1" in links
        a, b = net.port("a"), net.port("b")
        assert (a.parent, b.parent) == ("veth0", "veth1")
        for port in (a, b):
            line = next(x for x in links.splitlines() if f" {port.device}@" in x)
            assert port.mac in line and f"macvtap mode {port.mode}" in line
            assert stat.S_ISCHR(port.node.stat().st_mode)
            fd = os.open(port.node, os.O_RDWR)  # the guest's NIC would get this fd
            os.close(fd)
        assert not MACS & host_macs()  # nothing of it is in the host's namespace
    finally:
        netlab.remove(net)
    assert set(netlab.namespaces()) == before - {net.name}
    assert not net.workdir.exists()
    assert not Path(f"/run/netns/{net.name}").exists()
    assert not MACS & host_macs()


def test_a_failing_step_removes_what_was_made():
    before = set(netlab.namespaces())
    with pytest.raises(netlab.NetlabError):
        netlab.create([("a", "52:54:00:99:00:0a", "no-such-mode")])
    assert set(netlab.namespaces()) == before


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_nothing_is_left_when_the_creator_is_killed(how):
    # a stand-in guest (sleep) recorded like a QEMU, so the reaper's kill by pid is tested too
    script = (
        "import subprocess, sys, time\n"
        "from srcbuild import netlab\n"
        f"with netlab.network({GUESTS!r}) as net:\n"
        "    guest = subprocess.Popen(['sleep', '600'])\n"
        "    netlab.record_pid(net, guest.pid)\n"
        "    print(net.name, guest.pid, flush=True)\n"
        "    time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    name, pid = proc.stdout.readline().split()
    assert name in netlab.namespaces()
    proc.send_signal(how)
    proc.wait(timeout=60)
    assert wait_gone(name), f"{name} left behind after {how.name}"
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{pid}").exists(), f"guest {pid} survived {how.name}"


def test_selftest_command():
    cp = subprocess.run([sys.executable, "-m", "srcbuild.netlab", "selftest"],
                        capture_output=True, text=True, timeout=120, check=False)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "removed: nothing left" in cp.stdout
