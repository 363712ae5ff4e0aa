"""Requirements such as ``pkgconfig:glib-2.0 >= 2.56`` and pkg-config's version comparison (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from srcbuild.errors import RequirementSyntaxError
from srcbuild.kinds import RequirementKind

OPERATORS = (">=", "<=", "!=", "=", ">", "<")
KIND_NAMES = frozenset(k.value for k in RequirementKind)  # `in` on the enum raises on 3.11

_REQ = re.compile(
    r"^\s*(?P<kind>[a-z]+)\s*:\s*(?P<name>[^\s<>=!]+)\s*"
    r"(?:(?P<op>>=|<=|!=|==|=|>|<)\s*(?P<version>[^\s<>=!]+))?\s*$"
)
_CC = re.compile(r"^[a-z0-9_]+-[a-z]+$", re.ASCII)  # ARCH-OS, as ccprobe.split_name reads it
_MODULE = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$", re.ASCII)


@dataclass(frozen=True, order=True)
class Requirement:
    """What a recipe needs (``requires``, ``tools``) or offers (``provides``), parsed."""

    kind: RequirementKind
    name: str
    op: str = ""
    version: str = ""

    def __str__(self) -> str:
        text = f"{self.kind}:{self.name}"
        return f"{text} {self.op} {self.version}" if self.op else text

    @property
    def key(self) -> str:
        """Kind and name without the version: what a recipe's ``provides`` is matched on."""
        return f"{self.kind}:{self.name}"

    def accepts(self, version: str | None) -> bool:
        """True when ``version`` satisfies the constraint (any version does when there is none)."""
        if not self.op:
            return True
        if version is None:
            return False
        return compare_op(version, self.op, self.version)


def parse(text: str) -> Requirement:
    """Parse ``KIND:NAME [OP VERSION]``; raise RequirementSyntaxError with the reason."""
    m = _REQ.match(text)
    if not m:
        raise RequirementSyntaxError(
            f"{text!r} is not KIND:NAME [OP VERSION] (for example 'pkgconfig:zlib >= 1.2')"
        )
    kind = m["kind"]
    if kind not in KIND_NAMES:
        raise RequirementSyntaxError(
            f"{text!r}: kind {kind!r} is not one of {', '.join(RequirementKind)}")
    if kind == RequirementKind.PYTHON and not _MODULE.match(m["name"]):
        raise RequirementSyntaxError(
            f"{text!r}: python: names a module as `import` takes it (python:elftools, "
            f"python:yaml), not a distribution (pyelftools, PyYAML) or a path")
    if kind == RequirementKind.CC and not _CC.match(m["name"]):
        raise RequirementSyntaxError(
            f"{text!r}: cc: names a target as ARCH-OS (cc:aarch64-linux), not a compiler "
            f"or a triplet")
    op = m["op"] or ""
    if op == "==":
        op = "="
    return Requirement(RequirementKind(kind), m["name"], op, m["version"] or "")


def compare_op(found: str, op: str, wanted: str) -> bool:
    c = vercmp(found, wanted)
    return {
        ">=": c >= 0,
        "<=": c <= 0,
        "=": c == 0,
        "!=": c != 0,
        ">": c > 0,
        "<": c < 0,
    }[op]


_SEGMENT = re.compile(r"[0-9]+|[a-zA-Z]+|~")


def vercmp(a: str, b: str) -> int:
    """Compare two versions the way pkg-config does (rpmvercmp): -1, 0 or 1.

    Digit runs compare numerically, letter runs alphabetically, a digit run is newer
    than a letter run, and ``~`` sorts before anything (1.0~rc1 < 1.0).
    """
    if a == b:
        return 0
    sa, sb = _SEGMENT.findall(a), _SEGMENT.findall(b)
    for x, y in zip(sa, sb):
        if x == y:
            continue
        if x == "~" or y == "~":
            return -1 if x == "~" else 1
        xd, yd = x.isdigit(), y.isdigit()
        if xd and yd:
            xi, yi = int(x), int(y)
            if xi != yi:
                return 1 if xi > yi else -1
        elif xd != yd:
            return 1 if xd else -1
        else:
            return 1 if x > y else -1
    if len(sa) == len(sb):
        return 0
    longer, sign = (sa, 1) if len(sa) > len(sb) else (sb, -1)
    nxt = longer[min(len(sa), len(sb))]
    return -sign if nxt == "~" else sign
