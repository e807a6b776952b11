"""Overlay and native snapshotters in real mount namespaces, as root and rootless."""

from __future__ import annotations

import pytest

from .nsrunner import NamespaceRunner

SNAPSHOTTERS = ["overlay-new", "overlay-legacy", "native"]


@pytest.mark.parametrize("snapshotter", SNAPSHOTTERS)
def test_prepare_records_changes(namespaces: NamespaceRunner, snapshotter: str) -> None:
    result = namespaces.run("changes", snapshotter, namespaces.mode)
    diff = result["diff"]

    assert {"a", "keep", "gone", "replaced", "sym"} <= set(result["visible_before"])
    assert diff["a/f1"]["kind"] == "whiteout"
    assert diff["gone"]["kind"] == "whiteout"
    assert "gone/deep" not in diff
    assert diff["replaced"]["kind"] == "folder"
    assert diff["replaced"]["opaque"] is True
    assert diff["replaced/new"]["kind"] == "file"
    assert "replaced/old" not in diff
    assert diff["to-folder"]["opaque"] is True
    assert diff["a"]["opaque"] is False
    assert diff["a/f2"]["mode"] == 0o600
    assert diff["a/f3"]["kind"] == "whiteout"
    assert diff["a/f3-renamed"]["kind"] == "file"
    assert diff["fresh"]["opaque"] is False
    assert diff["fresh/sub/file"]["mode"] == 0o755
    assert diff["fresh/absolute-link"]["target"] == "/etc/passwd"
    assert diff["keep"]["linked_with"] == ["keep", "keep-second-link"]
    assert "a/f4" not in diff
    assert "sym" not in diff


@pytest.mark.parametrize("snapshotter", SNAPSHOTTERS)
def test_prepare_keeps_xattrs_and_owners(
    namespaces: NamespaceRunner, snapshotter: str
) -> None:
    diff = namespaces.run("changes", snapshotter, namespaces.mode)["diff"]

    assert diff["a/f2"]["xattrs"] == {"user.note": b"lower".hex()}
    assert diff["fresh/sub/file"]["xattrs"] == {"user.note": b"new".hex()}
    if not namespaces.rootless:
        assert (diff["owned"]["uid"], diff["owned"]["gid"]) == (1000, 2000)


@pytest.mark.parametrize("snapshotter", SNAPSHOTTERS)
def test_prepare_leaves_no_mounts(
    namespaces: NamespaceRunner, snapshotter: str
) -> None:
    result = namespaces.run("changes", snapshotter, namespaces.mode)

    if snapshotter != "native":
        assert len(result["mounts_inside"]) == 1
    assert result["mounts_after"] == []


def test_native_diff_matches_overlay(namespaces: NamespaceRunner) -> None:
    overlay = namespaces.run("changes", "overlay-new", namespaces.mode)["diff"]
    native = namespaces.run("changes", "native", namespaces.mode)["diff"]

    assert sorted(native) == sorted(overlay)
    for name in overlay:
        assert native[name] == overlay[name], name


@pytest.mark.parametrize("snapshotter", SNAPSHOTTERS)
def test_failing_body_unmounts(namespaces: NamespaceRunner, snapshotter: str) -> None:
    result = namespaces.run("failing-body", snapshotter)

    assert result["prepare_error"] == "body failed"
    assert result["prepare_mounts_after"] == []
    assert result["view_error"] == "body failed"
    assert result["view_mounts_after"] == []
    assert result["state_mount_dirs"] == []


@pytest.mark.parametrize("snapshotter", ["overlay-new", "overlay-legacy"])
def test_view_is_read_only(namespaces: NamespaceRunner, snapshotter: str) -> None:
    result = namespaces.run("view", snapshotter)

    assert result["keep"] == "keep from top"
    assert "f1" not in result["listing"]
    assert "a" in result["listing"]
    assert result["write_error"] == "EROFS"
    assert len(result["mounts_inside"]) == 1
    assert result["mounts_after"] == []


def test_native_view_merges(namespaces: NamespaceRunner) -> None:
    result = namespaces.run("view", "native")

    assert result["keep"] == "keep from top"
    assert result["listing"] == sorted(result["listing"])
    assert "gone" in result["listing"]
    assert result["mounts_after"] == []


@pytest.mark.parametrize("snapshotter", ["overlay-new", "overlay-legacy"])
def test_chain_of_150_layers_mounts(
    namespaces: NamespaceRunner, snapshotter: str
) -> None:
    # 150 layers below 200-character folder names: the absolute lowerdir list
    # is far beyond mount(2)'s one page, so legacy mounting needs relative paths.
    result = namespaces.run("chain", snapshotter, "150", "200", "0")

    assert result["lowerdir_bytes"] > 4096
    assert "error" not in result, result.get("error")
    assert result["prepare_files"] == 150
    assert result["prepare_shared"] == "149"
    assert result["view_files"] == 150
    assert result["mounts_after"] == []


def test_legacy_chain_too_long_fails(namespaces: NamespaceRunner) -> None:
    # 100 layer names of 60 characters do not fit in one page even as relative paths.
    result = namespaces.run("chain", "overlay-legacy", "100", "10", "60")

    assert "cannot mount a chain of 100 layers" in result["error"]
    assert result["mounts_after"] == []


def test_new_api_mounts_long_names(namespaces: NamespaceRunner) -> None:
    result = namespaces.run("chain", "overlay-new", "100", "10", "60")

    assert "error" not in result, result.get("error")
    assert result["prepare_files"] == 100


def test_chain_over_limit_fails(namespaces: NamespaceRunner) -> None:
    result = namespaces.run("chain", "overlay-new", "501", "1", "0")

    assert "501 layers" in result["error"]
    assert "at most 500" in result["error"]


@pytest.mark.parametrize("snapshotter", SNAPSHOTTERS)
def test_scratch_prepare_starts_empty(
    namespaces: NamespaceRunner, snapshotter: str
) -> None:
    result = namespaces.run("scratch", snapshotter)

    assert result["listing"] == []
    assert result["diff"]["hello"]["kind"] == "file"
    assert result["empty_view"] == []
    assert result["single_view"] == ["hello"]
    assert result["mounts_after"] == []


def test_detect_picks_overlay(namespaces: NamespaceRunner) -> None:
    result = namespaces.run("detect")

    assert result["name"] == "overlayfs"
    assert result["notice"].startswith("snapshotter: overlayfs")
    assert result["leftovers"] == []
    assert result["mounts_after"] == []


def test_apply_special_entries(namespaces: NamespaceRunner) -> None:
    result = namespaces.run("apply-special")
    diff = result["diff"]

    assert diff["deleted"]["kind"] == "whiteout"
    assert diff["etc"]["opaque"] is True
    assert diff["pipe"]["kind"] == "special:10000"
    assert ".wh.deleted" in result["repacked"]
    assert "etc/.wh..wh..opq" in result["repacked"]
    if namespaces.rootless:
        assert "null" not in diff
        assert "loop" not in diff
        assert len(result["warnings"]) == 2
        assert "skipping device node 'null' (1:3)" in result["warnings"][0]
    else:
        assert diff["null"]["kind"] == "special:20000"
        assert diff["loop"]["kind"] == "special:60000"
        assert result["warnings"] == []


@pytest.mark.parametrize("snapshotter", SNAPSHOTTERS)
def test_concurrent_prepares(namespaces: NamespaceRunner, snapshotter: str) -> None:
    result = namespaces.run("concurrent", snapshotter, "8")

    assert result["shared"] == ["59"] * 8
    assert result["mine"] == [str(index) for index in range(8)]
    assert result["cwd_unchanged"] is True
    assert result["mounts_after"] == []


def test_detect_falls_back_to_native(namespaces: NamespaceRunner) -> None:
    if not namespaces.rootless:
        pytest.skip("root can always mount; the fallback needs a user without one")
    result = namespaces.run("detect", mount_namespace=False)

    assert result["name"] == "native"
    assert result["notice"].startswith("snapshotter: native, which copies every layer")
    assert "could not be mounted" in result["notice"]
    assert result["leftovers"] == []
