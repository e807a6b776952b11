"""The merge op: stack the layers of several snapshots, as ``COPY --link`` does."""

from __future__ import annotations

from typing import Any

from minikit.errors import SolveError
from minikit.llb import MergeOp, OpMetadata
from minikit.ops.services import OpServices
from minikit.solver.types import Result, RunContext, SnapshotResult


class MergeOpImpl:
    """Runs a ``MergeOp``: no files are touched, the chains are concatenated."""

    def __init__(self, op: MergeOp, metadata: OpMetadata, services: OpServices) -> None:
        self.op = op
        self.metadata = metadata

    def cache_base(self) -> str:
        """Return a constant: a merge is defined by its inputs alone."""
        return "merge"

    def content_key(self, index: int, result: Result) -> str | None:
        """Return None: merges read no files."""
        return None

    def explain(self) -> dict[str, Any]:
        """Return nothing beyond the inputs the solver adds."""
        return {}

    def run(self, ctx: RunContext, inputs: list[Result]) -> Result:
        """Concatenate the input chains, bottom first."""
        chain: tuple[str, ...] = ()
        for result in inputs:
            if not isinstance(result, SnapshotResult):
                raise SolveError("a merge can only stack snapshots")
            chain += tuple(layer for layer in result.chain if layer not in chain)
        return SnapshotResult(chain)
