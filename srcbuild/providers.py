"""Who provides a requirement: the recipes of the book, the packages installed in the prefix,
and the recipes of the graph being resolved. One index, keyed by ``KIND:NAME``. Pure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from srcbuild.errors import RecipeError
from srcbuild.kinds import RequirementKind
from srcbuild.recipe import Recipe, RecipeBook
from srcbuild.requirement import Requirement, parse
from srcbuild.state import PrefixState

# a recipe's provides with its templates rendered (with the options of this run)
RenderProvides = Callable[[Recipe, tuple[str, ...]], tuple[Requirement, ...]]


@dataclass(frozen=True)
class Provider:
    """A recipe that provides a requirement key, at the version it provides."""

    recipe: Recipe
    version: str


class ProviderIndex:
    """Recipes (book), installed packages (prefix) and graph nodes by the keys they provide.

    The book part is built on first use from every recipe; a broken recipe is collected in
    ``broken`` instead of stopping the lookup (it may not be needed at all).
    """

    def __init__(self, book: RecipeBook, state: PrefixState,
                 render_provides: RenderProvides) -> None:
        self.book = book
        self.state = state
        self.render_provides = render_provides
        self.broken: list[RecipeError] = []
        self._recipes: dict[str, list[Recipe]] | None = None
        self._graph: dict[str, str] = {}  # key -> the first graph node that provides it

    # -- the book ---------------------------------------------------------------------
    def _index(self) -> dict[str, list[Recipe]]:
        if self._recipes is None:
            index: dict[str, list[Recipe]] = {}
            everything = self.book.all(self.broken)
            for recipe in everything:
                for text in recipe.provides:
                    if "{" not in text:
                        index.setdefault(parse(text).key, []).append(recipe)
                index.setdefault(f"{RequirementKind.RECIPE}:{recipe.name}", []).append(recipe)
            # provides that depend on options are rendered with this run's options
            for recipe in everything:
                templated = tuple(t for t in recipe.provides if "{" in t)
                for req in self.render_provides(recipe, templated) if templated else ():
                    index.setdefault(req.key, []).append(recipe)
            self._recipes = index
        return self._recipes

    def recipes(self, req: Requirement) -> list[Provider]:
        """Recipes whose provides match the requirement's kind and name, with the version
        they provide (a ``provides = ["KIND:NAME = V"]`` entry, else the recipe's)."""
        out = []
        for recipe in self._index().get(req.key, []):
            version = recipe.version
            for text in recipe.provides:
                if "{" not in text:
                    p = parse(text)
                    if p.key == req.key and p.op == "=":
                        version = p.version
            out.append(Provider(recipe, version))
        return out

    def names(self, req: Requirement) -> list[str]:
        """The names of the recipes that provide a requirement (to name them in a diagnosis)."""
        return [p.recipe.name for p in self.recipes(req)]

    # -- the prefix -------------------------------------------------------------------
    def installed(self, req: Requirement) -> str | None:
        """The package installed in the prefix whose recorded provides match, when a recipe
        of that name exists (else None: it cannot be rebuilt)."""
        for pkg in self.state.packages().values():
            if any(parse(p).key == req.key for p in pkg.provides if "{" not in p):
                return pkg.name if self.book.has(pkg.name) else None
        return None

    # -- the graph --------------------------------------------------------------------
    def add_graph_node(self, name: str, provides: tuple[Requirement, ...]) -> None:
        """Record a recipe added to the graph; the first one to provide a key keeps it."""
        for p in provides:
            self._graph.setdefault(p.key, name)

    def in_graph(self, req: Requirement) -> str | None:
        return self._graph.get(req.key)
