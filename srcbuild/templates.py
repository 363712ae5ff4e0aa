"""Jinja2 in recipe strings: the one template context, rendering, and commands from templates.

Pure. jinja2 is imported on the first string that holds a template, not before.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srcbuild.errors import RecipeError, RequirementSyntaxError
from srcbuild.install import staged_prefix
from srcbuild.requirement import Requirement, parse

if TYPE_CHECKING:
    from srcbuild.recipe import Recipe

# A command a phase runs: an argv list, or {"shell": "..."} when the recipe asks for a shell.
Command = list[str] | dict[str, str]


@dataclass(frozen=True)
class Folders:
    """Where one build happens: the source tree, the build folder and the staging DESTDIR."""

    source_dir: Path
    build_dir: Path
    destdir: Path


# what check_templates renders with: any template that names a folder renders, none exists
PLACEHOLDER_FOLDERS = Folders(Path("/SOURCE"), Path("/BUILD"), Path("/DESTDIR"))


def template_context(recipe: Recipe, options: Mapping[str, str | bool], prefix: Path, jobs: int,
                     folders: Folders | None = None) -> dict[str, Any]:
    """The names a recipe's templates may use (docs/recipes.md lists them).

    Without ``folders`` (while planning) the folder names are absent, so a ``requires`` or
    ``provides`` that names one is an error.
    """
    ctx: dict[str, Any] = {
        "name": recipe.name, "version": recipe.version, "prefix": str(prefix), "jobs": jobs,
        "options": recipe.template_options(options), "recipe_dir": str(recipe.path.parent),
        "python": sys.executable}
    if folders is not None:
        ctx.update(source_dir=str(folders.source_dir), build_dir=str(folders.build_dir),
                   destdir=str(folders.destdir),
                   stage=str(staged_prefix(folders.destdir, prefix)))
        if folders is PLACEHOLDER_FOLDERS and cc_requirement(recipe, ctx):
            # the compiler is chosen when the package is built (BuildContext.template_vars)
            ctx["cross_compile"] = PLACEHOLDER_CROSS_COMPILE
    return ctx


PLACEHOLDER_CROSS_COMPILE = "/CROSS/bin/TARGET-"


def cc_requirement(recipe: Recipe, context: Mapping[str, Any]) -> str | None:
    """The target of the recipe's ``cc:`` requirement (requires or tools), or None: what
    ``{{ cross_compile }}`` is the compiler for (one per recipe)."""
    for text in (*recipe.requires, *recipe.tools):
        if text.lstrip().startswith("cc:"):
            return parse(render(text, context, f"{recipe.path} requires")).name
    return None


SANDBOX_HINT = ("Recipe templates run in a sandbox: the names of docs/recipes.md, attribute "
                "access without underscores, {% if %} and single {% for %} loops, a few "
                "filters and string methods, and no value longer than 128 KiB.")

# the programs whose ``-c`` argument is a shell script (``["sh", "-c", "..."]``)
SHELLS = frozenset(("sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "busybox"))


def render(template: str, context: Mapping[str, Any], where: str, shell: bool = False) -> str:
    """Render one Jinja2 string in the sandbox; a template error names the recipe and key.

    With ``shell`` (a command a shell runs), every value the template outputs is quoted for
    the shell (shlex.quote): ``{{ prefix }}`` is one word whatever characters it holds.
    """
    if "{{" not in template and "{%" not in template:
        return template
    import jinja2
    from jinja2.exceptions import SecurityError

    from srcbuild import sandbox

    try:
        return sandbox.render(template, dict(context), shell)
    except jinja2.UndefinedError as e:
        names = ", ".join(sorted(k for k in context if k != "options"))
        raise RecipeError(
            f"{where}: {e.message} in {template!r}.",
            f"The names available here are {names} and options.NAME.",
        ) from None
    except SecurityError as e:
        raise _unsafe(template, where, e) from None
    except jinja2.TemplateError as e:
        raise RecipeError(f"{where}: bad template {template!r}: {e}.") from None
    except Exception as e:  # noqa: BLE001 - a recipe's expression may raise anything
        raise RecipeError(f"{where}: template {template!r} failed: "
                          f"{type(e).__name__}: {e}.", SANDBOX_HINT) from None


def _unsafe(template: str, where: str, e: Exception) -> RecipeError:
    why = str(e).rstrip(".")
    return RecipeError(f"{where}: unsafe template {template!r}: {why}.", SANDBOX_HINT)


def validate(template: str, where: str) -> None:
    """Parse a template and check it against the sandbox's policy without running it, so
    that loading a recipe (list, info) already refuses a template that could never run."""
    if "{{" not in template and "{%" not in template:
        return
    import jinja2
    from jinja2.exceptions import SecurityError

    from srcbuild import sandbox

    try:
        sandbox.check(template)
    except SecurityError as e:
        raise _unsafe(template, where, e) from None
    except jinja2.TemplateError as e:
        raise RecipeError(f"{where}: bad template {template!r}: {e}.") from None
    except RecursionError:
        raise RecipeError(f"{where}: template {template!r} is nested too deeply.") from None


def shell_script_index(argv: list[str]) -> int | None:
    """The index of the script in ``[SHELL, OPTIONS..., -c, SCRIPT, ...]``, else None.

    Options may be grouped (``-ec``) and ``-o NAME`` takes a value; the script is the first
    argument after the options when one of them holds ``c``.
    """
    if not argv or os.path.basename(argv[0]) not in SHELLS:
        return None
    i, has_c = 1, False
    while i < len(argv) and argv[i][:1] in ("-", "+") and argv[i] not in ("-", "--"):
        flag = argv[i]
        if not flag.startswith("--"):
            has_c = has_c or "c" in flag[1:]
            if "o" in flag[1:]:  # -o NAME, also grouped (-euo pipefail)
                i += 1
        i += 1
    if argv[i:i + 1] == ["--"]:
        i += 1
    return i if has_c and i < len(argv) else None


def render_argv(argv: list[str], context: Mapping[str, Any], where: str) -> list[str]:
    """An argv list's templates; the script of ``["sh", "-c", SCRIPT]`` is rendered as a
    shell command (values quoted), every other argument as it is (no shell reads it)."""
    out = [render(a, context, where) for a in argv[:1]]
    script = shell_script_index(out + list(argv[1:]))
    for i, a in enumerate(argv[1:], 1):
        out.append(render(a, context, where, shell=i == script))
    return out


def render_command(command: Any, context: Mapping[str, Any], where: str) -> Command:
    """A ``[build]`` command: an argv list, or ``{shell = "..."}`` with its values quoted."""
    if isinstance(command, dict):
        return {"shell": render(command["shell"], context, where, shell=True)}
    return render_argv(list(command), context, where)


def render_requirements(texts: tuple[str, ...], context: Mapping[str, Any], where: str
                        ) -> tuple[Requirement, ...]:
    """Each entry rendered and parsed; an entry that renders to nothing (a condition that
    is false: ``{% if options.python %}program:python3{% endif %}``) is dropped."""
    out = []
    for text in texts:
        rendered = render(text, context, where).strip()
        if not rendered and text.strip():
            continue
        try:
            out.append(parse(rendered))
        except RequirementSyntaxError as e:
            raise RecipeError(f"{where}: {e}.") from None
    return tuple(out)


def check_templates(recipe: Recipe, context: Mapping[str, Any]) -> None:
    """Render every build-time string once with placeholder folders, so that a bad template
    is a recipe error at plan time rather than a failure halfway through a build."""
    ctx = {**template_context(recipe, context["options"], Path(context["prefix"]),
                              context["jobs"], PLACEHOLDER_FOLDERS), **context}
    build = recipe.build
    for key in ("configure", "build", "install"):
        for command in build.get(key, []):
            render_command(command, ctx, f"{recipe.path} [build] {key}")
    for key in ("configure_args", "make_args", "install_args"):
        for arg in build.get(key, []):
            render(arg, ctx, f"{recipe.path} [build] {key}")
    for name, value in build.get("env", {}).items():
        render(value, ctx, f"{recipe.path} [build] env.{name}")
    command_argvs(recipe, recipe.check, ctx, "check")
    command_argvs(recipe, recipe.run, ctx, "run")


def template_strings(recipe: Recipe) -> list[tuple[str, str]]:
    """(template, where) for every string of a recipe that is rendered."""
    out: list[tuple[str, str]] = []
    for key in ("requires", "tools", "provides", "check", "run"):
        for entry in getattr(recipe, key):
            for text in [entry] if isinstance(entry, str) else entry:
                out.append((text, f"{recipe.path} {key}"))
    build = recipe.build
    for key in ("configure", "build", "install"):
        for command in build.get(key, []):
            for text in command.values() if isinstance(command, dict) else command:
                out.append((text, f"{recipe.path} [build] {key}"))
    for key in ("configure_args", "make_args", "install_args"):
        out += [(a, f"{recipe.path} [build] {key}") for a in build.get(key, [])]
    out += [(v, f"{recipe.path} [build] env.{k}") for k, v in build.get("env", {}).items()]
    return out


def command_argvs(recipe: Recipe, entries: tuple[Any, ...], context: Mapping[str, Any],
                  key: str) -> list[list[str]]:
    """``check`` and ``run`` entries as argv lists: a string is split like a shell would
    split it, but never run by one (its values are quoted first, so each stays one word);
    an argv list is rendered by render_argv."""
    out: list[list[str]] = []
    where = f"{recipe.path} {key}"
    for entry in entries:
        if isinstance(entry, str):
            rendered = render(entry, context, where, shell=True)
            try:
                out.append(shlex.split(rendered))
            except ValueError as e:  # an unbalanced quote in the recipe's own text
                raise RecipeError(f"{where}: {entry!r} does not split into words ({e}).",
                                  "Balance its quotes, or give the command as an argv list."
                                  ) from None
        else:
            out.append(render_argv(list(entry), context, where))
    return out
