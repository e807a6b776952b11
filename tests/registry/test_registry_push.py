"""Tests of blob uploads, mounts and manifest pushes against the fake registry."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from registry_fake import FakeRegistry, digest_of, make_client, make_config

from minikit.errors import RegistryError
from minikit.oci.reference import Reference
from minikit.registry.config import RegistryHostConfig

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def opener(data: bytes):  # type: ignore[no-untyped-def]
    return lambda: io.BytesIO(data)


def test_blob_exists(fake: FakeRegistry, empty_docker_config: Path) -> None:
    digest = fake.add_blob("app", b"present")
    client = make_client(empty_docker_config)
    ref = Reference.parse(f"{fake.host}/app:v1")
    assert client.blob_exists(ref, digest) is True
    assert client.blob_exists(ref, digest_of(b"absent")) is False


def test_upload_monolithic(fake: FakeRegistry, empty_docker_config: Path) -> None:
    data = b"monolithic blob" * 1000
    digest = digest_of(data)
    make_client(empty_docker_config).upload_blob(
        Reference.parse(f"{fake.host}/app:v1"), digest, len(data), opener(data)
    )
    assert fake.state.blobs[("app", digest)] == data
    assert [r.method for r in fake.requests_to("/blobs/uploads/")] == ["POST", "PUT"]


def test_upload_chunked(fake: FakeRegistry, empty_docker_config: Path) -> None:
    data = bytes(range(256)) * 40
    digest = digest_of(data)
    client = make_client(empty_docker_config, upload_chunk_size=4096)
    client.upload_blob(
        Reference.parse(f"{fake.host}/app:v1"), digest, len(data), opener(data)
    )
    assert fake.state.blobs[("app", digest)] == data
    methods = [r.method for r in fake.requests_to("/blobs/uploads/")]
    assert methods == ["POST", "PATCH", "PATCH", "PATCH", "PUT"]


def test_upload_skips_present_blob(
    fake: FakeRegistry, empty_docker_config: Path
) -> None:
    data = b"already there"
    digest = fake.add_blob("app", data)
    make_client(empty_docker_config).upload_blob(
        Reference.parse(f"{fake.host}/app:v1"), digest, len(data), opener(data)
    )
    assert fake.requests_to("/blobs/uploads/") == []


def test_upload_mounts_from_repo(fake: FakeRegistry, empty_docker_config: Path) -> None:
    data = b"shared layer"
    digest = fake.add_blob("base", data)
    client = make_client(empty_docker_config)
    ref = Reference.parse(f"{fake.host}/app:v1")
    client.upload_blob(
        ref,
        digest,
        len(data),
        opener(data),
        mount_from=Reference.parse(f"{fake.host}/base:1"),
    )
    assert fake.state.blobs[("app", digest)] == data
    uploads = fake.requests_to("/blobs/uploads/")
    assert len(uploads) == 1
    assert "mount=" in uploads[0].path


def test_upload_retries_after_503(
    fake: FakeRegistry, empty_docker_config: Path
) -> None:
    data = b"retry me"
    digest = digest_of(data)
    client = make_client(empty_docker_config)
    ref = Reference.parse(f"{fake.host}/app:v1")
    # POST is not idempotent, so the upload loop retries it, not the transport.
    fake.state.fail_method = "POST"
    fake.state.fail_statuses = [503]
    client.upload_blob(ref, digest, len(data), opener(data))
    assert fake.state.blobs[("app", digest)] == data
    assert [r.method for r in fake.requests_to("/blobs/uploads/")] == [
        "POST",
        "POST",
        "PUT",
    ]


def test_upload_bad_digest_fails(fake: FakeRegistry, empty_docker_config: Path) -> None:
    data = b"content"
    wrong = digest_of(b"other content")
    with pytest.raises(RegistryError) as caught:
        make_client(empty_docker_config).upload_blob(
            Reference.parse(f"{fake.host}/app:v1"), wrong, len(data), opener(data)
        )
    assert "DIGEST_INVALID" in str(caught.value)


def test_put_manifest_roundtrip(fake: FakeRegistry, empty_docker_config: Path) -> None:
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {},
        "layers": [],
    }
    data = json.dumps(document).encode()
    client = make_client(empty_docker_config)
    ref = Reference.parse(f"{fake.host}/app:v2")
    digest = client.put_manifest(ref, data, OCI_MANIFEST)
    assert digest == digest_of(data)
    assert client.get_manifest(ref) == (data, OCI_MANIFEST)


def test_put_manifest_digest_mismatch(
    fake: FakeRegistry, empty_docker_config: Path
) -> None:
    ref = Reference.parse(f"{fake.host}/app@{digest_of(b'x')}")
    with pytest.raises(RegistryError) as caught:
        make_client(empty_docker_config).put_manifest(ref, b"{}", OCI_MANIFEST)
    assert "digests differ" in str(caught.value)


def test_push_with_upstream_false(empty_docker_config: Path, tmp_path: Path) -> None:
    config = make_config(
        {"docker.io": RegistryHostConfig(mirrors=("127.0.0.1:1",), upstream=False)},
        tmp_path / "m.toml",
    )
    client = make_client(empty_docker_config, config)
    with pytest.raises(RegistryError) as caught:
        client.put_manifest(Reference.parse("busybox:x"), b"{}", OCI_MANIFEST)
    assert "upstream = false" in str(caught.value)


def test_push_uses_push_scope(fake: FakeRegistry, empty_docker_config: Path) -> None:
    fake.state.auth = "bearer"
    fake.state.users = {}
    fake.state.anonymous_pull = True
    data = b"denied blob"
    client = make_client(empty_docker_config)
    with pytest.raises(RegistryError):
        client.upload_blob(
            Reference.parse(f"{fake.host}/app:v1"),
            digest_of(data),
            len(data),
            opener(data),
        )
    scopes = [
        scope for request in fake.state.token_requests for scope in request["scope"]
    ]
    assert "repository:app:pull,push" in scopes
