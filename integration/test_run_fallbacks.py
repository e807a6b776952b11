"""The fallbacks of a RUN, through ``minikit build``: single-id mapping and native snapshots.

A user without ranges in /etc/subuid and /etc/subgid gets only their own id
mapped, to root, with a warning that names what will not work. Setting
``MINIKIT_SNAPSHOTTER=native`` forces the copying snapshotter, which must
produce the same layers as overlayfs (as root and rootless).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import executor_support
import pytest
from fixtures.rootless import RootlessMinikit, UnprivilegedUser, make_workspace
from run_support import MODES, Build, Builder, make_builder

EPOCH = 1700000000
SNAPSHOT_DOCKERFILE = """\
FROM busybox:1.36
RUN rm /bin/ls && rm -rf /var && rm -rf /home/user && mkdir /home/user \\
 && echo new > /home/user/file && mkdir -p /made/deep && chown 1000:1000 /made
RUN --mount=type=secret,id=token,target=/run/secrets/token \\
 wc -c < /run/secrets/token > /size.txt && rm /home/user/file
"""
NO_RANGE_DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox cat /proc/self/uid_map > /uid_map.txt"]
"""
NO_RANGE_FAILURES = {
    "chown": (
        'RUN ["/bin/busybox", "chown", "1000:1000", "/bin/busybox"]',
        (
            'Dockerfile:3: process "/bin/busybox chown 1000:1000 /bin/busybox" did '
            "not complete successfully: exit code: 1"
        ),
    ),
    "user": (
        'USER 1000\nRUN ["/bin/busybox", "true"]',
        (
            "Dockerfile:4: failed to switch to user 1000: uid 1000 is not mapped "
            "into the build's user namespace"
        ),
    ),
}
NATIVE_NOTICE = (
    "snapshotter: native, which copies every layer, because MINIKIT_SNAPSHOTTER=native"
)


@pytest.fixture(scope="module", params=MODES)
def builder(request, base_image, tmp_path_factory) -> Builder:
    return make_builder(request, tmp_path_factory)


@pytest.fixture(scope="module")
def snapshot_builds(builder: Builder) -> tuple[Build, Build]:
    context = builder.context("snapshots", SNAPSHOT_DOCKERFILE, {"token.txt": "t0ken"})
    flags = (
        "--build-arg",
        f"SOURCE_DATE_EPOCH={EPOCH}",
        "--secret",
        "id=token,src=token.txt",
    )
    overlay = builder.build(context, *flags, output="oci")
    native = builder.build(
        context,
        *flags,
        "--no-cache",
        output="oci",
        env={"MINIKIT_SNAPSHOTTER": "native"},
    )
    return overlay, native


def test_native_notice_once(snapshot_builds):
    _overlay, native = snapshot_builds
    assert native.log.count(NATIVE_NOTICE) == 1
    assert native.log.count("snapshotter:") == 1


def test_overlay_notice_once(snapshot_builds):
    overlay, _native = snapshot_builds
    assert overlay.log.count("snapshotter: overlayfs") == 1


def test_native_same_layers(snapshot_builds):
    overlay, native = snapshot_builds
    overlay_layers = [layer.digest for layer in overlay.image().layers]
    native_layers = [layer.digest for layer in native.image().layers]
    assert native_layers == overlay_layers


def test_native_layer_contents(snapshot_builds):
    _overlay, native = snapshot_builds
    names = [entry.name for entry in native.image().layers[-1].entries]
    assert names == ["home/user", "home/user/.wh.file", "size.txt"]


def test_invalid_snapshotter(builder: Builder):
    context = builder.context("invalid", "FROM busybox:1.36\nRUN true\n")
    build = builder.build(
        context, output="none", check=False, env={"MINIKIT_SNAPSHOTTER": "zfs"}
    )
    assert build.result.returncode != 0
    assert "invalid MINIKIT_SNAPSHOTTER value 'zfs'" in build.log
    assert "hint: use one of auto, overlayfs, native" in build.log


@pytest.fixture(scope="module")
def no_range_minikit(
    rootless_minikit: RootlessMinikit, registry
) -> Iterator[RootlessMinikit]:
    """The rootless venv, run by a user with no subordinate id ranges."""
    account = executor_support.ensure_test_user(
        executor_support.NO_RANGE_USER, subordinate_ids=False
    )
    for path in ("/etc/subuid", "/etc/subgid"):
        granted = Path(path).read_text().splitlines()
        assert not [line for line in granted if line.startswith(account.pw_name + ":")]
    user = UnprivilegedUser(
        account.pw_name,
        account.pw_uid,
        account.pw_gid,
        Path(account.pw_dir),
        (0, 0),
        (0, 0),
    )
    workspace = make_workspace(user)
    try:
        yield RootlessMinikit(user, rootless_minikit.venv, workspace, registry.host)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def _no_range_context(
    runner: RootlessMinikit, base_image, name: str, dockerfile: str
) -> Path:
    context = runner.make_dir(runner.workspace / name)
    (context / "Dockerfile").write_text(dockerfile)
    shutil.copy(base_image.busybox, context / "busybox")
    return runner.give(context)


@pytest.fixture(scope="module")
def no_range_build(
    no_range_minikit, base_image
) -> tuple[subprocess.CompletedProcess[str], Path]:
    context = _no_range_context(
        no_range_minikit, base_image, "no-range", NO_RANGE_DOCKERFILE
    )
    out = context / "out"
    result = no_range_minikit(
        ["build", "--progress=plain", "-o", f"type=local,dest={out}", str(context)],
        context,
        check=False,
    )
    return result, out


@pytest.mark.rootless
def test_no_range_warning(no_range_build):
    result, _out = no_range_build
    warning = (
        f"no subordinate id range for user {executor_support.NO_RANGE_USER} in "
        "/etc/subuid and /etc/subgid: only your own user is mapped, to root, inside "
        "the build, so files owned by other ids in images, USER with other ids and "
        "chown to other ids will not work"
    )
    assert result.stderr.count(warning) == 1


@pytest.mark.rootless
def test_no_range_maps_one_id(no_range_build):
    result, out = no_range_build
    assert result.returncode == 0, result.stderr
    # Read inside the RUN, the map is relative to the build's namespace, where
    # the invoking user is root: one id, root, and nothing else.
    assert (out / "uid_map.txt").read_text().split() == ["0", "0", "1"]


@pytest.mark.rootless
@pytest.mark.parametrize("case", sorted(NO_RANGE_FAILURES))
def test_no_range_other_ids_fail(no_range_minikit, base_image, case: str):
    lines, expected = NO_RANGE_FAILURES[case]
    dockerfile = f"FROM scratch\nCOPY busybox /bin/busybox\n{lines}\n"
    context = _no_range_context(
        no_range_minikit, base_image, f"no-range-{case}", dockerfile
    )
    result = no_range_minikit(
        ["build", "--progress=plain", str(context)], context, check=False
    )
    assert result.returncode != 0
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
