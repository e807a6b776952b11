"""Evaluating bake expressions: variables, ``${...}`` interpolation, a few functions.

Variables take their value from the environment variable of the same name
when it is set, else from their ``default``, as buildx does.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Mapping

from minikit.bake.hcl import Expr
from minikit.errors import ConfigError

_INTERPOLATION = re.compile(r"\$\{([^}]*)\}")


def _join(separator: str, items: list[Any]) -> str:
    return separator.join(str(item) for item in items)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "upper": lambda text: str(text).upper(),
    "lower": lambda text: str(text).lower(),
    "join": _join,
    "split": lambda separator, text: str(text).split(separator),
    "concat": lambda *lists: [item for items in lists for item in items],
    "equal": lambda left, right: left == right,
    "notequal": lambda left, right: left != right,
    "and": lambda *values: all(values),
    "or": lambda *values: any(values),
    "not": lambda value: not value,
    "replace": lambda text, old, new: str(text).replace(old, new),
    "trimprefix": lambda text, prefix: str(text).removeprefix(prefix),
    "trimsuffix": lambda text, suffix: str(text).removesuffix(suffix),
    "trimspace": lambda text: str(text).strip(),
    "coalesce": lambda *values: next((v for v in values if v not in (None, "")), None),
}


class Evaluator:
    """Evaluates expressions against the bake files' variables."""

    def __init__(self, variables: Mapping[str, Expr], environ: Mapping[str, str] | None = None) -> None:
        self.definitions = dict(variables)
        self.environ = os.environ if environ is None else environ
        self.values: dict[str, Any] = {}
        self._resolving: set[str] = set()

    def variable(self, name: str) -> Any:
        """Return the value of variable ``name``."""
        if name in self.values:
            return self.values[name]
        if name not in self.definitions:
            raise ConfigError(f"unknown variable {name!r} in bake file", hint=f'declare it: variable "{name}" {{ default = "" }}')
        if name in self._resolving:
            raise ConfigError(f"variable {name!r} refers to itself")
        self._resolving.add(name)
        try:
            if name in self.environ:
                value: Any = self.environ[name]
                default = self.definitions[name]
                if default.kind == "bool":
                    value = value.lower() in ("1", "true")
            else:
                value = self.evaluate(self.definitions[name])
        finally:
            self._resolving.discard(name)
        self.values[name] = value
        return value

    def evaluate(self, expr: Expr) -> Any:
        """Return the Python value of ``expr``."""
        if expr.kind == "string":
            return self._interpolate(expr.value)
        if expr.kind in ("number", "bool"):
            return expr.value
        if expr.kind == "null":
            return None
        if expr.kind == "list":
            return [self.evaluate(item) for item in expr.items]
        if expr.kind == "object":
            return {key: self.evaluate(item) for key, item in zip(expr.keys, expr.items)}
        if expr.kind == "reference":
            return self.variable(expr.value)
        if expr.kind == "call":
            return self._call(expr)
        raise ConfigError(f"unsupported bake expression {expr.kind!r}")

    def _call(self, expr: Expr) -> Any:
        function = FUNCTIONS.get(expr.value)
        if function is None:
            raise ConfigError(
                f"unsupported bake function {expr.value}()",
                hint="supported: " + ", ".join(sorted(FUNCTIONS)),
            )
        return function(*(self.evaluate(item) for item in expr.items))

    def _interpolate(self, text: str) -> Any:
        whole = _INTERPOLATION.fullmatch(text)
        if whole is not None:
            return self._inner(whole.group(1))
        return _INTERPOLATION.sub(lambda match: _text(self._inner(match.group(1))), text.replace("$${", "\0")).replace("\0", "${")

    def _inner(self, inner: str) -> Any:
        inner = inner.strip()
        call = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\((.*)\)", inner)
        if call is not None:
            arguments = [self._literal(part.strip()) for part in _split_arguments(call.group(2))]
            function = FUNCTIONS.get(call.group(1))
            if function is None:
                raise ConfigError(f"unsupported bake function {call.group(1)}()")
            return function(*arguments)
        return self._literal(inner)

    def _literal(self, text: str) -> Any:
        if text.startswith('"') and text.endswith('"'):
            return self._interpolate(text[1:-1])
        if re.fullmatch(r"-?[0-9]+", text):
            return int(text)
        if text in ("true", "false"):
            return text == "true"
        return self.variable(text)


def _split_arguments(text: str) -> list[str]:
    parts, depth, current, quoted = [], 0, "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char in "([" and not quoted:
            depth += 1
        if char in ")]" and not quoted:
            depth -= 1
        if char == "," and depth == 0 and not quoted:
            parts.append(current)
            current = ""
            continue
        current += char
    if current.strip():
        parts.append(current)
    return parts


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
