"""Layer compression (reproducible gzip, zstd, plain) and digesting writers."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from typing import IO, Any, Literal

from minikit.oci import spec
from minikit.snapshot.errors import LayerError

logger = logging.getLogger(__name__)

Compression = Literal["gzip", "none", "zstd"]

# Fixed levels, so that the same tar always compresses to the same bytes.
GZIP_LEVEL = 6
ZSTD_LEVEL = 3

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

OCI_MEDIA_TYPES: dict[Compression, str] = {
    "gzip": spec.OCI_LAYER_GZIP,
    "none": spec.OCI_LAYER,
    "zstd": spec.OCI_LAYER_ZSTD,
}


class DigestingWriter:
    """A write-only stream that hashes (sha256) and counts what passes to ``target``.

    ``target`` may be None to only hash. ``tell()`` returns the byte count, which
    lets ``tarfile`` write to pipes such as stdout.
    """

    def __init__(self, target: IO[bytes] | Any | None) -> None:
        self._target = target
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Hash, count and forward ``data``, and return its length."""
        self._hash.update(data)
        self.size += len(data)
        if self._target is not None:
            self._target.write(data)
        return len(data)

    def tell(self) -> int:
        """Return the number of bytes written so far."""
        return self.size

    def flush(self) -> None:
        """Flush the target stream."""
        if self._target is not None:
            self._target.flush()

    @property
    def digest(self) -> str:
        """The ``sha256:<hex>`` digest of the bytes written so far."""
        return "sha256:" + self._hash.hexdigest()


def media_type_for(compression: Compression) -> str:
    """Return the OCI layer media type for ``compression``."""
    try:
        return OCI_MEDIA_TYPES[compression]
    except KeyError:
        raise LayerError(
            f"unsupported layer compression {compression!r}",
            hint="use one of: gzip, none, zstd",
        ) from None


@contextlib.contextmanager
def compressing(compression: Compression, out: DigestingWriter) -> Iterator[Any]:
    """Yield a stream that compresses into ``out``, which stays open afterwards."""
    if compression == "none":
        yield out
    elif compression == "gzip":
        import gzip

        # filename "" and mtime 0 keep the gzip header free of host data.
        with gzip.GzipFile(
            filename="", mode="wb", compresslevel=GZIP_LEVEL, fileobj=out, mtime=0
        ) as stream:
            yield stream
    elif compression == "zstd":
        compressor = _zstandard().ZstdCompressor(level=ZSTD_LEVEL)
        with compressor.stream_writer(out, closefd=False) as stream:
            yield stream
    else:
        media_type_for(compression)


@contextlib.contextmanager
def decompressing(blob: IO[bytes], media_type: str) -> Iterator[IO[bytes]]:
    """Yield the uncompressed tar stream of a layer blob.

    The magic bytes decide the format, since some registries label compressed
    layers as plain tar. A disagreeing media type is logged. ``blob`` must be
    seekable.
    """
    expected = _compression_of_media_type(media_type)
    magic = blob.read(4)
    blob.seek(0)
    actual: Compression = "none"
    if magic.startswith(_GZIP_MAGIC):
        actual = "gzip"
    elif magic.startswith(_ZSTD_MAGIC):
        actual = "zstd"
    if actual != expected:
        logger.info(
            "layer labelled %s is %s-compressed, so it is read as %s",
            media_type,
            actual,
            actual,
        )
    if actual == "gzip":
        import gzip

        with gzip.GzipFile(fileobj=blob, mode="rb") as stream:
            yield stream  # type: ignore[misc]
    elif actual == "zstd":
        reader = _zstandard().ZstdDecompressor().stream_reader(blob, closefd=False)
        with reader:
            yield reader
    else:
        yield blob


def _compression_of_media_type(media_type: str) -> Compression:
    if media_type in spec.GZIP_LAYER_TYPES:
        return "gzip"
    if media_type in spec.ZSTD_LAYER_TYPES:
        return "zstd"
    if media_type in spec.PLAIN_LAYER_TYPES:
        return "none"
    raise LayerError(
        f"unsupported layer media type {media_type!r}",
        hint="minikit reads OCI and Docker v2 layers that are plain, gzip or zstd tars",
    )


def _zstandard() -> Any:
    try:
        import zstandard
    except ImportError:
        raise LayerError(
            "zstd layers need the Python package 'zstandard', which is not installed",
            hint="run: pip install zstandard",
        ) from None
    return zstandard
