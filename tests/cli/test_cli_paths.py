"""The state folder and result-file checks that run before a build."""

import os
from pathlib import Path

import pytest

from minikit.cli.paths import check_result_file, check_root, write_result_file
from minikit.errors import ExportError, UsageError


def test_root_created(tmp_path):
    root = tmp_path / "a" / "b"
    assert check_root(root) == root
    assert root.is_dir()


def test_root_leaves_no_probe(tmp_path):
    check_root(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_root_file_rejected(tmp_path):
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(UsageError, match="it is not a directory"):
        check_root(file)


def test_root_below_file_rejected(tmp_path):
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(UsageError, match="cannot write to it"):
        check_root(file / "root")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs procfs at /proc")
def test_root_proc_rejected():
    with pytest.raises(UsageError, match="--root"):
        check_root(Path("/proc"))


def test_result_file_none():
    assert check_result_file("--iidfile", None) is None


def test_result_file_folder_rejected(tmp_path):
    with pytest.raises(UsageError, match="it is a directory"):
        check_result_file("--iidfile", str(tmp_path))


def test_result_file_empty_rejected():
    with pytest.raises(UsageError, match="the path is empty"):
        check_result_file("--metadata-file", "")


def test_result_file_missing_folder_rejected(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        check_result_file("--metadata-file", str(tmp_path / "absent" / "m.json"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to any folder")
def test_result_file_unwritable_folder_rejected(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    with pytest.raises(UsageError, match="is not writable"):
        check_result_file("--metadata-file", str(folder / "m.json"))


def test_result_file_accepted(tmp_path):
    path = check_result_file("--iidfile", str(tmp_path / "iid"))
    assert path == tmp_path / "iid"


def test_write_failure_is_export_error(tmp_path):
    with pytest.raises(ExportError, match="failed to write --iidfile"):
        write_result_file("--iidfile", tmp_path, "sha256:x")
