"""Exporters: finished snapshots to OCI layouts, docker archives, tars and folders."""

import importlib
from typing import Any

# Names are imported on first use, so a build loads only the parts it runs.
_EXPORTS = {
    "BuiltImage": "minikit.exporter.image",
    "LayerBlob": "minikit.exporter.image",
    "build_image": "minikit.exporter.image",
    "export_docker_archive": "minikit.exporter.docker",
    "export_local": "minikit.exporter.local",
    "export_oci": "minikit.exporter.oci",
    "export_rootfs_tar": "minikit.exporter.rootfs",
    "with_media_types": "minikit.exporter.image",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'minikit.exporter' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
