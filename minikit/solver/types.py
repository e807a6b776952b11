"""What the solver exchanges with the op implementations that plug into it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from minikit.progress import ProgressWriter, VertexLog, VertexStatus

if TYPE_CHECKING:
    from minikit.llb import Op, OpMetadata


class Result:
    """The output of a vertex."""


@dataclass(frozen=True)
class SnapshotResult(Result):
    """A root filesystem: layer ids in the store, bottom first (empty = scratch)."""

    chain: tuple[str, ...] = ()


@dataclass(frozen=True)
class LocalResult(Result):
    """A folder on the host (the build context or a named context), with filters.

    ``exclude`` holds ``.dockerignore`` patterns; ``include`` limits the
    folder to the listed paths when not empty.
    """

    root: Path
    name: str = "context"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass
class RunContext:
    """What a running vertex may use: cancellation, progress and its identity."""

    vertex: str
    name: str
    progress: ProgressWriter
    cancel: threading.Event
    stage: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def log(self, data: bytes, stream: int = 1) -> None:
        """Send output of the vertex to progress."""
        self.progress.emit(VertexLog(self.vertex, data, stream))

    def status(
        self, item: str, current: int, total: int | None, completed: bool = False
    ) -> None:
        """Report progress of a transfer inside the vertex."""
        self.progress.emit(VertexStatus(self.vertex, item, current, total, completed))


class OpImpl(Protocol):
    """One op made runnable. The solver calls these methods, in this order."""

    def cache_base(self) -> str:
        """Return the part of the cache key that comes from the op itself."""

    def content_key(self, index: int, result: Result) -> str | None:
        """Return a content checksum of what the op reads from input ``index``.

        Called only for inputs whose result is a LocalResult: a COPY from the
        build context is keyed on the files it selects, not on the folder.
        """

    def explain(self) -> dict[str, Any]:
        """Return what the key is made of, for ``--explain-cache`` (no secret values)."""

    def run(self, ctx: RunContext, inputs: list[Result]) -> Result:
        """Produce the result from the inputs' results."""


class CacheImporter(Protocol):
    """A cache from elsewhere (``--cache-from``) that the solver queries on a miss."""

    def load(self, cache_key: str) -> tuple[str, ...] | None:
        """Return the layer chain for ``cache_key``, made present in the store.

        Return None when this cache has no record of the key.
        """


class OpResolver(Protocol):
    """Turns an op into its implementation; the worker provides it."""

    def resolve(self, op: Op, metadata: OpMetadata) -> OpImpl:
        """Return the implementation of ``op``."""


@dataclass(frozen=True)
class VertexReport:
    """How one vertex ended up in a build: cached, run or skipped, and why it missed."""

    digest: str
    name: str
    cache_key: str
    cached: bool
    explanation: tuple[str, ...] = ()


@dataclass(frozen=True)
class SolvedVertex:
    """One vertex after a solve, for cache export: its key and its inputs' links.

    ``chain`` is the vertex's layer chain when the solve produced or looked
    it up, and None for vertices below a cache hit (look them up by key).
    """

    digest: str
    name: str
    cache_key: str
    input_keys: tuple[str, ...]
    chain: tuple[str, ...] | None = None
    # The content key that later vertices built on, when it differs from the key.
    link: str = ""
