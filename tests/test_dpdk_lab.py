"""The DPDK lab's recipes: their plan, their options, and the frame sender on a real veth.

The DPDK build itself (minutes) is in test_longbuild.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from srcbuild.recipe import RecipeBook, builtin_recipe_dir

RECIPES = builtin_recipe_dir()
SEND = RECIPES / "files" / "dpdk-lab-net" / "dpdk-lab-send"


def test_lab_dpdk_plan_builds_pyelftools_and_meson_before_dpdk_and_dpdk_before_its_users(sb):
    plan = sb.plan("lab-dpdk")
    order = [s["recipe"] for s in plan["steps"] if s["action"] == "build"]
    assert order[-1] == "lab-dpdk"
    for first, then in (("dpdk", "dpdk-sample"), ("dpdk", "dpdk-lab-net")):
        assert order.index(first) < order.index(then)
    by = {(r["of"], r["requirement"].split()[0]): r for r in plan["requirements"]}
    # the build's python3 imports elftools (Debian's python3-pyelftools, in CI's second
    # pass), or the recipe puts it into the prefix first (tests/test_python_kind.py has both)
    elftools = by[("dpdk", "python:elftools")]
    assert elftools["satisfied_by"] in ("system", "recipe")
    if elftools["satisfied_by"] == "recipe":
        assert elftools["recipe"] == "pyelftools"
        assert order.index("pyelftools") < order.index("dpdk")
    else:
        assert "pyelftools" not in order
    if "meson" in order:  # the machine has no meson of its own
        assert order.index("meson") < order.index("dpdk")
    # the consumer and the packet check take DPDK from the recipe the group builds
    assert by[("dpdk-sample", "pkgconfig:libdpdk")]["recipe"] == "dpdk"
    assert by[("dpdk-lab-net", "program:dpdk-testpmd")]["recipe"] == "dpdk"


def test_dpdk_options_reach_meson_and_a_bad_choice_is_refused(sb):
    dpdk = RecipeBook([RECIPES]).get("dpdk")
    args = dpdk.build["configure_args"]
    assert "-Denable_drivers={{ options.drivers }}" in args
    assert any(a.startswith("-Ddisable_optional_deps=numa,") for a in args)
    assert dpdk.option_values({})["drivers"].split(",")[:2] == ["net/af_packet", "net/tap"]
    cp = sb("plan", "dpdk", "-o", "dpdk.platform=haswell", check=2)
    assert "generic, native" in cp.stderr


def _can_make_namespaces() -> str:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return "needs root and iproute2"
    probe = f"srcbuild-t-{os.getpid()}"
    cp = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True,
                        check=False)
    if cp.returncode != 0:
        return cp.stderr.strip()
    subprocess.run(["ip", "netns", "del", probe], check=True)
    return ""


def test_sender_frames_arrive_at_the_other_end_of_a_veth_pair():
    why = _can_make_namespaces()
    if why:
        pytest.skip(f"network namespaces unavailable: {why}")
    ns = f"srcbuild-t-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for argv in (["link", "add", "t0", "type", "veth", "peer", "name", "t1"],
                     ["link", "set", "t0", "up"], ["link", "set", "t1", "up"]):
            subprocess.run(["ip", "-n", ns, *argv], check=True)
        # the receiver: an AF_PACKET socket on t0 inside the namespace, counting frames of
        # the lab's EtherType until it has 25 or none came for 5 seconds
        receiver = subprocess.Popen(
            ["ip", "netns", "exec", ns, "python3", "-c", (
                "import socket\n"
                "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))\n"
                "s.bind(('t0', 0)); s.settimeout(5)\n"
                "print('ready', flush=True); n = 0\n"
                "try:\n"
                "    while n < 25:\n"
                "        n += s.recv(2048)[12:14] == b'\\x88\\xb5'\n"
                "except socket.timeout:\n"
                "    pass\n"
                "print(n)\n")],
            stdout=subprocess.PIPE, text=True)
        assert receiver.stdout is not None
        assert receiver.stdout.readline().strip() == "ready"
        sent = subprocess.run(["ip", "netns", "exec", ns, str(SEND), "t1", "25"],
                              capture_output=True, text=True, timeout=30, check=False)
        assert sent.returncode == 0, sent.stderr
        assert "25 frames of 60 bytes sent out of t1" in sent.stdout
        out, _ = receiver.communicate(timeout=30)
        assert int(out.strip()) == 25
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    assert ns not in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                    text=True, check=True).stdout


def test_sender_says_how_to_call_it():
    cp = subprocess.run([str(SEND)], capture_output=True, text=True, check=False)
    assert cp.returncode == 2 and "usage: dpdk-lab-send IFACE [COUNT]" in cp.stderr
    cp = subprocess.run([str(SEND), "no-such-if0", "1"], capture_output=True, text=True,
                        check=False)
    assert cp.returncode == 1 and "cannot send on no-such-if0" in cp.stderr
