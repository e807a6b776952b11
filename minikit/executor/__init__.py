"""The rootless executor: one process in fresh namespaces on a prepared rootfs.

``enter_build_namespace`` moves the whole build into a user and mount
namespace at startup; ``Executor.start`` then forks the namespace helper
that runs every RUN in new user, mount, pid, ipc, uts and network
namespaces. The executor never makes layers: it runs a process on the
directory the snapshotter prepared, and leaves the changes there.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minikit.executor.buildns import current_build_namespace, enter_build_namespace
    from minikit.executor.executor import Executor
    from minikit.executor.types import (
        BuildNamespace,
        IdMapping,
        MountSpec,
        RunResult,
        RunSpec,
    )

# Names are imported on first use, so a build that runs no step loads only
# what entering the build namespace and starting the helper need.
_EXPORTS = {
    "current_build_namespace": "minikit.executor.buildns",
    "enter_build_namespace": "minikit.executor.buildns",
    "Executor": "minikit.executor.executor",
    "BuildNamespace": "minikit.executor.types",
    "IdMapping": "minikit.executor.types",
    "MountSpec": "minikit.executor.types",
    "RunResult": "minikit.executor.types",
    "RunSpec": "minikit.executor.types",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'minikit.executor' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
