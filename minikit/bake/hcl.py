"""Reading bake files: the HCL subset in ``grammar/bake.lark``, and the JSON form.

Both forms become the same plain structure: a dict from block type
(``target``, ``group``, ``variable``) to a dict from label to attributes,
where each attribute value is an unevaluated ``Expr``. Evaluation
(variables, interpolation, functions) happens in ``minikit.bake.evaluate``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minikit.errors import ConfigError, SourceLocation

_parser: Any = None
_lock = threading.Lock()


@dataclass(frozen=True)
class Expr:
    """An HCL expression: ``kind`` is string, number, bool, null, list, object, call or reference."""

    kind: str
    value: Any = None
    items: tuple["Expr", ...] = ()
    keys: tuple[str, ...] = ()
    line: int = 0


@dataclass
class BakeFile:
    """The blocks of one bake file: type -> label -> attribute -> expression."""

    path: Path
    blocks: dict[str, dict[str, dict[str, Expr]]] = field(default_factory=dict)

    def add(self, kind: str, label: str, attributes: dict[str, Expr]) -> None:
        """Record a block; a later block of the same type and label adds to the earlier one."""
        self.blocks.setdefault(kind, {}).setdefault(label, {}).update(attributes)


def load(path: Path) -> BakeFile:
    """Read ``path`` as JSON (``.json``) or HCL; raise ConfigError with the line on a syntax error."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"failed to read bake file {path}: {exc.strerror}", hint="check the path given with -f") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"invalid bake file {path}: invalid UTF-8 byte 0x{data[exc.start]:02x} at line {line}",
            hint="bake files are UTF-8 text: check that -f names the bake file and not a binary file",
        ) from None
    if path.suffix == ".json":
        return _load_json(path, text)
    return _load_hcl(path, text)


def _parser_instance() -> Any:
    global _parser
    with _lock:
        if _parser is None:
            from lark import Lark

            from minikit.util.resources import grammar_dir

            _parser = Lark.open(str(grammar_dir() / "bake.lark"), parser="lalr", propagate_positions=True)
        return _parser


def _load_hcl(path: Path, text: str) -> BakeFile:
    from lark.exceptions import UnexpectedInput

    try:
        tree = _parser_instance().parse(text)
    except UnexpectedInput as exc:
        lines = tuple(text.split("\n"))
        raise ConfigError(
            f"invalid bake file {path}: unexpected input at line {exc.line}, column {exc.column}",
            hint="bake files use HCL: blocks like target \"app\" { tags = [\"app:1\"] }",
            location=SourceLocation(str(path), exc.line, column=exc.column, lines=lines),
        ) from None
    result = BakeFile(path)
    for child in tree.children:
        if child.data == "block":
            _add_block(result, child)
    return result


def _add_block(result: BakeFile, block: Any) -> None:
    kind = str(block.children[0])
    labels = [_unquote(str(token)) for token in block.children[1:] if hasattr(token, "type")]
    attributes: dict[str, Expr] = {}
    for item in block.children[1:]:
        if getattr(item, "data", None) == "attribute":
            attributes[str(item.children[0])] = _expr(item.children[1])
    result.add(kind, labels[0] if labels else "", attributes)


def _unquote(text: str) -> str:
    if text.startswith('"'):
        return json.loads(text)
    return text


def _expr(node: Any) -> Expr:
    data = node.data
    line = getattr(node.meta, "line", 0) if hasattr(node, "meta") else 0
    children = node.children
    if data == "string":
        return Expr("string", json.loads(str(children[0])), line=line)
    if data == "heredoc":
        return Expr("string", _heredoc(str(children[0])), line=line)
    if data == "number":
        text = str(children[0])
        return Expr("number", float(text) if "." in text else int(text), line=line)
    if data in ("true", "false"):
        return Expr("bool", data == "true", line=line)
    if data == "null":
        return Expr("null", line=line)
    if data == "list":
        return Expr("list", items=tuple(_expr(c) for c in children if c is not None), line=line)
    if data == "object":
        pairs = [c for c in children if c is not None]
        keys = tuple(_unquote(str(pair.children[0])) for pair in pairs)
        return Expr("object", keys=keys, items=tuple(_expr(pair.children[1]) for pair in pairs), line=line)
    if data == "call":
        arguments = tuple(_expr(c) for c in children[1:] if c is not None)
        return Expr("call", str(children[0]), arguments, line=line)
    if data == "reference":
        return Expr("reference", ".".join(str(c) for c in children), line=line)
    raise ConfigError(f"unsupported bake expression {data!r}")


def _heredoc(text: str) -> str:
    header, _, rest = text.partition("\n")
    tag = header.lstrip("<-")
    body = rest.rsplit("\n", 1)[0] + "\n"
    if header.startswith("<<-"):
        lines = body.split("\n")
        indent = min((len(l) - len(l.lstrip()) for l in lines if l.strip()), default=0)
        body = "\n".join(l[indent:] for l in lines)
    del tag
    return body


def _load_json(path: Path, text: str) -> BakeFile:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"invalid bake file {path}: {exc.msg} at line {exc.lineno}",
            location=SourceLocation(str(path), exc.lineno, column=exc.colno, lines=tuple(text.split("\n"))),
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"invalid bake file {path}: the top level must be a JSON object",
            hint='write {"target": {"app": {"tags": ["app:1"]}}}',
        )
    result = BakeFile(path)
    for kind in ("target", "group", "variable"):
        blocks = data.get(kind) or {}
        _check_object(path, blocks, f'"{kind}"', f'{{"{kind}": {{"NAME": {{...}}}}}}')
        for label, body in blocks.items():
            _check_object(path, body, f'{kind} "{label}"', f'{{"{kind}": {{"{label}": {{...}}}}}}')
            result.add(kind, label, {key: _from_json(value) for key, value in body.items()})
    return result


def _check_object(path: Path, value: Any, what: str, example: str) -> None:
    if not isinstance(value, dict):
        raise ConfigError(
            f"invalid bake file {path}: {what} must be a JSON object, not {_json_type(value)}",
            hint=f"write {example}",
        )


def _json_type(value: Any) -> str:
    """Return the JSON name of the type of ``value``."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "null" if value is None else type(value).__name__


def _from_json(value: Any) -> Expr:
    if isinstance(value, str):
        return Expr("string", value)
    if isinstance(value, bool):
        return Expr("bool", value)
    if isinstance(value, (int, float)):
        return Expr("number", value)
    if value is None:
        return Expr("null")
    if isinstance(value, list):
        return Expr("list", items=tuple(_from_json(item) for item in value))
    if isinstance(value, dict):
        return Expr("object", keys=tuple(value), items=tuple(_from_json(item) for item in value.values()))
    raise ConfigError(f"unsupported JSON value {value!r} in bake file")
