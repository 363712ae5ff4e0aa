"""Jinja2 in recipe strings: the one template context, rendering, and commands from templates.

Pure. jinja2 is imported on the first string that holds a template, not before.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srcbuild.errors import RecipeError, RequirementSyntaxError
from srcbuild.install import staged_prefix
from srcbuild.requirement import Requirement, parse

if TYPE_CHECKING:
    import jinja2

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


def template_context(recipe: Recipe, options: Mapping[str, str], prefix: Path, jobs: int,
                     folders: Folders | None = None) -> dict[str, Any]:
    """The names a recipe's templates may use (docs/recipes.md lists them).

    Without ``folders`` (while planning) the folder names are absent, so a ``requires`` or
    ``provides`` that names one is an error.
    """
    ctx: dict[str, Any] = {
        "name": recipe.name, "version": recipe.version, "prefix": str(prefix), "jobs": jobs,
        "options": dict(options), "recipe_dir": str(recipe.path.parent),
        "python": sys.executable}
    if folders is not None:
        ctx.update(source_dir=str(folders.source_dir), build_dir=str(folders.build_dir),
                   destdir=str(folders.destdir),
                   stage=str(staged_prefix(folders.destdir, prefix)))
    return ctx


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def render(template: str, context: Mapping[str, Any], where: str) -> str:
    """Render one Jinja2 string; a template error names the recipe and key."""
    if "{{" not in template and "{%" not in template:
        return template
    import jinja2

    try:
        return _environment().from_string(template).render(**context)
    except jinja2.UndefinedError as e:
        names = ", ".join(sorted(k for k in context if k != "options"))
        raise RecipeError(
            f"{where}: {e.message} in {template!r}.",
            f"The names available here are {names} and options.NAME.",
        ) from None
    except jinja2.TemplateError as e:
        raise RecipeError(f"{where}: bad template {template!r}: {e}.") from None


def render_requirements(texts: tuple[str, ...], context: Mapping[str, Any], where: str
                        ) -> tuple[Requirement, ...]:
    out = []
    for text in texts:
        rendered = render(text, context, where)
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

    def walk(value: Any, where: str) -> None:
        if isinstance(value, str):
            render(value, ctx, where)
        elif isinstance(value, list):
            for v in value:
                walk(v, where)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{where}.{k}")

    for key, value in recipe.build.items():
        walk(value, f"{recipe.path} [build] {key}")
    walk(list(recipe.check), f"{recipe.path} check")
    walk(list(recipe.run), f"{recipe.path} run")


def command_argvs(recipe: Recipe, entries: tuple[Any, ...], context: Mapping[str, Any],
                  key: str) -> list[list[str]]:
    """``check`` and ``run`` entries as argv lists: a string is split like a shell would
    split it, but never run by one."""
    out: list[list[str]] = []
    for entry in entries:
        if isinstance(entry, str):
            out.append(shlex.split(render(entry, context, f"{recipe.path} {key}")))
        else:
            out.append([render(a, context, f"{recipe.path} {key}") for a in entry])
    return out
