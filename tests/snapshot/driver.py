"""Snapshotter scenarios run inside a private mount namespace (and user namespace).

The tests start this script through ``unshare`` and read one JSON object from its
stdout. Usage: ``driver.py SCENARIO WORKDIR [OPTIONS...]``. It imports minikit from
PYTHONPATH and nothing from the test suite, so it also runs as an unprivileged user.
"""

from __future__ import annotations

import concurrent.futures
import errno
import hashlib
import io
import json
import os
import shutil
import stat
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from minikit.oci.spec import OCI_LAYER
from minikit.snapshot import (
    NativeSnapshotter,
    OverlaySnapshotter,
    SnapshotError,
    Snapshotter,
    apply_layer_tar,
    detect_snapshotter,
    is_opaque,
    is_whiteout,
    read_xattrs,
    write_layer_tar,
)


def mounts_under(folder: Path) -> list[str]:
    """Return the mount points below ``folder`` listed in /proc/self/mountinfo."""
    prefix = str(folder)
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            mount_point = line.split()[4]
            if mount_point == prefix or mount_point.startswith(prefix + "/"):
                found.append(mount_point)
    return found


def describe_tree(root: Path) -> dict[str, dict[str, Any]]:
    """List every entry below ``root`` without times, so two diffs can be compared."""
    entries: dict[str, dict[str, Any]] = {}
    inodes: dict[tuple[int, int], list[str]] = {}
    for folder, subfolders, files in os.walk(root):
        for name in subfolders + files:
            path = Path(folder) / name
            relative = str(path.relative_to(root))
            st = os.lstat(path)
            entries[relative] = describe_entry(path, st)
            # Overlayfs links all whiteouts to one shared inode: not a user link.
            linkable = not stat.S_ISDIR(st.st_mode) and not is_whiteout(st)
            if linkable and st.st_nlink > 1:
                inodes.setdefault((st.st_dev, st.st_ino), []).append(relative)
    for names in inodes.values():
        for name in names:
            entries[name]["linked_with"] = sorted(names)
    return entries


def describe_entry(path: Path, st: os.stat_result) -> dict[str, Any]:
    """Describe one entry: kind, mode, owner, content digest, markers."""
    entry: dict[str, Any] = {
        "mode": stat.S_IMODE(st.st_mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
    }
    if is_whiteout(st):
        entry["kind"] = "whiteout"
    elif stat.S_ISDIR(st.st_mode):
        entry["kind"] = "folder"
        entry["opaque"] = is_opaque(path)
    elif stat.S_ISLNK(st.st_mode):
        entry["kind"] = "symlink"
        entry["target"] = os.readlink(path)
    elif stat.S_ISREG(st.st_mode):
        entry["kind"] = "file"
        entry["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    else:
        entry["kind"] = f"special:{stat.S_IFMT(st.st_mode):o}"
    xattrs = read_xattrs(path)
    if xattrs:
        entry["xattrs"] = {name: value.hex() for name, value in xattrs.items()}
    return entry


def write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


def make_lowers(work: Path, rootless: bool) -> list[Path]:
    """Create a two-layer chain with folders, files, links and a foreign owner."""
    bottom, top = work / "layers" / "bottom", work / "layers" / "top"
    write(bottom / "a" / "f1", "f1")
    write(bottom / "a" / "f2", "f2")
    write(bottom / "a" / "f3", "f3")
    write(bottom / "replaced" / "old", "old")
    write(bottom / "gone" / "deep" / "x", "x")
    write(bottom / "keep", "keep")
    write(bottom / "to-folder", "file that becomes a folder")
    os.link(bottom / "keep", bottom / "keep-link")
    os.symlink("a/f1", bottom / "sym")
    os.setxattr(bottom / "a" / "f2", "user.note", b"lower")
    if not rootless:
        write(bottom / "owned", "owned by 1000")
        os.chown(bottom / "owned", 1000, 1000)
    write(top / "a" / "f4", "f4 from top")
    write(top / "keep", "keep from top")
    return [top, bottom]


def change_tree(merged: Path, rootless: bool) -> None:
    """Make one change of every kind that a RUN step can make."""
    (merged / "a" / "f1").unlink()
    os.chmod(merged / "a" / "f2", 0o600)
    os.rename(merged / "a" / "f3", merged / "a" / "f3-renamed")
    shutil.rmtree(merged / "replaced")
    write(merged / "replaced" / "new", "new")
    shutil.rmtree(merged / "gone")
    with open(merged / "keep", "a", encoding="utf-8") as keep:
        keep.write(" changed")
    os.link(merged / "keep", merged / "keep-second-link")
    (merged / "to-folder").unlink()
    write(merged / "to-folder" / "inside", "inside")
    write(merged / "fresh" / "sub" / "file", "fresh", mode=0o755)
    os.symlink("/etc/passwd", merged / "fresh" / "absolute-link")
    os.setxattr(merged / "fresh" / "sub" / "file", "user.note", b"new")
    if not rootless:
        os.chown(merged / "owned", 1000, 2000)


def snapshotter_for(name: str, state: Path) -> Snapshotter:
    if name == "native":
        return NativeSnapshotter(state)
    api = name.removeprefix("overlay-")
    return OverlaySnapshotter(state, mount_api=api)  # type: ignore[arg-type]


def scenario_changes(work: Path, name: str, rootless: str) -> dict[str, Any]:
    """Prepare a chain, change it, and report the diff and the mounts seen."""
    is_rootless = rootless == "rootless"
    lowers = make_lowers(work, is_rootless)
    snapshotter = snapshotter_for(name, work / "state")
    upper, scratch = work / "upper", work / "work"
    with snapshotter.prepare(lowers, upper, scratch) as merged:
        mounts_inside = mounts_under(work)
        before = sorted(os.listdir(merged))
        change_tree(merged, is_rootless)
    return {
        "visible_before": before,
        "mounts_inside": mounts_inside,
        "mounts_after": mounts_under(work),
        "diff": describe_tree(upper),
    }


def scenario_failing_body(work: Path, name: str) -> dict[str, Any]:
    """Raise inside prepare and view, and report what stays mounted."""
    lowers = make_lowers(work, rootless=True)
    snapshotter = snapshotter_for(name, work / "state")
    results: dict[str, Any] = {}
    for kind, opener in (
        ("prepare", lambda: snapshotter.prepare(lowers, work / "upper", work / "work")),
        ("view", lambda: snapshotter.view(lowers)),
    ):
        try:
            with opener():
                raise RuntimeError("body failed")
        except RuntimeError as error:
            results[f"{kind}_error"] = str(error)
        results[f"{kind}_mounts_after"] = mounts_under(work)
    results["state_mount_dirs"] = sorted(
        os.listdir(work / "state" / "overlay-mounts")
        if (work / "state" / "overlay-mounts").exists()
        else []
    )
    return results


def scenario_view(work: Path, name: str) -> dict[str, Any]:
    """Open a read-only view, and report its listing and the result of a write."""
    lowers = make_lowers(work, rootless=True)
    snapshotter = snapshotter_for(name, work / "state")
    with snapshotter.view(lowers) as root:
        listing = sorted(os.listdir(root))
        keep = (root / "keep").read_text()
        mounts_inside = mounts_under(work)
        try:
            (root / "new-file").write_text("x")
            write_error = None
        except OSError as error:
            write_error = errno.errorcode.get(error.errno or 0, str(error.errno))
    return {
        "listing": listing,
        "keep": keep,
        "mounts_inside": mounts_inside,
        "write_error": write_error,
        "mounts_after": mounts_under(work),
    }


def make_chain(work: Path, count: int, folder_name: str, suffix: str) -> list[Path]:
    """Create ``count`` layers below a long folder name (top-most first)."""
    base = work / folder_name / folder_name
    layers = []
    for index in range(count):
        layer = base / f"L{index:03d}{suffix}"
        write(layer / f"file-{index:03d}", str(index))
        write(layer / "shared", str(index))
        layers.append(layer)
    return list(reversed(layers))


def scenario_chain(
    work: Path, name: str, count: str, folder_length: str, layer_suffix_length: str
) -> dict[str, Any]:
    """Mount a long chain with prepare and view, and report the merged root."""
    folder = "p" * int(folder_length)
    layers = make_chain(work, int(count), folder, "x" * int(layer_suffix_length))
    parent = layers[0].parent
    snapshotter = snapshotter_for(name, work / "state")
    report: dict[str, Any] = {"lowerdir_bytes": sum(len(str(p)) + 1 for p in layers)}
    try:
        with snapshotter.prepare(layers, parent / "upper", parent / "work") as merged:
            report["prepare_files"] = len(list(merged.glob("file-*")))
            report["prepare_shared"] = (merged / "shared").read_text()
        with snapshotter.view(layers) as root:
            report["view_files"] = len(list(root.glob("file-*")))
    except SnapshotError as error:
        report["error"] = str(error)
    report["mounts_after"] = mounts_under(work)
    return report


def scenario_scratch(work: Path, name: str) -> dict[str, Any]:
    """Prepare an empty chain (scratch), write one file, and view short chains."""
    snapshotter = snapshotter_for(name, work / "state")
    with snapshotter.prepare([], work / "upper", work / "work") as merged:
        listing = os.listdir(merged)
        write(merged / "hello", "hello")
    with snapshotter.view([]) as root:
        empty_view = os.listdir(root)
    with snapshotter.view([work / "upper"]) as root:
        single_view = os.listdir(root)
    return {
        "listing": listing,
        "diff": describe_tree(work / "upper"),
        "empty_view": empty_view,
        "single_view": single_view,
        "mounts_after": mounts_under(work),
    }


def scenario_detect(work: Path) -> dict[str, Any]:
    """Run detect_snapshotter and report its choice."""
    snapshotter, notice = detect_snapshotter(work / "state")
    leftovers = sorted(
        entry
        for entry in os.listdir(work / "state")
        if entry.startswith("overlay-probe")
    )
    return {
        "name": snapshotter.name,
        "notice": notice,
        "leftovers": leftovers,
        "mounts_after": mounts_under(work),
    }


def scenario_apply_special(work: Path) -> dict[str, Any]:
    """Unpack a layer with markers, devices and a fifo, and report diff and warnings."""
    blob = work / "layer.tar"
    with tarfile.open(blob, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, major in (
            ("etc", tarfile.DIRTYPE, 0),
            ("etc/.wh..wh..opq", tarfile.REGTYPE, 0),
            (".wh.deleted", tarfile.REGTYPE, 0),
            ("null", tarfile.CHRTYPE, 1),
            ("loop", tarfile.BLKTYPE, 7),
            ("pipe", tarfile.FIFOTYPE, 0),
        ):
            info = tarfile.TarInfo(name)
            info.type = kind
            info.devmajor = major
            info.devminor = 3 if major == 1 else 0
            tar.addfile(info)
    warnings: list[str] = []
    apply_layer_tar(blob, OCI_LAYER, work / "diff", on_warning=warnings.append)
    out = io.BytesIO()
    write_layer_tar(work / "diff", out, compression="none")
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        names = tar.getnames()
    return {
        "diff": describe_tree(work / "diff"),
        "warnings": warnings,
        "repacked": names,
    }


def scenario_concurrent(work: Path, name: str, threads: str) -> dict[str, Any]:
    """Prepare long chains from several threads at once, and report what each saw."""
    layers = make_chain(work, 60, "q" * 200, "")
    snapshotter = snapshotter_for(name, work / "state")
    cwd_before = os.getcwd()

    def prepare_one(index: int) -> str:
        upper, scratch = work / f"upper-{index}", work / f"work-{index}"
        with snapshotter.prepare(layers, upper, scratch) as merged:
            write(merged / "mine", str(index))
            return (merged / "shared").read_text()

    with concurrent.futures.ThreadPoolExecutor(int(threads)) as pool:
        shared = list(pool.map(prepare_one, range(int(threads))))
    return {
        "shared": shared,
        "mine": [
            (work / f"upper-{i}" / "mine").read_text() for i in range(int(threads))
        ],
        "cwd_unchanged": os.getcwd() == cwd_before,
        "mounts_after": mounts_under(work),
    }


SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "concurrent": scenario_concurrent,
    "apply-special": scenario_apply_special,
    "changes": scenario_changes,
    "failing-body": scenario_failing_body,
    "view": scenario_view,
    "chain": scenario_chain,
    "scratch": scenario_scratch,
    "detect": scenario_detect,
}


def main() -> None:
    scenario, work, *options = sys.argv[1:]
    result = SCENARIOS[scenario](Path(work), *options)
    json.dump(result, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
