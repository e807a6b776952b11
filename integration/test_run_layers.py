"""The layers RUN steps make, read from exported OCI archives, as root and rootless.

A RUN that deletes and replaces folders of the base image must give
``.wh.`` whiteouts and ``.wh..wh..opq`` markers, entries in walk order,
numeric owners without names, and mtimes clamped to ``SOURCE_DATE_EPOCH``.
Mount stubs (the files and folders made only to mount something on) must
not reach a layer, and their parents keep the mtime they had.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from run_support import MODES, Build, Builder, layer_members, make_builder

CASES = Path(__file__).resolve().parent / "cases"
EPOCH = 1700000000

CHANGES = """\
FROM busybox:1.36
RUN rm /bin/ls && rm -rf /var && rm -rf /home/user && mkdir /home/user \\
 && echo new > /home/user/file && mkdir -p /z/a/b /z/a-c && touch /z/a/b/f /z/a-c/g \\
 && chown 1000:50 /z/a && touch -d @1000 /z/old && touch /root
"""

STUBS = """\
FROM busybox:1.36
RUN --mount=type=secret,id=token,target=/home/user/.config/app/token \\
 --mount=type=tmpfs,target=/root/cache --mount=target=/mnt/context \\
 wc -c < /home/user/.config/app/token > /tmp/token-size
"""


@pytest.fixture(scope="module", params=MODES)
def builder(request, base_image, tmp_path_factory) -> Builder:
    return make_builder(request, tmp_path_factory)


@pytest.fixture(scope="module")
def changes(builder: Builder) -> Build:
    context = builder.context("changes", CHANGES)
    return builder.build(
        context, "--build-arg", f"SOURCE_DATE_EPOCH={EPOCH}", output="oci"
    )


def _last_layer(build: Build) -> dict:
    return {entry.name: entry for entry in build.image().layers[-1].entries}


def test_whiteout_for_deleted_file(changes):
    assert "bin/.wh.ls" in _last_layer(changes)


def test_whiteout_for_deleted_folder(changes):
    names = _last_layer(changes)
    assert ".wh.var" in names
    assert not [name for name in names if name.startswith("var/")]


def test_opaque_for_replaced_folder(changes):
    names = _last_layer(changes)
    assert "home/user/.wh..wh..opq" in names
    assert names["home/user/file"].content == b"new\n"


def test_final_filesystem(changes):
    files = changes.image().filesystem()
    assert "bin/ls" not in files
    assert "var" not in files
    assert [name for name in files if name.startswith("home/user/")] == [
        "home/user/file"
    ]


def _walk_key(name: str) -> list[str]:
    """Sort key of walk order: children after their folder, sorted by name.

    A whiteout takes the place of the name it hides, and an opaque marker
    comes first in its folder, as in containerd's layer diffs.
    """
    parts = name.split("/")
    if parts[-1] == ".wh..wh..opq":
        parts[-1] = ""
    elif parts[-1].startswith(".wh."):
        parts[-1] = parts[-1].removeprefix(".wh.")
    return parts


def test_entries_in_walk_order(changes):
    names = [entry.name for entry in changes.image().layers[-1].entries]
    assert names == sorted(names, key=_walk_key)


def test_numeric_owners(changes):
    entries = _last_layer(changes)
    assert (entries["z/a"].uid, entries["z/a"].gid) == (1000, 50)
    assert (entries["z/a/b"].uid, entries["z/a/b"].gid) == (0, 0)


def test_no_owner_names(changes):
    for member in layer_members(changes.output)[-1]:
        assert member.uname == "", member.name
        assert member.gname == "", member.name


def test_mtimes_clamped(changes):
    entries = _last_layer(changes)
    assert max(entry.mtime for entry in entries.values()) == EPOCH
    assert entries["z/old"].mtime == 1000


def test_touched_folder_in_layer(changes):
    assert "root" in _last_layer(changes)


@pytest.fixture(scope="module")
def stubs(builder: Builder) -> Build:
    context = builder.context("stubs", STUBS, {"token.txt": "not-a-real-token"})
    return builder.build(context, "--secret", "id=token,src=token.txt", output="oci")


def test_stubs_not_in_layer(stubs):
    names = [entry.name for entry in stubs.image().layers[-1].entries]
    assert names == ["tmp", "tmp/token-size"]


def test_stub_parents_keep_mtime(stubs, base_image):
    base = {entry.name: entry for entry in stubs.image().layers[0].entries}
    files = stubs.image().filesystem()
    for name in ("home/user", "root", "etc"):
        assert files[name].mtime == base[name].mtime, name


def test_secret_ran(stubs):
    assert _last_layer(stubs)["tmp/token-size"].content == b"16\n"


def _case_context(builder: Builder, name: str) -> Path:
    context = builder.folder / f"case-{name}"
    if context.exists():
        shutil.rmtree(context)
    shutil.copytree(CASES / name, context)
    for path in [context, *context.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return builder.adopt(context)


def test_case_secret_not_provided(builder: Builder):
    context = _case_context(builder, "secret-not-provided")
    build = builder.build(context)
    assert build.text("r23-file.txt") == "absent\n"
    assert not (build.output / "root/opt.txt").exists()
    assert not (build.output / "run").exists()


def test_case_secret_history_no_stub(builder: Builder):
    context = _case_context(builder, "build-arg-vs-secret-history")
    build = builder.build(
        context,
        "--build-arg",
        "API_TOKEN=arg-value-123",
        "--secret",
        "id=api,src=api.txt",
        output="oci",
    )
    names = [entry.name for entry in build.image().layers[-1].entries]
    assert names == ["r25-secret.txt"]
