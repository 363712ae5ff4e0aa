"""The shipped recipes: they load, their plans on this machine, their fragments, `run`."""

from __future__ import annotations

import re

from pkgfactory import recipe

from srcbuild.probes import SystemProbe
from srcbuild.recipe import RecipeBook, builtin_recipe_dir

RECIPES = builtin_recipe_dir()


def test_every_shipped_recipe_loads_and_has_checked_sources():
    book = RecipeBook([RECIPES])
    names = book.names()
    for expected in ("qemu", "glib", "pixman", "libslirp", "dtc", "pcre2", "meson", "zlib",
                     "libpng", "linux-headers", "binutils-cross", "kvm-sample-x86",
                     "arm64-hello-guest", "kvm-sample-arm64", "lab-x86", "lab-arm64",
                     "linux-kernel", "busybox", "initramfs-arm64", "lab-arm64-kvm",
                     "pyelftools", "dpdk", "dpdk-sample", "dpdk-lab-net", "lab-dpdk",
                     "seabios", "linux-kernel-x86_64", "busybox-x86_64", "initramfs-x86_64",
                     "lab-net", "libelf"):
        assert expected in names
    for r in book.all():
        for s in r.sources:
            assert s.kind == "path" or len(s.sha256) == 64, (r.name, s)
        if not r.is_group and any(s.kind == "url" for s in r.sources):
            # every recipe with an upstream URL also has a Debian (or other) fallback
            assert len(r.sources) >= 2, r.name


def test_plan_qemu_takes_what_the_system_has(sb):
    plan = sb.plan("qemu")
    probe = SystemProbe(sb.prefix)
    by = {r["requirement"].split()[0]: r for r in plan["requirements"] if r["of"] == "qemu"}
    assert by["pkgconfig:zlib"]["satisfied_by"] == "system"
    for module, provider in (("glib-2.0", "glib"), ("pixman-1", "pixman"), ("slirp", "libslirp"),
                             ("libfdt", "dtc")):
        r = by[f"pkgconfig:{module}"]
        if probe.find_pc(module) is None:
            assert (r["satisfied_by"], r["recipe"]) == ("recipe", provider)
        else:
            assert r["satisfied_by"] == "system"
    order = [s["recipe"] for s in plan["steps"]]
    assert order[-1] == "qemu"
    if "glib" in order and "pcre2" in order:
        assert order.index("pcre2") < order.index("glib")


def test_plan_arm64_kvm_lab_builds_the_kernel_after_its_tools(sb):
    plan = sb.plan("lab-arm64-kvm")
    order = [s["recipe"] for s in plan["steps"]]
    assert order[-1] == "lab-arm64-kvm"
    for first, then in (("linux-kernel", "lab-arm64-kvm"), ("busybox", "initramfs-arm64"),
                        ("kvm-sample-arm64", "initramfs-arm64"),
                        ("linux-headers", "kvm-sample-arm64"), ("qemu", "lab-arm64-kvm")):
        assert order.index(first) < order.index(then)
    tools = {r["requirement"].split()[0]: r for r in plan["requirements"]
             if r["of"] == "linux-kernel"}
    for tool in ("program:flex", "program:bison"):
        assert tool in tools  # the resolver sees that the kernel needs them
        if tools[tool]["satisfied_by"] == "recipe":
            assert order.index(tools[tool]["recipe"]) < order.index("linux-kernel")


def test_kernel_fragment_enables_kvm():
    text = (RECIPES / "files" / "linux-kernel" / "arm64-kvm.config").read_text()
    for line in ("CONFIG_VIRTUALIZATION=y", "CONFIG_KVM=y", "CONFIG_SERIAL_AMBA_PL011=y",
                 "CONFIG_BLK_DEV_INITRD=y", "CONFIG_BINFMT_ELF=y", "CONFIG_DEVTMPFS=y"):
        assert line in text.splitlines()


def fragment_lines(name: str) -> list[str]:
    """The setting lines of a config fragment; every other line is blank or a comment."""
    out = []
    for number, line in enumerate((RECIPES / "files" / name).read_text().splitlines(), 1):
        if re.fullmatch(r"CONFIG_[A-Za-z0-9_]+=(y|m|\d+|\"[^\"]*\")", line) or \
                re.fullmatch(r"# CONFIG_[A-Za-z0-9_]+ is not set", line):
            out.append(line)
        else:
            assert line == "" or line.startswith("# "), f"{name}:{number}: {line!r}"
    return out


def test_x86_64_kernel_fragment_parses_and_has_what_the_labs_need():
    lines = fragment_lines("linux-kernel/x86_64-kvm.config")
    assert len(lines) == len(set(lines))
    for line in ("CONFIG_64BIT=y", "CONFIG_KVM_GUEST=y", "CONFIG_PARAVIRT=y",
                 "CONFIG_SERIAL_8250_CONSOLE=y", "CONFIG_BLK_DEV_INITRD=y", "CONFIG_RD_GZIP=y",
                 "CONFIG_DEVTMPFS=y", "CONFIG_VIRTIO_PCI=y", "CONFIG_VIRTIO_NET=y",
                 "CONFIG_INET=y", "CONFIG_PACKET=y", "CONFIG_MACVLAN=y"):
        assert line in lines
    fragment_lines("linux-kernel/arm64-kvm.config")


def test_plan_x86_labs_order_firmware_kernel_and_guests(sb):
    plan = sb.plan("lab-x86", "lab-net")
    order = [s["recipe"] for s in plan["steps"]]
    for first, then in (("seabios", "lab-x86"), ("seabios", "lab-net"), ("qemu", "lab-x86"),
                        ("linux-kernel-x86_64", "lab-x86"), ("busybox-x86_64", "initramfs-x86_64"),
                        ("initramfs-x86_64", "lab-x86"), ("initramfs-x86_64", "lab-net")):
        assert order.index(first) < order.index(then), (first, then, order)
    tools = {r["requirement"].split()[0]: r for r in plan["requirements"]
             if r["of"] == "linux-kernel-x86_64"}
    for tool in ("program:flex", "program:bison", "pkgconfig:libelf"):
        assert tool in tools
        if tools[tool]["satisfied_by"] == "recipe":
            assert order.index(tools[tool]["recipe"]) < order.index("linux-kernel-x86_64")


def test_x86_64_recipes_build_what_their_arm64_twins_build():
    # the x86_64 kernel and BusyBox are their own recipes (one node per name in a graph);
    # they must not drift from the arm64 ones in version or source
    book = RecipeBook([RECIPES])
    for base, twin in (("linux-kernel", "linux-kernel-x86_64"), ("busybox", "busybox-x86_64")):
        a, b = book.get(base), book.get(twin)
        assert a.version == b.version
        assert {s.sha256 for s in a.sources} == {s.sha256 for s in b.sources}


def test_qemu_takes_no_firmware_from_the_system():
    qemu = RecipeBook([RECIPES]).get("qemu")
    args = " ".join(qemu.build["configure_args"])
    assert "--firmwarepath={{ prefix }}/share/qemu-firmware" in args
    assert "/usr/share/seabios" not in args and "/usr/lib/ipxe" not in args


def test_busybox_fragment_is_static():
    text = (RECIPES / "files" / "busybox" / "static.config").read_text()
    assert "CONFIG_STATIC=y" in text.splitlines()


def test_run_launches_with_the_prefix_environment(sb, tmp_path):
    recipe(tmp_path / "r", "tool", """
        version = "1"
        run = [["sh", "-c", "echo PATH=$PATH; exit 7"]]
        [[source]]
        path = "."
        [build]
        system = "custom"
        install = [["sh", "-c", "mkdir -p {{ stage }}/share && touch {{ stage }}/share/tool"]]
        """)
    cp = sb("run", "tool", "--recipes", str(tmp_path / "r"), check=2)
    assert "not installed" in cp.stderr and "srcbuild tool --prefix" in cp.stderr
    sb("tool", "--recipes", str(tmp_path / "r"))
    cp = sb("run", "tool", "--recipes", str(tmp_path / "r"), check=7)
    assert cp.stdout.startswith(f"PATH={sb.prefix.resolve()}/bin:")
