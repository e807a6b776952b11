"""The op resolver: which implementation runs each kind of op."""

from __future__ import annotations

import importlib
from typing import Any

from minikit.errors import SolveError
from minikit.llb import Op, OpMetadata
from minikit.ops.services import OpServices

# Op kind -> (module, class). Modules load when an op of their kind appears.
_IMPLEMENTATIONS = {
    "source": ("minikit.ops.source", "SourceOpImpl"),
    "exec": ("minikit.ops.exec", "ExecOpImpl"),
    "file": ("minikit.ops.file", "FileOpImpl"),
    "merge": ("minikit.ops.merge", "MergeOpImpl"),
}


class Resolver:
    """Maps each op to its implementation, sharing one set of services."""

    def __init__(self, services: OpServices) -> None:
        self.services = services
        self._classes: dict[str, Any] = {}

    def resolve(self, op: Op, metadata: OpMetadata) -> Any:
        """Return the implementation of ``op``."""
        implementation = self._classes.get(op.kind)
        if implementation is None:
            target = _IMPLEMENTATIONS.get(op.kind)
            if target is None:
                raise SolveError(f"unsupported op kind {op.kind!r}")
            implementation = getattr(importlib.import_module(target[0]), target[1])
            self._classes[op.kind] = implementation
        return implementation(op, metadata, self.services)
