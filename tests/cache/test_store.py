"""The store under --root: commits, records, debris from killed builds, leases."""

import os
import subprocess
import sys
from pathlib import Path

from minikit.cache.prune import prune
from minikit.cache.store import Store


def _staged(store: Store, content: str = "x") -> Path:
    folder = store.make_temp_dir("t-") / "diff"
    folder.mkdir()
    (folder / "file").write_text(content)
    return folder


def test_commit_and_record(tmp_path):
    store = Store(tmp_path)
    layer = store.commit_layer(_staged(store))
    store.put_record("key", (layer,), "RUN x")
    assert store.get_record("key") == (layer,)
    assert (store.layer_path(layer) / "file").read_text() == "x"


def test_record_with_missing_layer_is_a_miss(tmp_path):
    store = Store(tmp_path)
    layer = store.commit_layer(_staged(store))
    store.put_record("key", (layer,))
    os.rename(store.layer_path(layer), tmp_path / "gone")
    assert store.get_record("key") is None


def test_pulled_origin_deduplicates(tmp_path):
    store = Store(tmp_path)
    first = store.commit_layer(_staged(store), origin="pull:sha256:1")
    second = store.commit_layer(_staged(store), origin="pull:sha256:1")
    assert first == second
    assert len(list(store.layers_dir.iterdir())) == 1


def test_sweep_removes_debris_of_dead_process(tmp_path):
    store = Store(tmp_path)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
    )
    pid = int(dead.stdout)
    (store.tmp_dir / f"{pid}-left-over").mkdir()
    (store.layers_dir / "unrecorded").mkdir()
    mine = store.make_temp_dir("keep-")
    assert store.sweep() == 2
    assert mine.exists()
    assert not (store.layers_dir / "unrecorded").exists()


def test_killed_commit_leaves_usable_store(tmp_path):
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from minikit.cache.store import Store\n"
        "s = Store(Path(sys.argv[1]))\n"
        "d = s.make_temp_dir('k-') / 'diff'; d.mkdir(); (d / 'f').write_text('x')\n"
        "os.kill(os.getpid(), 9)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)])
    store = Store(tmp_path)
    store.sweep()
    assert list(store.tmp_dir.iterdir()) == []
    layer = store.commit_layer(_staged(store))
    assert store.layer(layer).origin == "build"


def test_prune_all_empties_store(tmp_path):
    store = Store(tmp_path)
    layer = store.commit_layer(_staged(store))
    store.put_record("key", (layer,))
    base = store.commit_layer(_staged(store), origin="pull:sha256:2")
    store.close()
    prune(tmp_path, all_entries=True)
    store = Store(tmp_path)
    assert store.get_record("key") is None
    assert not store.layer_path(base).exists()


def test_prune_keeps_base_layers_by_default(tmp_path):
    store = Store(tmp_path)
    base = store.commit_layer(_staged(store), origin="pull:sha256:3")
    built = store.commit_layer(_staged(store))
    store.put_record("key", (base, built))
    store.close()
    prune(tmp_path)
    store = Store(tmp_path)
    assert store.layer_path(base).exists()
    assert not store.layer_path(built).exists()


def test_zombie_counts_as_dead():
    from minikit.cache.store import _pid_alive

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    while (
        not Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0]
        == "Z"
    ):
        pass
    try:
        assert not _pid_alive(child.pid)
    finally:
        child.wait()


def test_sweep_keeps_shared_folders(tmp_path):
    store = Store(tmp_path)
    (store.tmp_dir / "overlay-mounts").mkdir()
    store.sweep()
    assert (store.tmp_dir / "overlay-mounts").is_dir()


def test_sweep_removes_dead_process_entries(tmp_path):
    store = Store(tmp_path)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    (store.tmp_dir / f"{child.pid}-tree-abc").mkdir()
    store.sweep()
    assert not (store.tmp_dir / f"{child.pid}-tree-abc").exists()


def test_result_with_link_records_both(tmp_path):
    store = Store(tmp_path)
    layer = store.commit_layer(_staged(store))
    store.put_result("key", (layer,), "COPY --from=a", link="content")
    assert store.get_record("content") == (layer,)
    assert store.get_link("key") == "content"


def test_result_without_link_remembers_none(tmp_path):
    store = Store(tmp_path)
    layer = store.commit_layer(_staged(store))
    store.put_result("key", (layer,), "RUN x")
    assert store.get_link("key") is None


def test_prune_all_forgets_links(tmp_path):
    store = Store(tmp_path)
    layer = store.commit_layer(_staged(store))
    store.put_result("key", (layer,), "COPY --from=a", link="content")
    store.close()
    prune(tmp_path, all_entries=True)
    assert Store(tmp_path).get_link("key") is None
