"""The live terminal view for ``--progress=tty``, drawn with ``rich``.

The view is redrawn ten times a second from the state the events build up:
a header with the elapsed time and the count of finished steps, then one
line per step in the order steps appeared. A running step shows its timer,
its transfers (bytes done and total) and the last lines of its output. A
finished step collapses to one line with its time, ``CACHED`` or ``ERROR``.
Warnings and notices are printed above the view as they arrive. ``rich`` is
imported only here, so other progress modes never load it.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections import deque
from dataclasses import dataclass, field
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
)

# Output lines shown under a running step.
TAIL_LINES = 6
REFRESH_PER_SECOND = 10


@dataclass
class _Step:
    """The drawn state of one vertex."""

    name: str
    started: float
    finished: float | None = None
    cached: bool = False
    error: str | None = None
    cancelled: bool = False
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    partial: str = ""
    transfers: dict[str, tuple[int, int | None, bool]] = field(default_factory=dict)


class TTYProgress:
    """Live view of running steps; call ``close`` (or let exit do it) to stop it."""

    def __init__(self, stream: IO[str]) -> None:
        from rich.console import Console
        from rich.live import Live

        self.stream = stream
        self.warnings: list[Warning] = []
        self.logs: dict[str, list[str]] = {}
        self._steps: dict[str, _Step] = {}
        self._lock = threading.Lock()
        self._begin = time.time()
        self._end: float | None = None
        self._console = Console(file=stream, highlight=False, soft_wrap=False)
        self._live = Live(
            console=self._console,
            get_renderable=self._render,
            refresh_per_second=REFRESH_PER_SECOND,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        # The view's refresh thread starts with the first event: the executor
        # must fork its helper before any thread exists.
        self._running = False
        self._closed = False
        atexit.register(self.close)

    def emit(self, event: Event) -> None:
        """Fold ``event`` into the view."""
        with self._lock:
            if not self._running and not self._closed:
                self._running = True
                self._live.start()
            if isinstance(event, (Warning, Notice)):
                self._print_above(event)
            else:
                self._update(event)

    def close(self) -> None:
        """Draw the final view and give the terminal back."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._end = time.time()
            running = self._running
        if running:
            self._live.stop()
            # rich ends the view with a newline only on a terminal.
            if not self._console.is_terminal:
                self.stream.write("\n")
                self.stream.flush()

    def name_of(self, vertex: str) -> str:
        """Return the name a vertex was shown with."""
        step = self._steps.get(vertex)
        return step.name if step else ""

    # -- state ----------------------------------------------------------------

    def _update(self, event: Event) -> None:
        if isinstance(event, VertexStarted):
            self._steps[event.vertex] = _Step(event.name, event.time)
        elif isinstance(event, VertexCached):
            self._steps[event.vertex] = _Step(event.name, event.time, cached=True)
        elif isinstance(event, VertexCompleted):
            step = self._step(event.vertex, event.name, event.started)
            step.finished = event.time
            step.error = event.error
            step.cancelled = event.cancelled
            step.cached = step.cached or event.cached
        elif isinstance(event, VertexLog):
            self._log(event)
        elif isinstance(event, VertexStatus):
            step = self._step(event.vertex, event.vertex, event.time)
            step.transfers[event.id] = (event.current, event.total, event.completed)

    def _step(self, vertex: str, name: str, started: float) -> _Step:
        if vertex not in self._steps:
            self._steps[vertex] = _Step(name, started)
        return self._steps[vertex]

    def _log(self, event: VertexLog) -> None:
        step = self._step(event.vertex, event.vertex, event.time)
        text = step.partial + event.data.decode("utf-8", "replace")
        lines = text.split("\n")
        step.partial = lines.pop()
        step.lines.extend(lines)
        self.logs.setdefault(event.vertex, []).extend(lines)

    def _print_above(self, event: Warning | Notice) -> None:
        from minikit.cli.progress import _warning_text

        if isinstance(event, Warning):
            self.warnings.append(event)
            self._live.console.print(_warning_text(event), style="yellow", markup=False)
        else:
            self._live.console.print(event.message, style="dim", markup=False)

    # -- drawing --------------------------------------------------------------

    def _render(self) -> Any:
        from rich.console import Group
        from rich.text import Text

        with self._lock:
            steps = list(self._steps.values())
            end = self._end
        now = end or time.time()
        done = sum(1 for step in steps if step.finished is not None)
        state = "FINISHED" if end is not None else ""
        header = Text(
            f"[+] Building {now - self._begin:.1f}s ({done}/{len(steps)}) {state}"
        )
        header.stylize("bold")
        lines: list[Any] = [header]
        for step in steps:
            lines.extend(_step_lines(step, now))
        return Group(*lines)


def _step_lines(step: _Step, now: float) -> list[Any]:
    from rich.text import Text

    finished = step.finished is not None
    elapsed = (step.finished or now) - step.started
    if step.cached:
        label, style, timer = "CACHED ", "blue", ""
    elif step.cancelled:
        label, style, timer = "CANCELED ", "yellow", f"{elapsed:.1f}s"
    elif step.error:
        label, style, timer = "ERROR ", "red", f"{elapsed:.1f}s"
    else:
        label, style, timer = "", "blue" if finished else "", f"{elapsed:.1f}s"
    line = Text(
        f" => {label}{step.name}", style=style, no_wrap=True, overflow="ellipsis"
    )
    if timer:
        line.append(f"  {timer}", style="dim")
    lines: list[Any] = [line]
    if finished:
        return lines
    for item, (current, total, completed) in step.transfers.items():
        size = f"{_size(current)} / {_size(total)}" if total else _size(current)
        suffix = " done" if completed else ""
        lines.append(Text(f" => => {item} {size}{suffix}", style="dim", no_wrap=True))
    for text in step.lines:
        lines.append(
            Text(f" => => # {text}", style="dim", no_wrap=True, overflow="ellipsis")
        )
    return lines


def _size(count: int | None) -> str:
    from minikit.cli.progress import format_size

    return format_size(count or 0)
