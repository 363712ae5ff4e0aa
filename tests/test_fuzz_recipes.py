"""Random recipes (keys, types, nesting, templates with sandbox escapes, options full of shell
syntax) through `srcbuild plan`: the only outcomes are a plan or srcbuild's own error (exit
0, 2 or 3, one paragraph, no traceback), and nothing is written outside the tree."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from srcbuild import api, cli

CANARY = Path(tempfile.gettempdir()) / "srcbuild-fuzz-canary"

FRAGMENTS = [
    "{{ prefix }}", "{{ name }}", "{{ version }}", "{{ options.msg }}", "{{ stage }}",
    "{{ recipe_dir }}", "{{ jobs * 2 }}", "{{ nope }}", "{{ options.msg | upper }}",
    "{% if jobs %}x{% endif %}", "{% for c in options.msg %}{{ c }}{% endfor %}",
    f"{{{{ cycler.__init__.__globals__.os.system('touch {CANARY}/ran') }}}}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}", "{{ options['__cla' ~ 'ss__'] }}",
    "{{ range(10**9) | list }}", "{{ 'x' * 10**10 }}", "{{ 10 ** 10 ** 10 }}",
    "{% set x = 1 %}", "{% macro m() %}{% endmacro %}", "{{ prefix.format(1) }}",
    "{{", "{%", "}}", "{{ (((( }}", "{% for %}", "{{ 1 / 0 }}", "{{ 'a' + 1 }}",
    f"$(touch {CANARY}/shell)", "`id`", "'; rm -rf / #", '"', "\\", "\n", "\x1b[2J", "\0",
    "pkgconfig:zlib", "program:sh >= 1", "recipe:dep", "library:libc.so.6", " >= ", "≥ 2",
]
SHELL_TEXT = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=8), max_size=4).map("".join)
KEYS = ["name", "version", "summary", "kind", "requires", "tools", "provides", "check", "run",
        "source", "build", "options", "patches", "source_date_epoch", "system", "configure",
        "install", "env", "shell", "path", "url", "sha256", "debian", "default", "choices",
        "configure_args", "make_args", "in_source", "msg", "x"]
SCALARS = st.one_of(SHELL_TEXT, st.integers(-2**70, 2**70), st.booleans(),
                    st.floats(allow_nan=False), st.just("custom"), st.just("."))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3),
                      max_leaves=12)


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a TOML basic string (\u escapes included)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"


TEMPLATE = st.lists(st.sampled_from(FRAGMENTS[:11]) | st.sampled_from(FRAGMENTS)
                    | st.text(alphabet="abc -_./$'\"", max_size=6), max_size=3).map("".join)


@st.composite
def recipes(draw: st.DrawFn) -> tuple[str, bool]:
    """A recipe file, well-formed around templates most of the time, with random keys,
    types and nesting some of the time; and whether it has the option msg."""
    top: dict[str, Any] = {"version": "1", "source": [{"path": "."}],
                           "build": {"system": "custom"}}
    has_msg = draw(st.booleans())
    if has_msg:
        top["options"] = {"msg": {"default": draw(TEMPLATE)}}
    for key in draw(st.lists(st.sampled_from(["requires", "tools", "provides", "check",
                                              "run"]), max_size=3)):
        top[key] = draw(st.lists(st.sampled_from(["program:sh", "recipe:dep", "pkgconfig:zlib"])
                                 | TEMPLATE, max_size=2))
    for phase in draw(st.lists(st.sampled_from(["configure", "build", "install"]), max_size=2)):
        top["build"][phase] = [draw(st.sampled_from([
            {"shell": draw(TEMPLATE)}, ["sh", "-c", draw(TEMPLATE)], [draw(TEMPLATE)]]))]
    for key in draw(st.lists(st.sampled_from(["configure_args", "make_args", "env"]),
                             max_size=2)):
        top["build"][key] = {"X": draw(TEMPLATE)} if key == "env" else [draw(TEMPLATE)]
    if draw(st.integers(0, 4)) == 0:  # now and then, anything anywhere
        for key in draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3)):
            top[key] = draw(VALUES)
    text = "\n".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in top.items()) + "\n"
    depth = draw(st.sampled_from([0] * 8 + [20, 600]))
    if depth:
        text += "x = " + "[" * depth + "]" * depth + "\n"
    return text, has_msg and isinstance(top.get("options"), dict)


@pytest.fixture(autouse=True)
def no_builtin_recipes(monkeypatch, tmp_path):
    """Only the generated recipes are in the book (the shipped ones would be loaded for
    every example), and the signal handlers pytest had are given back."""
    empty = tmp_path / "no-builtin"
    empty.mkdir()
    monkeypatch.setattr(api, "builtin_recipe_dir", lambda: empty)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield
    for s, h in handlers.items():
        signal.signal(s, h)


@settings(max_examples=100, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=recipes(), dep=st.one_of(st.none(), recipes()), msg=SHELL_TEXT)
def test_plan_of_a_random_recipe_is_a_plan_or_srcbuilds_own_error(text, dep, msg):
    text, has_msg = text
    option = ["-o", f"msg={msg}".replace("\0", "")] if has_msg else []
    CANARY.mkdir(exist_ok=True)
    before = sorted(p.name for p in CANARY.iterdir())
    root = Path(tempfile.mkdtemp(prefix="srcbuild-fuzz-"))
    try:
        (root / "r").mkdir()
        (root / "r" / "fuzz.toml").write_text(text, encoding="utf-8")
        if dep is not None:
            (root / "r" / "dep.toml").write_text(dep[0], encoding="utf-8")
        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = cli.main(["plan", "fuzz", "--recipes", str(root / "r"), "--prefix",
                             str(root / "prefix"), *option])
        message = err.getvalue()
        event(f"exit {code}")
        if code == 2:
            event(" ".join(re.sub(r"\S*/r/\w+\.toml:?", "", message).split()[2:6]))
        assert code in (0, 2, 3), message
        assert "Traceback" not in message
        # a plan (3: with what nothing satisfies), or srcbuild's error
        assert out.getvalue().startswith("Plan for ") if code in (0, 3) \
            else message.startswith("srcbuild: error: "), message
        assert message.count("\n") <= 8, message  # one paragraph (and its To resolve list)
        assert "\x1b" not in message
        assert sorted(p.name for p in CANARY.iterdir()) == before
        assert sorted(p.name for p in root.iterdir()) == ["r"]  # plan writes nothing
    finally:
        shutil.rmtree(root)
