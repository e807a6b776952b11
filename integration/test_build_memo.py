"""The build memo: an unchanged build skips to export, and any change is noticed."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from fixtures.oci_tools import read_oci_archive

MEMO_HIT = "nothing changed since build memo"

DOCKERFILE = """\
FROM busybox:1.36
ARG WHO=world
COPY greeting.txt /greeting.txt
RUN echo "hello $WHO" > /run.txt
"""


def _build(run_minikit, context: Path, out: Path, *extra: str, env=None):
    return run_minikit(
        ["build", "--debug", "--progress=plain", *extra, "-o", f"type=tar,dest={out}", str(context)],
        cwd=context.parent,
        env=env,
    )


def _read(tar: Path, name: str) -> bytes:
    with tarfile.open(tar) as archive:
        return archive.extractfile(name).read()


@pytest.fixture
def context(tmp_path: Path) -> Path:
    folder = tmp_path / "ctx"
    folder.mkdir()
    (folder / "Dockerfile").write_text(DOCKERFILE)
    (folder / "greeting.txt").write_text("one\n")
    return folder


def test_unchanged_build_uses_memo(run_minikit, base_image, context, tmp_path):
    first = _build(run_minikit, context, tmp_path / "a.tar")
    second = _build(run_minikit, context, tmp_path / "b.tar")
    assert MEMO_HIT not in first.stderr
    assert MEMO_HIT in second.stderr
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()


# What a memo hit has no use for: the parser, the graph, the solver, the
# executor and its helper, and http.client (the registry client uses h11).
NOT_LOADED_ON_HIT = (
    "lark",
    "minikit.frontend.parser",
    "minikit.frontend.convert.converter",
    "minikit.llb",
    "minikit.solver.solver",
    "minikit.executor.executor",
    "minikit.executor.helper",
    "pyroute2",
    "http.client",
    "email.parser",
)
HELPER_STARTED = "namespace helper"
NAMESPACE_ENTERED = "entered the build namespace"


def _imported(stderr: str) -> set[str]:
    """Return the modules named in the -X importtime lines of ``stderr``."""
    return {
        line.rsplit("|", 1)[-1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:")
    }


def test_memo_hit_skips_solver_imports(run_minikit, base_image, context, tmp_path):
    importtime = {"PYTHONPROFILEIMPORTTIME": "1"}
    first = _build(run_minikit, context, tmp_path / "a.tar", env=importtime)
    second = _build(run_minikit, context, tmp_path / "b.tar", env=importtime)
    cold, warm = _imported(first.stderr), _imported(second.stderr)
    assert HELPER_STARTED in first.stderr
    assert {"minikit.frontend.parser", "minikit.solver.solver"} <= cold
    assert MEMO_HIT in second.stderr
    assert "minikit.worker.memo" in warm
    assert sorted(warm & set(NOT_LOADED_ON_HIT)) == []
    assert HELPER_STARTED not in second.stderr
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()


def test_memo_hit_namespace_for_layers(run_minikit, base_image, context, tmp_path):
    first = _build(run_minikit, context, tmp_path / "a.tar")
    copied = _build(run_minikit, context, tmp_path / "b.tar")
    image = run_minikit(
        ["build", "--debug", "--progress=plain", "-o", f"type=oci,dest={tmp_path / 'c.tar'}", str(context)],
        cwd=context.parent,
    )
    assert NAMESPACE_ENTERED in first.stderr
    # A root filesystem tar that the first build kept is only copied.
    assert MEMO_HIT in copied.stderr
    assert NAMESPACE_ENTERED not in copied.stderr
    # An OCI image needs layer blobs, which are read inside the namespace.
    assert MEMO_HIT in image.stderr
    assert NAMESPACE_ENTERED in image.stderr
    assert HELPER_STARTED not in image.stderr
    assert read_oci_archive(tmp_path / "c.tar").file("run.txt").content == b"hello world\n"


def test_memo_hit_prints_steps_cached(run_minikit, base_image, context, tmp_path):
    _build(run_minikit, context, tmp_path / "a.tar")
    second = _build(run_minikit, context, tmp_path / "b.tar")
    assert 'RUN echo "hello world" > /run.txt' in second.stderr
    assert second.stderr.count("CACHED") >= 3


def test_changed_context_file_misses(run_minikit, base_image, context, tmp_path):
    _build(run_minikit, context, tmp_path / "a.tar")
    (context / "greeting.txt").write_text("two\n")
    second = _build(run_minikit, context, tmp_path / "b.tar")
    assert MEMO_HIT not in second.stderr
    assert _read(tmp_path / "b.tar", "greeting.txt") == b"two\n"


def test_changed_build_arg_misses(run_minikit, base_image, context, tmp_path):
    _build(run_minikit, context, tmp_path / "a.tar")
    second = _build(run_minikit, context, tmp_path / "b.tar", "--build-arg", "WHO=memo")
    assert MEMO_HIT not in second.stderr
    assert _read(tmp_path / "b.tar", "run.txt") == b"hello memo\n"


def test_changed_dockerfile_misses(run_minikit, base_image, context, tmp_path):
    _build(run_minikit, context, tmp_path / "a.tar")
    (context / "Dockerfile").write_text(DOCKERFILE + "RUN echo extra > /extra.txt\n")
    second = _build(run_minikit, context, tmp_path / "b.tar")
    assert MEMO_HIT not in second.stderr
    assert _read(tmp_path / "b.tar", "extra.txt") == b"extra\n"


def test_no_cache_never_uses_memo(run_minikit, base_image, context, tmp_path):
    _build(run_minikit, context, tmp_path / "a.tar")
    second = _build(run_minikit, context, tmp_path / "b.tar", "--no-cache")
    assert MEMO_HIT not in second.stderr


def test_moved_tag_misses(run_minikit, base_image, registry, oci_tools, tmp_path):
    folder = tmp_path / "moving"
    folder.mkdir()
    (folder / "Dockerfile").write_text(f"FROM {registry.host}/library/moving:1\nRUN cat /etc/os-marker > /seen.txt || echo none > /seen.txt\n")
    _push_tag(oci_tools, base_image, registry, "moving:1", tmp_path / "v1", marker=None)
    _build(run_minikit, folder, tmp_path / "a.tar")
    _push_tag(oci_tools, base_image, registry, "moving:1", tmp_path / "v2", marker="second\n")
    second = _build(run_minikit, folder, tmp_path / "b.tar")
    assert MEMO_HIT not in second.stderr
    assert _read(tmp_path / "b.tar", "seen.txt") == b"second\n"


def _push_tag(oci_tools, base_image, registry, tag: str, work: Path, marker: str | None) -> None:
    """Push the base image (plus an extra layer with /etc/os-marker) under ``tag``."""
    import shutil
    import subprocess

    layout = work / "layout"
    shutil.copytree(base_image.layout, layout)
    if marker is not None:
        bundle = work / "bundle"
        subprocess.run([str(oci_tools.umoci), "unpack", "--image", f"{layout}:1.36", str(bundle)], check=True, capture_output=True)
        (bundle / "rootfs" / "etc" / "os-marker").write_text(marker)
        subprocess.run([str(oci_tools.umoci), "repack", "--image", f"{layout}:1.36", str(bundle)], check=True, capture_output=True)
    subprocess.run(
        [str(oci_tools.skopeo), "copy", "-q", "--dest-tls-verify=false", f"oci:{layout}:1.36", f"docker://{registry.host}/library/{tag}"],
        check=True,
        capture_output=True,
    )
