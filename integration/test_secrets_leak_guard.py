"""The leak guard covers every layer a build makes, not only the final image's."""

from __future__ import annotations

from pathlib import Path

import pytest

FIRST = "S3CR3T-VALUE-7391"
SECOND = "R0TATED-VALUE-5520"

TWO_STAGES = """\
FROM busybox:1.36 AS a
RUN --mount=type=secret,id=s cp /run/secrets/s /leak && echo other > /other
FROM busybox:1.36
COPY --from=a /leak /leak
"""

INTERMEDIATE_ONLY = """\
FROM busybox:1.36 AS a
RUN --mount=type=secret,id=s cp /run/secrets/s /leak && echo other > /other
FROM busybox:1.36
COPY --from=a /other /other
"""


def _context(tmp_path: Path, dockerfile: str) -> Path:
    folder = tmp_path / "ctx"
    folder.mkdir()
    (folder / "Dockerfile").write_text(dockerfile)
    (tmp_path / "s1.txt").write_text(FIRST)
    (tmp_path / "s2.txt").write_text(SECOND)
    return folder


def _grep_tree(root: Path, needle: bytes) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
            hits.append(str(path))
    return hits


@pytest.fixture
def store_dir(minikit_config, tmp_path) -> Path:
    return tmp_path / "root"


def test_rotated_secret_cannot_reuse_leaked_layer(run_minikit, base_image, tmp_path, store_dir):
    context = _context(tmp_path, TWO_STAGES)
    first = run_minikit(
        ["build", "--root", str(store_dir), "--secret", f"id=s,src={tmp_path / 's1.txt'}",
         "-o", f"type=local,dest={tmp_path / 'o1'}", str(context)],
        cwd=tmp_path, check=False,
    )
    assert first.returncode != 0
    assert "written into a layer" in first.stderr
    second = run_minikit(
        ["build", "--root", str(store_dir), "--secret", f"id=s,src={tmp_path / 's2.txt'}",
         "-o", f"type=local,dest={tmp_path / 'o2'}", str(context)],
        cwd=tmp_path, check=False,
    )
    assert second.returncode != 0
    assert not (tmp_path / "o2" / "leak").exists()
    assert _grep_tree(store_dir, FIRST.encode()) == []


def test_leak_in_intermediate_stage_fails(run_minikit, base_image, tmp_path, store_dir):
    context = _context(tmp_path, INTERMEDIATE_ONLY)
    result = run_minikit(
        ["build", "--root", str(store_dir), "--secret", f"id=s,src={tmp_path / 's1.txt'}",
         "--cache-to", f"type=local,dest={tmp_path / 'cache'},mode=max",
         "-o", f"type=local,dest={tmp_path / 'out'}", str(context)],
        cwd=tmp_path, check=False,
    )
    assert result.returncode != 0
    assert "written into a layer" in result.stderr
    assert FIRST not in result.stderr
    assert not (tmp_path / "cache").exists() or _grep_tree(tmp_path / "cache", FIRST.encode()) == []
    assert _grep_tree(store_dir, FIRST.encode()) == []
