"""Graph nodes for building a definition, and the definition the solver runs.

The frontend builds the graph bottom-up out of ``Node`` objects: each holds a
finished op plus the nodes it reads from. ``marshal`` walks the graph from
its head and returns a ``Definition``: the ops in dependency order (inputs
before the ops that read them, duplicates removed), plus metadata and source
locations keyed by op digest. The definition is the only contract between
the frontend and the solver.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from minikit.llb.ops import (
    ExecOp,
    FileOp,
    MergeOp,
    Op,
    OpInput,
    SourceOp,
)


@dataclass(frozen=True)
class SourceRange:
    """Lines ``start`` to ``end`` (1-based, inclusive) of ``filename``."""

    filename: str
    start: int
    end: int


@dataclass
class OpMetadata:
    """What sits beside an op's digest: names, flags and Dockerfile lines.

    ``description`` uses BuildKit's keys: ``llb.customname`` is the progress
    name, ``com.docker.dockerfile.v1.command`` the instruction text.
    ``step`` identifies the instruction across builds (for example
    ``stage-0/3``) so that a cache miss can be explained against the last
    build of the same step.
    """

    description: dict[str, str] = field(default_factory=dict)
    ignore_cache: bool = False
    progress_group: str = ""
    stage: str = ""
    step: str = ""
    locations: tuple[SourceRange, ...] = ()

    @property
    def name(self) -> str:
        """Return the progress name of the op."""
        return self.description.get("llb.customname", "")

    def to_json(self) -> dict[str, Any]:
        """Return the metadata as a JSON object."""
        out: dict[str, Any] = {"description": dict(sorted(self.description.items()))}
        if self.ignore_cache:
            out["ignore_cache"] = True
        if self.progress_group:
            out["progress_group"] = self.progress_group
        if self.stage:
            out["stage"] = self.stage
        if self.step:
            out["step"] = self.step
        if self.locations:
            out["locations"] = [
                {"file": loc.filename, "start": loc.start, "end": loc.end} for loc in self.locations
            ]
        return out


@dataclass(frozen=True, eq=False)
class Node:
    """An op in the graph under construction, linked to the nodes it reads."""

    op: Op
    parents: tuple["NodeOutput", ...] = ()
    metadata: OpMetadata = field(default_factory=OpMetadata)

    @property
    def digest(self) -> str:
        """Return the op digest."""
        return self.op.digest


@dataclass(frozen=True, eq=False)
class NodeOutput:
    """Output ``index`` of ``node``: what a later op mounts or copies from."""

    node: Node
    index: int = 0

    def as_input(self) -> OpInput:
        """Return the edge that an op reading this output records."""
        return OpInput(self.node.digest, self.index)


def make_node(
    build_op: Callable[[tuple[OpInput, ...]], Op],
    parents: tuple[NodeOutput, ...],
    metadata: OpMetadata | None = None,
) -> Node:
    """Create a node whose op is built by ``build_op`` from the parents' edges."""
    op = build_op(tuple(parent.as_input() for parent in parents))
    return Node(op=op, parents=parents, metadata=metadata or OpMetadata())


@dataclass
class Definition:
    """A marshalled build graph.

    ``ops`` maps digest to op in dependency order. ``head`` is the final
    output, or None when the result is an empty filesystem (``scratch``).
    """

    ops: dict[str, Op]
    metadata: dict[str, OpMetadata]
    head: OpInput | None

    def to_json(self) -> dict[str, Any]:
        """Return the definition as JSON: ops in order, each with its metadata."""
        entries = []
        for digest, op in self.ops.items():
            entries.append(
                {
                    "digest": digest,
                    "op": op.to_dict(),
                    "metadata": self.metadata.get(digest, OpMetadata()).to_json(),
                }
            )
        head = None if self.head is None else {"digest": self.head.digest, "index": self.head.index}
        return {"ops": entries, "head": head}

    def to_dot(self) -> str:
        """Return the graph in Graphviz dot syntax, one cluster per stage."""
        return _render_dot(self)


def marshal(head: NodeOutput | None) -> Definition:
    """Collect every op reachable from ``head``, inputs first, without duplicates."""
    ops: dict[str, Op] = {}
    metadata: dict[str, OpMetadata] = {}
    if head is None:
        return Definition(ops, metadata, None)
    stack: list[tuple[Node, bool]] = [(head.node, False)]
    while stack:
        node, expanded = stack.pop()
        digest = node.digest
        if digest in ops:
            continue
        if expanded:
            ops[digest] = node.op
            metadata.setdefault(digest, node.metadata)
            continue
        stack.append((node, True))
        for parent in reversed(node.parents):
            if parent.node.digest not in ops:
                stack.append((parent.node, False))
    return Definition(ops, metadata, head.as_input())


def _label_of(op: Op, meta: OpMetadata) -> str:
    if meta.name:
        return meta.name
    if isinstance(op, SourceOp):
        return op.identifier
    if isinstance(op, ExecOp):
        return " ".join(op.meta.args)
    if isinstance(op, FileOp):
        return "file op"
    if isinstance(op, MergeOp):
        return "merge"
    return op.kind


def _render_dot(definition: Definition) -> str:
    lines = ["digraph llb {", "  rankdir=TB;", '  node [shape=box, fontname="monospace"];']
    by_stage: dict[str, list[str]] = {}
    for digest, op in definition.ops.items():
        meta = definition.metadata.get(digest, OpMetadata())
        by_stage.setdefault(meta.stage, []).append(digest)
    for number, (stage, digests) in enumerate(by_stage.items()):
        indent = "  "
        if stage:
            lines.append(f"  subgraph cluster_{number} {{")
            lines.append(f"    label={json.dumps(stage)};")
            indent = "    "
        for digest in digests:
            op = definition.ops[digest]
            label = _label_of(op, definition.metadata.get(digest, OpMetadata()))
            if len(label) > 60:
                label = label[:57] + "..."
            shape = ', shape=ellipse' if isinstance(op, SourceOp) else ""
            lines.append(f'{indent}"{digest[7:19]}" [label={json.dumps(label)}{shape}];')
        if stage:
            lines.append("  }")
    for digest, op in definition.ops.items():
        for edge in op.inputs:
            lines.append(f'  "{edge.digest[7:19]}" -> "{digest[7:19]}";')
    lines.append("}")
    return "\n".join(lines) + "\n"
