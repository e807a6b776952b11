"""Helpers for the solver, cache and progress tests.

``Project`` is a build context with its own ``--root``, so cache hits from
other test modules never hide a miss. Builds use ``--progress=rawjson``,
and ``Events`` reads that stream back: which steps ran, which were cached,
when each started and ended. ``BackgroundBuild`` runs a build with its
progress read as it arrives, so a test can act (kill it, prune, start
another) at a chosen event. ``leftovers`` lists processes and mounts that
still mention a marker after a build is gone.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Seconds a background build may take before a test gives up on it.
BACKGROUND_TIMEOUT = 300.0


@dataclass(frozen=True)
class Events:
    """The rawjson events of one build."""

    items: tuple[dict[str, Any], ...]

    @classmethod
    def parse(cls, text: str) -> Events:
        """Read the JSON lines of ``text``, skipping any other line."""
        items = []
        for line in text.splitlines():
            if line.startswith("{"):
                try:
                    items.append(json.loads(line))
                except ValueError:
                    continue
        return cls(tuple(items))

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """Return the events whose ``type`` is ``kind``."""
        return [item for item in self.items if item.get("type") == kind]

    def ran(self) -> list[str]:
        """Return the names of the steps that ran (not cached), in start order."""
        return [item["name"] for item in self.of_type("VertexStarted")]

    def ran_runs(self) -> list[str]:
        """Return the names of the RUN steps that ran."""
        return [name for name in self.ran() if "] RUN " in name]

    def cached(self) -> list[str]:
        """Return the names of the steps found in the cache."""
        return [item["name"] for item in self.of_type("VertexCached")]

    def span(self, fragment: str) -> tuple[float, float]:
        """Return (start, end) of the one step whose name contains ``fragment``."""
        starts = [e for e in self.of_type("VertexStarted") if fragment in e["name"]]
        ends = [e for e in self.of_type("VertexCompleted") if fragment in e["name"]]
        assert len(starts) == 1 and len(ends) == 1, f"no single step {fragment!r}"
        return starts[0]["time"], ends[0]["time"]

    def completed(self, fragment: str) -> dict[str, Any]:
        """Return the completion event of the step whose name contains ``fragment``."""
        found = [e for e in self.of_type("VertexCompleted") if fragment in e["name"]]
        assert found, f"no completed step {fragment!r}"
        return found[-1]


class Project:
    """A build context and a store of its own; ``build`` runs ``minikit build``."""

    def __init__(self, folder: Path, run_minikit: Callable[..., Any]) -> None:
        self.folder = folder
        self.context = folder / "context"
        self.root = folder / "root"
        self.context.mkdir(parents=True, exist_ok=True)
        self.run_minikit = run_minikit

    def write(self, name: str, text: str) -> Path:
        """Write a file of the context and return its path."""
        path = self.context / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def args(self, *extra: str, root: Path | None = None) -> list[str]:
        """Return ``build`` arguments with this project's root and rawjson."""
        return [
            "build",
            "--root",
            str(root or self.root),
            "--progress=rawjson",
            *extra,
            str(self.context),
        ]

    def build(
        self,
        *extra: str,
        root: Path | None = None,
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> tuple[subprocess.CompletedProcess[str], Events]:
        """Build the context; return the process result and its events."""
        result = self.run_minikit(
            self.args(*extra, root=root), cwd=self.folder, env=env, check=check
        )
        return result, Events.parse(result.stderr)


class BackgroundBuild:
    """``python -m minikit ARGS`` running in the background, its events read live."""

    def __init__(self, args: list[str], cwd: Path, env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "minikit", *args],
            cwd=cwd,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Return the first event that matches; fail if the build ends first."""
        while True:
            line = self._queue.get(timeout=BACKGROUND_TIMEOUT)
            if line is None:
                raise AssertionError(
                    "the build ended before the awaited event:\n" + "".join(self.lines)
                )
            self.lines.append(line)
            for event in Events.parse(line).items:
                if predicate(event):
                    return event

    def finish(self) -> tuple[int, str]:
        """Wait for the end; return the exit status and all of stderr."""
        self.process.wait(timeout=BACKGROUND_TIMEOUT)
        self._reader.join(timeout=BACKGROUND_TIMEOUT)
        while True:
            line = self._queue.get_nowait() if not self._queue.empty() else None
            if line is None:
                break
            self.lines.append(line)
        if self.process.stdout is not None:
            self.process.stdout.read()
        return self.process.returncode, "".join(self.lines)

    def signal(self, number: int) -> None:
        """Send signal ``number`` to the minikit process."""
        os.kill(self.process.pid, number)


def started(fragment: str) -> Callable[[dict[str, Any]], bool]:
    """Match the start of a step whose name contains ``fragment``."""
    return lambda e: e.get("type") == "VertexStarted" and fragment in e.get("name", "")


def logged(text: str) -> Callable[[dict[str, Any]], bool]:
    """Match an output line of a step that contains ``text``."""
    return lambda e: e.get("type") == "VertexLog" and text in e.get("data", "")


def leftovers(marker: str) -> list[str]:
    """Return processes whose command line, and mount tables that, hold ``marker``."""
    found = []
    own = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            mounts = (entry / "mountinfo").read_text()
        except OSError:
            continue
        if marker in command:
            found.append(f"process {entry.name}: {command}")
        if marker in mounts:
            found.append(f"mounts of process {entry.name}")
    return found


def wait_for_leftovers(marker: str, timeout: float = 10.0) -> list[str]:
    """Return ``leftovers(marker)`` once it is empty, or when ``timeout`` runs out.

    A process killed with its parent goes away a moment after the parent.
    """
    deadline = time.monotonic() + timeout
    found = leftovers(marker)
    while found and time.monotonic() < deadline:
        time.sleep(0.1)
        found = leftovers(marker)
    return found
