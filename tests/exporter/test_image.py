"""Config and manifest assembly."""

from __future__ import annotations

import json

import pytest

from minikit.errors import ExportError
from minikit.exporter import build_image, with_media_types
from minikit.oci import spec
from minikit.util.digest import canonical_json, sha256_digest

from .support import CONFIG, ImageFixture


def test_config_gets_diff_ids(built: ImageFixture) -> None:
    config = json.loads(built.image.config_bytes)

    assert config["rootfs"] == {
        "type": "layers",
        "diff_ids": [layer.diff_id for layer in built.layers],
    }
    assert config["config"] == CONFIG["config"]
    assert "rootfs" not in CONFIG


def test_documents_are_canonical(built: ImageFixture) -> None:
    image = built.image

    assert image.config_bytes == canonical_json(json.loads(image.config_bytes))
    assert image.manifest_bytes == canonical_json(json.loads(image.manifest_bytes))
    assert image.config.digest == sha256_digest(image.config_bytes)
    assert image.manifest.digest == sha256_digest(image.manifest_bytes)
    assert image.manifest.size == len(image.manifest_bytes)


def test_manifest_uses_oci_types(built: ImageFixture) -> None:
    manifest = json.loads(built.image.manifest_bytes)

    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == spec.OCI_MANIFEST
    assert manifest["config"]["mediaType"] == spec.OCI_CONFIG
    assert [layer["mediaType"] for layer in manifest["layers"]] == [
        spec.OCI_LAYER_GZIP
    ] * 2
    assert [layer["digest"] for layer in manifest["layers"]] == [
        layer.descriptor.digest for layer in built.layers
    ]
    assert str(built.image.manifest.platform) == "linux/amd64"


def test_manifest_uses_docker_types(built: ImageFixture) -> None:
    image = build_image(CONFIG, built.layers, oci_media_types=False)
    manifest = json.loads(image.manifest_bytes)

    assert manifest["mediaType"] == spec.DOCKER_MANIFEST
    assert manifest["config"]["mediaType"] == spec.DOCKER_CONFIG
    assert [layer["mediaType"] for layer in manifest["layers"]] == [
        spec.DOCKER_LAYER_GZIP
    ] * 2
    assert image.config_bytes == built.image.config_bytes


def test_media_type_switch_keeps_config(built: ImageFixture) -> None:
    docker = with_media_types(built.image, oci_media_types=False)
    back = with_media_types(docker, oci_media_types=True)

    assert docker.config.digest == built.image.config.digest
    assert docker.manifest.media_type == spec.DOCKER_MANIFEST
    assert back == built.image


def test_build_is_deterministic(built: ImageFixture) -> None:
    again = build_image(CONFIG, built.layers)

    assert again.manifest_bytes == built.image.manifest_bytes
    assert again.config_bytes == built.image.config_bytes


def test_invalid_config_is_rejected(built: ImageFixture) -> None:
    with pytest.raises(ExportError, match="invalid image config"):
        build_image({"os": "linux", "bad": {1, 2}}, built.layers)
