"""Helpers for the RUN tests: ``minikit build`` as root and as an unprivileged user.

Each test module requests a ``Builder`` per mode (``root`` and ``rootless``)
with its own store, so cache hits from other modules never hide a RUN. A
builder writes contexts, runs ``minikit build`` and hands back the output
folder or OCI archive. ``host_processes`` and ``host_mounts`` read the
host's process list and mount tables, for the checks that a build leaves
nothing behind. ``NetnsServer`` is an HTTP server in a network namespace
the test creates, reached over a veth pair: a host that is not loopback,
for the default network.
"""

from __future__ import annotations

import http.server
import io
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from fixtures.oci_tools import ImageContents, decompress, read_oci_archive
from fixtures.tools import free_port, require_tool, run_tool, wait_until

MODES = [
    pytest.param("root", id="root"),
    pytest.param("rootless", id="rootless", marks=pytest.mark.rootless),
]

Runner = Callable[..., subprocess.CompletedProcess[str]]


@dataclass(frozen=True)
class Build:
    """One finished ``minikit build``: the process result and where it wrote."""

    result: subprocess.CompletedProcess[str]
    output: Path | None

    @property
    def log(self) -> str:
        """minikit's stderr: progress, warnings and errors."""
        return self.result.stderr

    def text(self, path: str) -> str:
        """Return a file of a local output, by its path in the image."""
        assert self.output is not None
        return (self.output / path.lstrip("/")).read_text()

    def image(self) -> ImageContents:
        """Read an OCI output."""
        assert self.output is not None
        return read_oci_archive(self.output)


class Builder:
    """Runs ``minikit build`` in one mode, with a store of its own under ``folder``."""

    def __init__(
        self,
        mode: str,
        folder: Path,
        run: Runner,
        make_dir: Callable[[Path], Path],
        give: Callable[[Path], Path],
        env: Mapping[str, str],
        command: tuple[list[str], Mapping[str, str]],
    ) -> None:
        self.mode = mode
        self.folder = folder
        self._run = run
        self._make_dir = make_dir
        self._give = give
        self._env = dict(env)
        # The argv prefix and full environment that run minikit in this mode,
        # for builds that a test starts in the background.
        self._command = command
        self._count = 0

    def context(
        self, name: str, dockerfile: str, files: Mapping[str, str] | None = None
    ) -> Path:
        """Write a context folder with ``Dockerfile`` and ``files``; return it."""
        context = self.folder / name
        if context.exists():
            shutil.rmtree(context)
        context.mkdir(parents=True)
        (context / "Dockerfile").write_text(dockerfile)
        for relative, content in (files or {}).items():
            path = context / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        return self._give(context)

    def adopt(self, path: Path) -> Path:
        """Make a folder written by the test usable by this builder's user."""
        return self._give(path)

    def build(
        self,
        context: Path,
        *flags: str,
        output: str = "local",
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> Build:
        """Build ``context`` with ``flags``; ``output`` is local, oci or none."""
        self._count += 1
        destination = None
        args = ["build", "--progress=plain", *flags]
        if output != "none":
            suffix = ".tar" if output == "oci" else ""
            destination = self.outputs / f"{context.name}-{self._count}{suffix}"
            args += ["-o", f"type={output},dest={destination}"]
        result = self._run(
            [*args, str(context)],
            cwd=context,
            env={**self._env, **(env or {})},
            check=check,
        )
        return Build(result, destination)

    def start(self, context: Path, *flags: str) -> subprocess.Popen[str]:
        """Start ``minikit build`` on ``context`` in the background, output none.

        stderr is a pipe the test reads; ``interrupt`` stops the build.
        """
        prefix, env = self._command
        return subprocess.Popen(
            [*prefix, "build", "--progress=plain", *flags, str(context)],
            cwd=context,
            env={**env, **self._env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def interrupt(self, process: subprocess.Popen[str]) -> None:
        """Send SIGINT to the minikit process, as a terminal's ^C would."""
        target = process.pid
        if self.mode == "rootless":
            # The process started is runuser; minikit is its only child.
            children = Path(f"/proc/{target}/task/{target}/children").read_text()
            target = int(children.split()[0])
        os.kill(target, signal.SIGINT)

    @property
    def outputs(self) -> Path:
        """The folder the outputs go to, writable in this builder's mode."""
        return self._make_dir(self.folder / "outputs")

    @property
    def data_home(self) -> Path:
        """The XDG_DATA_HOME of this builder's runs; the store is below it."""
        return Path(self._env["XDG_DATA_HOME"])


def make_builder(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Builder:
    """Return the builder for ``request.param``; call from a module fixture."""
    label = f"run-{request.module.__name__.rsplit('.', 1)[-1]}"
    if request.param == "root":
        config = request.getfixturevalue("minikit_config")
        folder = tmp_path_factory.mktemp(label)
        env = config.fresh_env(folder / "state")
        runner = request.getfixturevalue("run_minikit")
        command = ([runner.python, "-m", "minikit"], config.env)
        return Builder("root", folder, runner, _mkdir, lambda path: path, env, command)
    rootless = request.getfixturevalue("rootless_minikit")
    folder = rootless.make_dir(rootless.workspace / f"{label}-{secrets.token_hex(4)}")
    env = {
        key: str(rootless.make_dir(folder / "state" / key.lower()))
        for key in ("XDG_DATA_HOME", "XDG_CACHE_HOME")
    }
    runuser = str(require_tool("runuser"))
    prefix = [
        runuser,
        "-u",
        rootless.user.name,
        "-m",
        "--",
        str(rootless.venv / "bin/minikit"),
    ]
    return Builder(
        "rootless",
        folder,
        rootless,
        rootless.make_dir,
        rootless.give,
        env,
        (prefix, rootless.env),
    )


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def layer_members(archive: Path) -> list[list[tarfile.TarInfo]]:
    """Return the raw tar headers of every layer of an OCI archive, in order.

    ``ImageContents`` drops the ``uname`` and ``gname`` header fields, which
    the checks for numeric owners need.
    """
    image = read_oci_archive(archive)
    layers = []
    with tarfile.open(archive) as outer:
        for layer in image.layers:
            algorithm, _, encoded = layer.digest.partition(":")
            blob = outer.extractfile(f"blobs/{algorithm}/{encoded}")
            assert blob is not None
            data = decompress(blob.read())
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as inner:
                layers.append(inner.getmembers())
    return layers


def host_processes() -> dict[int, str]:
    """Return every process of the host as pid to command line (spaces for NULs)."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            raw = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue
        found[int(name)] = raw.replace(b"\0", b" ").decode(errors="replace").strip()
    return found


def host_mounts_under(folder: Path) -> list[str]:
    """Return every mount table line of every host process that names ``folder``."""
    needle = str(folder)
    lines = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            text = Path(f"/proc/{name}/mountinfo").read_text()
        except OSError:
            continue
        lines.extend(f"{name}: {line}" for line in text.splitlines() if needle in line)
    return lines


class NetnsServer:
    """An HTTP server in a new network namespace, joined to the host by a veth pair.

    The server returns ``body`` for ``GET /marker``. Its address is in a
    /30 of 10.231.0.0/16 picked at random, so sessions running at the same
    time do not collide. ``stop`` kills the server and deletes the namespace,
    which deletes both veth ends.
    """

    def __init__(self, folder: Path) -> None:
        self.ip_tool = str(require_tool("ip"))
        tag = secrets.token_hex(3)
        self.namespace = f"mk-run-{tag}"
        self.host_link = f"mkh{tag}"
        subnet = secrets.randbelow(250) + 1
        base = secrets.randbelow(60) * 4
        self.host_address = f"10.231.{subnet}.{base + 1}"
        self.address = f"10.231.{subnet}.{base + 2}"
        self.port = free_port()
        self.body = f"netns-{secrets.token_hex(8)}"
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> NetnsServer:
        """Create the namespace and the link, and start the server."""
        ip = self.ip_tool
        peer = f"mkn{self.host_link[3:]}"
        run_tool([ip, "netns", "add", self.namespace])
        try:
            run_tool(
                [
                    ip,
                    "link",
                    "add",
                    self.host_link,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    peer,
                ]
            )
            run_tool([ip, "link", "set", peer, "netns", self.namespace])
            run_tool(
                [ip, "addr", "add", f"{self.host_address}/30", "dev", self.host_link]
            )
            run_tool([ip, "link", "set", self.host_link, "up"])
            inside = [ip, "netns", "exec", self.namespace, ip]
            run_tool([*inside, "addr", "add", f"{self.address}/30", "dev", peer])
            run_tool([*inside, "link", "set", peer, "up"])
            run_tool([*inside, "link", "set", "lo", "up"])
            self._serve()
        except BaseException:
            self.stop()
            raise
        return self

    def _serve(self) -> None:
        root = self.folder / "www"
        root.mkdir(parents=True, exist_ok=True)
        (root / "marker").write_text(self.body)
        command = [
            self.ip_tool,
            "netns",
            "exec",
            self.namespace,
            sys.executable,
            "-m",
            "http.server",
            "--bind",
            self.address,
            str(self.port),
        ]
        self.process = subprocess.Popen(
            command,
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_until(self._listening, timeout=20):
            raise AssertionError(f"HTTP server in {self.namespace} did not start")

    def _listening(self) -> bool:
        probe = [
            self.ip_tool,
            "netns",
            "exec",
            self.namespace,
            sys.executable,
            "-c",
            f"import socket; socket.create_connection(('{self.address}', {self.port}), 1)",
        ]
        return subprocess.run(probe, capture_output=True, check=False).returncode == 0

    @property
    def url(self) -> str:
        """The marker's URL."""
        return f"http://{self.address}:{self.port}/marker"

    def stop(self) -> None:
        """Kill the server by its own pid and delete the namespace."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        subprocess.run(
            [self.ip_tool, "netns", "del", self.namespace],
            capture_output=True,
            check=False,
        )


class LoopbackServer:
    """An HTTP server on the host's 127.0.0.1 that returns ``body`` for every GET.

    ``requests`` counts the requests it answered, so a test can tell that a
    sandboxed RUN never got through.
    """

    def __init__(self) -> None:
        self.body = f"loopback-{secrets.token_hex(8)}"
        self.requests = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                payload = server.body.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The server's URL on 127.0.0.1."""
        return f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
