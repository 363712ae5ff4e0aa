"""Issue 12, cases 7, 8 and 11: looking at or building a hostile recipe never runs code it
smuggles in, values in shell commands are quoted, and recipe names cannot name a folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pkgfactory import recipe

from srcbuild.recipe import RecipeBook, builtin_recipe_dir

ESCAPES = [
    "{{ cycler.__init__.__globals__.os.system('touch CANARY') }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ options['__cla' ~ 'ss__'] }}",  # only caught when it runs
    "{{ range(10**9) | list }}",
    "{{ 'x' * 10**10 }}",
    "{% set x = 1 %}",
]


def hostile(tmp_path: Path, template: str, where: str = "check") -> Path:
    canary = tmp_path / "canary"
    canary.mkdir(exist_ok=True)
    text = template.replace("CANARY", str(canary / "ran"))
    key = f"{where} = [{json.dumps(text)}]"
    recipe(tmp_path / "r", "evil", f"""
        version = "1"
        {key}
        [options.x]
        default = "1"
        [[source]]
        path = "."
        [build]
        system = "custom"
        """)
    return tmp_path / "r"


@pytest.mark.parametrize("template", ESCAPES)
def test_plan_of_an_unsafe_template_is_a_recipe_error(sb, tmp_path, template):
    recipes = hostile(tmp_path, template)
    cp = sb("plan", "evil", "--recipes", str(recipes), check=2)
    assert f"{recipes / 'evil.toml'} check" in cp.stderr, cp.stderr
    assert "Traceback" not in cp.stderr
    assert not any((tmp_path / "canary").iterdir())


@pytest.mark.parametrize("command", ["plan", "lock", "graph", "doctor", "install", "list",
                                     "info"])
def test_no_command_runs_a_recipes_template(sb, tmp_path, command):
    recipes = hostile(tmp_path, ESCAPES[0], "requires")
    args = {"list": ["list"], "info": ["info", "evil"]}.get(command, [command, "evil"])
    cp = sb(*args, "--recipes", str(recipes), check=2)
    assert f"{recipes / 'evil.toml'} requires: unsafe template" in cp.stderr, cp.stderr
    assert "'__init__'" in cp.stderr or "'__globals__'" in cp.stderr
    assert not any((tmp_path / "canary").iterdir())
    assert not sb.prefix.exists() or not (sb.prefix / ".srcbuild" / "packages").exists()


def test_sandbox_limits():
    from srcbuild import sandbox

    ctx = {"prefix": "/p", "options": {"x": "abc"}}
    for template, needle in [
        ("{{ prefix.__class__ }}", "'__class__' is unsafe"),
        ("{{ prefix.format(1) }}", "not safely callable"),
        ("{{ '%9999999d' % 1 }}", "% is not allowed"),
        ("{{ 10 ** 100000 }}", "too large"),
        ("{{ prefix.replace('p', 'p' * 100000) * 2 }}", "over the limit"),
        ("{% for i in range(900) %}{% for j in range(900) %}{% endfor %}{% endfor %}",
         "nested for"),
        ("{% for c in options.x * 40000 %}{% endfor %}", "more than 1000 items"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "{% macro %}"),
        ("{{ prefix | center(10**9) }}", "filter 'center' is not allowed"),
        ("{{ lipsum() }}", "'lipsum' is undefined"),
    ]:
        with pytest.raises(Exception, match=re.escape(needle)):
            sandbox.render(template, ctx, False)
    assert sandbox.render("{{ options.x.upper() }}-{{ prefix.split('/')|join('+') }}", ctx,
                          True) == "ABC-+p"


def test_shell_values_are_quoted(sb, tmp_path):
    """An option and a recipe folder full of shell syntax reach the commands as one word
    each and run nothing (case 8)."""
    canary = tmp_path / "canary"
    canary.mkdir()
    recipes = tmp_path / f"r $(touch {canary}/from-recipe-dir)"
    (recipes / "files").mkdir(parents=True)
    (recipes / "files" / "data").write_text("payload\n")
    recipe(recipes, "quoted", """
        version = "1"
        check = [
          "test -f {{ stage }}/share/msg",
          ["sh", "-c", "test \\"$(cat {{ stage }}/share/msg)\\" = {{ options.msg }}"],
        ]
        [options.msg]
        default = "hello"
        [[source]]
        path = "files"
        [build]
        system = "custom"
        install = [
          {shell = "mkdir -p {{ stage }}/share && echo {{ options.msg }} > {{ stage }}/share/msg"},
          ["sh", "-ec", "cp {{ recipe_dir }}/files/data {{ stage }}/share/data"],
        ]
        """)
    msg = f"x'; touch {canary}/from-option; echo \"$(touch {canary}/again)"
    sb("quoted", "--recipes", str(recipes), "-o", f"msg={msg}", "--quiet")
    assert (sb.prefix / "share" / "msg").read_text() == msg + "\n"
    assert (sb.prefix / "share" / "data").read_text() == "payload\n"
    assert sorted(p.name for p in canary.iterdir()) == []


@pytest.mark.parametrize("argv,index", [
    (["sh", "-c", "s"], 2), (["/bin/bash", "-euo", "pipefail", "-c", "s", "x"], 4),
    (["sh", "-ec", "s"], 2), (["sh", "script.sh"], None), (["python3", "-c", "s"], None),
    (["sh", "-c"], None),
])
def test_shell_script_index(argv, index):
    from srcbuild.templates import shell_script_index

    assert shell_script_index(argv) == index


@pytest.mark.parametrize("stem", ["..", ".hidden", "Upper", "a b", "_x"])
def test_recipe_names_that_are_not_names_are_refused(sb, tmp_path, stem):
    """Case 11: `...toml` made the recipe `..`, whose logs folder was the cache itself; a
    good recipe beside it still plans."""
    recipes = tmp_path / "r"
    recipes.mkdir()
    (recipes / f"{stem}.toml").write_text('version = "1"\n[[source]]\npath = "."\n'
                                          '[build]\nsystem = "custom"\n')
    recipe(recipes, "fine", 'version = "1"\n[[source]]\npath = "."\n[build]\nsystem = "custom"\n')
    sb.cache.mkdir()
    (sb.cache / "keep").write_text("")
    cp = sb(stem, "--recipes", str(recipes), check=2)
    assert f"makes the recipe name {stem!r}, which does not match" in cp.stderr, cp.stderr
    assert (sb.cache / "keep").exists()
    assert sb("plan", "fine", "--recipes", str(recipes)).returncode == 0


def quoted_templates(script: str) -> list[str]:
    """The templates a shell script puts inside quotes or a here-document, where the
    quoting srcbuild adds would become part of the value."""
    marks: list[str] = []

    def mark(m: re.Match[str]) -> str:
        marks.append(m.group(0))
        return f"\0{len(marks) - 1}\0"

    text = re.sub(r"{{.*?}}", mark, script)
    bad, state, i, heredoc = [], "", 0, None
    lines = text.split("\n")
    for line in lines:
        if heredoc is not None:
            if line.strip("\t") == heredoc:
                heredoc = None
            else:
                bad += re.findall(r"\0(\d+)\0", line)
            continue
        i = 0
        while i < len(line):
            c = line[i]
            if c == "\\" and state != "'":
                i += 2
                continue
            if c == "'" and state in ("", "'"):
                state = "" if state else "'"
            elif c == '"' and state in ("", '"'):
                state = "" if state else '"'
            elif c == "#" and not state and (i == 0 or line[i - 1] in " \t;"):
                break
            elif c == "\0":
                end = line.index("\0", i + 1)
                if state:
                    bad.append(line[i + 1:end])
                i = end
            elif line.startswith("<<", i) and not state:
                m = re.match(r"<<-?\s*['\"]?(\w+)", line[i:])
                heredoc = m.group(1) if m else None
            i += 1
    return [marks[int(n)] for n in bad]


def test_shipped_recipes_leave_quoting_to_srcbuild():
    """Every template in a shell command of a shipped recipe stands outside quotes: srcbuild
    quotes the value itself, and quotes around it would become part of it."""
    from srcbuild.templates import shell_script_index

    found = []
    for r in RecipeBook([builtin_recipe_dir()]).all():
        scripts = [c["shell"] for k in ("configure", "build", "install")
                   for c in r.build.get(k, []) if isinstance(c, dict)]
        for entry in [*r.check, *r.run, *(c for k in ("configure", "build", "install")
                                          for c in r.build.get(k, []) if isinstance(c, list))]:
            if isinstance(entry, str):
                scripts.append(entry)
            elif (i := shell_script_index(entry)) is not None:
                scripts.append(entry[i])
        found += [f"{r.name}: {t}" for s in scripts for t in quoted_templates(s)]
    assert found == []
    assert quoted_templates("a='{{ x }}'; b=\"{{ y }}\"; c={{ z }}\ncat <<E\n{{ w }}\nE\n") \
        == ["{{ x }}", "{{ y }}", "{{ w }}"]
