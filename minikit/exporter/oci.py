"""The ``oci`` exporter: an OCI image layout, as a tar or a folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from minikit.errors import ExportError
from minikit.exporter.image import BuiltImage, with_media_types
from minikit.exporter.layout import (
    OCI_LAYOUT_BYTES,
    OCI_LAYOUT_FILE,
    index_bytes,
    parse_names,
    write_layout,
)
from minikit.exporter.output import FolderSink, TarSink, open_output


def export_oci(
    image: BuiltImage,
    dest: Path | BinaryIO,
    *,
    names: Sequence[str] = (),
    tar: bool = True,
) -> None:
    """Write ``image`` as an OCI image layout to ``dest``.

    With ``tar`` the layout is one reproducible tar, written to a path (atomically)
    or to a stream such as stdout. Without it ``dest`` must be a folder path: blobs
    are added to it and ``index.json`` is replaced. The layout always uses OCI
    media types, as BuildKit's ``oci`` exporter does. Raises ExportError.
    """
    image = with_media_types(image, oci_media_types=True)
    files = {
        "index.json": index_bytes(image, parse_names(names)),
        OCI_LAYOUT_FILE: OCI_LAYOUT_BYTES,
    }
    if tar:
        with open_output(dest) as out:
            sink = TarSink(out)
            write_layout(sink, image, files)
            sink.close()
        return
    if not isinstance(dest, Path):
        raise ExportError(
            "an OCI layout folder (tar=false) cannot be written to a stream",
            hint="give dest= a folder path, or set tar=true",
        )
    write_layout(FolderSink(dest), image, files)
