"""The Jinja2 environment a recipe's templates run in: a sandbox with a tight policy.

Looking at a recipe (plan, lock, graph, info, list, doctor) must never run code, and a
recipe may come from anyone. jinja2's ImmutableSandboxedEnvironment already refuses
attributes that start with an underscore and calls that modify a list or a dict; on top of
it this module allows only what recipes need:

* statements: ``{% if %}`` and ``{% for %}`` (not nested, not recursive, at most
  MAX_ITEMS iterations); no ``set``, ``with``, ``macro``, ``call``, ``filter`` blocks,
  ``include``, ``import`` or ``extends``;
* names: only those of the template context (no ``cycler``, ``joiner``, ``namespace``,
  ``lipsum`` or ``dict``); ``range`` is capped at MAX_ITEMS;
* calls: side-effect free methods of ``str`` and reading methods of ``dict`` (SAFE_METHODS);
* filters: SAFE_FILTERS; ``replace`` and ``join`` only when the result stays small;
* operators: ``*``, ``**``, ``+`` only when the result stays small; ``%`` not on strings
  (printf widths);
* every string a template makes, and its whole output, at most MAX_TEXT characters (Linux's
  limit on one argument, MAX_ARG_STRLEN).

So the work a template can do is bounded by its length, and nothing it names can reach
Python's internals. The second environment, for shell commands, quotes every value a
template puts into the command (shlex.quote), so that an option, a path or a name is one
word whatever characters it holds.
"""

from __future__ import annotations

import shlex
import types
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_TEXT = 128 * 1024
MAX_ITEMS = 1000
MAX_INT_BITS = 4096

SAFE_FILTERS = (
    "abs", "capitalize", "count", "d", "default", "dictsort", "first", "float", "int",
    "items", "join", "last", "length", "list", "lower", "max", "min", "reject", "replace",
    "reverse", "round", "select", "sort", "string", "title", "trim", "truncate", "unique",
    "upper", "wordcount",
)
SAFE_METHODS: dict[type, frozenset[str]] = {
    str: frozenset((
        "capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha",
        "isdigit", "islower", "isspace", "isupper", "join", "lower", "lstrip", "partition",
        "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rpartition", "rsplit",
        "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title", "upper")),
    dict: frozenset(("get", "items", "keys", "values")),
}
# statements a template may hold; every expression node is allowed (their effects are
# checked when they run)
ALLOWED_STATEMENTS = (nodes.Template, nodes.Output, nodes.If, nodes.For)
STATEMENT_NAMES = {"Assign": "set", "AssignBlock": "set", "CallBlock": "call",
                   "FilterBlock": "filter", "FromImport": "from ... import", "ExprStmt": "do"}
BOUNDED = "srcbuild_bounded"  # the name the For rewrite calls; templates cannot spell it


def _too_long(what: str, size: int) -> SecurityError:
    return SecurityError(f"{what} would be {size} long, over the limit of {MAX_TEXT}")


def _check_size(value: Any, what: str = "a value") -> Any:
    if isinstance(value, (str, list, tuple)) and len(value) > MAX_TEXT:
        raise _too_long(what, len(value))
    return value


def capped_range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_ITEMS:
        raise SecurityError(f"range of {len(r)} items, over the limit of {MAX_ITEMS}")
    return r


def bounded(iterable: Iterable[Any]) -> Iterator[Any]:
    """What a ``{% for %}`` iterates over: at most MAX_ITEMS items."""
    for i, item in enumerate(iterable):
        if i >= MAX_ITEMS:
            raise SecurityError(f"a for loop over more than {MAX_ITEMS} items")
        yield item


def _replaced_size(s: str, old: str, new: str, count: int = -1) -> int:
    n = s.count(old) if old else len(s) + 1
    if count is not None and count >= 0:
        n = min(n, count)
    return len(s) + n * (len(new) - len(old))


def _joined_size(items: list[str], sep: str) -> int:
    return sum(len(i) for i in items) + len(sep) * max(0, len(items) - 1)


def _safe_replace(eval_ctx: Any, s: Any, old: str, new: str, count: int | None = None) -> Any:
    size = _replaced_size(str(s), str(old), str(new), -1 if count is None else count)
    if size > MAX_TEXT:
        raise _too_long("replace's result", size)
    return FILTERS["replace"](eval_ctx, s, old, new, count)


def _safe_join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    items = [str(v) for v in bounded(value)] if attribute is None else None
    if items is not None and _joined_size(items, str(d)) > MAX_TEXT:
        raise _too_long("join's result", _joined_size(items, str(d)))
    result: str = FILTERS["join"](eval_ctx, items if items is not None else value, d, attribute)
    return str(_check_size(result, "join's result"))


_safe_replace.jinja_pass_arg = FILTERS["replace"].jinja_pass_arg  # type: ignore[attr-defined]
_safe_join.jinja_pass_arg = FILTERS["join"].jinja_pass_arg  # type: ignore[attr-defined]


class RecipeSandbox(ImmutableSandboxedEnvironment):
    """ImmutableSandboxedEnvironment with srcbuild's policy (see the module docstring)."""

    intercepted_binops = frozenset(("*", "**", "+", "%"))

    def __init__(self, finalize: Callable[[Any], Any] | None = None) -> None:
        super().__init__(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                         finalize=finalize, autoescape=False)
        self.globals.clear()
        self.globals.update(range=capped_range, **{BOUNDED: bounded})
        self.filters = {name: FILTERS[name] for name in SAFE_FILTERS}
        self.filters.update(replace=_safe_replace, join=_safe_join)

    def is_safe_callable(self, obj: Any) -> bool:
        if obj is capped_range or obj is bounded or isinstance(obj, jinja2.Undefined):
            return True  # calling an undefined name raises its UndefinedError
        if isinstance(obj, (types.BuiltinMethodType, types.MethodWrapperType)):
            owner = getattr(obj, "__self__", None)
            for kind, names in SAFE_METHODS.items():
                if isinstance(owner, kind) and obj.__name__ in names:
                    return True
        return False

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(obj, "__self__", None)
        name = getattr(obj, "__name__", "")
        if isinstance(owner, str) and name == "replace" and len(args) >= 2:
            size = _replaced_size(owner, str(args[0]), str(args[1]),
                                  int(args[2]) if len(args) > 2 else -1)
            if size > MAX_TEXT:
                raise _too_long("replace's result", size)
        if isinstance(owner, str) and name == "join" and args:
            items = [str(v) for v in bounded(args[0])]
            if _joined_size(items, owner) > MAX_TEXT:
                raise _too_long("join's result", _joined_size(items, owner))
            args = (items,)
        return _check_size(super().call(context, obj, *args, **kwargs), f"{name}'s result")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "%" and isinstance(left, str):
            raise SecurityError("string formatting with % is not allowed (use ~ to join)")
        if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0 \
                and abs(left) > 1 and abs(left).bit_length() * right > MAX_INT_BITS:
            raise SecurityError(f"{left} ** {right} is too large a number")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) \
                        and len(seq) * n > MAX_TEXT:
                    raise _too_long("a repeated value", len(seq) * n)
        if operator == "+" and isinstance(left, (str, list, tuple)) \
                and isinstance(right, (str, list, tuple)) and len(left) + len(right) > MAX_TEXT:
            raise _too_long("a joined value", len(left) + len(right))
        return _check_size(super().call_binop(context, operator, left, right))


def _check_policy(tree: nodes.Template, env: RecipeSandbox) -> None:
    """Refuse what the policy does not allow, before anything runs."""
    for node in tree.find_all(nodes.Node):
        if isinstance(node, nodes.Filter) and node.name not in env.filters:
            raise SecurityError(f"the filter {node.name!r} is not allowed in a recipe (allowed: "
                                f"{', '.join(sorted(env.filters))})")
        if isinstance(node, nodes.Test) and node.name not in env.tests:
            raise jinja2.TemplateAssertionError(f"No test named {node.name!r}.", node.lineno)
        if isinstance(node, nodes.Stmt) and not isinstance(node, ALLOWED_STATEMENTS):
            kind = type(node).__name__
            raise SecurityError(f"the {{% {STATEMENT_NAMES.get(kind, kind.lower())} %}} "
                                "statement is not allowed in a recipe")
        if isinstance(node, nodes.For):
            if node.recursive:
                raise SecurityError("recursive for loops are not allowed in a recipe")
            if any(True for _ in node.find_all(nodes.For)):
                raise SecurityError("nested for loops are not allowed in a recipe")
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            raise SecurityError(f"access to attribute {node.attr!r} is unsafe")
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) \
                and isinstance(node.arg.value, str) and node.arg.value.startswith("_"):
            raise SecurityError(f"access to item {node.arg.value!r} is unsafe")
        if isinstance(node, nodes.Name) and node.name.startswith("_") or \
                isinstance(node, nodes.Name) and node.name == BOUNDED:
            raise SecurityError(f"the name {node.name!r} is not allowed")


def _bound_loops(tree: nodes.Template) -> None:
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Call(nodes.Name(BOUNDED, "load"), [loop.iter], [], None, None,
                               lineno=loop.lineno)


def _quote(value: Any) -> str:
    return shlex.quote(str(value))


@lru_cache(maxsize=2)
def environment(shell: bool) -> RecipeSandbox:
    """The sandbox; with ``shell``, every value a template outputs is shell-quoted."""
    return RecipeSandbox(finalize=_quote if shell else None)


@lru_cache(maxsize=4096)
def check(text: str) -> None:
    """Parse a template and check it against the policy, without compiling or running it
    (raises jinja2's TemplateSyntaxError or SecurityError)."""
    env = environment(False)
    _check_policy(env.parse(text), env)


@lru_cache(maxsize=2048)
def compile_template(text: str, shell: bool) -> jinja2.Template:
    """Parse, check against the policy, and compile (raises jinja2 errors)."""
    env = environment(shell)
    tree = env.parse(text)
    _check_policy(tree, env)
    _bound_loops(tree)
    return env.from_string(tree)


def render(text: str, context: dict[str, Any], shell: bool) -> str:
    """Render in the sandbox, stopping as soon as the output passes MAX_TEXT."""
    out: list[str] = []
    size = 0
    for piece in compile_template(text, shell).generate(**context):
        size += len(piece)
        if size > MAX_TEXT:
            raise _too_long("the rendered text", size)
        out.append(piece)
    return "".join(out)
