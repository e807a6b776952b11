"""The generic graph engine: cache keys, cache lookups, scheduling, parallelism.

A solve runs in three phases:

1. Keys. In dependency order, each vertex gets a cache key: the digest of
   its op's own part (``OpImpl.cache_base``), its inputs' keys, and content
   checksums of what it reads from local folders (``OpImpl.content_key``).
   Local sources are resolved here, because their result is only a path.
2. Plan. From the head down, a vertex whose key has a record in the store
   (and does not ignore the cache) is a hit, and nothing below it needs to
   run; every other vertex on the way is a miss and will run.
3. Run. Misses run on a pool of ``jobs`` threads as soon as their inputs are
   ready. Identical vertices share one digest, so they run once. The first
   failure cancels the running siblings and stops scheduling; results that
   completed are already in the store.
"""

from __future__ import annotations

import concurrent.futures as futures
import logging
import threading
import time
from dataclasses import dataclass, field

from minikit.cache.store import Store
from minikit.errors import BuildInterrupted, MinikitError, SolveError, SourceLocation
from minikit.llb import Definition, Op, OpMetadata
from minikit.progress import (
    ProgressWriter,
    VertexCached,
    VertexCompleted,
    VertexStarted,
)
from minikit.solver.explain import explain_miss
from minikit.solver.types import (
    LocalResult,
    OpImpl,
    OpResolver,
    Result,
    RunContext,
    SnapshotResult,
    VertexReport,
)
from minikit.util.digest import digest_of

log = logging.getLogger(__name__)

# Seconds between checks for Ctrl-C while waiting on running vertices.
_POLL_SECONDS = 0.2


@dataclass
class _Vertex:
    digest: str
    op: Op
    metadata: OpMetadata
    impl: OpImpl
    inputs: list["_Vertex"]
    key: str = ""
    result: Result | None = None
    components: dict = field(default_factory=dict)
    explanation: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.metadata.name or self.op.kind


@dataclass(frozen=True)
class SolveResult:
    """The head's result and a report per vertex."""

    result: Result
    reports: tuple[VertexReport, ...]
    cache_keys: dict[str, str]


class Solver:
    """Runs definitions against one store with a bounded pool of threads."""

    def __init__(
        self,
        store: Store,
        resolver: OpResolver,
        progress: ProgressWriter,
        *,
        jobs: int,
        explain: bool = False,
        location_lines: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.store = store
        self.resolver = resolver
        self.progress = progress
        self.jobs = max(1, jobs)
        self.explain = explain
        self.location_lines = location_lines or {}
        self.cancel = threading.Event()

    def solve(self, definition: Definition) -> SolveResult:
        """Build ``definition`` and return the head's result."""
        if definition.head is None:
            return SolveResult(SnapshotResult(), (), {})
        vertices = self._load(definition)
        for vertex in vertices.values():
            self._compute_key(vertex)
        head = vertices[definition.head.digest]
        to_run = self._plan(head)
        self._record_explanations(vertices.values(), to_run)
        self._report_cached(vertices.values(), to_run)
        self._run(to_run)
        reports = tuple(
            VertexReport(v.digest, v.name, v.key, v.digest not in to_run, v.explanation)
            for v in vertices.values()
        )
        assert head.result is not None
        return SolveResult(
            head.result, reports, {v.digest: v.key for v in vertices.values()}
        )

    # -- phase 1: keys --------------------------------------------------------

    def _load(self, definition: Definition) -> dict[str, _Vertex]:
        vertices: dict[str, _Vertex] = {}
        for digest, op in definition.ops.items():
            metadata = definition.metadata.get(digest, OpMetadata())
            impl = self.resolver.resolve(op, metadata)
            inputs = [vertices[edge.digest] for edge in op.inputs]
            vertices[digest] = _Vertex(digest, op, metadata, impl, inputs)
        return vertices

    def _compute_key(self, vertex: _Vertex) -> None:
        content: list[str | None] = []
        for index, parent in enumerate(vertex.inputs):
            if isinstance(parent.result, LocalResult):
                content.append(vertex.impl.content_key(index, parent.result))
            else:
                content.append(None)
        base = vertex.impl.cache_base()
        vertex.key = digest_of(
            {
                "base": base,
                "inputs": [parent.key for parent in vertex.inputs],
                "content": content,
            }
        )
        if self._is_local_source(vertex):
            ctx = self._context(vertex)
            vertex.result = vertex.impl.run(ctx, [])
        if vertex.metadata.step:
            components = dict(vertex.impl.explain())
            components["inputs"] = [
                {"key": parent.key, "name": parent.name} for parent in vertex.inputs
            ]
            vertex.components = components

    @staticmethod
    def _is_local_source(vertex: _Vertex) -> bool:
        return vertex.op.kind == "source" and getattr(
            vertex.op, "identifier", ""
        ).startswith("local://")

    # -- phase 2: plan --------------------------------------------------------

    def _plan(self, head: _Vertex) -> dict[str, _Vertex]:
        to_run: dict[str, _Vertex] = {}
        seen: set[str] = set()
        stack = [head]
        while stack:
            vertex = stack.pop()
            if vertex.digest in seen:
                continue
            seen.add(vertex.digest)
            if vertex.result is not None:
                continue
            if not vertex.metadata.ignore_cache:
                chain = self.store.get_record(vertex.key)
                if chain is not None:
                    vertex.result = SnapshotResult(chain)
                    continue
            to_run[vertex.digest] = vertex
            stack.extend(vertex.inputs)
        return to_run

    def _record_explanations(self, vertices, to_run: dict[str, _Vertex]) -> None:  # type: ignore[no-untyped-def]
        """Explain each miss against the last build of its step; remember the hits."""
        for vertex in vertices:
            step = vertex.metadata.step
            if not step:
                continue
            if vertex.digest not in to_run:
                self.store.put_explain(step, vertex.key, vertex.components)
            elif self.explain:
                previous = self.store.get_explain(step)
                vertex.explanation = explain_miss(
                    previous[1] if previous else None,
                    vertex.components,
                    ignore_cache=vertex.metadata.ignore_cache,
                    same_key=previous is not None and previous[0] == vertex.key,
                )

    def _report_cached(self, vertices, to_run: dict[str, _Vertex]) -> None:  # type: ignore[no-untyped-def]
        for vertex in vertices:
            if vertex.digest in to_run or not vertex.metadata.name:
                continue
            if self._is_local_source(vertex):
                continue
            now = time.time()
            self.progress.emit(VertexCached(vertex.digest, vertex.name, now))
            self.progress.emit(
                VertexCompleted(vertex.digest, vertex.name, now, now, cached=True)
            )

    # -- phase 3: run ---------------------------------------------------------

    def _run(self, to_run: dict[str, _Vertex]) -> None:
        if not to_run:
            return
        waiting = dict(to_run)
        running: dict[futures.Future, _Vertex] = {}
        failure: BaseException | None = None
        pool = futures.ThreadPoolExecutor(
            max_workers=self.jobs, thread_name_prefix="solve"
        )
        try:
            while waiting or running:
                if failure is None:
                    for vertex in self._ready(waiting, len(running)):
                        del waiting[vertex.digest]
                        running[pool.submit(self._execute, vertex)] = vertex
                if not running:
                    break
                done, _ = futures.wait(
                    list(running),
                    timeout=_POLL_SECONDS,
                    return_when=futures.FIRST_COMPLETED,
                )
                for future in done:
                    vertex = running.pop(future)
                    error = future.exception()
                    if error is not None and failure is None:
                        failure = error
                        self.cancel.set()
                if failure is not None:
                    waiting.clear()
        except KeyboardInterrupt:
            self.cancel.set()
            futures.wait(list(running))
            raise BuildInterrupted(
                "build interrupted; completed steps stay in the cache"
            ) from None
        finally:
            pool.shutdown(wait=True)
        if failure is not None:
            raise failure

    def _ready(self, waiting: dict[str, _Vertex], busy: int) -> list[_Vertex]:
        free = self.jobs - busy
        ready = []
        for vertex in waiting.values():
            if free <= 0:
                break
            if all(parent.result is not None for parent in vertex.inputs):
                ready.append(vertex)
                free -= 1
        return ready

    def _execute(self, vertex: _Vertex) -> None:
        started = time.time()
        if vertex.metadata.name:
            self.progress.emit(VertexStarted(vertex.digest, vertex.name, started))
        ctx = self._context(vertex)
        try:
            if self.cancel.is_set():
                raise BuildInterrupted("build cancelled")
            inputs = [parent.result for parent in vertex.inputs]
            result = vertex.impl.run(ctx, inputs)  # type: ignore[arg-type]
        except MinikitError as exc:
            self._locate(exc, vertex)
            self._complete(vertex, started, error=str(exc))
            raise
        except Exception as exc:
            log.exception("step %s failed", vertex.name)
            error = SolveError(f"failed to run {vertex.name}: {exc}")
            self._locate(error, vertex)
            self._complete(vertex, started, error=str(error))
            raise error from exc
        if isinstance(result, SnapshotResult):
            self.store.put_record(vertex.key, result.chain, vertex.name)
        if vertex.metadata.step:
            self.store.put_explain(vertex.metadata.step, vertex.key, vertex.components)
        vertex.result = result
        self._complete(vertex, started)

    def _complete(
        self, vertex: _Vertex, started: float, error: str | None = None
    ) -> None:
        if vertex.metadata.name:
            self.progress.emit(
                VertexCompleted(vertex.digest, vertex.name, started, error=error)
            )

    def _context(self, vertex: _Vertex) -> RunContext:
        return RunContext(
            vertex.digest,
            vertex.name,
            self.progress,
            self.cancel,
            vertex.metadata.stage,
        )

    def _locate(self, error: MinikitError, vertex: _Vertex) -> None:
        if error.location is not None or not vertex.metadata.locations:
            return
        first = vertex.metadata.locations[0]
        lines = self.location_lines.get(first.filename, ())
        error.location = SourceLocation(
            first.filename, first.start, first.end, lines=lines
        )
