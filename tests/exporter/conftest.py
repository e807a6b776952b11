"""The image fixture of the exporter tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from minikit.exporter import build_image

from .support import CONFIG, ImageFixture, blob_for, make_layers


@pytest.fixture
def built(tmp_path: Path) -> ImageFixture:
    """A two-layer image whose top layer changes a file, deletes one and adds a link."""
    blobs = tmp_path / "store"
    blobs.mkdir()
    bottom, top = make_layers(tmp_path / "layers")
    layers = [blob_for(bottom, blobs), blob_for(top, blobs)]
    return ImageFixture(build_image(CONFIG, layers), layers, tmp_path)
