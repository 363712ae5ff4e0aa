"""`srcbuild graph`: the resolved graph as graphviz dot text or a self-contained SVG.

The SVG is laid out here, without graphviz: longest-path layers (dependencies below the
recipes that need them), nodes ordered by name within a layer, polyline edges that pass
through the gaps between boxes of the layers they cross.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from srcbuild.graph import Graph
from srcbuild.kinds import Action, Satisfier

# colour kind -> (fill, stroke, legend text)
STYLES: dict[str, tuple[str, str, str]] = {
    "build": ("#fde2c0", "#d9822b", "build: from its recipe"),
    "installed": ("#d5efd0", "#3b8f3b", "installed in the prefix"),
    "system": ("#d6e6fb", "#3a6fb5", "the system has it"),
    "missing": ("#fbd3d3", "#c0392b", "missing: nothing satisfies it"),
}
ACTION_KIND = {Action.BUILD: "build", Action.INSTALLED: "installed", Action.SKIP: "system"}
SATISFIED_KIND = {Satisfier.SYSTEM: "system", Satisfier.MISSING: "missing",
                  Satisfier.PREFIX: "installed"}


@dataclass(frozen=True)
class ViewNode:
    """One box: a recipe of the graph, or a requirement the system satisfies or nothing does."""

    id: str
    title: str
    detail: str
    where: str
    kind: str  # a key of STYLES
    reason: str


@dataclass(frozen=True)
class ViewEdge:
    """From a recipe to what it requires; ``tool`` when only needed while building."""

    source: str
    target: str
    tool: bool
    constraint: str


@dataclass(frozen=True)
class View:
    nodes: dict[str, ViewNode]  # dependencies before the recipes that need them
    edges: list[ViewEdge]


def build_view(graph: Graph) -> View:
    """The boxes and arrows of a resolved graph (pure)."""
    nodes: dict[str, ViewNode] = {}
    for name in graph.order:
        n = graph.nodes[name]
        nodes[f"recipe:{name}"] = ViewNode(f"recipe:{name}", name,
                                           f"{n.recipe.version} · {n.action}", "",
                                           ACTION_KIND.get(n.action, "build"), n.reason)
    edges: dict[tuple[str, str], ViewEdge] = {}
    for r in graph.resolutions:
        if r.recipe == r.of:
            continue  # a recipe providing its own tool is not an edge
        source = f"recipe:{r.of}"
        if r.recipe and r.recipe in graph.nodes and r.satisfied_by in (Satisfier.RECIPE, Satisfier.PREFIX):
            target = f"recipe:{r.recipe}"
        else:
            kind = SATISFIED_KIND.get(r.satisfied_by, "missing")
            target = f"req:{r.requirement.key}:{kind}"
            if target not in nodes:
                detail = " ".join(x for x in (r.satisfied_by, r.version or "") if x)
                nodes[target] = ViewNode(target, r.requirement.key, detail, r.where, kind,
                                         r.reason)
        constraint = f"{r.requirement.op} {r.requirement.version}" if r.requirement.op else ""
        old = edges.get((source, target))
        # an edge is a tool edge only when every requirement behind it is a tool
        tool = r.tool and (old is None or old.tool)
        constraint = constraint or (old.constraint if old else "")
        edges[(source, target)] = ViewEdge(source, target, tool, constraint)
    # requirement nodes are leaves: put them before every recipe, keeping first-seen order
    ordered = {k: v for k, v in nodes.items() if k.startswith("req:")}
    ordered.update({k: v for k, v in nodes.items() if k.startswith("recipe:")})
    return View(ordered, list(edges.values()))


def layers(view: View) -> dict[str, int]:
    """Longest-path layer of every node (0 = bottom), leaves pulled up under their users."""
    out: dict[str, list[str]] = {k: [] for k in view.nodes}
    users: dict[str, list[str]] = {k: [] for k in view.nodes}
    for e in view.edges:
        out[e.source].append(e.target)
        users[e.target].append(e.source)
    layer: dict[str, int] = {}
    for nid in view.nodes:  # dependencies come first, so their layers are known
        layer[nid] = 1 + max(layer[t] for t in out[nid]) if out[nid] else 0
    for nid in view.nodes:
        if not out[nid] and users[nid]:
            # keeps edges to system requirements short instead of all running to the bottom
            layer[nid] = min(layer[u] for u in users[nid]) - 1
    return layer


# -- dot ----------------------------------------------------------------------------------

def _dot_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: Graph) -> str:
    """Graphviz dot text: `dot -Tsvg` draws it for people who have graphviz."""
    view = build_view(graph)
    lines = ["digraph srcbuild {", "  rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fontname="sans-serif"];',
             '  edge [fontname="sans-serif", fontsize=10];']
    for n in view.nodes.values():
        fill, stroke, _ = STYLES[n.kind]
        label = "\n".join(x for x in (n.title, n.detail.replace(" · ", " "), n.where) if x)
        lines.append(f"  {_dot_str(n.id)} [label={_dot_str(label)}, fillcolor=\"{fill}\", "
                     f"color=\"{stroke}\", tooltip={_dot_str(n.reason)}];")
    for e in view.edges:
        attrs = []
        if e.tool:
            attrs.append("style=dashed")
        if e.constraint:
            attrs.append(f"label={_dot_str(e.constraint)}")
        tail = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {_dot_str(e.source)} -> {_dot_str(e.target)}{tail};")
    lines.append('  subgraph cluster_legend { label="legend"; fontname="sans-serif";')
    for kind, (fill, stroke, text) in STYLES.items():
        lines.append(f"    {_dot_str('legend:' + kind)} [label={_dot_str(text)}, "
                     f"fillcolor=\"{fill}\", color=\"{stroke}\"];")
    lines += ['    "legend:tool" [shape=plaintext, style="", label="dashed arrow: a tool"];',
              "  }", "}"]
    return "\n".join(lines) + "\n"


# -- svg ------------------------------------------------------------------------------------

BOX_H, V_GAP, H_GAP, MARGIN, LEGEND_H = 52, 64, 28, 20, 56
WHERE_CHARS = 44


def _short(text: str, limit: int = WHERE_CHARS) -> str:
    if len(text) <= limit:
        return text
    half = (limit - 1) // 2
    return text[:half] + "…" + text[-(limit - 1 - half):]


def _box_width(n: ViewNode) -> float:
    # character widths estimated for the 12px/11px sans-serif below
    return max(100.0, 7.6 * len(n.title) + 20, 6.4 * len(n.detail) + 20,
               6.0 * len(_short(n.where)) + 20)


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2


def layout(view: View) -> tuple[dict[str, Box], list[list[str]], float, float]:
    """Boxes per node id, the rows top to bottom, and the drawing's width and height."""
    layer = layers(view)
    top = max(layer.values(), default=0)
    rows = [sorted((k for k in view.nodes if layer[k] == level), key=lambda k: (
        view.nodes[k].title, k)) for level in range(top, -1, -1)]
    widths = {k: _box_width(n) for k, n in view.nodes.items()}
    row_w = [sum(widths[k] for k in row) + H_GAP * max(len(row) - 1, 0) for row in rows]
    width = max(row_w + [len(STYLES) * 190.0 + 260]) + 2 * MARGIN
    boxes: dict[str, Box] = {}
    for i, row in enumerate(rows):
        x = (width - row_w[i]) / 2
        y = MARGIN + LEGEND_H + i * (BOX_H + V_GAP)
        for k in row:
            boxes[k] = Box(x, y, widths[k])
            x += widths[k] + H_GAP
    height = MARGIN * 2 + LEGEND_H + len(rows) * (BOX_H + V_GAP) - V_GAP
    return boxes, rows, width, height


def _gaps(row: list[str], boxes: dict[str, Box], width: float) -> list[tuple[float, float]]:
    """The free x intervals where a line can pass a row without crossing a box."""
    edges = [0.0] + [v for k in row for v in (boxes[k].x, boxes[k].x + boxes[k].w)] + [width]
    return [(edges[i] + 3, edges[i + 1] - 3) for i in range(0, len(edges), 2)]


def _ports(view: View, boxes: dict[str, Box]) -> dict[tuple[str, str], tuple[float, float]]:
    """Spread the arrows leaving (and entering) a box along its bottom (and top) edge."""
    outs: dict[str, list[ViewEdge]] = {}
    ins: dict[str, list[ViewEdge]] = {}
    for e in view.edges:
        outs.setdefault(e.source, []).append(e)
        ins.setdefault(e.target, []).append(e)
    src: dict[tuple[str, str], float] = {}
    dst: dict[tuple[str, str], float] = {}
    for nid, es in outs.items():
        b = boxes[nid]
        for i, e in enumerate(sorted(es, key=lambda e: boxes[e.target].cx)):
            src[(e.source, e.target)] = b.x + b.w * (i + 1) / (len(es) + 1)
    for nid, es in ins.items():
        b = boxes[nid]
        for i, e in enumerate(sorted(es, key=lambda e: boxes[e.source].cx)):
            dst[(e.source, e.target)] = b.x + b.w * (i + 1) / (len(es) + 1)
    return {k: (src[k], dst[k]) for k in src}


def edge_points(e: ViewEdge, boxes: dict[str, Box], rows: list[list[str]], width: float,
                ports: tuple[float, float], lanes: dict[tuple[int, float], int]
                ) -> list[tuple[float, float]]:
    """A polyline from the bottom of the source box to the top of the target box.

    An edge that skips rows bends through the free gap nearest its straight line; ``lanes``
    counts the edges already in each gap so that bundles fan out instead of overlapping.
    """
    s, t = boxes[e.source], boxes[e.target]
    x0, y0 = ports[0], s.y + BOX_H
    x1, y1 = ports[1], t.y
    pts = [(x0, y0)]
    first = round((s.y - MARGIN - LEGEND_H) / (BOX_H + V_GAP)) + 1
    last = round((t.y - MARGIN - LEGEND_H) / (BOX_H + V_GAP))
    for i in range(first, last):
        ry = MARGIN + LEGEND_H + i * (BOX_H + V_GAP)
        mid = x0 + (x1 - x0) * ((ry + BOX_H / 2 - y0) / (y1 - y0))
        lo, hi = min(_gaps(rows[i], boxes, width),
                     key=lambda g: 0.0 if g[0] <= mid <= g[1] else min(abs(g[0] - mid),
                                                                      abs(g[1] - mid)))
        centre = min(max(mid, lo + (hi - lo) / 2 if hi - lo < 40 else lo + 8),
                     hi if hi - lo < 40 else hi - 8)
        n = lanes.get((i, lo), 0)
        lanes[(i, lo)] = n + 1
        gx = min(max(centre + (n + 1) // 2 * 5 * (1 if n % 2 else -1), lo), hi)
        pts += [(gx, ry - 6), (gx, ry + BOX_H + 6)]
    pts.append((x1, y1))
    return pts


def _legend(width: float) -> list[str]:
    out = ['<g class="legend" font-size="11">']
    x = MARGIN
    y = MARGIN
    for fill, stroke, text in STYLES.values():
        out.append(f'<rect x="{x}" y="{y}" width="18" height="12" rx="3" fill="{fill}" '
                   f'stroke="{stroke}"/><text x="{x + 24}" y="{y + 10}">{escape(text)}</text>')
        x += 190
    for dashed, text in ((False, "requires"), (True, "tool (only to build)")):
        dash = ' stroke-dasharray="5,3"' if dashed else ""
        out.append(f'<line x1="{x}" y1="{y + 6}" x2="{x + 30}" y2="{y + 6}" stroke="#555" '
                   f'stroke-width="1.3"{dash} marker-end="url(#arrow)"/>'
                   f'<text x="{x + 36}" y="{y + 10}">{escape(text)}</text>')
        x += 130
    out.append("</g>")
    return out


def to_svg(graph: Graph) -> str:
    """A self-contained SVG picture of the graph (no graphviz, no scripts, no fonts)."""
    view = build_view(graph)
    boxes, rows, width, height = layout(view)
    ports = _ports(view, boxes)
    title = f"srcbuild graph of {' '.join(graph.targets)} into {graph.prefix}"
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
            f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'font-family="sans-serif">'),
           f"<title>{escape(title)}</title>",
           ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/>'
            "</marker></defs>"),
           f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>']
    out += _legend(width)
    out.append('<g class="edges" fill="none" stroke="#555" stroke-width="1.3">')
    lanes: dict[tuple[int, float], int] = {}
    for e in view.edges:
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in edge_points(
            e, boxes, rows, width, ports[(e.source, e.target)], lanes))
        dash = ' stroke-dasharray="5,3"' if e.tool else ""
        what = "tool" if e.tool else "requires"
        hover = f"{view.nodes[e.source].title} {what} {view.nodes[e.target].title}"
        hover += f" {e.constraint}" if e.constraint else ""
        out.append(f'<polyline class="edge" points="{pts}"{dash} marker-end="url(#arrow)">'
                   f"<title>{escape(hover)}</title></polyline>")
    out.append("</g>")
    out.append('<g class="nodes">')
    for nid, n in view.nodes.items():
        b = boxes[nid]
        fill, stroke, _ = STYLES[n.kind]
        lines = [(n.title, 12, "bold"), (n.detail, 11, "normal"), (_short(n.where), 10, "normal")]
        lines = [line for line in lines if line[0]]
        hover = "\n".join(x for x in (n.title, n.detail, n.where, n.reason) if x)
        out.append(f'<g class="node {n.kind}" id="{escape(nid)}"><title>{escape(hover)}</title>'
                   f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.1f}" height="{BOX_H}" '
                   f'rx="6" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>')
        y = b.y + (BOX_H - 14 * len(lines)) / 2 + 11
        for text, size, weight in lines:
            out.append(f'<text x="{b.cx:.1f}" y="{y:.1f}" font-size="{size}" '
                       f'font-weight="{weight}" text-anchor="middle">{escape(text)}</text>')
            y += 14
        out.append("</g>")
    out += ["</g>", "</svg>"]
    return "\n".join(out) + "\n"
