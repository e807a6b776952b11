"""What each ``--progress`` mode shows of a real build.

The tty view is read from a pseudo-terminal, as a person would see it.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys

import pytest
from cache_support import Project

PROGRESS = """\
FROM busybox:1.36
RUN echo visible-output && echo to-stderr >&2
RUN echo second-step
"""
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def project(run_minikit, base_image, tmp_path_factory):
    project = Project(tmp_path_factory.mktemp("progress"), run_minikit)
    project.write("Dockerfile", PROGRESS)
    return project


def _build(project: Project, run_minikit, *flags: str, root: str = "root", env=None):
    args = ["build", "--root", str(project.folder / root), *flags, str(project.context)]
    return run_minikit(args, cwd=project.folder, env=env)


@pytest.fixture(scope="module")
def plain(project, run_minikit):
    return _build(project, run_minikit, "--progress=plain").stderr


def test_plain_numbers_steps(plain):
    assert re.search(r"^#\d+ \[2/3\] RUN echo visible-output", plain, re.MULTILINE)


def test_plain_shows_output_lines(plain):
    assert re.search(r"^#\d+ \d+\.\d{3} visible-output$", plain, re.MULTILINE)


def test_plain_shows_stderr_lines(plain):
    assert re.search(r"^#\d+ \d+\.\d{3} to-stderr$", plain, re.MULTILINE)


def test_plain_shows_done_times(plain):
    assert re.search(r"^#\d+ DONE \d+\.\ds$", plain, re.MULTILINE)


def test_plain_shows_pull_bytes(plain):
    assert re.search(
        r"^#\d+ sha256:[0-9a-f]{64} \S+B / \S+B \d+\.\ds done$", plain, re.MULTILINE
    )


def test_plain_shows_cached(project, run_minikit, plain):
    text = _build(project, run_minikit, "--progress=plain").stderr
    assert re.search(r"^#\d+ \[3/3\] RUN echo second-step\n#\d+ CACHED$", text, re.MULTILINE)


def test_rawjson_is_json_lines(project, run_minikit, plain):
    text = _build(project, run_minikit, "--progress=rawjson").stderr
    # Every line is an event, so a tool can read the stream line by line.
    kinds = {json.loads(line)["type"] for line in text.splitlines() if line.strip()}
    assert {"VertexStarted", "VertexCompleted", "VertexCached"} <= kinds


def test_buildkit_progress_env_is_honoured(project, run_minikit, plain):
    result = _build(project, run_minikit, env={"BUILDKIT_PROGRESS": "rawjson"})
    assert result.stderr.lstrip().startswith("{")


def test_quiet_prints_only_the_digest(project, run_minikit, plain):
    result = _build(project, run_minikit, "--progress=quiet")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", result.stdout)


def test_quiet_keeps_stderr_clean(project, run_minikit, plain):
    result = _build(project, run_minikit, "--progress=quiet")
    assert "#1" not in result.stderr


def _on_terminal(argv: list[str], env: dict[str, str], cwd) -> tuple[int, str]:
    """Run ``argv`` with a pseudo-terminal as its terminal; return status and screen."""
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    process = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, close_fds=True
    )
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    status = process.wait(timeout=300)
    os.close(master)
    return status, b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture(scope="module")
def tty(project, minikit_config):
    pytest.importorskip("rich", reason="the tty view needs rich (pip install rich)")
    env = dict(minikit_config.env, COLUMNS="120", LINES="40", TERM="xterm")
    root = project.folder / "tty-root"
    argv = [
        sys.executable,
        "-m",
        "minikit",
        "build",
        "--root",
        str(root),
        str(project.context),
    ]
    return _on_terminal(argv, env, project.folder)


def test_tty_build_succeeds(tty):
    assert tty[0] == 0


def test_tty_draws_a_live_view(tty):
    assert "\x1b[" in tty[1]


def test_tty_header_counts_steps(tty):
    assert re.search(
        r"\[\+\] Building \d+\.\ds \(\d+/\d+\) FINISHED", ANSI.sub("", tty[1])
    )


def test_tty_collapses_finished_steps(tty):
    screen = ANSI.sub("", tty[1])
    assert re.search(r" => \[3/3\] RUN echo second-step  \d+\.\ds", screen)
