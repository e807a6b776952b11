"""Client for the Docker Registry HTTP API v2 and the OCI distribution spec.

``RegistryClient`` resolves references to platform manifests, downloads
verified blobs and pushes blobs and manifests. ``load_config`` reads the
mirror and transport settings; the format is described in
``minikit.registry.config``. Names are imported on first use, so importing
this package does not load ``http.client`` or ``ssl``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minikit.registry.client import RegistryClient, ResolvedImage
    from minikit.registry.config import (
        RegistryConfig,
        RegistryHostConfig,
        default_config_path,
        load_config,
    )
    from minikit.registry.credentials import (
        Credentials,
        CredentialStore,
        DockerConfigCredentials,
    )
    from minikit.registry.manifest import PlatformNotFound
    from minikit.registry.transport import RetryPolicy, Timeouts

_EXPORTS = {
    "RegistryClient": "minikit.registry.client",
    "ResolvedImage": "minikit.registry.client",
    "RegistryConfig": "minikit.registry.config",
    "RegistryHostConfig": "minikit.registry.config",
    "default_config_path": "minikit.registry.config",
    "load_config": "minikit.registry.config",
    "Credentials": "minikit.registry.credentials",
    "CredentialStore": "minikit.registry.credentials",
    "DockerConfigCredentials": "minikit.registry.credentials",
    "PlatformNotFound": "minikit.registry.manifest",
    "RetryPolicy": "minikit.registry.transport",
    "Timeouts": "minikit.registry.transport",
}

__all__ = [
    "CredentialStore",
    "Credentials",
    "DockerConfigCredentials",
    "PlatformNotFound",
    "RegistryClient",
    "RegistryConfig",
    "RegistryHostConfig",
    "ResolvedImage",
    "RetryPolicy",
    "Timeouts",
    "default_config_path",
    "load_config",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'minikit.registry' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
