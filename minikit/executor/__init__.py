"""The rootless executor: one process in fresh namespaces on a prepared rootfs.

``enter_build_namespace`` moves the whole build into a user and mount
namespace at startup; ``Executor.start`` then forks the namespace helper
that runs every RUN in new user, mount, pid, ipc, uts and network
namespaces. The executor never makes layers: it runs a process on the
directory the snapshotter prepared, and leaves the changes there.
"""

from minikit.executor.buildns import current_build_namespace, enter_build_namespace
from minikit.executor.executor import Executor
from minikit.executor.types import (
    BuildNamespace,
    IdMapping,
    MountSpec,
    RunResult,
    RunSpec,
)

__all__ = [
    "BuildNamespace",
    "Executor",
    "IdMapping",
    "MountSpec",
    "RunResult",
    "RunSpec",
    "current_build_namespace",
    "enter_build_namespace",
]
