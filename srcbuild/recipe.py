"""The recipe model and its loading: TOML read, validated key by key (pure apart from reading
files). Rendering the Jinja2 templates a recipe holds is templates.py's job."""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srcbuild import locations
from srcbuild.errors import RecipeError, RequirementSyntaxError, UnknownName
from srcbuild.kinds import BuildSystem, RecipeKind, SourceKind
from srcbuild.pathsource import tree_digest
from srcbuild.requirement import parse
from srcbuild.safety import NAME_PATTERN, is_valid_name
from srcbuild.templates import template_strings, validate

SYSTEMS = tuple(BuildSystem)
TOP_KEYS = {
    "name", "version", "summary", "homepage", "license", "kind", "requires", "tools",
    "provides", "check", "source", "build", "options", "patches", "run", "source_date_epoch",
    "allow_undeclared",
}
BUILD_KEYS = {
    "system", "configure_args", "make_args", "install_args", "env", "configure", "build",
    "test", "install", "in_source", "autoreconf",
}
SOURCE_KEYS = {"url", "mirrors", "debian", "pypi", "path", "sha256", "filename", "subdir"}
OPTION_KEYS = {"default", "help", "choices", "type"}
OPTION_TYPES = ("string", "bool")
# what `type = "bool"` accepts, case-insensitively, and the value each one stands for
BOOL_WORDS = {"true": True, "yes": True, "on": True, "1": True,
              "false": False, "no": False, "off": False, "0": False}
MAX_DEPTH = 16  # tables and arrays within each other; the deepest key of the contract has 4

@dataclass(frozen=True)
class Source:
    """One alternative place the source comes from."""

    kind: SourceKind
    location: str  # the URL, the Debian source package, NAME==VERSION on PyPI, or a local path
    sha256: str = ""
    mirrors: tuple[str, ...] = ()
    filename: str = ""
    subdir: str = ""  # the project's folder inside the extracted tree ("" for its top)

    def describe(self) -> str:
        return {SourceKind.URL: "url", SourceKind.DEBIAN: "Debian source package",
                SourceKind.PYPI: "PyPI sdist", SourceKind.PATH: "local path"}[
            self.kind] + f" {self.location}"


@dataclass(frozen=True)
class Option:
    """One ``[options.NAME]``: its default (normalised: "true"/"false" for a bool), its
    help, the values it allows (``choices``) and its type ("string" or "bool")."""

    name: str
    default: str
    help: str = ""
    choices: tuple[str, ...] = ()
    type: str = "string"

    def allowed(self) -> str:
        """The values it accepts, as an error message names them."""
        if self.type == "bool":
            return ", ".join(BOOL_WORDS)
        return ", ".join(self.choices)

    def normalise(self, value: str) -> str | None:
        """The value as stored and hashed ("true"/"false" for a bool), None when not allowed."""
        if self.type == "bool":
            word = BOOL_WORDS.get(value.strip().lower())
            return None if word is None else ("true" if word else "false")
        if self.choices and value not in self.choices:
            return None
        return value

    def template_value(self, value: str | bool) -> str | bool:
        """What ``options.NAME`` is in a template: a Python bool for a bool option, so that
        ``{% if options.NAME %}`` tests it; the string otherwise."""
        if self.type != "bool" or isinstance(value, bool):
            return value
        return value == "true"


@dataclass(frozen=True)
class Recipe:
    """A recipe file as written: strings still hold their Jinja2 templates."""

    name: str
    path: Path
    version: str
    summary: str = ""
    homepage: str = ""
    license: str = ""
    kind: RecipeKind = RecipeKind.PACKAGE
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
    allow_undeclared: tuple[str, ...] = ()  # sonames the linkage audit accepts undeclared
    digest: str = ""  # sha256 over the recipe file and the patches it names

    @property
    def is_group(self) -> bool:
        return self.kind == RecipeKind.GROUP

    @property
    def system(self) -> str:
        """The ``[build] system`` (a BuildSystem value); "none" for a group."""
        return str(self.build.get("system", "custom" if not self.is_group else "none"))

    def option_values(self, given: Mapping[str, str]) -> dict[str, str]:
        """Defaults overlaid with the options given for this recipe, normalised (a bool is
        "true" or "false", whichever word was given); an unknown name or a value the option
        does not allow is an error naming the recipe, the option, the value and the choices."""
        known = {o.name: o for o in self.options}
        values = {o.name: o.default for o in self.options}
        for key, value in given.items():
            if key not in known:
                names = ", ".join(sorted(known)) or "none"
                raise RecipeError(
                    f"Recipe {self.name} ({self.path}) has no option {key!r}.",
                    f"Its options are: {names}.",
                )
            option = known[key]
            normal = option.normalise(value)
            if normal is None:
                kind = "a boolean" if option.type == "bool" else "one of its choices"
                raise RecipeError(
                    f"Option {key}={value!r} of recipe {self.name} ({self.path}) is not {kind}.",
                    f"Allowed values: {option.allowed()} (-o {self.name}.{key}=VALUE).",
                )
            values[key] = normal
        return values

    def template_options(self, values: Mapping[str, str | bool]) -> dict[str, str | bool]:
        """``options`` as templates see it: bool options as Python booleans."""
        types = {o.name: o for o in self.options}
        return {k: types[k].template_value(v) if k in types else v for k, v in values.items()}


def _fail(path: Path, message: str, hint: str = "") -> RecipeError:
    return RecipeError(f"Recipe {path}: {message}", hint)


def _strings(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(path, f"key {key!r} must be a list of strings, got {value!r}.")
    return tuple(value)


def _commands(path: Path, key: str, value: Any) -> None:
    if not isinstance(value, list):
        raise _fail(path, f"[build] {key} must be a list of commands, each an argv list or "
                          f"{{shell = \"...\"}}; got {value!r}.")
    for command in value:
        ok_argv = isinstance(command, list) and command and all(
            isinstance(a, str) for a in command)
        ok_shell = isinstance(command, dict) and set(command) == {"shell"} and isinstance(
            command["shell"], str)
        if not (ok_argv or ok_shell):
            raise _fail(path, f"[build] {key}: command {command!r} is neither a non-empty "
                              f"argv list of strings nor {{shell = \"...\"}}.")


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
    raw, data = _read(path)
    kind, name, version = _identity(path, data)
    lists = _requirement_lists(path, data)
    check = _check_entries(path, "check", data.get("check", []))
    run = _check_entries(path, "run", data.get("run", []))
    sources = _sources(path, data.get("source", []))
    patches = _patches(path, data.get("patches", []))
    build = _build_table(path, data.get("build", {}), kind, sources)
    options = _options(path, data.get("options", {}))
    sde = data.get("source_date_epoch")
    if sde is not None and not isinstance(sde, int):
        raise _fail(path, "source_date_epoch must be an integer (seconds since 1970).")
    recipe = Recipe(
        name=name, path=path, version=version, summary=data.get("summary", ""),
        homepage=data.get("homepage", ""), license=data.get("license", ""), kind=kind,
        requires=lists["requires"], tools=lists["tools"], provides=lists["provides"],
        check=check, sources=sources, patches=patches, options=options, build=build, run=run,
        source_date_epoch=sde,
        digest=recipe_digest(path, raw, patches, sources, files_dir(path.parent, name)),
        allow_undeclared=_strings(path, "allow_undeclared", data.get("allow_undeclared", [])),
    )
    for text, where in template_strings(recipe):  # an unsafe template is refused unrun
        validate(text, where)
    return recipe


def _read(path: Path) -> tuple[bytes, dict[str, Any]]:
    """The file's bytes (for the digest) and its TOML table, with no unknown top-level key."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise _fail(path, f"cannot be read: {e.strerror}.") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise _fail(path, f"is not valid TOML: {e}.", "Fix the syntax at that line.") from None
    except RecursionError:  # tomllib recurses into arrays and inline tables
        raise _fail(path, f"is nested too deeply to read (a recipe needs at most {MAX_DEPTH} "
                          "levels of arrays and tables).") from None
    deep = _too_deep(data)
    if deep:
        raise _fail(path, f"key {deep!r} is nested more than {MAX_DEPTH} levels deep.",
                    f"A recipe needs at most {MAX_DEPTH} levels of arrays and tables.")
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise _fail(path, f"unknown key {unknown[0]!r}.",
                    f"Known keys: {', '.join(sorted(TOP_KEYS))}.")
    return raw, data


def _too_deep(data: dict[str, Any]) -> str:
    """The dotted key of the first value nested deeper than MAX_DEPTH, else ''."""
    todo: list[tuple[Any, str, int]] = [(data, "", 0)]
    while todo:
        value, key, depth = todo.pop()
        if depth > MAX_DEPTH:
            return key
        if isinstance(value, dict):
            todo += [(v, f"{key}.{k}" if key else k, depth + 1) for k, v in value.items()]
        elif isinstance(value, list):
            todo += [(v, f"{key}[{i}]", depth + 1) for i, v in enumerate(value)]
    return ""


def _identity(path: Path, data: dict[str, Any]) -> tuple[RecipeKind, str, str]:
    """kind, name and version; the name is the file name."""
    if not is_valid_name(path.stem):
        raise _fail(path, f"the file name makes the recipe name {path.stem!r}, which does not "
                          f"match {NAME_PATTERN}.",
                    "Rename the file: lower-case letters, digits and + . _ -, starting with a "
                    "letter or a digit.")
    name = data.get("name", path.stem)
    if name != path.stem:
        raise _fail(path, f"name = {name!r} differs from the file name {path.stem!r}.",
                    "The file name is the recipe name: rename one of them.")
    kind = data.get("kind", RecipeKind.PACKAGE)
    if kind not in (RecipeKind.PACKAGE, RecipeKind.GROUP):
        raise _fail(path, f"kind = {kind!r}: it must be 'package' or 'group'.")
    version = data.get("version", "0" if kind == RecipeKind.GROUP else None)
    if not isinstance(version, str) or not version:
        raise _fail(path, "key 'version' is missing or not a string.",
                    'Add for example version = "1.2.3".')
    for key in ("summary", "homepage", "license"):
        if key in data and not isinstance(data[key], str):
            raise _fail(path, f"key {key!r} must be a string.")
    return RecipeKind(kind), name, version


def _requirement_lists(path: Path, data: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """requires, tools and provides; untemplated entries must parse now, templated ones are
    checked once rendered, with the options known."""
    lists = {k: _strings(path, k, data.get(k, [])) for k in ("requires", "tools", "provides")}
    for key, texts in lists.items():
        for text in texts:
            if "{" in text:
                continue
            try:
                parse(text)
            except RequirementSyntaxError as e:
                raise _fail(path, f"{key}: {e}.") from None
    return lists


def _sources(path: Path, raw_sources: Any) -> tuple[Source, ...]:
    if isinstance(raw_sources, dict):
        raw_sources = [raw_sources]
    if not isinstance(raw_sources, list):
        raise _fail(path, "[[source]] must be an array of tables.")
    return tuple(_source(path, f"[[source]] number {i + 1}", s)
                 for i, s in enumerate(raw_sources))


def _source(path: Path, where: str, s: Any) -> Source:
    if not isinstance(s, dict):
        raise _fail(path, f"{where} is not a table.")
    bad = sorted(set(s) - SOURCE_KEYS)
    if bad:
        raise _fail(path, f"{where}: unknown key {bad[0]!r}.",
                    f"Known keys: {', '.join(sorted(SOURCE_KEYS))}.")
    kinds = [k for k in SourceKind if k.value in s]
    if len(kinds) != 1:
        raise _fail(path, f"{where} must have exactly one of url, debian, pypi or path.")
    k = kinds[0]
    sha = s.get("sha256", "")
    if k != SourceKind.PATH and not (isinstance(sha, str) and len(sha) == 64 and all(
            c in "0123456789abcdef" for c in sha)):
        raise _fail(path, f"{where} ({k} = {s[k]!r}) needs sha256 = 64 lower-case hex digits.",
                    "Compute it with sha256sum on a trusted copy of the file.")
    location = str(s[k])
    if "\0" in location:
        raise _fail(path, f"{where}: {k} contains a NUL byte.")
    if k == SourceKind.PATH:
        location = str((path.parent / location).resolve())
    mirrors = _strings(path, f"{where} mirrors", s.get("mirrors", []))
    return Source(k, location, sha, mirrors, str(s.get("filename", "")),
                  _subdir(path, where, s.get("subdir", "")))


def _subdir(path: Path, where: str, value: Any) -> str:
    """A relative folder inside the extracted tree, without ``..``."""
    if not isinstance(value, str):
        raise _fail(path, f"{where}: subdir must be a string (a folder inside the archive).")
    parts = [p for p in value.strip("/").split("/") if p not in ("", ".")]
    if value.startswith("/") or ".." in parts:
        raise _fail(path, f"{where}: subdir = {value!r} must be a folder inside the archive "
                          "(relative, without '..').")
    return "/".join(parts)


def _patches(path: Path, value: Any) -> tuple[Path, ...]:
    patches = []
    for p in _strings(path, "patches", value):
        full = (path.parent / p).resolve()
        if not full.is_file():
            raise _fail(path, f"patch {p!r} does not exist (looked at {full}).")
        patches.append(full)
    return tuple(patches)


def _build_table(path: Path, build: Any, kind: RecipeKind, sources: tuple[Source, ...]
                 ) -> dict[str, Any]:
    if not isinstance(build, dict):
        raise _fail(path, "[build] must be a table.")
    bad = sorted(set(build) - BUILD_KEYS)
    if bad:
        raise _fail(path, f"[build]: unknown key {bad[0]!r}.",
                    f"Known keys: {', '.join(sorted(BUILD_KEYS))}.")
    if kind == RecipeKind.PACKAGE:
        system = build.get("system")
        if system not in SYSTEMS:
            raise _fail(path, f"[build] system = {system!r} is not one of {', '.join(SYSTEMS)}.")
        if not sources:
            raise _fail(path, "has no [[source]].",
                        "Add a [[source]] with url + sha256, debian + sha256, or path.")
    for key in ("configure_args", "make_args", "install_args"):
        if key in build:
            _strings(path, f"[build] {key}", build[key])
    for key in ("configure", "build", "test", "install"):
        if key in build:
            _commands(path, key, build[key])
    for key in ("in_source", "autoreconf"):
        if key in build and not isinstance(build[key], bool):
            raise _fail(path, f"[build] {key} must be true or false, got {build[key]!r}.")
    env = build.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise _fail(path, "[build] env must be a table of strings.")
    return build


def _options(path: Path, raw_options: Any) -> tuple[Option, ...]:
    if not isinstance(raw_options, dict):
        raise _fail(path, "[options] must be a table of [options.NAME] tables.")
    options = []
    for oname, o in raw_options.items():
        if not isinstance(o, dict) or "default" not in o:
            raise _fail(path, f"[options.{oname}] needs a default.")
        bad = sorted(set(o) - OPTION_KEYS)
        if bad:
            raise _fail(path, f"[options.{oname}]: unknown key {bad[0]!r}.")
        options.append(_option(path, oname, o))
    return tuple(options)


def _option(path: Path, oname: str, o: dict[str, Any]) -> Option:
    """One option, its default checked against its type and choices."""
    kind = o.get("type", "string")
    if kind not in OPTION_TYPES:
        raise _fail(path, f"[options.{oname}] type = {kind!r} is not one of "
                          f"{', '.join(OPTION_TYPES)}.")
    choices = _strings(path, f"[options.{oname}] choices", o.get("choices", []))
    if kind == "bool" and choices:
        raise _fail(path, f"[options.{oname}]: a bool option takes no choices.")
    raw = o["default"]
    if kind == "bool" and isinstance(raw, bool):
        raw = "true" if raw else "false"
    if kind == "string" and isinstance(raw, bool):
        raise _fail(path, f"[options.{oname}] default = {str(raw).lower()} is a boolean.",
                    'Add type = "bool", or quote the default.')
    option = Option(oname, str(raw), str(o.get("help", "")), choices, kind)
    default = option.normalise(option.default)
    if default is None:
        raise _fail(path, f"[options.{oname}] default = {raw!r} is not allowed.",
                    f"Allowed values: {option.allowed()}.")
    return Option(oname, default, option.help, choices, kind)


def files_dir(recipe_dir: Path, name: str) -> Path:
    """``files/NAME/`` beside the recipe: what its steps and checks may use."""
    return recipe_dir / "files" / name


def recipe_digest(path: Path, raw: bytes, patches: tuple[Path, ...],
                  sources: tuple[Source, ...], files: Path | None = None) -> str:
    """sha256 over the recipe file, its patches, the content of its local sources and of its
    ``files/NAME/`` folder (a check program, a config fragment: editing one rebuilds)."""
    digest = hashlib.sha256(raw)
    for patch in patches:
        digest.update(patch.read_bytes())
    for s in sources:
        if s.kind == SourceKind.PATH:
            digest.update(tree_digest(Path(s.location), path).encode())
    if files is not None and files.is_dir():
        digest.update(b"files/\0" + tree_digest(files, path).encode())
    return digest.hexdigest()


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
                raise self.unknown(name)
            self._cache[name] = load(path)
        return self._cache[name]

    def unknown(self, name: str, given_as: str = "") -> UnknownName:
        """The error for a name that is no recipe, with what it may have meant."""
        from srcbuild.suggest import did_you_mean, recipe_suggestions

        close = recipe_suggestions(name, self)
        hint = did_you_mean(close) if close else (
            "`srcbuild list` shows the recipes, `srcbuild search WORD` searches them; "
            "--recipes DIR adds a folder.")
        where = ", ".join(str(d) for d in self.dirs)
        return UnknownName(f"No recipe named {name!r}{given_as} in {where}.", hint, name)

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


def book_dirs(given: list[Path], builtin: Path) -> list[Path]:
    """The recipe folders in search order: those given (--recipes), SRCBUILD_RECIPES, then
    the built-in recipes/ (``builtin``: the caller's builtin_recipe_dir(), which a test may
    replace)."""
    from srcbuild.safety import absolute

    env_dirs = [absolute(p) for p in os.environ.get("SRCBUILD_RECIPES", "").split(":") if p]
    return list(given) + env_dirs + [builtin]


def builtin_recipe_dir() -> Path:
    """The built-in recipes/ folder (a checkout's, else the installed package's)."""
    return locations.builtin_recipe_dir()
