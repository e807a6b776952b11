"""The README's demo build, end to end: every output type, as root and rootless.

Each output is read back independently of minikit: layer tars are unpacked
entry by entry, and skopeo and umoci read the OCI and Docker archives.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from fixtures.oci_tools import read_docker_archive, read_oci_archive

REPO = Path(__file__).resolve().parents[1]
HELLO = REPO / "examples" / "hello"

EXPECTED_HISTORY = [
    "ARG GREETING=hello",
    "ENV APP_HOME=/srv/hello GREETING=hello",
    "WORKDIR /srv/hello",
    "COPY greet.sh ./ # buildkit",
    "COPY static/ ./static/ # buildkit",
    "RUN |1 GREETING=hello /bin/sh -c chmod 0755 greet.sh && ./greet.sh builder > built-by-run.txt # buildkit",
    "RUN |1 GREETING=hello /bin/sh -c echo exec form ran > exec.txt # buildkit",
    "RUN |1 GREETING=hello /bin/sh -c mkdir -p logs && chown 1000:1000 logs # buildkit",
    "LABEL org.opencontainers.image.title=hello org.opencontainers.image.description=minikit demo image",
    "EXPOSE [8080/tcp]",
    "USER 1000:1000",
    'ENTRYPOINT ["/srv/hello/greet.sh"]',
    'CMD ["world"]',
]


@pytest.fixture(scope="module")
def hello_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hello") / "hello"
    shutil.copytree(HELLO, folder)
    return folder


@pytest.fixture(scope="module")
def oci_build(run_minikit, base_image, hello_context, tmp_path_factory):
    out = tmp_path_factory.mktemp("oci") / "demo.tar"
    result = run_minikit(
        ["build", "--progress=plain", "-t", "demo:1", "-o", f"type=oci,dest={out}", str(hello_context)],
        cwd=hello_context.parent,
    )
    return out, result


def _check_config(config: dict) -> None:
    inner = config["config"]
    assert inner["WorkingDir"] == "/srv/hello"
    assert inner["User"] == "1000:1000"
    assert inner["Entrypoint"] == ["/srv/hello/greet.sh"]
    assert inner["Cmd"] == ["world"]
    assert inner["ExposedPorts"] == {"8080/tcp": {}}
    assert inner["Labels"]["org.opencontainers.image.title"] == "hello"
    assert "APP_HOME=/srv/hello" in inner["Env"]
    assert "GREETING=hello" in inner["Env"]
    assert config["os"] == "linux"


def _check_files(files: dict) -> None:
    greet = files["srv/hello/greet.sh"]
    assert greet.permissions == 0o755
    assert (greet.uid, greet.gid) == (0, 0)
    assert files["srv/hello/built-by-run.txt"].content == b"hello, builder!\n"
    assert files["srv/hello/exec.txt"].content == b"exec form ran\n"
    assert files["srv/hello/static/index.html"].permissions == 0o644
    logs = files["srv/hello/logs"]
    assert logs.type == "dir"
    assert (logs.uid, logs.gid) == (1000, 1000)


def test_oci_config(oci_build):
    image = read_oci_archive(oci_build[0])
    _check_config(image.config)


def test_oci_history_created_by(oci_build):
    image = read_oci_archive(oci_build[0])
    ours = [entry["created_by"] for entry in image.history if entry.get("comment") == "buildkit.dockerfile.v0"]
    assert ours == EXPECTED_HISTORY


def test_oci_history_marks_empty_layers(oci_build):
    image = read_oci_archive(oci_build[0])
    ours = [entry for entry in image.history if entry.get("comment") == "buildkit.dockerfile.v0"]
    layered = [entry["created_by"].split()[0] for entry in ours if not entry.get("empty_layer")]
    assert layered == ["WORKDIR", "COPY", "COPY", "RUN", "RUN", "RUN"]
    non_empty = [entry for entry in image.history if not entry.get("empty_layer")]
    assert len(non_empty) == len(image.layers)


def test_oci_files_modes_owners(oci_build):
    _check_files(read_oci_archive(oci_build[0]).filesystem())


def test_oci_layers_have_numeric_owners_only(oci_build):
    for layer in read_oci_archive(oci_build[0]).layers:
        for entry in layer.entries:
            assert entry.pax_headers.get("uname", "") == ""


def test_skopeo_reads_oci(oci_build, oci_tools):
    inspected = oci_tools.inspect(oci_build[0], "oci-archive", "1")
    assert inspected["Labels"]["org.opencontainers.image.title"] == "hello"
    assert len(inspected["Layers"]) == 7


def test_umoci_unpacks_oci(oci_build, oci_tools, tmp_path):
    bundle = tmp_path / "bundle"
    rootfs = oci_tools.unpack(oci_build[0], "1", bundle)
    assert (rootfs / "srv/hello/built-by-run.txt").read_text() == "hello, builder!\n"
    assert (rootfs / "bin/busybox").is_file()
    runtime = json.loads((bundle / "config.json").read_text())
    assert runtime["process"]["args"] == ["/srv/hello/greet.sh", "world"]
    assert runtime["process"]["cwd"] == "/srv/hello"


def test_progress_plain_format(oci_build):
    stderr = oci_build[1].stderr
    assert "#1 [internal] load build definition from Dockerfile" in stderr
    assert "RUN chmod 0755 greet.sh && ./greet.sh builder > built-by-run.txt" in stderr
    assert " DONE " in stderr
    assert "image digest: sha256:" in stderr


def test_docker_archive(run_minikit, base_image, hello_context, tmp_path, oci_tools):
    out = tmp_path / "demo-docker.tar"
    run_minikit(["build", "-t", "demo:1", "-o", f"type=docker,dest={out}", str(hello_context)], cwd=tmp_path)
    with tarfile.open(out) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))
    assert manifest[0]["RepoTags"] == ["demo:1"]
    image = read_docker_archive(out)
    _check_config(image.config)
    _check_files(image.filesystem())
    assert oci_tools.inspect(out, "docker-archive")["Layers"]


def test_tar_output(run_minikit, base_image, hello_context, tmp_path):
    out = tmp_path / "rootfs.tar"
    run_minikit(["build", "-o", f"type=tar,dest={out}", str(hello_context)], cwd=tmp_path)
    with tarfile.open(out) as archive:
        names = {member.name.lstrip("./") for member in archive.getmembers()}
        greeting = archive.extractfile("srv/hello/built-by-run.txt").read()
    assert "bin/busybox" in names
    assert not any(".wh." in name for name in names)
    assert greeting == b"hello, builder!\n"


def test_local_output(run_minikit, base_image, hello_context, tmp_path):
    out = tmp_path / "out"
    run_minikit(["build", "-o", f"type=local,dest={out}", str(hello_context)], cwd=tmp_path)
    assert (out / "srv/hello/exec.txt").read_text() == "exec form ran\n"
    assert (out / "srv/hello/logs").stat().st_uid == 1000


def test_second_build_is_cached(run_minikit, base_image, hello_context, oci_build, tmp_path):
    out = tmp_path / "again.tar"
    result = run_minikit(
        ["build", "--progress=plain", "-t", "demo:1", "-o", f"type=oci,dest={out}", str(hello_context)],
        cwd=tmp_path,
    )
    assert result.stderr.count("CACHED") >= 7
    first = read_oci_archive(oci_build[0])
    again = read_oci_archive(out)
    assert [layer.digest for layer in again.layers] == [layer.digest for layer in first.layers]


def test_quiet_prints_image_id(run_minikit, base_image, hello_context, tmp_path):
    result = run_minikit(["build", "-q", str(hello_context)], cwd=tmp_path)
    assert result.stdout.strip().startswith("sha256:")
    assert len(result.stdout.strip()) == 71


def test_rootless_oci(rootless_minikit, base_image, tmp_path):
    context = rootless_minikit.make_dir(rootless_minikit.workspace / "hello-rootless")
    shutil.copytree(HELLO, context, dirs_exist_ok=True)
    rootless_minikit.give(context)
    out = context / "demo.tar"
    rootless_minikit(["build", "-o", f"type=oci,dest={out}", str(context)], cwd=context)
    image = read_oci_archive(out)
    _check_config(image.config)
    _check_files(image.filesystem())


def test_rootless_local_owned_by_user(rootless_minikit, base_image):
    context = rootless_minikit.make_dir(rootless_minikit.workspace / "hello-local")
    shutil.copytree(HELLO, context, dirs_exist_ok=True)
    rootless_minikit.give(context)
    out = context / "out"
    rootless_minikit(["build", "-o", f"type=local,dest={out}", str(context)], cwd=context)
    assert (out / "srv/hello/exec.txt").read_text() == "exec form ran\n"
    assert (out / "srv/hello/exec.txt").stat().st_uid == rootless_minikit.user.uid


def test_wheel_ships_grammar(tmp_path):
    wheel_dir = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(REPO)],
        check=True,
        capture_output=True,
    )
    wheel = next(wheel_dir.glob("minikit-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True, capture_output=True)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM busybox\nRUN echo hi\n")
    result = subprocess.run(
        [str(venv / "bin" / "minikit"), "debug", "parse", str(dockerfile)],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.stdout == '(from "busybox")\n(run "echo hi")\n'
    listing = subprocess.run([sys.executable, "-m", "zipfile", "-l", str(wheel)], capture_output=True, text=True)
    assert "minikit/grammar/dockerfile.lark" in listing.stdout


def test_rootless_fallback_tty_progress(rootless_minikit):
    # Without newuidmap the build maps only the user's own id and warns. The
    # warning must not start the tty view's thread before the executor forks.
    context = rootless_minikit.make_dir(rootless_minikit.workspace / "fallback-tty")
    # scratch, since a single id cannot own the base image's /home/user.
    (context / "Dockerfile").write_text("FROM scratch\nCOPY ran.txt /ran.txt\n")
    (context / "ran.txt").write_text("ran\n")
    rootless_minikit.give(context)
    out = context / "out.tar"
    result = rootless_minikit(
        ["build", "--progress=tty", "--network=none", "-o", f"type=tar,dest={out}", str(context)],
        cwd=context,
        env={"PATH": str(rootless_minikit.venv / "bin")},
    )
    assert "newuidmap/newgidmap not found" in result.stderr
    with tarfile.open(out) as archive:
        assert archive.extractfile("ran.txt").read() == b"ran\n"
