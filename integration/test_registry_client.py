"""The registry client against Debian's docker-registry, and the harness itself."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
from pathlib import Path

import pytest
from fixtures.images import BaseImage, fake_architecture, host_architecture
from fixtures.minikit_env import MinikitConfig, MinikitRunner
from fixtures.oci_tools import OciTools, read_docker_archive, read_oci_archive
from fixtures.registry import Login, RegistryServer
from fixtures.rootless import RootlessMinikit, UnprivilegedUser
from fixtures.tools import free_port, run_tool

from minikit.errors import ImageNotFound, RegistryAuthError, RegistryUnreachable
from minikit.oci.reference import Reference
from minikit.oci.spec import DOCKER_MANIFEST, OCI_MANIFEST, Descriptor, Platform
from minikit.registry import RegistryClient, load_config
from minikit.registry.config import RegistryConfig
from minikit.registry.manifest import PlatformNotFound
from minikit.util.digest import sha256_digest

HOST_PLATFORM = Platform("linux", host_architecture())


@pytest.fixture
def client(minikit_config: MinikitConfig) -> RegistryClient:
    """A client that reads the fixtures' minikit.toml, with no Docker logins."""
    return RegistryClient(
        load_config(minikit_config.path),
        docker_config_dir=Path(minikit_config.env["DOCKER_CONFIG"]),
    )


def test_resolve_short_name_via_mirror(
    client: RegistryClient, base_image: BaseImage
) -> None:
    ref = Reference.parse("busybox:1.36")
    resolved = client.resolve(ref, HOST_PLATFORM)
    assert str(resolved.reference) == "docker.io/library/busybox:1.36"
    assert resolved.manifest_digest == base_image.manifest_digest
    assert (
        str(resolved.pinned)
        == f"docker.io/library/busybox:1.36@{base_image.manifest_digest}"
    )
    assert resolved.manifest_media_type == OCI_MANIFEST
    assert resolved.config["architecture"] == host_architecture()
    assert resolved.config["config"]["Cmd"] == ["/bin/sh"]
    assert resolved.index_digest is None


def test_resolve_latest_matches_tag(
    client: RegistryClient, base_image: BaseImage
) -> None:
    resolved = client.resolve(Reference.parse("busybox"), HOST_PLATFORM)
    assert resolved.manifest_digest == base_image.manifest_digest


def test_resolve_docker_format(client: RegistryClient, base_image: BaseImage) -> None:
    resolved = client.resolve(Reference.parse("busybox:1.36-docker"), HOST_PLATFORM)
    assert resolved.manifest_media_type == DOCKER_MANIFEST
    assert resolved.manifest_digest == base_image.docker_manifest_digest


def test_resolve_index_host_platform(
    client: RegistryClient, base_image: BaseImage
) -> None:
    resolved = client.resolve(Reference.parse("busybox:multi"), Platform.host())
    assert resolved.index_digest == base_image.index_digest
    assert resolved.manifest_digest == base_image.manifest_digest


def test_resolve_index_fake_platform(
    client: RegistryClient, base_image: BaseImage
) -> None:
    requested = Platform.parse(f"linux/{fake_architecture()}")
    resolved = client.resolve(Reference.parse("busybox:multi"), requested)
    assert resolved.manifest_digest == base_image.fake_manifest_digest
    assert resolved.config["architecture"] == fake_architecture()


def test_resolve_index_missing_platform(
    client: RegistryClient, base_image: BaseImage
) -> None:
    with pytest.raises(PlatformNotFound) as caught:
        client.resolve(Reference.parse("busybox:multi"), Platform("linux", "s390x"))
    assert f"linux/{base_image.architecture}" in str(caught.value)
    assert "linux/s390x" in str(caught.value)


def test_resolve_by_digest(client: RegistryClient, base_image: BaseImage) -> None:
    ref = Reference.parse(f"busybox@{base_image.manifest_digest}")
    resolved = client.resolve(ref, HOST_PLATFORM)
    assert resolved.manifest_digest == base_image.manifest_digest


def test_fetch_every_layer(
    client: RegistryClient, base_image: BaseImage, tmp_path: Path
) -> None:
    ref = Reference.parse("busybox:1.36")
    resolved = client.resolve(ref, HOST_PLATFORM)
    assert len(resolved.layers) == 1
    for layer in resolved.layers:
        dest = tmp_path / layer.digest.replace(":", "-")
        seen: list[int] = []
        client.fetch_blob(ref, layer, dest, lambda done, _total, s=seen: s.append(done))
        data = dest.read_bytes()
        assert sha256_digest(data) == layer.digest
        assert len(data) == layer.size
        assert seen[-1] == layer.size


def test_missing_tag_not_found(client: RegistryClient, base_image: BaseImage) -> None:
    with pytest.raises(ImageNotFound) as caught:
        client.resolve(Reference.parse("busybox:nope"), HOST_PLATFORM)
    assert str(caught.value) == "docker.io/library/busybox:nope: not found"
    assert "mirrors of docker.io" in (caught.value.hint or "")


def test_dead_port_unreachable(tmp_path: Path, minikit_config: MinikitConfig) -> None:
    mirror = f"127.0.0.1:{free_port()}"
    config_path = tmp_path / "minikit.toml"
    config_path.write_text(
        f'[registry."docker.io"]\nmirrors = ["{mirror}"]\nupstream = false\n'
    )
    client = RegistryClient(
        load_config(config_path),
        docker_config_dir=Path(minikit_config.env["DOCKER_CONFIG"]),
    )
    with pytest.raises(RegistryUnreachable) as caught:
        client.resolve(Reference.parse("busybox:1.36"), HOST_PLATFORM)
    assert f"mirror {mirror}: connection refused" in str(caught.value)
    assert str(config_path) in (caught.value.hint or "")


def test_push_blob_and_manifest(
    registry: RegistryServer,
    minikit_config: MinikitConfig,
    oci_tools: OciTools,
    tmp_path: Path,
) -> None:
    client = RegistryClient(
        RegistryConfig(hosts={}),
        docker_config_dir=Path(minikit_config.env["DOCKER_CONFIG"]),
    )
    ref = Reference.parse(f"{registry.host}/minikit-test/pushed:v1")

    layer = os.urandom(300_000)
    config = json.dumps(
        {
            "architecture": host_architecture(),
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    ).encode()
    for blob in (layer, config):
        client.upload_blob(
            ref, sha256_digest(blob), len(blob), lambda b=blob: io.BytesIO(b)
        )

    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": sha256_digest(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": sha256_digest(layer),
                "size": len(layer),
            }
        ],
    }
    data = json.dumps(manifest).encode()
    digest = client.put_manifest(ref, data, OCI_MANIFEST)
    assert digest == sha256_digest(data)
    assert client.get_manifest(ref) == (data, OCI_MANIFEST)
    assert client.blob_exists(ref, sha256_digest(layer)) is True

    fetched = tmp_path / "layer"
    client.fetch_blob(ref, Descriptor.from_json(manifest["layers"][0]), fetched)
    assert fetched.read_bytes() == layer

    # skopeo reads the pushed manifest back without minikit.
    inspected = json.loads(
        run_tool(
            [
                oci_tools.skopeo,
                "inspect",
                "--raw",
                "--tls-verify=false",
                f"docker://{ref}",
            ]
        ).stdout
    )
    assert inspected == manifest


def test_push_chunked_and_mount(
    registry: RegistryServer, minikit_config: MinikitConfig, base_image: BaseImage
) -> None:
    client = RegistryClient(
        RegistryConfig(hosts={}),
        docker_config_dir=Path(minikit_config.env["DOCKER_CONFIG"]),
        upload_chunk_size=64 * 1024,
    )
    big = os.urandom(200_000)
    target = Reference.parse(f"{registry.host}/minikit-test/chunked:v1")
    client.upload_blob(target, sha256_digest(big), len(big), lambda: io.BytesIO(big))
    assert client.blob_exists(target, sha256_digest(big)) is True
    source = Reference.parse(base_image.registry_ref("1.36"))
    layer = client.resolve(source, HOST_PLATFORM).layers[0]
    mounted = Reference.parse(f"{registry.host}/minikit-test/mounted:v1")
    assert client.blob_exists(mounted, layer.digest) is False
    client.upload_blob(
        mounted, layer.digest, layer.size, _unused_opener, mount_from=source
    )
    assert client.blob_exists(mounted, layer.digest) is True


def test_login_required_without_credentials(
    auth_registry: RegistryServer, tmp_path: Path
) -> None:
    client = RegistryClient(RegistryConfig(hosts={}), docker_config_dir=tmp_path)
    with pytest.raises(RegistryAuthError) as caught:
        client.get_manifest(Reference.parse(f"{auth_registry.host}/private/app:v1"))
    assert "requires authentication" in str(caught.value)
    assert f"docker login {auth_registry.host}" in (caught.value.hint or "")


def test_login_push_and_pull(auth_registry: RegistryServer, tmp_path: Path) -> None:
    assert auth_registry.login is not None
    docker_dir = auth_registry.login.write_docker_config(
        tmp_path / "docker", auth_registry.host
    )
    client = RegistryClient(RegistryConfig(hosts={}), docker_config_dir=docker_dir)
    ref = Reference.parse(f"{auth_registry.host}/private/app:v1")
    blob = b"private layer"
    client.upload_blob(ref, sha256_digest(blob), len(blob), lambda: io.BytesIO(blob))
    dest = tmp_path / "blob"
    client.fetch_blob(
        ref,
        Descriptor("application/octet-stream", sha256_digest(blob), len(blob)),
        dest,
    )
    assert dest.read_bytes() == blob


def test_wrong_password_not_shown(
    auth_registry: RegistryServer, tmp_path: Path
) -> None:
    wrong = Login("minikit", "wrong-password-value")
    docker_dir = wrong.write_docker_config(tmp_path / "docker", auth_registry.host)
    client = RegistryClient(RegistryConfig(hosts={}), docker_config_dir=docker_dir)
    with pytest.raises(RegistryAuthError) as caught:
        client.get_manifest(Reference.parse(f"{auth_registry.host}/private/app:v1"))
    assert "access denied" in str(caught.value)
    assert "wrong-password-value" not in str(caught.value)
    assert "wrong-password-value" not in (caught.value.hint or "")


def _unused_opener() -> io.BytesIO:
    raise AssertionError("a mounted blob must not be uploaded")


def test_base_image_layer_contents(base_image: BaseImage) -> None:
    image = read_oci_archive(base_image.archive, tag="1.36")
    files = image.filesystem()
    busybox = files["bin/busybox"]
    assert busybox.type == "file"
    assert busybox.permissions == 0o755
    assert (busybox.uid, busybox.gid) == (0, 0)
    assert busybox.content == base_image.busybox.read_bytes()
    assert files["bin/sh"].type == "symlink"
    assert files["bin/sh"].linkname == "/bin/busybox"
    passwd = (files["etc/passwd"].content or b"").decode()
    assert "user:x:1000:1000:Test User:/home/user:/bin/sh" in passwd.splitlines()
    assert (
        "staff:x:50:user" in (files["etc/group"].content or b"").decode().splitlines()
    )
    assert (files["home/user"].uid, files["home/user"].gid) == (1000, 1000)
    assert files["tmp"].permissions == 0o1777
    assert files["root"].permissions == 0o700
    assert "etc/hostname" not in files


def test_base_image_applets_linked(base_image: BaseImage) -> None:
    files = read_oci_archive(base_image.archive, tag="1.36").filesystem()
    unlinked = [
        a
        for a in base_image.applets
        if files.get(a) is None or files[a].linkname != "/bin/busybox"
    ]
    assert unlinked == []


def test_base_image_config_via_skopeo(
    base_image: BaseImage, oci_tools: OciTools
) -> None:
    config = oci_tools.inspect_config(base_image.archive, tag="1.36")
    assert config["architecture"] == host_architecture()
    assert config["config"]["Cmd"] == ["/bin/sh"]
    assert config["history"][-1]["created_by"] == "minikit integration fixture: config"


def test_umoci_unpack_keeps_owners(
    base_image: BaseImage, oci_tools: OciTools, tmp_path: Path
) -> None:
    rootfs = oci_tools.unpack(base_image.archive, "1.36", tmp_path / "bundle")
    home = (rootfs / "home" / "user").stat()
    assert (home.st_uid, home.st_gid) == (1000, 1000)
    assert stat.S_IMODE((rootfs / "tmp").stat().st_mode) == 0o1777
    assert os.access(rootfs / "bin" / "busybox", os.X_OK)


def test_docker_archive_reader(
    base_image: BaseImage, oci_tools: OciTools, tmp_path: Path
) -> None:
    archive = tmp_path / "busybox.docker.tar"
    run_tool(
        [
            oci_tools.skopeo,
            "copy",
            "--quiet",
            f"oci:{base_image.layout}:1.36",
            f"docker-archive:{archive}:busybox:1.36",
        ]
    )
    docker = read_docker_archive(archive)
    oci = read_oci_archive(base_image.archive, tag="1.36")
    assert docker.manifest["RepoTags"] == ["docker.io/library/busybox:1.36"]
    assert [layer.names() for layer in docker.layers] == [
        layer.names() for layer in oci.layers
    ]
    assert docker.config["config"]["Cmd"] == ["/bin/sh"]


def test_layout_tar_matches_registry(
    base_image: BaseImage, oci_tools: OciTools
) -> None:
    from_archive = oci_tools.inspect(base_image.archive, tag="1.36")
    assert from_archive["Digest"] == base_image.manifest_digest


def test_run_minikit_reports_stderr(run_minikit: MinikitRunner, tmp_path: Path) -> None:
    with pytest.raises(AssertionError) as caught:
        run_minikit(["no-such-command-exists"], tmp_path)
    assert "--- stderr ---" in str(caught.value)
    assert "exited with status" in str(caught.value)


def test_minikit_config_isolates(
    minikit_config: MinikitConfig, registry: RegistryServer
) -> None:
    config = load_config(minikit_config.path)
    hub = config.for_host("docker.io")
    assert hub.mirrors == (registry.host,)
    assert hub.upstream is False
    assert minikit_config.env["XDG_CONFIG_HOME"] == str(minikit_config.path.parents[1])
    assert minikit_config.env["HOME"] != os.environ.get("HOME")


def test_unprivileged_user_ranges(unprivileged_user: UnprivilegedUser) -> None:
    assert unprivileged_user.uid != 0
    assert unprivileged_user.subuid[1] >= 65536
    assert unprivileged_user.subgid[1] >= 65536


@pytest.mark.rootless
@pytest.mark.slow
def test_rootless_install_runs(rootless_minikit: RootlessMinikit) -> None:
    python = str(rootless_minikit.venv / "bin" / "python")
    script = "import os, minikit.registry.client; print(os.getuid(), minikit.__file__)"
    result = rootless_minikit.run_program([python, "-c", script])
    uid, module = result.stdout.split()
    assert int(uid) == rootless_minikit.user.uid
    assert module.startswith(str(rootless_minikit.venv))
    console_script = rootless_minikit.venv / "bin" / "minikit"
    assert console_script.read_text().splitlines()[0] == f"#!{python}"


@pytest.mark.rootless
def test_rootless_config_points_at_registry(
    rootless_minikit: RootlessMinikit, registry: RegistryServer
) -> None:
    text = rootless_minikit.config_path.read_text()
    assert f'mirrors = ["{registry.host}"]' in text
    assert "upstream = false" in text
    owner = rootless_minikit.config_path.stat().st_uid
    assert owner == rootless_minikit.user.uid


def test_layer_digest_matches_layout(base_image: BaseImage) -> None:
    image = read_oci_archive(base_image.layout, tag="1.36")
    blob = (
        base_image.layout
        / "blobs"
        / "sha256"
        / image.manifest["layers"][0]["digest"].split(":")[1]
    )
    assert (
        "sha256:" + hashlib.sha256(blob.read_bytes()).hexdigest()
        == image.manifest["layers"][0]["digest"]
    )
