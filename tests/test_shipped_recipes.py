"""The shipped recipes: they load, their plans on this machine, their fragments, `run`."""

from __future__ import annotations

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
                     "pyelftools", "dpdk", "dpdk-sample", "dpdk-lab-net", "lab-dpdk"):
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
