"""The composition root: the one place that knows every concrete part.

``Worker`` turns a ``BuildRequest`` into a result: it opens the store under
``--root``, starts the executor, reads and converts the Dockerfile, solves
the graph and runs the exporters. Lower packages only see Protocols and the
values passed to them here.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from minikit.cache.store import Store
from minikit.errors import MinikitError
from minikit.oci.reference import Reference
from minikit.oci.spec import Platform
from minikit.progress import Notice, ProgressWriter, VertexCompleted, VertexStarted
from minikit.progress import Warning as ProgressWarning
from minikit.worker.request import BuildRequest, BuildResult

log = logging.getLogger(__name__)


def default_root() -> Path:
    """Return the default ``--root``: ``/var/lib/minikit`` for root, else under XDG_DATA_HOME."""
    if os.geteuid() == 0 and not os.environ.get("XDG_DATA_HOME"):
        return Path("/var/lib/minikit")
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(data_home) / "minikit"


@contextmanager
def internal_step(progress: ProgressWriter, name: str) -> Iterator[str]:
    """Report a step that is not a graph vertex, such as loading metadata."""
    vertex = "internal:" + name
    started = time.time()
    progress.emit(VertexStarted(vertex, name, started))
    try:
        yield vertex
    except MinikitError as exc:
        progress.emit(VertexCompleted(vertex, name, started, error=str(exc)))
        raise
    progress.emit(VertexCompleted(vertex, name, started))


class MetadataResolver:
    """Resolves image configs for the frontend, reporting each as ``load metadata``."""

    def __init__(self, puller: Any, progress: ProgressWriter) -> None:
        self.puller = puller
        self.progress = progress
        self._seen: dict[tuple[str, str], Any] = {}

    def resolve(self, reference: Reference, platform: Platform) -> Any:
        """Resolve ``reference`` once per build and return its pinned reference and config."""
        key = (str(reference), str(platform))
        if key in self._seen:
            return self._seen[key]
        with internal_step(self.progress, f"[internal] load metadata for {reference}"):
            resolved = self.puller.resolve(reference, platform)
        self._seen[key] = resolved
        return resolved

    def resolved(self) -> dict[tuple[str, str], Any]:
        """Return every (reference, platform) resolved so far, with its result."""
        return dict(self._seen)


class Worker:
    """Runs builds against one store; create one per process.

    ``namespace`` is the build namespace (``minikit.executor.BuildNamespace``)
    when the caller has entered it already. Otherwise ``enter_namespace``,
    if given, enters it when a build first needs it: a memo hit that only
    copies stored files never does. Without either, steps cannot run.
    """

    def __init__(
        self,
        request: BuildRequest,
        progress: ProgressWriter,
        namespace: Any = None,
        enter_namespace: Callable[[], Any] | None = None,
    ) -> None:
        self.request = request
        self.progress = progress
        self.namespace = namespace
        self.root = request.root or default_root()
        self.executor: Any = None
        self.store: Store | None = None
        self.cleanups: list[Callable[[], None]] = []
        self._enter_namespace = enter_namespace
        # Namespace warnings wait until no fork is left to make: the first
        # progress event can start the tty view's thread.
        self._warnings_due = namespace is not None

    @property
    def rootless(self) -> bool:
        """Tell whether the build runs (or will run) in a rootless user namespace.

        Before the namespace is entered, this is what entering it will give:
        rootless for any user but root.
        """
        if self.namespace is not None:
            return bool(self.namespace.rootless)
        return self._enter_namespace is not None and os.geteuid() != 0

    def enter_namespace(self) -> None:
        """Enter the build namespace unless the worker is in it. Call before any thread exists.

        Entering forks, and an SQLite connection must not cross a fork, so an
        open store is closed first (which ends this process's leases) and
        opened again inside. The namespace's warnings are reported later, by
        ``report_namespace``.
        """
        if self.namespace is not None or self._enter_namespace is None:
            return
        reopen = self.store is not None
        self._close_store()
        self.namespace = self._enter_namespace()
        self._warnings_due = True
        if reopen:
            self._open_store()

    def prepare_to_run(self) -> None:
        """Enter the namespace and start the executor, then report: a step may have to run."""
        self.enter_namespace()
        self.start_executor()
        self.report_namespace()

    def report_namespace(self) -> None:
        """Report the namespace's warnings once. Call when no fork is left to make."""
        if self._warnings_due:
            self._warnings_due = False
            for warning in getattr(self.namespace, "warnings", ()) or ():
                self.progress.emit(ProgressWarning(warning))

    def start_executor(self) -> None:
        """Start the executor's namespace helper unless it runs. Call before any thread exists.

        A build starts it when a step may have to run, so a memo hit never
        forks the helper.
        """
        from minikit.executor import Executor

        if self.namespace is not None and self.executor is None:
            scratch = self.root / "tmp"
            scratch.mkdir(parents=True, exist_ok=True)
            self.executor = Executor.start(self.namespace, str(scratch))

    def close(self) -> None:
        """Stop what the build started: SSH agents, the executor helper, the store."""
        while self.cleanups:
            self.cleanups.pop()()
        if self.executor is not None:
            self.executor.close()
            self.executor = None
        self._close_store()

    def build(self, request: BuildRequest | None = None) -> BuildResult:
        """Run one whole build (``request``, or the worker's own) and return its result.

        Several builds may run one after another on the same worker; they
        share the store and the executor.
        """
        from minikit.worker.pipeline import run_build

        if request is not None:
            self.request = request
        if self.store is None:
            self._open_store()
        return run_build(self, self.request)

    def _open_store(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.root)
        if self.namespace is not None:
            # What killed builds left may hold files of other ids, which
            # only the namespace may delete, so the sweep waits for it. A
            # worker that never enters one (``--check``, a memo hit that
            # copies a kept tar) leaves the sweep to the next build.
            self.store.sweep()

    def _close_store(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    def notice(self, message: str) -> None:
        """Tell the user something about the build itself."""
        self.progress.emit(Notice(message))
