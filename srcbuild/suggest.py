"""What a mistyped name probably meant: close recipe names, recipes that provide the name
(``pkgconfig:glib-2.0`` -> glib), close subcommands. Pure; difflib from the standard library.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from srcbuild.recipe import RecipeBook

# above difflib's 0.6: "libpgn" -> "libpng" (0.83), "qemmu" -> "qemu" (0.89), "instal" ->
# "install" (0.92), while "libpgn" -> "zlib" (0.6) is noise
CUTOFF = 0.7


def close(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates most like ``word``, best first (difflib's ratio, case folded)."""
    folded: dict[str, str] = {}
    for c in candidates:
        folded.setdefault(c.lower(), c)
    return [folded[m] for m in difflib.get_close_matches(word.lower(), list(folded), n, CUTOFF)]


def provided_names(book: RecipeBook) -> dict[str, list[str]]:
    """Every ``KIND:NAME`` a recipe provides, and the bare NAME, -> the recipes providing it.

    Recipes that do not load are left out: a suggestion must not fail on them.
    """
    out: dict[str, list[str]] = {}
    for recipe in book.all(errors=[]):
        for text in recipe.provides:
            if "{" in text or ":" not in text:
                continue
            key = text.split()[0]
            for name in (key, key.split(":", 1)[1]):
                out.setdefault(name, [])
                if recipe.name not in out[name]:
                    out[name].append(recipe.name)
    return out


def recipe_suggestions(word: str, book: RecipeBook) -> list[str]:
    """Readable suggestions for a name that is no recipe, at most three: recipes that provide
    it (``glib (provides pkgconfig:glib-2.0)``), close recipe names, recipes that provide a
    close name; recipe names containing it only when nothing else came up."""
    names = book.names()
    provides = provided_names(book)

    def providing(key: str) -> list[str]:
        full = key if ":" in key else next(
            (k for k in sorted(provides) if k.endswith(":" + key)), key)
        return [f"{r} (provides {full})" for r in provides[key]]

    out = providing(word) if word in provides else []
    out += close(word, names)
    # a close provided name, compared without its kind (all pkgconfig: keys look alike)
    kind, _, bare = word.rpartition(":")
    bare_names = {k.split(":", 1)[1]: k for k in sorted(provides, reverse=True)
                  if ":" in k and (not kind or k.startswith(kind + ":"))}
    for near in close(bare, [b for b in bare_names if b != bare]) if not out else []:
        out += [item for item in providing(bare_names[near]) if item.split()[0] not in out]
    if not out:
        out = [n for n in names if len(word) > 2 and (word in n or n in word)]
    unique: list[str] = []
    for item in out:
        if item.split()[0] not in [u.split()[0] for u in unique]:
            unique.append(item)
    return unique[:3]


def did_you_mean(items: list[str]) -> str:
    """``Did you mean a, b or c?``"""
    text = items[-1] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"
    return f"Did you mean {text}?"
