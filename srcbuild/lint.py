"""`srcbuild lint`: every recipe of a folder checked without building anything: it loads
(keys, types), its templates render with its default options, its sources carry a real
sha256, every requirement it states has a provider (a recipe, or the system-package map),
and the files it names under ``files/`` exist. Pure apart from reading files."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from srcbuild.errors import RecipeError
from srcbuild.kinds import RequirementKind, SourceKind
from srcbuild.recipe import Recipe, RecipeBook, load
from srcbuild.requirement import Requirement
from srcbuild.sysdeps import packages_for
from srcbuild.templates import check_templates, render_requirements, template_context

# what the templates render with: no real prefix is needed to check a recipe
LINT_PREFIX = Path("/srcbuild-lint/prefix")
# files/NAME/... in any string of a recipe (after {{ recipe_dir }}/ or as a relative path)
FILES_REF = re.compile(
    r"(?:\{\{\s*recipe_dir\s*\}\}/|(?<![\w./-]))(files/[A-Za-z0-9][\w.+-]*(?:/[\w.+-]+)*)")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one recipe, named by file and key."""

    path: Path
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.key}: {self.message}"


@dataclass
class Report:
    checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def bad(self) -> int:
        return len({p.path for p in self.problems})


def lint_folders(folders: list[Path], extra_dirs: list[Path] | None = None) -> Report:
    """Lint every ``*.toml`` of each folder; requirements may be provided by any recipe of
    the folders, of ``extra_dirs`` and of the built-in book."""
    from srcbuild.locations import builtin_recipe_dir

    book = RecipeBook([*folders, *(extra_dirs or []), builtin_recipe_dir()])
    provided = provided_keys(book)
    report = Report()
    for folder in folders:
        for path in sorted(folder.glob("*.toml")):
            report.checked += 1
            report.problems += lint_file(path, provided)
    return report


def provided_keys(book: RecipeBook) -> set[str]:
    """Every ``KIND:NAME`` some recipe of the book provides (with its default options), and
    ``recipe:NAME`` for each recipe."""
    keys: set[str] = set()
    for recipe in book.all([]):
        keys.add(f"{RequirementKind.RECIPE}:{recipe.name}")
        try:
            keys.update(r.key for r in render_requirements(
                recipe.provides, _context(recipe), f"{recipe.path} provides"))
        except RecipeError:
            continue  # reported when that recipe itself is linted
    return keys


def _context(recipe: Recipe) -> dict[str, object]:
    return template_context(recipe, recipe.option_values({}), LINT_PREFIX, 2)


def lint_file(path: Path, provided: set[str]) -> list[Problem]:
    """The problems of one recipe file; a file that does not load has just that one."""
    try:
        recipe = load(path)
    except RecipeError as e:
        return [Problem(path, "load", e.message + (f" {e.hint}" if e.hint else ""))]
    problems: list[Problem] = []
    ctx = _context(recipe)
    try:
        check_templates(recipe, ctx)
    except RecipeError as e:
        problems.append(Problem(path, "templates", e.message))
    for key in ("requires", "tools", "provides"):
        try:
            reqs = render_requirements(getattr(recipe, key), ctx, f"{path} {key}")
        except RecipeError as e:
            problems.append(Problem(path, key, e.message))
            continue
        if key != "provides":
            problems += [Problem(path, key, why) for req in reqs
                         if (why := _unprovided(req, provided))]
    problems += _sources(recipe)
    problems += _files(recipe)
    return problems


def _unprovided(req: Requirement, provided: set[str]) -> str:
    if req.key in provided or packages_for(req):
        return ""
    if req.kind == RequirementKind.RECIPE:
        return f"{req}: there is no recipe {req.name}"
    return (f"{req}: nothing provides it: no recipe lists it in provides, and the "
            "system-package map (srcbuild/data/sysdeps.toml) does not know it")


def _sources(recipe: Recipe) -> list[Problem]:
    out = []
    for i, s in enumerate(recipe.sources, 1):
        where = f"[[source]] number {i}"
        if s.kind != SourceKind.PATH and len(set(s.sha256)) == 1:
            out.append(Problem(recipe.path, where, f"sha256 = {s.sha256[:8]}... is a "
                               "placeholder: srcbuild create computes the real one, and a "
                               "build with the placeholder names it"))
        if s.kind == SourceKind.PATH and not Path(s.location).exists():
            out.append(Problem(recipe.path, where, f"path {s.location} does not exist"))
    return out


def _strings(recipe: Recipe) -> list[str]:
    """Every string a recipe's steps, checks and launch commands hold."""
    out: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)

    walk(dict(recipe.build))
    walk(recipe.check)
    walk(recipe.run)
    return out


def _files(recipe: Recipe) -> list[Problem]:
    """files/... named in the recipe's strings that are not beside it."""
    out = []
    seen: set[str] = set()
    for text in _strings(recipe):
        for ref in FILES_REF.findall(text):
            if ref in seen:
                continue
            seen.add(ref)
            if not (recipe.path.parent / ref).exists():
                out.append(Problem(recipe.path, "files", f"{ref} is named but "
                                   f"{recipe.path.parent / ref} does not exist"))
    return out
