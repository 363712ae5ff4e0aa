"""Where srcbuild's own files are: the source checkout it runs from, or the installed package.

A checkout (an editable install, or ``python3 -m srcbuild`` with the checkout on the path) uses
its own top-level ``recipes/`` and ``cache/``; a wheel carries the recipes as
``srcbuild/recipes`` (pyproject maps ``recipes/`` there at build time) and never writes beside
itself.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from srcbuild.errors import RecipeError


def checkout_root() -> Path | None:
    """The source checkout this package is imported from, or None for an installed package.

    A checkout is the folder above the package that holds both pyproject.toml and recipes/;
    site-packages holds neither, so a stray ``recipes`` folder there is never mistaken for one.
    """
    top = Path(__file__).resolve().parent.parent
    if (top / "pyproject.toml").is_file() and (top / "recipes").is_dir():
        return top
    return None


def builtin_recipe_dir() -> Path:
    """The built-in recipes: the checkout's recipes/, else the ones shipped in the package."""
    root = checkout_root()
    if root is not None:
        return root / "recipes"
    shipped = resources.files("srcbuild") / "recipes"
    if not isinstance(shipped, Path):
        # recipes are run from disk (patches, files/ copied into build trees): no zip imports
        raise RecipeError(f"srcbuild's built-in recipes are not a folder on disk ({shipped}).",
                          "Install srcbuild with pip or pipx (not as a zip), or pass --recipes "
                          "DIR with a checkout's recipes/ folder.")
    return shipped


def checkout_cache_dir() -> Path | None:
    """The checkout's own cache/ folder when it is there and writable, else None."""
    root = checkout_root()
    if root is None:
        return None
    cache = root / "cache"
    return cache if cache.is_dir() and os.access(cache, os.W_OK) else None
