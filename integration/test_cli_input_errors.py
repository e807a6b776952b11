"""Odd input and invalid flags get one clear error from ``minikit``, never an internal error."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from minikit.oci.spec import Platform

COPY_ONLY = "FROM scratch\nCOPY hello.txt /\n"


def _context(folder: Path, dockerfile: str | bytes = COPY_ONLY) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = dockerfile if isinstance(dockerfile, bytes) else dockerfile.encode()
    (folder / "Dockerfile").write_bytes(data)
    (folder / "hello.txt").write_text("hello\n")
    return folder


def _fails(result: subprocess.CompletedProcess, status: int = 1) -> str:
    """Return stderr of a run that must fail with ``status`` and a clean report."""
    assert result.returncode == status, result.stderr
    assert "internal error" not in result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def _other_platform() -> str:
    host = Platform.host()
    return "linux/arm64" if host.architecture != "arm64" else "linux/amd64"


def _deep_folders(top: Path, depth: int) -> None:
    """Create ``depth`` nested folders below ``top`` without long path names."""
    here = os.open(top, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=here)
            below = os.open("d", os.O_RDONLY, dir_fd=here)
            os.close(here)
            here = below
    finally:
        os.close(here)


def _remove_deep_folders(top: Path) -> None:
    """Remove what ``_deep_folders`` made, deepest first; rmtree would recurse."""
    chain = [os.open(top, os.O_RDONLY)]
    while True:
        try:
            chain.append(os.open("d", os.O_RDONLY, dir_fd=chain[-1]))
        except FileNotFoundError:
            break
    for parent in reversed(chain[:-1]):
        os.rmdir("d", dir_fd=parent)
    for fd in chain:
        os.close(fd)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("input-errors")


@pytest.fixture(scope="module")
def context(workspace):
    return _context(workspace / "ctx")


def _build(run_minikit, context: Path, *flags: str, env=None):
    args = ["build", "--progress=plain", *flags, str(context)]
    return run_minikit(args, cwd=context, env=env, check=False)


# -- Dockerfiles that are not text ------------------------------------------------


def test_latin1_dockerfile_rejected(run_minikit, workspace):
    context = _context(workspace / "latin1", b"FROM scratch\nLABEL a=caf\xe9\n")
    stderr = _fails(_build(run_minikit, context))
    assert "Dockerfile:2:12: failed to read dockerfile: invalid UTF-8 byte 0xe9" in stderr
    assert "hint: save the Dockerfile as UTF-8" in stderr


def test_binary_dockerfile_from_stdin_rejected(minikit_config, context):
    argv = [sys.executable, "-m", "minikit", "build", "-f", "-", str(context)]
    result = subprocess.run(
        argv,
        input=b"\x7fELF\x02\x01\x01\x00\x00\xd0\xff",
        capture_output=True,
        env=dict(minikit_config.env),
        cwd=context,
        timeout=120,
        check=False,
    )
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 1, stderr
    assert "Dockerfile:1:8: failed to read dockerfile: it contains a NUL byte" in stderr
    assert "internal error" not in stderr


# -- input nested too deeply ------------------------------------------------------


def test_deep_substitution_rejected(run_minikit, workspace):
    word = "${a:-" * 3000 + "x" + "}" * 3000
    context = _context(workspace / "deep-env", f"FROM scratch\nENV X={word}\n")
    stderr = _fails(_build(run_minikit, context))
    assert "Dockerfile:2" in stderr
    assert "variable substitutions are nested too deeply" in stderr


def test_deep_context_rejected(run_minikit, workspace):
    context = _context(workspace / "deep-context")
    _deep_folders(context, 1000)
    try:
        stderr = _fails(_build(run_minikit, context))
    finally:
        _remove_deep_folders(context)
    assert "it is nested too deeply" in stderr
    assert "hint:" in stderr


# -- the state folder and result files -------------------------------------------


@pytest.mark.parametrize("command", ["build", "du", "prune"])
def test_root_file_rejected(run_minikit, context, command):
    args = [command, "--root", "/etc/hostname"]
    args += [str(context)] if command == "build" else []
    stderr = _fails(run_minikit(args, cwd=context, check=False), status=2)
    assert "invalid state folder (--root) /etc/hostname: it is not a directory" in stderr


def test_root_proc_rejected(run_minikit, context):
    result = _build(run_minikit, context, "--root", "/proc")
    assert "invalid state folder (--root) /proc" in _fails(result, status=2)


@pytest.fixture(scope="module")
def iidfile_folder(run_minikit, context, workspace):
    return _build(run_minikit, context, "--iidfile", str(workspace))


def test_iidfile_folder_rejected(iidfile_folder):
    assert "it is a directory" in _fails(iidfile_folder, status=2)


def test_iidfile_checked_before_build(iidfile_folder):
    assert "#1 " not in iidfile_folder.stderr


def test_unwritable_metadata_file_reported(run_minikit, context):
    result = _build(run_minikit, context, "--metadata-file", "/proc/minikit-metadata")
    stderr = _fails(result)
    assert "failed to write --metadata-file '/proc/minikit-metadata'" in stderr


def test_debug_parse_missing_file(run_minikit, workspace):
    missing = workspace / "absent" / "Dockerfile"
    result = run_minikit(["debug", "parse", str(missing)], cwd=workspace, check=False)
    stderr = _fails(result)
    assert f"failed to read dockerfile {missing}: No such file or directory" in stderr


# -- archives ---------------------------------------------------------------------


def test_add_tar_with_dangling_hard_link(run_minikit, workspace):
    context = _context(workspace / "tar", "FROM scratch\nADD bad.tar /out/\n")
    with tarfile.open(context / "bad.tar", "w") as archive:
        link = tarfile.TarInfo("link")
        link.type = tarfile.LNKTYPE
        link.linkname = "missing"
        archive.addfile(link, io.BytesIO(b""))
    stderr = _fails(_build(run_minikit, context))
    assert "hard link 'link' points to 'missing'" in stderr
    assert "Dockerfile:2" in stderr
    assert "/snapshots/" not in stderr


# -- flag values ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "text"),
    [
        (("--add-host", "h:notanip"), "invalid --add-host 'h:notanip'"),
        (("--jobs", "-3"), "invalid --jobs -3"),
        (("--allow", "bogus"), "invalid --allow 'bogus'"),
        (("--call", "bogus"), "invalid --call 'bogus'"),
        (("--progress=",), "invalid --progress ''"),
        (("-t", ""), "invalid tag ''"),
        (("-t", "Upper:1"), "invalid tag 'Upper:1'"),
        (("--platform", "garbage"), "invalid --platform 'garbage'"),
    ],
)
def test_invalid_flag_exits_2(run_minikit, context, flags, text):
    args = ["build", *flags, str(context)]
    stderr = _fails(run_minikit(args, cwd=context, check=False), status=2)
    assert text in stderr
    assert "hint:" in stderr


def test_empty_context_exits_2(run_minikit, context):
    result = run_minikit(["build", ""], cwd=context, check=False)
    assert "invalid build context ''" in _fails(result, status=2)


def test_other_platform_rejected(run_minikit, context, workspace):
    out = workspace / "other-platform.tar"
    result = _build(
        run_minikit, context, "--platform", _other_platform(), "-o", f"type=oci,dest={out}"
    )
    stderr = _fails(result, status=2)
    assert f"host platform {Platform.host()}" in stderr
    assert "no emulation" in stderr
    assert not out.exists()


def test_two_platforms_rejected(run_minikit, context):
    platforms = f"{Platform.host()},{_other_platform()}"
    stderr = _fails(_build(run_minikit, context, "--platform", platforms), status=2)
    assert "minikit builds for one platform" in stderr


def test_ignored_entitlement_warns(run_minikit, context):
    result = _build(run_minikit, context, "--allow", "device")
    assert result.returncode == 0, result.stderr
    assert "WARNING: --allow device is ignored" in result.stderr


# -- bake -------------------------------------------------------------------------

BAKE = """
group "default" { targets = ["one", "two"] }
target "one" {
  context = "ctx"
  tags = ["one:1"]
}
target "two" {
  context = "ctx"
  tags = ["two:1"]
}
"""


@pytest.fixture(scope="module")
def bake_folder(workspace, context):
    folder = workspace / "bake"
    folder.mkdir()
    (folder / "ctx").symlink_to(context)
    (folder / "docker-bake.hcl").write_text(BAKE)
    return folder


def test_bake_binary_file_rejected(run_minikit, workspace):
    folder = workspace / "bake-binary"
    folder.mkdir()
    (folder / "docker-bake.hcl").write_bytes(b"\x7fELF\x02\x01\xd0\xff")
    stderr = _fails(run_minikit(["bake"], cwd=folder, check=False))
    assert f"invalid bake file {folder / 'docker-bake.hcl'}" in stderr


def test_bake_json_list_rejected(run_minikit, workspace):
    folder = workspace / "bake-json"
    folder.mkdir()
    (folder / "docker-bake.json").write_text(json.dumps({"target": [1, 2]}))
    stderr = _fails(run_minikit(["bake"], cwd=folder, check=False))
    assert '"target" must be a JSON object, not an array' in stderr


def test_bake_set_unknown_target(run_minikit, bake_folder):
    result = run_minikit(["bake", "--set", "nosuch.tags=x"], cwd=bake_folder, check=False)
    assert "could not find any target matching 'nosuch'" in _fails(result, status=2)


def test_bake_function_tag_checked_before_build(run_minikit, bake_folder):
    folder = bake_folder.parent / "bake-upper"
    folder.mkdir()
    (folder / "ctx").symlink_to(bake_folder / "ctx")
    text = BAKE.replace('tags = ["two:1"]', 'tags = [upper("two:1")]')
    (folder / "docker-bake.hcl").write_text(text)
    stderr = _fails(run_minikit(["bake", "--progress=plain"], cwd=folder, check=False))
    assert "invalid tag 'TWO:1' in bake target 'two'" in stderr
    assert "#1 " not in stderr


@pytest.fixture(scope="module")
def bake_quiet(run_minikit, bake_folder):
    return run_minikit(["bake", "--progress=quiet"], cwd=bake_folder)


def test_bake_quiet_prints_image_ids(bake_quiet):
    lines = bake_quiet.stdout.splitlines()
    assert len(lines) == 2
    assert all(line.startswith("sha256:") for line in lines)


def test_bake_quiet_prints_no_digest_line(bake_quiet):
    assert "image digest" not in bake_quiet.stdout + bake_quiet.stderr


# -- tty progress on a pipe ------------------------------------------------------


def test_tty_progress_ends_its_line(run_minikit, context):
    pytest.importorskip("rich", reason="the tty view needs rich (pip install rich)")
    out = context.parent / "tty.tar"
    args = ["build", "--progress=tty", "-o", f"type=oci,dest={out}", str(context)]
    result = run_minikit(args, cwd=context)
    assert "\nimage digest: sha256:" in result.stderr


def test_closed_stdout_still_succeeds(minikit_config, tmp_path):
    # `minikit build ... >&-`: Python starts with sys.stdout set to None.
    context = _context(tmp_path / "ctx")
    out = tmp_path / "out.tar"
    build = [sys.executable, "-m", "minikit", "build", "--progress=plain"]
    result = subprocess.run(
        ["bash", "-c", 'exec "$@" >&-', "_", *build, "-o", f"type=tar,dest={out}", str(context)],
        env=dict(minikit_config.env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    with tarfile.open(out) as archive:
        assert archive.extractfile("hello.txt").read() == b"hello\n"
