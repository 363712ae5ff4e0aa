"""The recipe model: TOML loading, validation and Jinja2 rendering (pure apart from reading files)."""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from srcbuild.errors import RecipeError
from srcbuild.pathsource import tree_digest
from srcbuild.requirement import Requirement, RequirementSyntaxError, parse

SYSTEMS = ("autotools", "meson", "cmake", "make", "kbuild", "custom")
TOP_KEYS = {
    "name", "version", "summary", "homepage", "license", "kind", "requires", "tools",
    "provides", "check", "source", "build", "options", "patches", "run", "source_date_epoch",
}
BUILD_KEYS = {
    "system", "configure_args", "make_args", "install_args", "env", "configure", "build",
    "install", "in_source",
}
SOURCE_KEYS = {"url", "mirrors", "debian", "pypi", "path", "sha256", "filename"}
OPTION_KEYS = {"default", "help", "choices"}

_jinja = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


@dataclass(frozen=True)
class Source:
    """One alternative place the source comes from."""

    kind: str  # url | debian | pypi | path
    location: str  # the URL, the Debian source package, NAME==VERSION on PyPI, or a local path
    sha256: str = ""
    mirrors: tuple[str, ...] = ()
    filename: str = ""

    def describe(self) -> str:
        return {"url": "url", "debian": "Debian source package", "pypi": "PyPI sdist",
                "path": "local path"}[
            self.kind
        ] + f" {self.location}"


@dataclass(frozen=True)
class Option:
    name: str
    default: str
    help: str = ""
    choices: tuple[str, ...] = ()


# A step is an argv list, or {"shell": "..."} when the recipe explicitly asks for a shell.
Step = list[str] | dict[str, str]


@dataclass(frozen=True)
class Recipe:
    """A recipe file as written: strings still hold their Jinja2 templates."""

    name: str
    path: Path
    version: str
    summary: str = ""
    homepage: str = ""
    license: str = ""
    kind: str = "package"
    requires: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    check: tuple[Any, ...] = ()
    sources: tuple[Source, ...] = ()
    patches: tuple[Path, ...] = ()
    options: tuple[Option, ...] = ()
    build: Mapping[str, Any] = field(default_factory=dict)
    run: tuple[Any, ...] = ()
    source_date_epoch: int | None = None
    digest: str = ""  # sha256 over the recipe file and the patches it names

    @property
    def is_group(self) -> bool:
        return self.kind == "group"

    @property
    def system(self) -> str:
        return str(self.build.get("system", "custom" if not self.is_group else "none"))

    def option_values(self, given: Mapping[str, str]) -> dict[str, str]:
        """Defaults overlaid with the options given for this recipe; unknown names are errors."""
        known = {o.name: o for o in self.options}
        for key, value in given.items():
            if key not in known:
                names = ", ".join(sorted(known)) or "none"
                raise RecipeError(
                    f"Recipe {self.name} ({self.path}) has no option {key!r}.",
                    f"Its options are: {names}.",
                )
            choices = known[key].choices
            if choices and value not in choices:
                raise RecipeError(
                    f"Option {key}={value!r} of recipe {self.name} is not one of "
                    f"{', '.join(choices)}."
                )
        return {o.name: given.get(o.name, o.default) for o in self.options}


def render(template: str, context: Mapping[str, Any], where: str) -> str:
    """Render one Jinja2 string; a template error names the recipe and key."""
    if "{{" not in template and "{%" not in template:
        return template
    try:
        return _jinja.from_string(template).render(**context)
    except jinja2.UndefinedError as e:
        names = ", ".join(sorted(k for k in context if k != "options"))
        raise RecipeError(
            f"{where}: {e.message} in {template!r}.",
            f"The names available here are {names} and options.NAME.",
        ) from None
    except jinja2.TemplateError as e:
        raise RecipeError(f"{where}: bad template {template!r}: {e}.") from None


def render_requirements(
    texts: tuple[str, ...], context: Mapping[str, Any], where: str
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
    ctx = {"source_dir": "/SOURCE", "build_dir": "/BUILD", "destdir": "/DESTDIR",
           "stage": "/DESTDIR" + str(context.get("prefix", "")), **context}

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


def _fail(path: Path, message: str, hint: str = "") -> RecipeError:
    return RecipeError(f"Recipe {path}: {message}", hint)


def _strings(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(path, f"key {key!r} must be a list of strings, got {value!r}.")
    return tuple(value)


def _steps(path: Path, key: str, value: Any) -> list[Step]:
    if not isinstance(value, list):
        raise _fail(path, f"[build] {key} must be a list of steps, each an argv list or "
                          f"{{shell = \"...\"}}; got {value!r}.")
    for step in value:
        ok_argv = isinstance(step, list) and step and all(isinstance(a, str) for a in step)
        ok_shell = isinstance(step, dict) and set(step) == {"shell"} and isinstance(
            step["shell"], str)
        if not (ok_argv or ok_shell):
            raise _fail(path, f"[build] {key}: step {step!r} is neither a non-empty argv list "
                              f"of strings nor {{shell = \"...\"}}.")
    return value


def _check_entries(path: Path, key: str, value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise _fail(path, f"key {key!r} must be a list of commands (strings or argv lists).")
    for entry in value:
        if not (isinstance(entry, str) or (isinstance(entry, list) and entry and all(
                isinstance(a, str) for a in entry))):
            raise _fail(path, f"{key}: {entry!r} is neither a command string nor an argv list.")
    return tuple(value)


def load(path: Path) -> Recipe:
    """Read and validate one recipe file; every problem is a RecipeError naming file and key."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise _fail(path, f"cannot be read: {e.strerror}.") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise _fail(path, f"is not valid TOML: {e}.", "Fix the syntax at that line.") from None

    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise _fail(path, f"unknown key {unknown[0]!r}.",
                    f"Known keys: {', '.join(sorted(TOP_KEYS))}.")
    name = data.get("name", path.stem)
    if name != path.stem:
        raise _fail(path, f"name = {name!r} differs from the file name {path.stem!r}.",
                    "The file name is the recipe name: rename one of them.")
    kind = data.get("kind", "package")
    if kind not in ("package", "group"):
        raise _fail(path, f"kind = {kind!r}: it must be 'package' or 'group'.")
    version = data.get("version", "0" if kind == "group" else None)
    if not isinstance(version, str) or not version:
        raise _fail(path, "key 'version' is missing or not a string.",
                    'Add for example version = "1.2.3".')
    for key in ("summary", "homepage", "license"):
        if key in data and not isinstance(data[key], str):
            raise _fail(path, f"key {key!r} must be a string.")

    lists = {k: _strings(path, k, data.get(k, [])) for k in ("requires", "tools", "provides")}
    for key in ("requires", "tools", "provides"):
        for text in lists[key]:
            if "{" in text:
                continue  # checked once rendered, with the options known
            try:
                parse(text)
            except RequirementSyntaxError as e:
                raise _fail(path, f"{key}: {e}.") from None
    check = _check_entries(path, "check", data.get("check", []))
    run = _check_entries(path, "run", data.get("run", []))

    sources = []
    raw_sources = data.get("source", [])
    if isinstance(raw_sources, dict):
        raw_sources = [raw_sources]
    if not isinstance(raw_sources, list):
        raise _fail(path, "[[source]] must be an array of tables.")
    for i, s in enumerate(raw_sources):
        where = f"[[source]] number {i + 1}"
        if not isinstance(s, dict):
            raise _fail(path, f"{where} is not a table.")
        bad = sorted(set(s) - SOURCE_KEYS)
        if bad:
            raise _fail(path, f"{where}: unknown key {bad[0]!r}.",
                        f"Known keys: {', '.join(sorted(SOURCE_KEYS))}.")
        kinds = [k for k in ("url", "debian", "pypi", "path") if k in s]
        if len(kinds) != 1:
            raise _fail(path, f"{where} must have exactly one of url, debian, pypi or path.")
        k = kinds[0]
        sha = s.get("sha256", "")
        if k != "path" and not (isinstance(sha, str) and len(sha) == 64 and all(
                c in "0123456789abcdef" for c in sha)):
            raise _fail(path, f"{where} ({k} = {s[k]!r}) needs sha256 = 64 lower-case hex digits.",
                        "Compute it with sha256sum on a trusted copy of the file.")
        location = str(s[k])
        if "\0" in location:
            raise _fail(path, f"{where}: {k} contains a NUL byte.")
        if k == "path":
            location = str((path.parent / location).resolve())
        mirrors = _strings(path, f"{where} mirrors", s.get("mirrors", []))
        sources.append(Source(k, location, sha, mirrors, str(s.get("filename", ""))))

    patches = []
    for p in _strings(path, "patches", data.get("patches", [])):
        full = (path.parent / p).resolve()
        if not full.is_file():
            raise _fail(path, f"patch {p!r} does not exist (looked at {full}).")
        patches.append(full)

    build = data.get("build", {})
    if not isinstance(build, dict):
        raise _fail(path, "[build] must be a table.")
    bad = sorted(set(build) - BUILD_KEYS)
    if bad:
        raise _fail(path, f"[build]: unknown key {bad[0]!r}.",
                    f"Known keys: {', '.join(sorted(BUILD_KEYS))}.")
    if kind == "package":
        system = build.get("system")
        if system not in SYSTEMS:
            raise _fail(path, f"[build] system = {system!r} is not one of {', '.join(SYSTEMS)}.")
        if not sources:
            raise _fail(path, "has no [[source]].",
                        "Add a [[source]] with url + sha256, debian + sha256, or path.")
    for key in ("configure_args", "make_args", "install_args"):
        if key in build:
            _strings(path, f"[build] {key}", build[key])
    for key in ("configure", "build", "install"):
        if key in build:
            _steps(path, key, build[key])
    env = build.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise _fail(path, "[build] env must be a table of strings.")

    options = []
    raw_options = data.get("options", {})
    if not isinstance(raw_options, dict):
        raise _fail(path, "[options] must be a table of [options.NAME] tables.")
    for oname, o in raw_options.items():
        if not isinstance(o, dict) or "default" not in o:
            raise _fail(path, f"[options.{oname}] needs a default.")
        bad = sorted(set(o) - OPTION_KEYS)
        if bad:
            raise _fail(path, f"[options.{oname}]: unknown key {bad[0]!r}.")
        choices = _strings(path, f"[options.{oname}] choices", o.get("choices", []))
        options.append(Option(oname, str(o["default"]), str(o.get("help", "")), choices))

    sde = data.get("source_date_epoch")
    if sde is not None and not isinstance(sde, int):
        raise _fail(path, "source_date_epoch must be an integer (seconds since 1970).")

    digest = hashlib.sha256(raw)
    for patch in patches:
        digest.update(patch.read_bytes())
    for s in sources:
        if s.kind == "path":
            digest.update(tree_digest(Path(s.location), path).encode())

    return Recipe(
        name=name, path=path, version=version, summary=data.get("summary", ""),
        homepage=data.get("homepage", ""), license=data.get("license", ""), kind=kind,
        requires=lists["requires"], tools=lists["tools"], provides=lists["provides"],
        check=check, sources=tuple(sources), patches=tuple(patches), options=tuple(options),
        build=build, run=run, source_date_epoch=sde, digest=digest.hexdigest(),
    )


class RecipeBook:
    """The recipe folders, searched in order; the first file of a name wins."""

    def __init__(self, dirs: list[Path]) -> None:
        self.dirs = [d.resolve() for d in dirs]
        self._cache: dict[str, Recipe] = {}
        self._paths: dict[str, Path] | None = None

    def paths(self) -> dict[str, Path]:
        if self._paths is None:
            found: dict[str, Path] = {}
            for d in self.dirs:
                if not d.is_dir():
                    continue
                for p in sorted(d.glob("*.toml")):
                    found.setdefault(p.stem, p)
            self._paths = found
        return self._paths

    def names(self) -> list[str]:
        return sorted(self.paths())

    def has(self, name: str) -> bool:
        return name in self.paths()

    def get(self, name: str) -> Recipe:
        if name not in self._cache:
            path = self.paths().get(name)
            if path is None:
                close = [n for n in self.names() if name in n or n in name][:5]
                hint = f"Did you mean {', '.join(close)}?" if close else (
                    "`srcbuild list` shows the recipes; --recipes DIR adds a folder.")
                where = ", ".join(str(d) for d in self.dirs)
                raise RecipeError(f"No recipe named {name!r} in {where}.", hint)
            self._cache[name] = load(path)
        return self._cache[name]

    def all(self, errors: list[RecipeError] | None = None) -> list[Recipe]:
        """Every recipe; with ``errors`` given, broken ones are collected there, not raised."""
        out = []
        for n in self.names():
            try:
                out.append(self.get(n))
            except RecipeError as e:
                if errors is None:
                    raise
                errors.append(e)
        return out


def builtin_recipe_dir() -> Path:
    """The recipes/ folder shipped beside the package (a checkout or an editable install)."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "recipes", here / "recipes"):
        if candidate.is_dir():
            return candidate
    return here.parent / "recipes"
