"""Progress renderers: ``plain`` (BuildKit's format), ``rawjson``, ``quiet``, ``tty``.

``rawjson`` writes one JSON object per event, with ``type`` naming it:
``VertexStarted``, ``VertexCached``, ``VertexCompleted`` (with ``error`` and
``cancelled``), ``VertexLog``, ``VertexStatus`` (transfers: ``current`` and
``total`` bytes), ``VertexError`` (after the completion of a failed step),
``Warning`` and ``Notice``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import IO, Any

from minikit.progress import (
    Event,
    Notice,
    VertexCached,
    VertexCompleted,
    VertexLog,
    VertexStarted,
    VertexStatus,
    Warning,
    event_to_json,
)

MODES = ("auto", "plain", "tty", "rawjson", "quiet", "none")


class PlainProgress:
    """Writes events as BuildKit's ``--progress=plain`` does: ``#N`` blocks per vertex."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self._numbers: dict[str, int] = {}
        self._started: dict[str, float] = {}
        self._names: dict[str, str] = {}
        self._partial: dict[tuple[str, int], str] = {}
        self._shown: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._last: str | None = None
        self.warnings: list[Warning] = []
        self.logs: dict[str, list[str]] = {}

    def emit(self, event: Event) -> None:
        """Render one event."""
        with self._lock:
            self._render(event)
            self.stream.flush()

    def _number(self, vertex: str) -> int:
        if vertex not in self._numbers:
            self._numbers[vertex] = len(self._numbers) + 1
        return self._numbers[vertex]

    def _write(self, vertex: str, text: str) -> None:
        if self._last is not None and self._last != vertex:
            self.stream.write("\n")
        self._last = vertex
        self.stream.write(f"#{self._number(vertex)} {text}\n")

    def _render(self, event: Event) -> None:
        if isinstance(event, VertexStarted):
            self._started[event.vertex] = event.time
            self._names[event.vertex] = event.name
            self._write(event.vertex, event.name)
        elif isinstance(event, VertexCached):
            self._names[event.vertex] = event.name
            self._write(event.vertex, event.name)
            self._write(event.vertex, "CACHED")
        elif isinstance(event, VertexLog):
            self._log(event)
        elif isinstance(event, VertexStatus):
            self._status(event)
        elif isinstance(event, VertexCompleted):
            self._complete(event)
        elif isinstance(event, Warning):
            self.warnings.append(event)
            self._last = None
            self.stream.write("\n" + _warning_text(event) + "\n")
        elif isinstance(event, Notice):
            self._last = None
            self.stream.write(f"\n{event.message}\n")

    def _status(self, event: VertexStatus) -> None:
        """Write a transfer's progress: every completion, else once a second."""
        key = (event.vertex, event.id)
        if not event.completed and event.time - self._shown.get(key, 0.0) < 1.0:
            return
        self._shown[key] = event.time
        offset = event.time - self._started.get(event.vertex, event.time)
        size = format_size(event.current)
        if event.total:
            size += f" / {format_size(event.total)}"
        done = " done" if event.completed else ""
        self._write(event.vertex, f"{event.id} {size} {offset:.1f}s{done}")

    def _log(self, event: VertexLog) -> None:
        key = (event.vertex, event.stream)
        text = self._partial.pop(key, "") + event.data.decode("utf-8", "replace")
        lines = text.split("\n")
        self._partial[key] = lines.pop()
        offset = event.time - self._started.get(event.vertex, event.time)
        for line in lines:
            self.logs.setdefault(event.vertex, []).append(line)
            self._write(event.vertex, f"{offset:.3f} {line}")

    def _complete(self, event: VertexCompleted) -> None:
        for stream in (1, 2):
            rest = self._partial.pop((event.vertex, stream), "")
            if rest:
                offset = event.time - self._started.get(event.vertex, event.time)
                self.logs.setdefault(event.vertex, []).append(rest)
                self._write(event.vertex, f"{offset:.3f} {rest}")
        if event.cached:
            return
        if event.cancelled:
            self._write(event.vertex, "CANCELED")
            return
        if event.error:
            self._write(event.vertex, f"ERROR: {event.error}")
            return
        self._write(event.vertex, f"DONE {event.time - event.started:.1f}s")

    def name_of(self, vertex: str) -> str:
        """Return the name a vertex was shown with."""
        return self._names.get(vertex, "")


class RawJSONProgress:
    """Writes one JSON object per event, for tools."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()
        self.warnings: list[Warning] = []
        self.logs: dict[str, list[str]] = {}

    def emit(self, event: Event) -> None:
        """Write ``event`` as one JSON line."""
        if isinstance(event, Warning):
            self.warnings.append(event)
        if isinstance(event, VertexLog):
            self.logs.setdefault(event.vertex, []).extend(
                event.data.decode("utf-8", "replace").splitlines()
            )
        with self._lock:
            self._write(event_to_json(event))
            if (
                isinstance(event, VertexCompleted)
                and event.error
                and not event.cancelled
            ):
                self._write(
                    {
                        "type": "VertexError",
                        "vertex": event.vertex,
                        "name": event.name,
                        "error": event.error,
                        "time": event.time,
                    }
                )
            self.stream.flush()

    def _write(self, body: dict) -> None:
        self.stream.write(json.dumps(body, sort_keys=True) + "\n")


class QuietProgress:
    """Shows nothing while building; keeps output for the error report."""

    def __init__(self) -> None:
        self.warnings: list[Warning] = []
        self.logs: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        """Keep warnings and logs, drop the rest."""
        with self._lock:
            if isinstance(event, Warning):
                self.warnings.append(event)
            elif isinstance(event, VertexLog):
                self.logs.setdefault(event.vertex, []).extend(
                    event.data.decode("utf-8", "replace").splitlines()
                )


def format_size(count: int) -> str:
    """Return a byte count as BuildKit's progress shows it (``1.09MB``)."""
    units = ["B", "kB", "MB", "GB"]
    value = float(count)
    for unit in units:
        if value < 1000 or unit == units[-1]:
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.2f}{unit}"
        value /= 1000
    return f"{count}B"


def _warning_text(event: Warning) -> str:
    where = f" ({event.filename} line {event.line})" if event.line else ""
    rule = f"{event.rule}: " if event.rule else ""
    text = f"WARNING: {rule}{event.message}{where}"
    if event.url:
        text += f"\n  see {event.url}"
    return text


def make_progress(mode: str, stream: IO[str] | None = None) -> Any:
    """Return the renderer for ``--progress MODE``."""
    stream = stream or sys.stderr
    if mode == "auto":
        mode = "tty" if stream.isatty() else "plain"
    if mode == "tty":
        try:
            from minikit.cli.tty import TTYProgress

            return TTYProgress(stream)
        except ImportError:
            stream.write("rich is not installed; showing plain progress\n")
    if mode == "rawjson":
        return RawJSONProgress(stream)
    if mode in ("quiet", "none"):
        return QuietProgress()
    return PlainProgress(stream)


def print_warnings_summary(renderer: Any, stream: IO[str]) -> None:
    """Stop a live view, then repeat the lint warnings, as BuildKit does."""
    close = getattr(renderer, "close", None)
    if close is not None:
        close()
    warnings = [w for w in getattr(renderer, "warnings", []) if w.rule]
    if not warnings or isinstance(renderer, (PlainProgress, RawJSONProgress)):
        return
    stream.write(
        f"\n {len(warnings)} warning{'s' if len(warnings) != 1 else ''} found:\n"
    )
    for warning in warnings:
        stream.write(" - " + _warning_text(warning).removeprefix("WARNING: ") + "\n")


def elapsed(since: float) -> str:
    """Return seconds since ``since`` as ``1.2s``."""
    return f"{time.time() - since:.1f}s"
