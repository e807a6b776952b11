"""A stand-in that builds its object on first use, to keep warm builds light."""

from __future__ import annotations

import threading
from typing import Any, Callable


class Lazy:
    """Calls ``factory`` the first time an attribute is read, then forwards to its result."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._value: Any = None
        self._lock = threading.Lock()

    def resolve(self) -> Any:
        """Return the object, building it now if needed (thread-safe)."""
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._factory()
        return self._value

    def __getattr__(self, name: str) -> Any:
        return getattr(self.resolve(), name)
