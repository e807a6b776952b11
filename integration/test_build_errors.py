"""Bad input gets one clear error with the Dockerfile line and a hint, and loses nothing."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest


def _context(tmp_path: Path, dockerfile: str) -> Path:
    folder = tmp_path / "ctx"
    folder.mkdir(exist_ok=True)
    (folder / "Dockerfile").write_text(dockerfile)
    return folder


def _fails(run_minikit, context: Path, *flags: str, env=None):
    result = run_minikit(["build", "--progress=plain", *flags, str(context)], cwd=context, env=env, check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    return result


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_missing_dockerfile(run_minikit, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    result = _fails(run_minikit, folder)
    assert "failed to read dockerfile" in result.stderr
    assert "hint:" in result.stderr


def test_missing_dockerfile_flag(run_minikit, tmp_path):
    folder = tmp_path / "ctx"
    folder.mkdir()
    result = _fails(run_minikit, folder, "-f", "nope.Dockerfile")
    assert "nope.Dockerfile" in result.stderr


def test_missing_context(run_minikit, tmp_path):
    result = run_minikit(["build", str(tmp_path / "absent")], cwd=tmp_path, check=False)
    assert result.returncode != 0
    assert "not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_instruction(run_minikit, base_image, tmp_path):
    context = _context(tmp_path, "FROM busybox:1.36\nRUNN echo hi\n")
    result = _fails(run_minikit, context)
    assert "Dockerfile:2:1" in result.stderr
    assert "unknown instruction: RUNN" in result.stderr
    assert "did you mean RUN?" in result.stderr
    assert ">>> RUNN echo hi" in result.stderr


def test_image_not_in_registry(run_minikit, base_image, tmp_path):
    context = _context(tmp_path, "FROM busybox:no-such-tag\nRUN true\n")
    result = _fails(run_minikit, context)
    assert "no-such-tag" in result.stderr
    assert "Dockerfile:1" in result.stderr
    assert "hint:" in result.stderr


def test_registry_not_answering(run_minikit, base_image, tmp_path):
    port = _closed_port()
    context = _context(tmp_path, f"FROM 127.0.0.1:{port}/library/busybox:1.36\n")
    result = _fails(run_minikit, context)
    assert f"127.0.0.1:{port}" in result.stderr
    assert "hint:" in result.stderr


def test_run_exits_nonzero(run_minikit, base_image, tmp_path):
    context = _context(tmp_path, "FROM busybox:1.36\nRUN echo before-failure && exit 3\n")
    result = _fails(run_minikit, context)
    assert 'process "/bin/sh -c echo before-failure && exit 3" did not complete successfully: exit code: 3' in result.stderr
    assert "Dockerfile:2" in result.stderr
    assert "before-failure" in result.stderr


def test_cache_usable_after_failure(run_minikit, base_image, tmp_path):
    context = _context(tmp_path, "FROM busybox:1.36\nRUN echo one > /one\nRUN exit 1\n")
    _fails(run_minikit, context)
    (context / "Dockerfile").write_text("FROM busybox:1.36\nRUN echo one > /one\nRUN cat /one > /two\n")
    out = tmp_path / "out"
    result = run_minikit(["build", "--progress=plain", "-o", f"type=local,dest={out}", str(context)], cwd=context)
    assert (out / "two").read_text() == "one\n"
    assert "CACHED" in result.stderr


def test_bad_output_flag(run_minikit, tmp_path):
    context = _context(tmp_path, "FROM busybox:1.36\n")
    result = run_minikit(["build", "-o", "type=floppy", str(context)], cwd=context, check=False)
    assert result.returncode == 2
    assert "unsupported type 'floppy'" in result.stderr


@pytest.mark.parametrize("flag", ["--secret", "--ssh"])
def test_bad_client_flags_fail_before_build(run_minikit, tmp_path, flag):
    context = _context(tmp_path, "FROM busybox:1.36\nRUN true\n")
    value = "id=tok,src=/no/such/file" if flag == "--secret" else "default=/no/such/key"
    result = run_minikit(["build", flag, value, str(context)], cwd=context, check=False)
    assert result.returncode != 0
    assert "/no/such/" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_pyroute2_fails_run(run_minikit, base_image, tmp_path):
    # A broken install: pyroute2, which encodes the loopback request, cannot
    # be imported. The RUN must fail with the hint, not wait forever.
    shadow = tmp_path / "shadow" / "pyroute2"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text('raise ImportError("pyroute2 is hidden by the test")\n')
    context = _context(tmp_path, "FROM busybox:1.36\nRUN echo hi\n")
    result = run_minikit(
        ["build", "--progress=plain", "--network=none", str(context)],
        cwd=context,
        env={"PYTHONPATH": str(shadow.parent)},
        check=False,
        timeout=120,
    )
    assert result.returncode != 0
    assert "pyroute2 could not encode the loopback request" in result.stderr
    assert "hint: install pyroute2" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_heredoc_name_in_copy(run_minikit, tmp_path):
    # A ${ error in a COPY heredoc's name fails at that word.
    context = _context(tmp_path, "FROM scratch\nCOPY <<A <<-B${ /d\na\nA\n\tb\n\tB\n")
    result = _fails(run_minikit, context, "--check")
    assert "internal error" not in result.stderr
    assert "Dockerfile:2:13" in result.stderr
    assert "failed to process \"B${\": syntax error: missing '}'" in result.stderr
