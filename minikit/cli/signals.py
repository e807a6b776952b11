"""SIGTERM and SIGHUP stop a build the way Ctrl-C (SIGINT) does.

Python turns SIGINT into KeyboardInterrupt in the main thread, and the solver
and the CLI handle it by cancelling running steps, releasing mounts and
closing the store. The handlers here raise the same exception for SIGTERM
and SIGHUP, once, and remember the signal so that the exit status is
128 + its number, as a shell reports a process killed by it.
"""

from __future__ import annotations

import signal
from types import FrameType

SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

_received: list[int] = []


def install_shutdown_handlers() -> None:
    """Make SIGTERM and SIGHUP raise KeyboardInterrupt in the main thread."""
    for signum in SHUTDOWN_SIGNALS:
        signal.signal(signum, _interrupt)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    del frame
    first = not _received
    _received.append(signum)
    # Later signals must not break into the cleanup that the first one started.
    if first:
        raise KeyboardInterrupt


def interrupted_status() -> int:
    """Return the exit status of an interrupted build: 128 + the signal number."""
    signum = _received[0] if _received else signal.SIGINT
    return 128 + signum


def interrupted_message() -> str:
    """Return "build interrupted", naming the signal when one stopped the build."""
    if not _received:
        return "build interrupted"
    return f"build interrupted by {signal.Signals(_received[0]).name}"


def with_signal(message: str) -> str:
    """Return ``message`` naming the signal that stopped the build, if one did."""
    if not _received:
        return message
    if message.startswith("build interrupted"):
        return interrupted_message() + message[len("build interrupted") :]
    return f"{message} ({interrupted_message()})"
