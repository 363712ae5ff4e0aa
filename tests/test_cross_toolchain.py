"""The aarch64 cross toolchain from source: its graph (GCC once, between the sysroot headers
and the C library), how the arm64 recipes reach it through cc:aarch64-linux, and its
capability check, which rejects a compiler that cannot link a static program for the
target. The real build (tens of minutes) is in test_longbuild.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pkgfactory import recipe

TARGET = "aarch64-linux-musl"


def order_of(plan: dict) -> list[str]:
    return [s["recipe"] for s in plan["steps"]]


def test_plan_builds_gcc_once_between_the_sysroot_headers_and_the_c_library(sb):
    plan = sb.plan("cross-toolchain")
    order = order_of(plan)
    assert order[-1] == "cross-toolchain" and order.count("gcc-cross") == 1
    for first, then in (("binutils-cross", "gcc-cross"), ("linux-headers", "musl-headers"),
                        ("musl-headers", "gcc-cross"), ("gcc-cross", "musl"),
                        ("musl", "cross-toolchain")):
        assert order.index(first) < order.index(then), (first, then, order)
    deps = {s["recipe"]: s["deps"] for s in plan["steps"]}
    assert {"musl-headers", "binutils-cross"} <= set(deps["gcc-cross"])
    assert "gcc-cross" in deps["musl"]
    by = {(r["of"], r["requirement"]): r for r in plan["requirements"]}
    assert by[("gcc-cross", f"program:{TARGET}-as")]["recipe"] == "binutils-cross"
    assert by[("musl", f"program:{TARGET}-ar")]["recipe"] == "binutils-cross"


def test_one_target_option_retargets_every_recipe_of_the_toolchain(sb):
    plan = sb.plan("cross-toolchain", "-o", "target=riscv64-linux-musl")
    reqs = [r["requirement"] for r in plan["requirements"]]
    assert "program:riscv64-linux-musl-as" in reqs and "program:riscv64-linux-musl-ar" in reqs
    assert not [r for r in reqs if TARGET in r]
    assert plan["requirements"] and not [r for r in plan["requirements"]
                                         if r["satisfied_by"] == "missing"]


def test_from_source_gives_every_arm64_recipe_the_toolchain(sb):
    # whatever compiler this machine has: --from-source cross-toolchain forces ours
    plan = sb.plan("lab-arm64-kvm", "lab-arm64", "--from-source", "cross-toolchain")
    order = order_of(plan)
    assert not [r for r in plan["requirements"] if "aarch64-linux-gnu" in r["requirement"]]
    for consumer in ("linux-kernel", "busybox", "kvm-sample-arm64", "arm64-hello-guest",
                     "lab-arm64"):
        res = [r for r in plan["requirements"]
               if r["of"] == consumer and r["requirement"] == "cc:aarch64-linux"]
        assert res and res[0]["recipe"] == "cross-toolchain", (consumer, res)
        assert order.index("cross-toolchain") < order.index(consumer)


def _stand_ins(recipes: Path, gcc_body: str) -> None:
    """binutils-cross, gcc-cross and musl replaced by recipes that install a TARGET-gcc
    wrapper (``gcc_body``) and TARGET-readelf (the host's readelf reads any ELF), so that
    the shipped cross-toolchain group runs its real check on them."""
    tools = recipes / "tools"
    tools.mkdir(parents=True)
    for tool, body in (("readelf", 'exec readelf "$@"'), ("gcc", gcc_body)):
        (tools / f"{TARGET}-{tool}").write_text(f"#!/bin/sh\n{body}\n")
    (tools / "libc.a").write_text("")
    for name, tool in (("binutils-cross", "readelf"), ("gcc-cross", "gcc"), ("musl", "")):
        # (the musl stand-in installs an empty file: a package that installs nothing is refused)
        install = (f"""[["install", "-D", "-m", "755", "{{{{ source_dir }}}}/{TARGET}-{tool}",
                       "{{{{ stage }}}}/bin/{TARGET}-{tool}"]]""" if tool else
                   """[["install", "-D", "{{ source_dir }}/libc.a", "{{ stage }}/lib/libc.a"]]""")
        recipe(recipes, name, f"""
            version = "0"
            [[source]]
            path = "tools"
            [build]
            system = "custom"
            install = {install}
            """)


@pytest.mark.parametrize("gcc_body, reason", [
    # a compiler without a C library (Fedora's aarch64 cross gcc, the old freestanding
    # gcc-cross, Debian's without libc6-dev-arm64-cross): no stdio.h, no crt1.o, no -lc
    ('exec gcc --sysroot=/nonexistent "$@"',
     f"FAIL: {TARGET}-gcc cannot compile and link a static hello world"),
    # a compiler that links static programs, but for the wrong machine
    ('exec gcc "$@"', f"FAIL: {TARGET}-gcc made a program for Advanced Micro Devices X86-64"),
])
def test_the_capability_check_rejects_a_compiler_that_cannot_link_for_the_target(
        sb, tmp_path, gcc_body, reason):
    recipes = tmp_path / "recipes"
    _stand_ins(recipes, gcc_body)
    out = sb("cross-toolchain", "--recipes", str(recipes), check=1)
    assert reason in out.stdout + out.stderr, out.stdout + out.stderr
    state = sb.plan("cross-toolchain", "--recipes", str(recipes))
    steps = {s["recipe"]: s["action"] for s in state["steps"]}
    assert steps["gcc-cross"] == "installed" and steps["cross-toolchain"] == "build"
