"""What a RUN cannot reach or leave behind, through ``minikit build``, as root and rootless.

A RUN cannot read a host file outside its root, cannot see host processes,
and cannot reach a server on the host's 127.0.0.1 without ``--network=host``.
It leaves no mount or process on the host when the build ends, fails or is
interrupted. A ``chown`` inside a RUN keeps its numeric owner in the
exported layer.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.tools import wait_until
from run_support import (
    MODES,
    Build,
    Builder,
    LoopbackServer,
    host_mounts_under,
    host_processes,
    make_builder,
)

NAMESPACE_KINDS = ("user", "mnt", "pid", "ipc", "uts", "net")
NAMESPACES = (
    f"for kind in {' '.join(NAMESPACE_KINDS)}; do readlink /proc/self/ns/$kind; done"
)
# Seconds to wait for a background build to reach its RUN, and to stop.
BUILD_START_TIMEOUT = 300
BUILD_STOP_TIMEOUT = 60


@pytest.fixture(scope="module", params=MODES)
def builder(request, base_image, tmp_path_factory) -> Builder:
    return make_builder(request, tmp_path_factory)


@pytest.fixture(scope="module")
def host_secret(tmp_path_factory) -> Iterator[tuple[Path, str]]:
    """A world-readable file on the host, outside any rootfs."""
    folder = Path("/tmp") / f"minikit-isolation-{secrets.token_hex(6)}"
    folder.mkdir(mode=0o755)
    marker = f"host-only-{secrets.token_hex(8)}"
    path = folder / "host-only.txt"
    path.write_text(marker)
    path.chmod(0o644)
    yield path, marker
    path.unlink()
    folder.rmdir()


@pytest.fixture(scope="module")
def host_process() -> Iterator[str]:
    """A host process with a unique word in its command line."""
    marker = f"host-process-{secrets.token_hex(8)}"
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(3600)", marker],
        stdin=subprocess.DEVNULL,
    )
    yield marker
    process.kill()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def loopback() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sleeper() -> str:
    """A ``sleep`` argument no other process on the host uses."""
    return f"7{secrets.randbelow(10**8):08d}"


@pytest.fixture(scope="module")
def isolation(
    builder: Builder, host_secret, host_process, loopback, sleeper: str
) -> tuple[Build, int]:
    path, _marker = host_secret
    fetch = f"timeout 10 wget -q -O - {loopback.url} 2>&1 || echo unreachable"
    # slirp4netns would forward 10.0.2.2 to the host's loopback, but minikit
    # starts it with --disable-host-loopback, as rootless BuildKit does.
    gateway = f"http://10.0.2.2:{loopback.port}/"
    fetch_gateway = f"timeout 10 wget -q -O - {gateway} 2>&1 || echo unreachable"
    dockerfile = f"""\
FROM busybox:1.36
RUN mkdir /results; cat {path} > /results/host-file.txt 2>&1; \\
 cat /proc/1/root{path} >> /results/host-file.txt 2>&1; \\
 ls /proc | grep -E '^[0-9]+$' > /results/pids.txt; \\
 cat /proc/[0-9]*/cmdline | tr '\\0' ' ' > /results/cmdlines.txt
RUN --network=none ( {fetch} ) > /results/none.txt
RUN ( {fetch_gateway} ) > /results/default.txt
RUN --network=host ( {fetch} ) > /results/host.txt; {NAMESPACES} > /results/ns-host.txt
RUN {NAMESPACES} > /results/ns.txt
RUN sleep {sleeper} > /dev/null 2>&1 & echo started
RUN mkdir /owned && touch /owned/file && chown 1000:1000 /owned /owned/file \\
 && touch /home/user/added
"""
    before = loopback.requests
    context = builder.context("isolation", dockerfile)
    build = builder.build(context, "--allow", "network.host", output="oci")
    return build, loopback.requests - before


def _files(build: Build) -> dict:
    return build.image().filesystem()


def _text(build: Build, name: str) -> str:
    content = _files(build)[name].content
    assert content is not None
    return content.decode()


def test_host_file_unreadable(isolation, host_secret):
    build, _requests = isolation
    _path, marker = host_secret
    text = _text(build, "results/host-file.txt")
    assert marker not in text
    assert "No such file or directory" in text


def test_host_processes_hidden(isolation, host_process):
    build, _requests = isolation
    assert host_process not in _text(build, "results/cmdlines.txt")
    pids = [int(pid) for pid in _text(build, "results/pids.txt").split()]
    assert min(pids) == 1
    assert len(pids) < 10


def test_network_none_no_host_loopback(isolation, loopback):
    build, _requests = isolation
    text = _text(build, "results/none.txt")
    assert loopback.body not in text
    assert text.endswith("unreachable\n")


def test_network_default_no_host_loopback(isolation, loopback):
    build, _requests = isolation
    text = _text(build, "results/default.txt")
    assert loopback.body not in text
    assert text.endswith("unreachable\n")


def test_network_host_reaches_loopback(isolation, loopback):
    build, requests = isolation
    assert _text(build, "results/host.txt") == loopback.body
    assert requests == 1


def _namespaces(build: Build, name: str) -> dict[str, str]:
    return dict(zip(NAMESPACE_KINDS, _text(build, name).split(), strict=True))


def test_new_namespaces(isolation):
    # Comparing two RUNs would not work: the kernel reuses the inode number
    # of a namespace that has been freed.
    build, _requests = isolation
    namespaces = _namespaces(build, "results/ns.txt")
    for kind in NAMESPACE_KINDS:
        assert namespaces[kind] != os.readlink(f"/proc/self/ns/{kind}"), kind


def test_host_network_shares_net_only(isolation, builder):
    build, _requests = isolation
    namespaces = _namespaces(build, "results/ns-host.txt")
    for kind in ("user", "mnt", "pid", "ipc", "uts"):
        assert namespaces[kind] != os.readlink(f"/proc/self/ns/{kind}"), kind
    assert namespaces["net"] == os.readlink("/proc/self/ns/net")


def test_chown_kept_in_layer(isolation):
    build, _requests = isolation
    layer = {entry.name: entry for entry in build.image().layers[-1].entries}
    for name in ("owned", "owned/file"):
        assert (layer[name].uid, layer[name].gid) == (1000, 1000), name


def test_image_owner_kept_in_layer(isolation):
    build, _requests = isolation
    layer = {entry.name: entry for entry in build.image().layers[-1].entries}
    assert (layer["home/user"].uid, layer["home/user"].gid) == (1000, 1000)


def test_no_process_left(isolation, sleeper):
    leftovers = [cmd for cmd in host_processes().values() if sleeper in cmd]
    assert leftovers == []


def test_no_mount_left(isolation, builder):
    assert host_mounts_under(builder.folder) == []


def test_failed_build_leaves_nothing(builder: Builder, sleeper: str):
    marker = sleeper + "1"
    dockerfile = f"FROM busybox:1.36\nRUN sleep {marker} > /dev/null 2>&1 & exit 7\n"
    context = builder.context("failing", dockerfile)
    build = builder.build(context, output="none", check=False)
    assert "exit code: 7" in build.log
    assert [cmd for cmd in host_processes().values() if marker in cmd] == []
    assert host_mounts_under(builder.folder) == []


def _wait_for_line(process: subprocess.Popen[str], needle: str) -> str:
    """Read the build's stderr until a line contains ``needle``; return what was read."""
    assert process.stderr is not None
    seen = []
    deadline = time.monotonic() + BUILD_START_TIMEOUT
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return "".join(seen)
    raise AssertionError(f"the build never printed {needle!r}:\n{''.join(seen)}")


def test_interrupted_build_leaves_nothing(builder: Builder, sleeper: str):
    marker = sleeper + "2"
    dockerfile = (
        f"FROM busybox:1.36\n"
        f"RUN sleep {marker} > /dev/null 2>&1 & echo run-started; sleep {marker}\n"
    )
    context = builder.context("interrupted", dockerfile)
    process = builder.start(context)
    try:
        _wait_for_line(process, "run-started")
        assert wait_until(
            lambda: any(marker in cmd for cmd in host_processes().values()),
            timeout=BUILD_STOP_TIMEOUT,
        )
        builder.interrupt(process)
        _output, errors = process.communicate(timeout=BUILD_STOP_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode != 0
    assert "Traceback" not in errors
    assert [cmd for cmd in host_processes().values() if marker in cmd] == []
    assert host_mounts_under(builder.folder) == []
    assert os.path.isdir(context)
