"""Secrets leave no trace: one build uses every mechanism, then everything is searched.

The build mounts a file secret and an env secret, fetches a private Git
repository with ``GIT_AUTH_TOKEN``, forwards an SSH key file (served by an
agent minikit starts) to ``ssh-add``, ``git clone`` over SSH and ``ADD`` over
SSH. It runs once per progress mode (plain, rawjson, quiet), and variants
fail on purpose (a RUN that copies a secret into the image, a wrong token).

Each value, and its Base64 form, is then searched for byte by byte in: the
image archives (compressed and unpacked layers, config, history), the local
output, ``--root``, the exported cache, all progress and error output, the
argv and environment that ``git`` and ``ssh`` wrappers first on ``PATH``
record, and ``/proc/*/cmdline`` and ``/proc/*/environ`` sampled while the
builds run. The only place a value may appear is the environment of the RUN
that asked for it with ``env=``.
"""

from __future__ import annotations

import base64
import gzip
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import zstandard
from fixtures.oci_tools import read_docker_archive, read_oci_archive
from secrets_support import MODES, Builder, make_builder

FILE_SECRET = "nlb-file-7e1c49b2f0"
ENV_SECRET = "nlb-env-5d20aa81c4"
GIT_TOKEN = "nlb-git-c93f0e17d8"
WRONG_TOKEN = "nlb-wrong-0b6e2f5a91"
LEAK_SECRET = "nlb-leak-41be2290e3"
SECRET_ENV_NAME = "NLB_ENV_SECRET"
# Seconds between two samples of /proc.
SAMPLE_INTERVAL = 0.005

DOCKERFILE = f"""\
FROM busybox:1.36
COPY --from=tools / /
ENV GIT_SSH_COMMAND="ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
ARG PRIVATE_URL
ARG SSH_URL
ADD ${{PRIVATE_URL}} /private
ADD ${{SSH_URL}} /via-ssh
RUN --mount=type=secret,id=file_secret \\
    --mount=type=secret,id=env_secret,env={SECRET_ENV_NAME} \\
    test "$(wc -c < /run/secrets/file_secret)" -gt 0 \\
 && test -n "${SECRET_ENV_NAME}" && echo used > /used.txt && sleep 1
RUN --mount=type=ssh ssh-add -l > /keys.txt
RUN --network=host --mount=type=ssh git clone -q "$SSH_URL" /cloned
"""

LEAK_DOCKERFILE = """\
FROM busybox:1.36
RUN --mount=type=secret,id=leak_secret cp /run/secrets/leak_secret /leaked.txt
"""

WRAPPER = """\
#!/bin/sh
{{ printf 'argv:'; printf ' [%s]' "$0" "$@"; printf '\\n'; env; echo; }} >> {log}
exec {real} "$@"
"""


@dataclass
class Trace:
    """What the builds left: output text, folders, wrapper logs and /proc samples."""

    outputs: dict[str, str] = field(default_factory=dict)
    folders: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    samples: set[tuple[str, bytes]] = field(default_factory=set)
    values: list[bytes] = field(default_factory=list)


class ProcSampler:
    """Records the cmdline and environ of every process seen while it runs."""

    def __init__(self, excluded: tuple[bytes, ...]) -> None:
        self.excluded = excluded
        self.samples: set[tuple[str, bytes]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> ProcSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        own = {os.getpid()}
        while not self._stop.is_set():
            for name in os.listdir("/proc"):
                if name.isdigit() and int(name) not in own:
                    self._sample(int(name))
            self._stop.wait(SAMPLE_INTERVAL)

    def _sample(self, pid: int) -> None:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            return
        if any(marker in cmdline for marker in self.excluded):
            return
        self.samples.add(("cmdline", cmdline))
        self.samples.add(("environ", environ))


def _needles(values: list[bytes]) -> list[bytes]:
    found = []
    for value in values:
        found.append(value)
        found.append(base64.b64encode(value))
    return found


def _expanded(data: bytes) -> Iterator[bytes]:
    """Yield ``data`` and, for a gzip or zstd blob, its decompressed bytes."""
    yield data
    if data[:2] == b"\x1f\x8b":
        yield gzip.decompress(data)
    elif data[:4] == b"\x28\xb5\x2f\xfd":
        yield zstandard.ZstdDecompressor().decompressobj().decompress(data)


def _files_under(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def _wrappers(builder: Builder, folder: Path) -> tuple[Path, Path]:
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    log = folder / "wrappers.log"
    log.touch()
    log.chmod(0o666)
    for program in ("git", "ssh"):
        real = f"/usr/bin/{program}"
        script = bin_dir / program
        script.write_text(WRAPPER.format(log=log, real=real))
        script.chmod(0o755)
    builder.give(folder)
    return bin_dir, log


def _setup_context(builder: Builder, sshd, key_copy: Path) -> Path:
    context = builder.folder("no-trace")
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "Dockerfile.leak").write_text(LEAK_DOCKERFILE)
    (context / "file_secret.txt").write_text(FILE_SECRET)
    (context / "leak_secret.txt").write_text(LEAK_SECRET)
    key_copy.write_bytes(sshd.client_key.private.read_bytes())
    key_copy.chmod(0o600)
    builder.give(key_copy)
    return builder.give(context)


def _base_args(
    builder, git_servers, sshd, ssh_tools, root: Path, key: Path
) -> list[str]:
    private = git_servers.url("private/plain.git")
    ssh_url = sshd.url(git_servers.main.root / "private/plain.git")
    return [
        "build",
        "--no-cache",
        "--root",
        str(root),
        "--allow",
        "network.host",
        "--build-context",
        f"tools={ssh_tools}",
        "--build-arg",
        f"PRIVATE_URL={private}",
        "--build-arg",
        f"SSH_URL={ssh_url}",
        "--secret",
        "id=file_secret,src=file_secret.txt",
        "--secret",
        "id=env_secret,env=NLB_SOURCE",
        "--secret",
        "id=GIT_AUTH_TOKEN,env=NLB_TOKEN",
        "--ssh",
        f"default={key}",
    ]


@pytest.fixture(scope="module", params=MODES)
def builder(request, base_image, tmp_path_factory) -> Builder:
    return make_builder(request.param, request, tmp_path_factory.mktemp("no-trace"))


@pytest.fixture(scope="module")
def trace(builder, git_servers, sshd, ssh_tools) -> Trace:
    git_servers.main.require("/private/", f"Bearer {GIT_TOKEN}")
    work = builder.folder("work")
    key = work / "id_forwarded"
    context = _setup_context(builder, sshd, key)
    bin_dir, wrapper_log = _wrappers(builder, builder.folder("wrappers"))
    root = builder.folder("root")
    cache = builder.folder("exported-cache")
    out_dir = builder.folder("outputs")
    path = f"{bin_dir}:{builder.path}"
    env = {"NLB_SOURCE": ENV_SECRET, "NLB_TOKEN": GIT_TOKEN, "PATH": path}
    base = _base_args(builder, git_servers, sshd, ssh_tools, root, key)
    runs = {
        "plain": [
            "--progress=plain",
            "--cache-to",
            f"type=local,dest={cache},mode=max",
            "-o",
            f"type=oci,dest={out_dir / 'image.tar'}",
        ],
        "rawjson": ["--progress=rawjson", "-o", f"type=local,dest={out_dir / 'local'}"],
        "quiet": [
            "--progress=quiet",
            "-o",
            f"type=docker,dest={out_dir / 'docker.tar'}",
        ],
    }
    result = Trace(values=[v.encode() for v in (FILE_SECRET, ENV_SECRET, GIT_TOKEN)])
    result.values += [WRONG_TOKEN.encode(), LEAK_SECRET.encode(), key.read_bytes()]
    excluded = (b"runuser\x00", b"pytest")
    with ProcSampler(excluded) as sampler:
        for mode, extra in runs.items():
            done = builder([*base, *extra, "."], context, env)
            result.outputs[mode] = done.stdout + done.stderr
        leak = [
            *base,
            "-f",
            "Dockerfile.leak",
            "--secret",
            "id=leak_secret,src=leak_secret.txt",
        ]
        failed = builder(
            [*leak, "-o", f"type=oci,dest={out_dir / 'leak.tar'}", "."],
            context,
            env,
            check=False,
        )
        result.outputs["leak"] = failed.stdout + failed.stderr
        wrong_env = {**env, "NLB_TOKEN": WRONG_TOKEN}
        wrong = builder([*base, "."], context, wrong_env, check=False)
        result.outputs["wrong-token"] = wrong.stdout + wrong.stderr
    result.samples = sampler.samples
    result.folders = [root, cache, out_dir]
    result.files = [wrapper_log]
    return result


def _hits(data: bytes, values: list[bytes]) -> list[bytes]:
    return [needle for needle in _needles(values) if needle in data]


def test_builds_ran(trace):
    assert "#" in trace.outputs["plain"]
    assert trace.outputs["quiet"].strip().startswith("sha256:")


def test_leak_variant_caught(trace):
    assert "/leaked.txt" in trace.outputs["leak"]
    assert "Dockerfile.leak:2" in trace.outputs["leak"]


def test_wrong_token_refused(trace):
    assert "authentication was refused" in trace.outputs["wrong-token"]


@pytest.mark.parametrize("mode", ["plain", "rawjson", "quiet", "leak", "wrong-token"])
def test_output_clean(trace, mode):
    assert _hits(trace.outputs[mode].encode(), trace.values) == []


def test_image_layers_clean(trace):
    image = read_oci_archive(trace.folders[2] / "image.tar")
    for layer in image.layers:
        for entry in layer.entries:
            assert _hits(entry.content or b"", trace.values) == [], entry.name


def test_image_config_clean(trace):
    image = read_docker_archive(trace.folders[2] / "docker.tar")
    text = repr(image.config).encode() + repr(image.history).encode()
    assert _hits(text, trace.values) == []


def test_image_used_secrets(trace):
    local = trace.folders[2] / "local"
    assert (local / "used.txt").read_text() == "used\n"
    assert (local / "private" / "hello.txt").read_text() == "hello from private\n"
    assert (local / "cloned" / "hello.txt").read_text() == "hello from private\n"


def test_leaked_layer_not_exported(trace):
    assert not (trace.folders[2] / "leak.tar").exists()


@pytest.mark.parametrize("index", [0, 1, 2], ids=["root", "exported-cache", "outputs"])
def test_folders_clean(trace, index):
    folder = trace.folders[index]
    assert any(_files_under(folder)), folder
    for path in _files_under(folder):
        for data in _expanded(path.read_bytes()):
            assert _hits(data, trace.values) == [], path


def test_wrappers_recorded(trace):
    log = trace.files[0].read_text()
    assert "argv: [" in log
    assert "/git] [" in log
    assert "/ssh] [" in log


def test_wrapper_log_clean(trace):
    assert _hits(trace.files[0].read_bytes(), trace.values) == []


def test_proc_sampled(trace):
    assert trace.samples


def test_proc_saw_run_environment(trace):
    # The env secret is where the RUN asked for it: proof that sampling
    # reached the processes of RUN steps.
    allowed = f"{SECRET_ENV_NAME}={ENV_SECRET}".encode()
    assert any(allowed in data for kind, data in trace.samples if kind == "environ")


def test_proc_cmdlines_clean(trace):
    for kind, data in trace.samples:
        if kind == "cmdline":
            assert _hits(data, trace.values) == [], data[:300]


def test_proc_environs_clean(trace):
    allowed = f"{SECRET_ENV_NAME}={ENV_SECRET}".encode()
    for kind, data in trace.samples:
        if kind != "environ":
            continue
        entries = [item for item in data.split(b"\0") if item != allowed]
        assert _hits(b"\0".join(entries), trace.values) == [], data[:300]
