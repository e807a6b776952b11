"""Tests of resolve, get_manifest and fetch_blob on the in-process fake registry."""

from __future__ import annotations

import hashlib
import json
import ssl
from pathlib import Path

import pytest
from registry_fake import FakeRegistry, FakeStorage, digest_of, make_client, make_config

from minikit.errors import ImageNotFound, RegistryError, RegistryUnreachable
from minikit.oci.reference import Reference
from minikit.oci.spec import OCI_INDEX, Descriptor, Platform
from minikit.registry.config import RegistryHostConfig
from minikit.registry.manifest import PlatformNotFound

AMD64 = Platform("linux", "amd64")


def add_index(fake: FakeRegistry, repo: str, tag: str) -> dict[str, dict]:
    amd = fake.add_image(repo, None, architecture="amd64")
    arm = fake.add_image(repo, None, architecture="arm64", variant="v8")
    entries = []
    for image, platform in (
        (amd, {"os": "linux", "architecture": "amd64"}),
        (arm, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
    ):
        entries.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": image["digest"],
                "size": image["size"],
                "platform": platform,
            }
        )
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    index_digest = fake.add_manifest(repo, index, tag)
    return {"amd64": amd, "arm64": arm, "index": {"digest": index_digest}}


def test_resolve_tag(fake: FakeRegistry, empty_docker_config: Path) -> None:
    image = fake.add_image("library/busybox", "1.36")
    client = make_client(empty_docker_config)
    resolved = client.resolve(
        Reference.parse(f"{fake.host}/library/busybox:1.36"), AMD64
    )
    assert resolved.manifest_digest == image["digest"]
    assert resolved.pinned.digest == image["digest"]
    assert resolved.config == {"architecture": "amd64", "os": "linux"}
    assert resolved.config_digest == image["manifest"]["config"]["digest"]
    assert [layer.digest for layer in resolved.layers] == [
        image["manifest"]["layers"][0]["digest"]
    ]
    assert resolved.index_digest is None


def test_resolve_index_host_platform(
    fake: FakeRegistry, empty_docker_config: Path
) -> None:
    images = add_index(fake, "library/busybox", "multi")
    client = make_client(empty_docker_config)
    resolved = client.resolve(
        Reference.parse(f"{fake.host}/library/busybox:multi"), AMD64
    )
    assert resolved.manifest_digest == images["amd64"]["digest"]
    assert resolved.index_digest == images["index"]["digest"]


@pytest.mark.parametrize("text", ["linux/arm64", "linux/arm64/v8"])
def test_resolve_arm64_variants(
    fake: FakeRegistry, empty_docker_config: Path, text: str
) -> None:
    images = add_index(fake, "library/busybox", "multi")
    client = make_client(empty_docker_config)
    ref = Reference.parse(f"{fake.host}/library/busybox:multi")
    resolved = client.resolve(ref, Platform.parse(text))
    assert resolved.manifest_digest == images["arm64"]["digest"]


def test_resolve_missing_platform(
    fake: FakeRegistry, empty_docker_config: Path
) -> None:
    add_index(fake, "library/busybox", "multi")
    client = make_client(empty_docker_config)
    with pytest.raises(PlatformNotFound) as caught:
        client.resolve(
            Reference.parse(f"{fake.host}/library/busybox:multi"),
            Platform("linux", "s390x"),
        )
    message = str(caught.value)
    assert "linux/s390x" in message
    assert "linux/amd64, linux/arm64/v8" in message


def test_resolve_by_index_digest(fake: FakeRegistry, empty_docker_config: Path) -> None:
    images = add_index(fake, "library/busybox", "multi")
    client = make_client(empty_docker_config)
    ref = Reference.parse(f"{fake.host}/library/busybox@{images['index']['digest']}")
    resolved = client.resolve(ref, AMD64)
    assert resolved.manifest_digest == images["amd64"]["digest"]


def test_resolve_digest_mismatch(fake: FakeRegistry, empty_docker_config: Path) -> None:
    image = fake.add_image("library/busybox", "1.36")
    wrong = "sha256:" + "0" * 64
    fake.state.manifests[("library/busybox", wrong)] = fake.state.manifests[
        ("library/busybox", image["digest"])
    ]
    client = make_client(empty_docker_config)
    with pytest.raises(RegistryError) as caught:
        client.resolve(Reference.parse(f"{fake.host}/library/busybox@{wrong}"), AMD64)
    assert "arrived with digest" in str(caught.value)


def test_resolve_missing_tag(fake: FakeRegistry, empty_docker_config: Path) -> None:
    client = make_client(empty_docker_config)
    ref = Reference.parse(f"{fake.host}/library/nope:1")
    with pytest.raises(ImageNotFound) as caught:
        client.resolve(ref, AMD64)
    assert str(caught.value) == f"{fake.host}/library/nope:1: not found"
    assert caught.value.hint is not None


def test_resolve_refused_port(closed_port: int, empty_docker_config: Path) -> None:
    client = make_client(empty_docker_config)
    with pytest.raises(RegistryUnreachable) as caught:
        client.resolve(Reference.parse(f"127.0.0.1:{closed_port}/x:1"), AMD64)
    assert f"registry 127.0.0.1:{closed_port}: connection refused" in str(caught.value)


def test_mirror_serves_docker_hub(
    fake: FakeRegistry, empty_docker_config: Path
) -> None:
    image = fake.add_image("library/busybox", "1.36")
    config = make_config(
        {"docker.io": RegistryHostConfig(mirrors=(fake.host,), upstream=False)}
    )
    client = make_client(empty_docker_config, config)
    resolved = client.resolve(Reference.parse("busybox:1.36"), AMD64)
    assert resolved.manifest_digest == image["digest"]
    assert str(resolved.pinned) == f"docker.io/library/busybox:1.36@{image['digest']}"


def test_mirror_prefix_path(fake: FakeRegistry, empty_docker_config: Path) -> None:
    image = fake.add_image("hub/library/busybox", "1.36")
    config = make_config(
        {"docker.io": RegistryHostConfig(mirrors=(f"{fake.host}/hub",), upstream=False)}
    )
    client = make_client(empty_docker_config, config)
    resolved = client.resolve(Reference.parse("busybox:1.36"), AMD64)
    assert resolved.manifest_digest == image["digest"]


def test_dead_mirror_falls_through(
    fake: FakeRegistry, closed_port: int, empty_docker_config: Path
) -> None:
    image = fake.add_image("library/busybox", "1.36")
    mirrors = (f"127.0.0.1:{closed_port}", fake.host)
    config = make_config(
        {"docker.io": RegistryHostConfig(mirrors=mirrors, upstream=False)}
    )
    client = make_client(empty_docker_config, config)
    resolved = client.resolve(Reference.parse("busybox:1.36"), AMD64)
    assert resolved.manifest_digest == image["digest"]


def test_missing_on_mirror_falls_through(empty_docker_config: Path) -> None:
    with FakeRegistry() as empty, FakeRegistry() as full:
        image = full.add_image("library/busybox", "1.36")
        config = make_config(
            {
                "docker.io": RegistryHostConfig(
                    mirrors=(empty.host, full.host), upstream=False
                )
            }
        )
        resolved = make_client(empty_docker_config, config).resolve(
            Reference.parse("busybox:1.36"), AMD64
        )
    assert resolved.manifest_digest == image["digest"]


def test_all_mirrors_dead_names_them(
    closed_port: int, empty_docker_config: Path, tmp_path: Path
) -> None:
    mirror = f"127.0.0.1:{closed_port}"
    config_path = tmp_path / "minikit.toml"
    config = make_config(
        {"docker.io": RegistryHostConfig(mirrors=(mirror,), upstream=False)},
        config_path,
    )
    client = make_client(empty_docker_config, config)
    with pytest.raises(RegistryUnreachable) as caught:
        client.resolve(Reference.parse("busybox:1.36"), AMD64)
    assert f"mirror {mirror}: connection refused" in str(caught.value)
    assert "docker.io/library/busybox:1.36" in str(caught.value)
    assert str(config_path) in (caught.value.hint or "")
    assert "upstream = false" in (caught.value.hint or "")


def test_no_endpoints_raises(empty_docker_config: Path) -> None:
    config = make_config({"docker.io": RegistryHostConfig(upstream=False)})
    with pytest.raises(RegistryError) as caught:
        make_client(empty_docker_config, config).resolve(
            Reference.parse("busybox"), AMD64
        )
    assert "no mirrors" in str(caught.value)


def test_get_manifest_raw(fake: FakeRegistry, empty_docker_config: Path) -> None:
    image = fake.add_image("app", "v1")
    data, media_type = make_client(empty_docker_config).get_manifest(
        Reference.parse(f"{fake.host}/app:v1")
    )
    assert digest_of(data) == image["digest"]
    assert media_type == "application/vnd.oci.image.manifest.v1+json"


def test_retry_after_503(fake: FakeRegistry, empty_docker_config: Path) -> None:
    image = fake.add_image("app", "v1")
    fake.state.fail_statuses = [503, 502]
    resolved = make_client(empty_docker_config).resolve(
        Reference.parse(f"{fake.host}/app:v1"), AMD64
    )
    assert resolved.manifest_digest == image["digest"]


def test_persistent_500_fails(fake: FakeRegistry, empty_docker_config: Path) -> None:
    fake.add_image("app", "v1")
    fake.state.fail_statuses = [500] * 10
    with pytest.raises(RegistryError) as caught:
        make_client(empty_docker_config).resolve(
            Reference.parse(f"{fake.host}/app:v1"), AMD64
        )
    assert "HTTP 500" in str(caught.value)


def layer_descriptor(image: dict) -> Descriptor:
    return Descriptor.from_json(image["manifest"]["layers"][0])


def test_fetch_blob_writes_file(
    fake: FakeRegistry, empty_docker_config: Path, tmp_path: Path
) -> None:
    image = fake.add_image("app", "v1")
    dest = tmp_path / "blobs" / "layer"
    progress: list[tuple[int, int | None]] = []
    client = make_client(empty_docker_config)
    client.fetch_blob(
        Reference.parse(f"{fake.host}/app:v1"),
        layer_descriptor(image),
        dest,
        lambda c, t: progress.append((c, t)),
    )
    assert dest.read_bytes() == image["layer"]
    assert progress[-1] == (len(image["layer"]), len(image["layer"]))
    assert sorted(p.name for p in dest.parent.iterdir()) == ["layer"]


def test_fetch_blob_corrupt_leaves_nothing(
    fake: FakeRegistry, empty_docker_config: Path, tmp_path: Path
) -> None:
    image = fake.add_image("app", "v1")
    fake.state.corrupt_blobs = True
    dest = tmp_path / "blobs" / "layer"
    with pytest.raises(RegistryError) as caught:
        make_client(empty_docker_config).fetch_blob(
            Reference.parse(f"{fake.host}/app:v1"), layer_descriptor(image), dest
        )
    assert "arrived with digest" in str(caught.value)
    assert list(dest.parent.iterdir()) == []


def test_fetch_blob_wrong_size(
    fake: FakeRegistry, empty_docker_config: Path, tmp_path: Path
) -> None:
    image = fake.add_image("app", "v1")
    descriptor = layer_descriptor(image)
    smaller = Descriptor(descriptor.media_type, descriptor.digest, descriptor.size - 10)
    with pytest.raises(RegistryError) as caught:
        make_client(empty_docker_config).fetch_blob(
            Reference.parse(f"{fake.host}/app:v1"), smaller, tmp_path / "l"
        )
    assert "larger than" in str(caught.value)


def test_fetch_missing_blob(
    fake: FakeRegistry, empty_docker_config: Path, tmp_path: Path
) -> None:
    data = b"never stored"
    descriptor = Descriptor("application/octet-stream", digest_of(data), len(data))
    with pytest.raises(ImageNotFound) as caught:
        make_client(empty_docker_config).fetch_blob(
            Reference.parse(f"{fake.host}/app:v1"), descriptor, tmp_path / "b"
        )
    assert descriptor.digest in str(caught.value)


def test_redirect_drops_authorization(
    fake: FakeRegistry, empty_docker_config: Path, tmp_path: Path
) -> None:
    image = fake.add_image("app", "v1")
    fake.state.auth = "bearer"
    storage = FakeStorage(fake)
    try:
        fake.state.redirect_blobs_to = storage.url
        dest = tmp_path / "layer"
        make_client(empty_docker_config).fetch_blob(
            Reference.parse(f"{fake.host}/app:v1"), layer_descriptor(image), dest
        )
    finally:
        storage.close()
    assert dest.read_bytes() == image["layer"]
    assert len(storage.requests) == 1
    assert "Authorization" not in storage.requests[0].headers
    blob_requests = fake.requests_to("/blobs/")
    assert blob_requests[-1].headers.get("Authorization", "").startswith("Bearer ")


def test_sha512_digest_verified(
    fake: FakeRegistry, empty_docker_config: Path, tmp_path: Path
) -> None:
    data = b"sha512 content"
    digest = "sha512:" + hashlib.sha512(data).hexdigest()
    fake.state.blobs[("app", digest)] = data
    dest = tmp_path / "blob"
    descriptor = Descriptor("application/octet-stream", digest, len(data))
    make_client(empty_docker_config).fetch_blob(
        Reference.parse(f"{fake.host}/app:v1"), descriptor, dest
    )
    assert dest.read_bytes() == data


def test_docker_manifest_list(fake: FakeRegistry, empty_docker_config: Path) -> None:
    image = fake.add_image("app", None)
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": image["digest"],
                "size": image["size"],
                "platform": {"os": "linux", "architecture": "amd64"},
            }
        ],
    }
    fake.add_manifest("app", index, "list")
    resolved = make_client(empty_docker_config).resolve(
        Reference.parse(f"{fake.host}/app:list"), AMD64
    )
    assert resolved.manifest_digest == image["digest"]


def test_schema1_rejected(fake: FakeRegistry, empty_docker_config: Path) -> None:
    data = json.dumps({"schemaVersion": 1, "name": "app", "fsLayers": []}).encode()
    fake.state.manifests[("app", "old")] = (
        data,
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    )
    with pytest.raises(RegistryError) as caught:
        make_client(empty_docker_config).resolve(
            Reference.parse(f"{fake.host}/app:old"), AMD64
        )
    assert "unsupported manifest media type" in str(caught.value)


def test_insecure_host_skips_tls_check(
    tls_server_context: ssl.SSLContext, empty_docker_config: Path
) -> None:
    with FakeRegistry(tls=tls_server_context) as secure:
        image = secure.add_image("app", "v1")
        config = make_config({secure.host: RegistryHostConfig(insecure=True)})
        client = make_client(empty_docker_config, config)
        resolved = client.resolve(Reference.parse(f"{secure.host}/app:v1"), AMD64)
    assert resolved.manifest_digest == image["digest"]


def test_self_signed_mirror_rejected(
    tls_server_context: ssl.SSLContext, empty_docker_config: Path
) -> None:
    with FakeRegistry(tls=tls_server_context) as secure:
        secure.add_image("library/busybox", "1.36")
        mirror = f"https://{secure.host}"
        hub = RegistryHostConfig(mirrors=(mirror,), upstream=False)
        client = make_client(empty_docker_config, make_config({"docker.io": hub}))
        with pytest.raises(RegistryUnreachable) as caught:
            client.resolve(Reference.parse("busybox:1.36"), AMD64)
    assert "TLS certificate verification failed" in str(caught.value)
