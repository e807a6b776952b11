"""Progress events: what users see of a build travels as these values.

Lower layers emit events through a ``ProgressWriter``; only the CLI renders
them. Vertex ids are op digests. Events are plain frozen dataclasses so
``rawjson`` output can serialize them as they are.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


def now() -> float:
    """Return the wall-clock time used in progress events (seconds since the epoch)."""
    return time.time()


@dataclass(frozen=True)
class VertexStarted:
    """A vertex began running."""

    vertex: str
    name: str
    time: float = field(default_factory=now)


@dataclass(frozen=True)
class VertexCached:
    """A vertex was found in the cache and will not run."""

    vertex: str
    name: str
    time: float = field(default_factory=now)


@dataclass(frozen=True)
class VertexCompleted:
    """A vertex finished; ``error`` is the message when it failed.

    ``cancelled`` marks a vertex stopped because another one failed or the
    build was interrupted.
    """

    vertex: str
    name: str
    started: float
    time: float = field(default_factory=now)
    cached: bool = False
    error: str | None = None
    cancelled: bool = False


@dataclass(frozen=True)
class VertexLog:
    """Output of a running vertex; ``stream`` is 1 for stdout, 2 for stderr."""

    vertex: str
    data: bytes
    stream: int = 1
    time: float = field(default_factory=now)


@dataclass(frozen=True)
class VertexStatus:
    """Progress of a transfer inside a vertex (pull, push, context hashing)."""

    vertex: str
    id: str
    current: int
    total: int | None = None
    completed: bool = False
    time: float = field(default_factory=now)


@dataclass(frozen=True)
class Warning:
    """A non-fatal problem, such as a lint rule that matched, with its location."""

    message: str
    rule: str = ""
    detail: str = ""
    url: str = ""
    filename: str = ""
    line: int = 0
    time: float = field(default_factory=now)


@dataclass(frozen=True)
class Notice:
    """A one-line message about the build itself, such as the snapshotter in use."""

    message: str
    time: float = field(default_factory=now)


Event = VertexStarted | VertexCached | VertexCompleted | VertexLog | VertexStatus | Warning | Notice


def event_to_json(event: Event) -> dict[str, Any]:
    """Return ``event`` as a JSON object with a ``type`` field naming its class."""
    body = asdict(event)
    if isinstance(event, VertexLog):
        body["data"] = event.data.decode("utf-8", "replace")
    body["type"] = type(event).__name__
    return body


class ProgressWriter(Protocol):
    """Where events go. Implementations must be safe to call from many threads."""

    def emit(self, event: Event) -> None:
        """Record one event."""


class NullProgress:
    """A writer that drops every event."""

    def emit(self, event: Event) -> None:
        """Drop ``event``."""


class RecordingProgress:
    """A writer that keeps every event in memory, for tests and for replay."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        """Append ``event``."""
        with self._lock:
            self.events.append(event)
