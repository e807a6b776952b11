"""Exporters: finished snapshots to OCI layouts, docker archives, tars and folders."""

from minikit.exporter.docker import export_docker_archive
from minikit.exporter.image import BuiltImage, LayerBlob, build_image, with_media_types
from minikit.exporter.local import export_local
from minikit.exporter.oci import export_oci
from minikit.exporter.rootfs import export_rootfs_tar

__all__ = [
    "BuiltImage",
    "LayerBlob",
    "build_image",
    "export_docker_archive",
    "export_local",
    "export_oci",
    "export_rootfs_tar",
    "with_media_types",
]
