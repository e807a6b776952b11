"""The composition root: wires the concrete parts together for a build."""

from minikit.worker.build import Worker, default_root
from minikit.worker.request import (
    BuildRequest,
    BuildResult,
    CacheSpec,
    OutputSpec,
    SSHSpec,
)

__all__ = [
    "BuildRequest",
    "BuildResult",
    "CacheSpec",
    "OutputSpec",
    "SSHSpec",
    "Worker",
    "default_root",
]
