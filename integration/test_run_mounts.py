"""RUN --mount through ``minikit build``, as root and rootless.

The cases follow BuildKit's mount tests (``dockerfile_mount_test.go``):
testMountContext, testMountTmpfs, testMountTmpfsSize, testCacheMountUser,
testCacheMountDefaultID, testCacheMountSourceEscape and testMountRWCache,
plus read-only and read-write binds, ``.dockerignore`` in a context bind,
cache seeding with ``from``, sharing modes and persistence across builds.
"""

from __future__ import annotations

import pytest
from run_support import MODES, Build, Builder, make_builder

DOCKERFILE = """\
FROM busybox:1.36 AS stage
RUN mkdir -p /out /seed && echo from-stage > /out/file && echo seeded > /seed/s

FROM busybox:1.36
RUN mkdir -m 777 /results
RUN --mount=target=/context cat /context/hello.txt > /results/context.txt \\
 && ls -A /context > /results/context-ls.txt && stat -c '%u:%g' /context/hello.txt \\
 > /results/context-owner.txt
RUN --mount=target=/context touch /context/new 2> /results/context-ro.txt \\
 || echo rejected >> /results/context-ro.txt
RUN --mount=target=/context,rw echo changed > /context/hello.txt && touch /context/made \\
 && cat /context/hello.txt > /results/rw-inside.txt
RUN --mount=target=/context cat /context/hello.txt > /results/rw-after.txt \\
 && ls -A /context > /results/rw-after-ls.txt
RUN --mount=source=sub/file.txt,target=/etc/bound.txt cat /etc/bound.txt > /results/file-bind.txt
RUN --mount=from=stage,source=/out,target=/in cat /in/file > /results/from-stage.txt \\
 && touch /in/x 2> /results/from-stage-ro.txt || echo rejected >> /results/from-stage-ro.txt
RUN --mount=from=busybox:1.36,target=/img test -x /img/bin/busybox \\
 && echo image > /results/from-image.txt
RUN --mount=type=tmpfs,target=/scratch,size=128m echo kept-out > /scratch/file \\
 && grep ' /scratch ' /proc/mounts > /results/tmpfs-mount.txt
RUN ls -A /scratch > /results/tmpfs-after.txt 2>&1 || echo missing >> /results/tmpfs-after.txt
RUN --mount=type=cache,target=/cache-user,uid=1001,gid=1002,mode=0751 \\
 stat -c '%u %g %f' /cache-user > /results/cache-user.txt
RUN --mount=type=cache,target=/c1 echo shared > /c1/file
RUN --mount=type=cache,target=/c1 cat /c1/file > /results/cache-same-target.txt
RUN --mount=type=cache,target=/c2 ls -A /c2 > /results/cache-other-target.txt
RUN --mount=type=cache,id=named,target=/x echo named > /x/file
RUN --mount=type=cache,id=named,target=/y cat /y/file > /results/cache-named.txt
RUN --mount=type=cache,id=named,target=/r,ro touch /r/new 2> /results/cache-ro.txt \\
 || echo rejected >> /results/cache-ro.txt
RUN --mount=type=cache,id=seeded,target=/s,from=stage,source=/seed \\
 cat /s/s > /results/cache-seeded.txt
RUN --mount=type=cache,id=escape,target=/c mkdir -p /c/real && echo inside > /c/real/f \\
 && ln -sfn /etc /c/link && ln -sfn ../real /c/relative && ln -sfn /real /c/absolute
RUN --mount=type=cache,id=escape,target=/m,source=relative cat /m/f > /results/cache-relative.txt
RUN --mount=type=cache,id=escape,target=/m,source=absolute cat /m/f > /results/cache-absolute.txt
"""

CONTEXT_FILES = {
    "hello.txt": "hello from the context\n",
    "sub/file.txt": "a single file\n",
    "ignored.txt": "excluded by .dockerignore\n",
    "ignored-dir/inner.txt": "excluded too\n",
    ".dockerignore": "ignored.txt\nignored-dir\n",
}

# A second build reads the caches the first one filled, and runs the cache
# users of parallel stages; LOCKED_PROBE waits up to 2 s to see the other RUN.
LOCKED_PROBE = (
    "touch /l/$ME; i=0; while [ ! -e /l/$OTHER ] && [ $i -lt 20 ]; do sleep 0.1; "
    "i=$((i+1)); done; if [ -e /l/$OTHER ]; then echo together; else echo alone; fi "
    "> /$ME.txt; rm /l/$ME"
)
SECOND = f"""\
FROM busybox:1.36 AS first
ENV ME=first OTHER=second
RUN --mount=type=cache,id=lock,target=/l,sharing=locked {LOCKED_PROBE}

FROM busybox:1.36 AS second
ENV ME=second OTHER=first
RUN --mount=type=cache,id=lock,target=/l,sharing=locked {LOCKED_PROBE}

FROM busybox:1.36
COPY --from=first /first.txt /results/
COPY --from=second /second.txt /results/
RUN --mount=type=cache,id=named,target=/z cat /z/file > /results/persisted.txt
RUN --mount=type=cache,id=priv,target=/p,sharing=private echo private > /p/f \\
 && cat /p/f > /results/private.txt
"""

ESCAPE_LINK = """\
FROM busybox:1.36
RUN --mount=type=cache,id=escape,target=/c ln -sfn /etc /c/link
RUN --mount=type=cache,id=escape,target=/m,source=link cat /m/passwd
"""

ESCAPE_DOTS = """\
FROM busybox:1.36
RUN --mount=type=cache,id=escape,target=/m,source=../../../../etc cat /m/passwd
"""

RW_CACHE = """\
FROM busybox:1.36 AS producer
ARG SALT
RUN mkdir /out && echo same > /out/data
FROM busybox:1.36
RUN --mount=from=producer,source=/out,target=/in,rw cat /in/data /proc/sys/kernel/random/uuid \\
 > /stamp.txt
"""


@pytest.fixture(scope="module", params=MODES)
def builder(request, base_image, tmp_path_factory) -> Builder:
    return make_builder(request, tmp_path_factory)


@pytest.fixture(scope="module")
def mounts(builder: Builder) -> Build:
    context = builder.context("mounts", DOCKERFILE, CONTEXT_FILES)
    return builder.build(context)


@pytest.fixture(scope="module")
def second(builder: Builder, mounts: Build) -> Build:
    context = builder.context("second", SECOND)
    return builder.build(context, "--jobs", "2")


def test_context_mount(mounts):
    assert mounts.text("results/context.txt") == "hello from the context\n"


def test_context_mount_root_owned(mounts):
    assert mounts.text("results/context-owner.txt") == "0:0\n"


def test_context_mount_dockerignore(mounts):
    listed = mounts.text("results/context-ls.txt").split()
    assert "hello.txt" in listed
    assert "ignored.txt" not in listed
    assert "ignored-dir" not in listed


def test_context_mount_read_only(mounts):
    text = mounts.text("results/context-ro.txt")
    assert "Read-only file system" in text
    assert text.endswith("rejected\n")


def test_rw_bind_writes_discarded(mounts, builder):
    assert mounts.text("results/rw-inside.txt") == "changed\n"
    assert mounts.text("results/rw-after.txt") == "hello from the context\n"
    assert "made" not in mounts.text("results/rw-after-ls.txt").split()


def test_rw_bind_leaves_host_context(mounts, builder):
    context = builder.folder / "mounts"
    assert (context / "hello.txt").read_text() == "hello from the context\n"
    assert not (context / "made").exists()
    assert not (context / "new").exists()


def test_file_bind(mounts):
    assert mounts.text("results/file-bind.txt") == "a single file\n"


def test_bind_from_stage(mounts):
    assert mounts.text("results/from-stage.txt") == "from-stage\n"
    assert mounts.text("results/from-stage-ro.txt").endswith("rejected\n")


def test_bind_from_image(mounts):
    assert mounts.text("results/from-image.txt") == "image\n"


def test_tmpfs_size(mounts):
    fields = mounts.text("results/tmpfs-mount.txt").split()
    assert fields[2] == "tmpfs"
    assert "size=131072k" in fields[3].split(",")


def test_tmpfs_not_kept(mounts):
    assert mounts.text("results/tmpfs-after.txt").endswith("missing\n")


def test_cache_mount_user(mounts):
    assert mounts.text("results/cache-user.txt") == "1001 1002 41e9\n"


def test_cache_default_id_is_target(mounts):
    assert mounts.text("results/cache-same-target.txt") == "shared\n"
    assert mounts.text("results/cache-other-target.txt") == ""


def test_cache_named_id(mounts):
    assert mounts.text("results/cache-named.txt") == "named\n"


def test_cache_read_only(mounts):
    assert mounts.text("results/cache-ro.txt").endswith("rejected\n")


def test_cache_seeded_from_stage(mounts):
    assert mounts.text("results/cache-seeded.txt") == "seeded\n"


def test_cache_source_inside(mounts):
    assert mounts.text("results/cache-relative.txt") == "inside\n"
    assert mounts.text("results/cache-absolute.txt") == "inside\n"


def test_mount_stubs_not_in_output(mounts):
    for name in ("context", "in", "img", "scratch", "cache-user", "c1", "x", "s", "m"):
        assert not (mounts.output / name).exists(), name
    assert not (mounts.output / "etc/bound.txt").exists()


def test_cache_persists_across_builds(second):
    assert second.text("results/persisted.txt") == "named\n"


def test_cache_locked_serializes(second):
    assert second.text("results/first.txt") == "alone\n"
    assert second.text("results/second.txt") == "alone\n"


def test_cache_private(second):
    assert second.text("results/private.txt") == "private\n"


@pytest.mark.parametrize("dockerfile", [ESCAPE_LINK, ESCAPE_DOTS], ids=["link", "dots"])
def test_cache_source_escape(builder: Builder, dockerfile: str):
    context = builder.context("escape", dockerfile)
    build = builder.build(context, output="none", check=False)
    line = dockerfile.count("\n")
    assert build.result.returncode != 0
    assert f"Dockerfile:{line}: failed to mount /m: source path" in build.log
    assert "root:x:0:0" not in build.log


def test_rw_bind_cached_by_content(builder: Builder):
    context = builder.context("rw-cache", RW_CACHE)
    first = builder.build(context, "--build-arg", "SALT=1", output="local")
    again = builder.build(context, "--build-arg", "SALT=2", output="local")
    assert first.text("stamp.txt").startswith("same\n")
    assert again.text("stamp.txt") == first.text("stamp.txt")


@pytest.mark.parametrize("source", ["absent.txt", "ignored.txt"])
def test_context_bind_missing_source(builder: Builder, source: str):
    dockerfile = f"FROM busybox:1.36\nRUN --mount=source={source},target=/x cat /x\n"
    files = {"ignored.txt": "hidden\n", ".dockerignore": "ignored.txt\n"}
    context = builder.context("missing-source", dockerfile, files)
    build = builder.build(context, output="none", check=False)
    assert build.result.returncode != 0
    assert (
        f'Dockerfile:2: failed to compute cache key: "/{source}": not found'
        in build.log
    )
    assert "hidden" not in build.log
    assert "Traceback" not in build.log


def test_context_change_seen(builder: Builder):
    dockerfile = "FROM busybox:1.36\nRUN --mount=target=/c cat /c/data > /data.txt\n"
    context = builder.context("changing", dockerfile, {"data": "first\n"})
    first = builder.build(context)
    (context / "data").write_text("second\n")
    again = builder.build(context)
    assert first.text("data.txt") == "first\n"
    assert again.text("data.txt") == "second\n"
