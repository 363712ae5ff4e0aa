"""`srcbuild graph`: dot and SVG pictures of a real resolved graph (after a real install)."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pkgfactory import autotools_lib, make_prog, recipe

from srcbuild.graphview import STYLES

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """alpha (autotools lib, make as a tool) <- delta (make program); needy lacks a library."""
    pkgs, recipes = tmp_path / "pkgs", tmp_path / "recipes"
    a, d = autotools_lib(pkgs), make_prog(pkgs)
    recipe(recipes, "alpha", f"""
        version = "1.2.0"
        provides = ["pkgconfig:alpha", "library:libalpha.so"]
        tools = ["program:make"]
        [[source]]
        path = "{a}"
        [build]
        system = "autotools"
        """)
    recipe(recipes, "delta", f"""
        version = "0.5"
        requires = ["pkgconfig:alpha >= 1.0", "program:sh"]
        tools = ["program:make"]
        provides = ["program:delta"]
        [[source]]
        path = "{d}"
        [build]
        system = "make"
        """)
    recipe(recipes, "needy", f"""
        version = "1"
        requires = ["recipe:delta", "pkgconfig:srcbuild-test-no-such-lib >= 9"]
        [[source]]
        path = "{d}"
        [build]
        system = "make"
        """)
    return recipes


def svg_nodes(root: ET.Element) -> dict[str, ET.Element]:
    """Node groups by their first text (the recipe name or the requirement)."""
    out = {}
    for g in root.iter(f"{SVG}g"):
        if "node" in g.get("class", "").split():
            out[g.find(f"{SVG}text").text] = g
    return out


def test_svg_after_an_install(sb, small, tmp_path):
    sb("alpha", "--recipes", str(small), "--quiet")
    out = tmp_path / "pictures" / "g.svg"
    cp = sb("graph", "delta", "--recipes", str(small), "--format", "svg", "-O", str(out))
    assert cp.stdout.strip() == str(out)
    root = ET.parse(out).getroot()
    assert root.tag == f"{SVG}svg"
    texts = {t.text for t in root.iter(f"{SVG}text")}
    plan = sb.plan("delta", "--recipes", str(small))
    for step in plan["steps"]:
        assert step["recipe"] in texts
    system = {r["requirement"].split()[0] for r in plan["requirements"]
              if r["satisfied_by"] == "system"}
    assert system == {"program:make", "program:sh"}
    assert system <= texts
    nodes = svg_nodes(root)
    assert nodes["alpha"].get("class") == "node installed"
    assert nodes["delta"].get("class") == "node build"
    assert nodes["program:make"].get("class") == "node system"
    assert nodes["program:make"].find(f"{SVG}rect").get("fill") == STYLES["system"][0]
    # one arrow per distinct (recipe, requirement) pair; tools dashed, requires solid
    edges = {e.find(f"{SVG}title").text: e for e in root.iter(f"{SVG}polyline")}
    assert set(edges) == {"delta requires alpha >= 1.0", "delta requires program:sh",
                          "delta tool program:make", "alpha tool program:make"}
    assert edges["delta tool program:make"].get("stroke-dasharray")
    assert edges["delta requires alpha >= 1.0"].get("stroke-dasharray") is None
    assert all(e.get("marker-end") == "url(#arrow)" for e in edges.values())


def test_dot_has_every_node_and_edge(sb, small):
    sb("alpha", "--recipes", str(small), "--quiet")
    dot = sb("graph", "delta", "--recipes", str(small)).stdout
    assert dot.startswith("digraph srcbuild {") and dot.rstrip().endswith("}")
    edges = set(re.findall(r'^\s*"([^"]+)" -> "([^"]+)"', dot, re.MULTILINE))
    assert edges == {("recipe:delta", "recipe:alpha"), ("recipe:delta", "req:program:sh:system"),
                     ("recipe:delta", "req:program:make:system"),
                     ("recipe:alpha", "req:program:make:system")}
    for node in {n for e in edges for n in e}:
        assert re.search(rf'^\s*"{re.escape(node)}" \[label=', dot, re.MULTILINE), node
    assert '"recipe:alpha" [label="alpha\\n1.2.0 installed"' in dot
    assert re.search(r'"recipe:alpha" -> "req:program:make:system" \[style=dashed\]', dot)


def test_missing_requirement_is_red_and_exit_3(sb, small, tmp_path):
    out = tmp_path / "g.svg"
    sb("graph", "needy", "--recipes", str(small), "-O", str(out), check=3)  # svg from the name
    nodes = svg_nodes(ET.parse(out).getroot())
    missing = nodes["pkgconfig:srcbuild-test-no-such-lib"]
    assert missing.get("class") == "node missing"
    assert missing.find(f"{SVG}rect").get("fill") == STYLES["missing"][0]
    assert {"needy", "delta", "alpha", "program:sh", "program:make"} <= set(nodes)


def test_25_nodes_are_laid_out_without_overlap(sb, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    recipes = tmp_path / "recipes"
    tools = ["program:sh", "program:make", "program:cc", "program:pkg-config"]
    for i in range(21):
        deps = [f'"recipe:r{j:02}"' for j in (i - 1, i - 3, i // 2) if 0 <= j < i]
        recipe(recipes, f"r{i:02}", f"""
            version = "1.{i}"
            requires = [{", ".join(sorted(set(deps)))}]
            tools = ["{tools[i % len(tools)]}"]
            [[source]]
            path = "{src}"
            [build]
            system = "custom"
            """)
    out = tmp_path / "g.svg"
    sb("graph", "r20", "--recipes", str(recipes), "--format", "svg", "-O", str(out))
    root = ET.parse(out).getroot()
    nodes = svg_nodes(root)
    assert len(nodes) == 25
    boxes = []
    for g in nodes.values():
        r = g.find(f"{SVG}rect")
        boxes.append(tuple(float(r.get(k)) for k in ("x", "y", "width", "height")))
    for i, (x, y, w, h) in enumerate(boxes):
        for (x2, y2, w2, h2) in boxes[i + 1:]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y
    assert float(root.get("width")) < 2500
    for line in root.iter(f"{SVG}polyline"):
        pts = [tuple(map(float, p.split(","))) for p in line.get("points").split()]
        assert all(a[1] <= b[1] for a, b in itertools.pairwise(pts)), "edges run downwards"
        for px, py in pts[1:-1]:  # bends pass between boxes, never through one
            assert not any(x < px < x + w and y < py < y + h for x, y, w, h in boxes)
