"""The resolver in-process: real recipe files, a fake Probe that says what the machine has.

The CLI tests (test_core, test_shipped_recipes) ask the real machine; these pin each lookup
of the chain and the graph rules without depending on what this machine has installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pkgfactory import recipe

from srcbuild.errors import RecipeError
from srcbuild.kinds import Action, Satisfier
from srcbuild.probes import Found
from srcbuild.recipe import RecipeBook
from srcbuild.requirement import Requirement
from srcbuild.resolve import LOOKUPS, Resolver
from srcbuild.state import Installed, PrefixState


class FakeProbe:
    """A machine that has exactly what it is given: ``{"KIND:NAME": Found}``."""

    def __init__(self, has: dict[str, Found] | None = None) -> None:
        self.has = has or {}
        self.asked: list[str] = []

    def lookup(self, req: Requirement) -> Found | None:
        self.asked.append(req.key)
        return self.has.get(req.key)


def system(version: str | None, where: str = "/usr/lib/x.pc") -> Found:
    return Found(version, where, in_prefix=False)


def package(recipes: Path, name: str, version: str = "1", requires: str = "",
            provides: str = "", tools: str = "") -> None:
    recipe(recipes, name, f"""
        version = "{version}"
        requires = [{requires}]
        tools = [{tools}]
        provides = [{provides}]
        [[source]]
        path = "."
        [build]
        system = "custom"
        """)


def resolver(tmp_path: Path, probe: FakeProbe, **kw: object) -> Resolver:
    prefix = tmp_path / "prefix"
    return Resolver(RecipeBook([tmp_path / "r"]), probe, PrefixState(prefix), prefix,
                    toolchain=str(kw.pop("toolchain", "cc 1")),
                    machine=str(kw.pop("machine", "x86_64")), **kw)


def by_requirement(graph) -> dict[str, object]:
    return {str(r.requirement): r for r in graph.resolutions}


def test_the_chain_is_in_the_documented_order():
    assert [f.__name__ for f in LOOKUPS] == ["named_recipe", "from_source", "in_prefix",
                                             "from_graph_recipe", "from_system",
                                             "from_recipe_fallback"]


def test_the_system_satisfies_a_good_version(tmp_path):
    package(tmp_path / "r", "app", requires='"pkgconfig:zlib >= 1.2"')
    package(tmp_path / "r", "myzlib", "1.3", provides='"pkgconfig:zlib"')
    graph = resolver(tmp_path, FakeProbe({"pkgconfig:zlib": system("1.2.13")})).resolve(["app"])
    res = by_requirement(graph)["pkgconfig:zlib >= 1.2"]
    assert (res.satisfied_by, res.version, res.where) == (Satisfier.SYSTEM, "1.2.13",
                                                          "/usr/lib/x.pc")
    assert graph.order == ["app"]


def test_too_old_on_the_system_falls_back_to_a_recipe(tmp_path):
    package(tmp_path / "r", "app", requires='"pkgconfig:zlib >= 1.3"')
    package(tmp_path / "r", "myzlib", "1.3.1", provides='"pkgconfig:zlib"')
    graph = resolver(tmp_path, FakeProbe({"pkgconfig:zlib": system("1.2.13")})).resolve(["app"])
    res = by_requirement(graph)["pkgconfig:zlib >= 1.3"]
    assert (res.satisfied_by, res.recipe) == (Satisfier.RECIPE, "myzlib")
    assert res.reason == ("found 1.2.13 at /usr/lib/x.pc, but >= 1.3 is wanted; the recipe "
                          "myzlib provides 1.3.1")
    assert graph.order == ["myzlib", "app"]
    assert graph.nodes["app"].runtime_deps == ["myzlib"]


def test_nothing_satisfies_it(tmp_path):
    package(tmp_path / "r", "app", requires='"pkgconfig:nope >= 1"', tools='"recipe:ghost"')
    package(tmp_path / "r", "oldnope", "0.5", provides='"pkgconfig:nope"')
    graph = resolver(tmp_path, FakeProbe()).resolve(["app"])
    res = by_requirement(graph)
    assert res["pkgconfig:nope >= 1"].satisfied_by == Satisfier.MISSING
    assert res["pkgconfig:nope >= 1"].reason == (
        "not found; the recipes that provide it are too old or too new (oldnope 0.5)")
    assert (res["recipe:ghost"].satisfied_by, res["recipe:ghost"].reason) == (
        Satisfier.MISSING, "no recipe named ghost")
    assert len(graph.missing()) == 2


def test_from_source_never_asks_the_probe(tmp_path):
    package(tmp_path / "r", "app", requires='"pkgconfig:zlib"')
    package(tmp_path / "r", "myzlib", "1.3", provides='"pkgconfig:zlib"')
    probe = FakeProbe({"pkgconfig:zlib": system("1.2.13")})
    graph = resolver(tmp_path, probe, from_source={"myzlib"}).resolve(["app"])
    res = by_requirement(graph)["pkgconfig:zlib"]
    assert (res.satisfied_by, res.reason) == (Satisfier.RECIPE,
                                              "--from-source asks for the recipe")
    assert "pkgconfig:zlib" not in probe.asked
    assert [graph.nodes[n].action for n in graph.order] == [Action.BUILD, Action.BUILD]


def test_in_the_prefix_it_belongs_to_the_package_that_installed_it(tmp_path):
    package(tmp_path / "r", "app", requires='"pkgconfig:zlib"')
    package(tmp_path / "r", "myzlib", "1.3", provides='"pkgconfig:zlib"')
    prefix = tmp_path / "prefix"
    PrefixState(prefix).record(Installed("myzlib", "1.3", "old-hash",
                                         provides=("pkgconfig:zlib",)))
    where = f"{prefix}/lib/pkgconfig/zlib.pc"
    graph = resolver(tmp_path, FakeProbe({"pkgconfig:zlib": Found("1.3", where, True)})
                     ).resolve(["app"])
    res = by_requirement(graph)["pkgconfig:zlib"]
    assert (res.satisfied_by, res.recipe, res.where) == (Satisfier.PREFIX, "myzlib", where)
    # installed with another build hash: rebuilt, and so is what needs it
    assert graph.nodes["myzlib"].action == Action.BUILD
    assert graph.nodes["myzlib"].reason.startswith("rebuild:")


def test_a_recipe_of_the_graph_beats_the_systems_copy(tmp_path):
    package(tmp_path / "r", "user", tools='"program:sbtool"')
    package(tmp_path / "r", "tool", "2", provides='"program:sbtool"')
    recipe(tmp_path / "r", "both", 'kind = "group"\nrequires = ["recipe:user", "recipe:tool"]\n')
    graph = resolver(tmp_path, FakeProbe({"program:sbtool": system(None, "/usr/bin/sbtool")})
                     ).resolve(["both"])
    res = by_requirement(graph)["program:sbtool"]
    assert (res.satisfied_by, res.recipe) == (Satisfier.RECIPE, "tool")
    assert res.reason == ("the system has it too (/usr/bin/sbtool), but this graph installs "
                          "tool into the prefix, ahead on PATH")
    assert graph.order.index("tool") < graph.order.index("user")
    assert graph.nodes["user"].deps == ["tool"] and graph.nodes["user"].runtime_deps == []


def test_the_graph_rule_never_closes_a_cycle(tmp_path):
    """a needs what b provides and b needs what a provides; the system has both: the first
    one asked becomes the recipe's, the second stays the system's."""
    package(tmp_path / "r", "a", requires='"pkgconfig:pb"', provides='"program:pa"')
    package(tmp_path / "r", "b", requires='"program:pa"', provides='"pkgconfig:pb"')
    recipe(tmp_path / "r", "g", 'kind = "group"\nrequires = ["recipe:a", "recipe:b"]\n')
    probe = FakeProbe({"pkgconfig:pb": system("1"), "program:pa": system(None, "/usr/bin/pa")})
    graph = resolver(tmp_path, probe).resolve(["g"])
    res = by_requirement(graph)
    assert (res["pkgconfig:pb"].satisfied_by, res["pkgconfig:pb"].recipe) == (
        Satisfier.RECIPE, "b")
    assert res["program:pa"].satisfied_by == Satisfier.SYSTEM
    assert graph.order == ["b", "a", "g"]


def test_a_target_the_system_provides_is_skipped(tmp_path):
    package(tmp_path / "r", "myzlib", "1.3", provides='"pkgconfig:zlib", "library:libz.so"')
    probe = FakeProbe({"pkgconfig:zlib": system("1.2.13"),
                       "library:libz.so": system(None, "/usr/lib/libz.so")})
    node = resolver(tmp_path, probe).resolve(["myzlib"]).nodes["myzlib"]
    assert node.action == Action.SKIP
    assert node.reason == ("the system already provides pkgconfig:zlib 1.2.13 (/usr/lib/x.pc); "
                           "library:libz.so (/usr/lib/libz.so)")


def test_the_machine_is_an_input_of_the_build_hash(tmp_path):
    package(tmp_path / "r", "app")
    hashes = {m: resolver(tmp_path, FakeProbe(), machine=m).resolve(["app"]).nodes["app"]
              .build_hash for m in ("x86_64", "aarch64")}
    assert hashes["x86_64"] != hashes["aarch64"]
    again = resolver(tmp_path, FakeProbe(), machine="x86_64").resolve(["app"])
    assert again.nodes["app"].build_hash == hashes["x86_64"]


def test_a_cycle_is_a_recipe_error(tmp_path):
    package(tmp_path / "r", "one", requires='"recipe:two"')
    package(tmp_path / "r", "two", requires='"recipe:one"')
    with pytest.raises(RecipeError, match="cycle: one -> two -> one"):
        resolver(tmp_path, FakeProbe()).resolve(["one"])
