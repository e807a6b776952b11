"""One implementation per graph op: source, exec, file and merge."""

from __future__ import annotations

from minikit.errors import SolveError
from minikit.llb import ExecOp, FileOp, MergeOp, Op, OpMetadata, SourceOp
from minikit.ops.exec import ExecOpImpl
from minikit.ops.file import FileOpImpl
from minikit.ops.merge import MergeOpImpl
from minikit.ops.services import OpServices
from minikit.ops.source import SourceOpImpl
from minikit.solver.types import OpImpl

_IMPLEMENTATIONS = {
    SourceOp: SourceOpImpl,
    ExecOp: ExecOpImpl,
    FileOp: FileOpImpl,
    MergeOp: MergeOpImpl,
}


class Resolver:
    """Maps each op to its implementation, sharing one set of services."""

    def __init__(self, services: OpServices) -> None:
        self.services = services

    def resolve(self, op: Op, metadata: OpMetadata) -> OpImpl:
        """Return the implementation of ``op``."""
        implementation = _IMPLEMENTATIONS.get(type(op))
        if implementation is None:
            raise SolveError(f"unsupported op kind {op.kind!r}")
        return implementation(op, metadata, self.services)  # type: ignore[arg-type]


__all__ = ["OpServices", "Resolver"]
