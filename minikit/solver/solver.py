"""The generic graph engine: cache keys, cache lookups, scheduling, parallelism.

A solve runs in three phases:

1. Keys. In dependency order, each vertex gets a cache key: the digest of
   its op's own part (``OpImpl.cache_base``), its inputs' keys, and content
   checksums of what it reads from local folders (``OpImpl.content_key``).
   Local sources are resolved here, because their result is only a path.
   Each vertex also gets a link, its content key: the same digest over the
   inputs' links, except that an op reading files from a snapshot (COPY
   --from a stage, a bind mount of a stage) uses checksums of those files
   in place of that input's link, as BuildKit does. The store remembers the
   link of every key whose link differs from it; an unknown link waits
   until the vertex runs.
2. Plan. From the head down, a vertex is a hit when its key has a record in
   the store or in a cache given with ``--cache-from``, unless it ignores
   the cache. Nothing below a hit needs to run. Every other vertex on the
   way is a miss and will run.
3. Run. Misses run on a pool of ``jobs`` threads as soon as their inputs are
   ready. A miss whose link differs from its key is a hit after all when the
   link has a record, so a stage rebuilt with the same files leaves the
   steps that read it, and the steps after them, cached. Identical vertices
   share one digest, so they run once. The first failure cancels the
   running siblings and stops scheduling; results that completed are
   already in the store.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

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
    CacheImporter,
    LocalResult,
    OpImpl,
    OpResolver,
    Result,
    RunContext,
    SnapshotResult,
    SolvedVertex,
    VertexReport,
)
from minikit.util.digest import digest_of

log = logging.getLogger(__name__)

# Seconds between checks for Ctrl-C while waiting on running vertices.
_POLL_SECONDS = 0.2
# The default bound on steps running at once never goes below this.
MIN_DEFAULT_JOBS = 4


def default_jobs() -> int:
    """Return the default ``--jobs``: the number of CPUs, but at least 4.

    Most RUN steps spend much of their time waiting (on the network, on
    ``sleep``, on disk), and the kernel shares the CPUs between the ones
    that compute. Bounding parallel steps by the CPU count alone would make
    two independent stages that sleep wait for each other on a small
    machine, where BuildKit, which has no bound, runs them together.
    """
    return max(MIN_DEFAULT_JOBS, os.cpu_count() or 1)


@dataclass
class _Vertex:
    digest: str
    op: Op
    metadata: OpMetadata
    impl: OpImpl
    inputs: list[_Vertex]
    key: str = ""
    # The content key (see the module doc); "" while unknown.
    link: str = ""
    base: str = ""
    content: list[str | None] = field(default_factory=list)
    result: Result | None = None
    ran: bool = False
    components: dict = field(default_factory=dict)
    explanation: tuple[str, ...] = ()
    # Where ``--explain-cache`` files this vertex: by its step, and by its
    # position in its stage (to compare against when the step text changed).
    step: str = ""
    slot: str = ""

    @property
    def name(self) -> str:
        return self.metadata.name or self.op.kind


@dataclass(frozen=True)
class SolveResult:
    """The head's result, a report per vertex, and the keys for cache export."""

    result: Result
    reports: tuple[VertexReport, ...]
    cache_keys: dict[str, str]
    vertices: tuple[SolvedVertex, ...] = ()
    head_key: str = ""


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
        importers: Sequence[CacheImporter] = (),
    ) -> None:
        self.store = store
        self.resolver = resolver
        self.progress = progress
        self.jobs = max(1, jobs)
        self.explain = explain
        self.location_lines = location_lines or {}
        self.importers = tuple(importers)
        self.cancel = threading.Event()

    def solve(self, definition: Definition) -> SolveResult:
        """Build ``definition`` and return the head's result."""
        if definition.head is None:
            return SolveResult(SnapshotResult(), (), {})
        vertices = self._load(definition)
        for vertex in vertices.values():
            try:
                self._compute_key(vertex)
            except MinikitError as error:
                # Git and HTTP sources fetch while their key is computed.
                self._locate(error, vertex)
                raise
        head = vertices[definition.head.digest]
        to_run = self._plan(head)
        self._record_explanations(vertices.values(), to_run)
        self._report_cached(vertices.values(), to_run)
        self._run(to_run)
        assert head.result is not None
        return SolveResult(
            head.result,
            self._reports(vertices.values()),
            {v.digest: v.key for v in vertices.values()},
            tuple(_solved(v) for v in vertices.values()),
            head.key,
        )

    @staticmethod
    def _reports(vertices: Iterable[_Vertex]) -> tuple[VertexReport, ...]:
        return tuple(
            VertexReport(v.digest, v.name, v.key, not v.ran, v.explanation)
            for v in vertices
        )

    # -- phase 1: keys --------------------------------------------------------

    def _load(self, definition: Definition) -> dict[str, _Vertex]:
        vertices: dict[str, _Vertex] = {}
        for digest, op in definition.ops.items():
            metadata = definition.metadata.get(digest, OpMetadata())
            impl = self.resolver.resolve(op, metadata)
            inputs = [vertices[edge.digest] for edge in op.inputs]
            vertices[digest] = _Vertex(digest, op, metadata, impl, inputs)
        _assign_steps(vertices.values())
        return vertices

    def _compute_key(self, vertex: _Vertex) -> None:
        for index, parent in enumerate(vertex.inputs):
            if isinstance(parent.result, LocalResult):
                vertex.content.append(vertex.impl.content_key(index, parent.result))
            else:
                vertex.content.append(None)
        vertex.base = vertex.impl.cache_base()
        vertex.key = self._digest(vertex, [parent.key for parent in vertex.inputs])
        if self._content_inputs(vertex) or not all(p.link for p in vertex.inputs):
            vertex.link = self.store.get_link(vertex.key) or ""
        else:
            vertex.link = self._digest(vertex, [p.link for p in vertex.inputs])
        if self._is_local_source(vertex):
            ctx = self._context(vertex)
            vertex.result = vertex.impl.run(ctx, [])
        if vertex.step:
            components = dict(vertex.impl.explain())
            components["inputs"] = [_input_component(p) for p in vertex.inputs]
            vertex.components = components

    @staticmethod
    def _digest(vertex: _Vertex, inputs: list[str]) -> str:
        return digest_of(
            {"base": vertex.base, "inputs": inputs, "content": vertex.content}
        )

    def _content_inputs(self, vertex: _Vertex) -> list[int]:
        """Return the snapshot inputs whose files stand in for their link."""
        method = getattr(vertex.impl, "snapshot_inputs", None)
        if method is None:
            return []
        count = len(vertex.inputs)
        return sorted(
            index
            for index in method()
            if 0 <= index < count and not self._is_local_source(vertex.inputs[index])
        )

    def _compute_link(self, vertex: _Vertex) -> str:
        """Return the content key once the inputs' links and results are known."""
        if not all(parent.link for parent in vertex.inputs):
            return ""
        indexes = self._content_inputs(vertex)
        if not indexes:
            return self._digest(vertex, [parent.link for parent in vertex.inputs])
        links: list[str | None] = [parent.link for parent in vertex.inputs]
        content = list(vertex.content)
        for index in indexes:
            result = vertex.inputs[index].result
            if not isinstance(result, SnapshotResult):
                continue
            links[index] = None
            impl: Any = vertex.impl
            content[index] = impl.snapshot_key(index, result)
        return digest_of(
            {"base": vertex.base, "inputs": links, "content": content, "by": "files"}
        )

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
                chain = self._lookup(vertex.key, vertex.name)
                if chain is not None:
                    vertex.result = SnapshotResult(chain)
                    continue
            to_run[vertex.digest] = vertex
            stack.extend(vertex.inputs)
        return to_run

    def _lookup(self, key: str, name: str) -> tuple[str, ...] | None:
        chain = self.store.get_record(key)
        if chain is not None:
            return chain
        for importer in self.importers:
            chain = importer.load(key)
            if chain is not None:
                self.store.put_record(key, chain, name)
                return chain
        return None

    def _record_explanations(
        self, vertices: Iterable[_Vertex], to_run: dict[str, _Vertex]
    ) -> None:
        """Explain each miss against the last build of its step; remember the hits."""
        stepped = [vertex for vertex in vertices if vertex.step]
        hits = [vertex for vertex in stepped if vertex.digest not in to_run]
        self.store.put_explains([(v.step, v.slot, v.key, v.components) for v in hits])
        if not self.explain:
            return
        for vertex in stepped:
            if vertex.digest in to_run:
                vertex.explanation = self._explain(vertex)

    def _explain(self, vertex: _Vertex) -> tuple[str, ...]:
        previous = self.store.get_explain(vertex.step)
        if previous is None and vertex.slot:
            previous = self.store.get_explain(vertex.slot)
        return explain_miss(
            previous[1] if previous else None,
            vertex.components,
            ignore_cache=vertex.metadata.ignore_cache,
            same_key=previous is not None and previous[0] == vertex.key,
        )

    def _report_cached(
        self, vertices: Iterable[_Vertex], to_run: dict[str, _Vertex]
    ) -> None:
        for vertex in vertices:
            if vertex.digest in to_run or not vertex.metadata.name:
                continue
            if self._is_local_source(vertex):
                continue
            self._emit_cached(vertex)

    def _emit_cached(self, vertex: _Vertex) -> None:
        now = time.time()
        self.progress.emit(VertexCached(vertex.digest, vertex.name, now))
        self.progress.emit(
            VertexCompleted(vertex.digest, vertex.name, now, now, cached=True)
        )

    # -- phase 3: run ---------------------------------------------------------

    def _run(self, to_run: dict[str, _Vertex]) -> None:
        if not to_run:
            return
        pool = futures.ThreadPoolExecutor(
            max_workers=self.jobs, thread_name_prefix="solve"
        )
        running: dict[futures.Future, _Vertex] = {}
        try:
            failure = self._schedule(pool, dict(to_run), running)
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

    def _schedule(
        self,
        pool: futures.ThreadPoolExecutor,
        waiting: dict[str, _Vertex],
        running: dict[futures.Future, _Vertex],
    ) -> BaseException | None:
        """Run ``waiting`` until done or failed; return the first failure."""
        failure: BaseException | None = None
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
                running.pop(future)
                error = future.exception()
                if error is not None and failure is None:
                    failure = error
                    self.cancel.set()
            if failure is not None:
                waiting.clear()
        return failure

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
        try:
            if self.cancel.is_set():
                raise BuildInterrupted("build cancelled")
            if self._hit_by_link(vertex):
                self._report_link_hit(vertex)
                return
            self._start(vertex, started)
            inputs = [parent.result for parent in vertex.inputs]
            ctx = self._context(vertex)
            result = vertex.impl.run(ctx, inputs)  # type: ignore[arg-type]
        except MinikitError as exc:
            self._start(vertex, started)
            self._locate(exc, vertex)
            self._fail(vertex, started, exc)
            raise
        except Exception as exc:
            # The CLI reports the error; the traceback is for --debug only.
            log.debug("step %s failed", vertex.name, exc_info=True)
            error = SolveError(f"failed to run {vertex.name}: {exc}")
            self._start(vertex, started)
            self._locate(error, vertex)
            self._fail(vertex, started, error)
            raise error from exc
        self._commit(vertex, result)
        vertex.result = result
        self._complete(vertex, started)

    def _hit_by_link(self, vertex: _Vertex) -> bool:
        """Complete the link of a miss; return True when the link has a record."""
        if not vertex.link:
            vertex.link = self._compute_link(vertex)
        if not vertex.link or vertex.link == vertex.key:
            return False
        if vertex.metadata.ignore_cache:
            return False
        chain = self._lookup(vertex.link, vertex.name)
        if chain is None:
            return False
        vertex.result = SnapshotResult(chain)
        self.store.put_result(vertex.key, chain, vertex.name, link=vertex.link)
        return True

    def _start(self, vertex: _Vertex, started: float) -> None:
        if vertex.ran:
            return
        vertex.ran = True
        if vertex.metadata.name:
            self.progress.emit(VertexStarted(vertex.digest, vertex.name, started))

    def _report_link_hit(self, vertex: _Vertex) -> None:
        vertex.explanation = ()
        if vertex.step:
            self.store.put_explains(
                [(vertex.step, vertex.slot, vertex.key, vertex.components)]
            )
        if vertex.metadata.name:
            self._emit_cached(vertex)

    def _commit(self, vertex: _Vertex, result: Result) -> None:
        chain = result.chain if isinstance(result, SnapshotResult) else None
        explain = (vertex.step, vertex.slot, vertex.components) if vertex.step else None
        link = vertex.link if vertex.link != vertex.key else ""
        self.store.put_result(vertex.key, chain, vertex.name, explain, link=link)

    def _fail(self, vertex: _Vertex, started: float, error: MinikitError) -> None:
        cancelled = isinstance(error, BuildInterrupted) and self.cancel.is_set()
        self._complete(vertex, started, str(error), cancelled)

    def _complete(
        self,
        vertex: _Vertex,
        started: float,
        error: str | None = None,
        cancelled: bool = False,
    ) -> None:
        if vertex.metadata.name:
            self.progress.emit(
                VertexCompleted(
                    vertex.digest,
                    vertex.name,
                    started,
                    error=error,
                    cancelled=cancelled,
                )
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


def _assign_steps(vertices: Iterable[_Vertex]) -> None:
    """Give each vertex with a step its explain identity (see ``_Vertex.step``).

    A step text seen again in the same definition (two identical RUN lines in
    one stage) gets ``#2``, ``#3``, ... so each keeps its own record.
    """
    seen: dict[str, int] = {}
    positions: dict[tuple[str, str], int] = {}
    for vertex in vertices:
        step = vertex.metadata.step
        if not step:
            continue
        count = seen.get(step, 0) + 1
        seen[step] = count
        vertex.step = step if count == 1 else f"{step}#{count}"
        filename = (
            vertex.metadata.locations[0].filename if vertex.metadata.locations else ""
        )
        where = (filename, vertex.metadata.stage)
        positions[where] = positions.get(where, 0) + 1
        vertex.slot = f"slot:{filename}:{vertex.metadata.stage}:{positions[where]}"


def _input_component(parent: _Vertex) -> dict[str, Any]:
    component: dict[str, Any] = {"key": parent.key, "name": parent.name}
    identifier = getattr(parent.op, "identifier", "")
    if identifier.startswith(("docker-image://", "oci-layout://")):
        component["source"] = identifier
    return component


def _solved(vertex: _Vertex) -> SolvedVertex:
    chain = vertex.result.chain if isinstance(vertex.result, SnapshotResult) else None
    return SolvedVertex(
        vertex.digest,
        vertex.name,
        vertex.key,
        tuple(parent.key for parent in vertex.inputs),
        chain,
        vertex.link if vertex.link != vertex.key else "",
    )
