"""``RUN --mount`` options through ``minikit build``, ported from BuildKit's mount tests.

One build covers the default bind of the context, a read-write bind whose
writes are dropped, tmpfs (its size, and that nothing of it stays), cache
mounts (owner and mode, the default id, an id from ENV of a base stage),
values expanded from ENV, a stage ARG and a global ARG, a relative target
joined with WORKDIR, and ``--network=none``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

DOCKERFILE = """\
ARG META_TYPE=tmpfs
FROM busybox:1.36 AS base
ENV CACHE_ID=lang-shared-cache

FROM base
ARG STAGE_TYPE=tmpfs
ARG META_TYPE
ENV TARGET=/envtarget
WORKDIR /work
RUN --mount=target=/context cat /context/ctx.txt > /from-context.txt
RUN --mount=type=bind,target=/rw,rw touch /rw/written && echo done > /rw-done.txt
RUN --mount=type=tmpfs,target=/tmp/t,size=128m echo x > /tmp/t/file \\
 && df -k /tmp/t | awk 'NR==2 {print $2}' > /tmpfs-size.txt
RUN test ! -e /tmp/t/file && echo gone > /tmpfs-gone.txt
RUN --mount=type=cache,target=/lang-owned,uid=1001,gid=1002,mode=0751 \\
    stat -c "%u %g %a" /lang-owned > /cache-owner.txt
RUN --mount=type=cache,target=/lang-c1 echo data > /lang-c1/file
RUN --mount=type=cache,target=/lang-c1 cat /lang-c1/file > /cache-same-target.txt
RUN --mount=type=cache,target=/lang-c2 ls -A /lang-c2 > /cache-other-target.txt
RUN --mount=type=cache,id=$CACHE_ID,target=/idc echo shared > /idc/f
RUN --mount=type=cache,id=lang-shared-cache,target=/idc2 cat /idc2/f > /cache-id.txt
RUN --mount=type=$STAGE_TYPE,target=$TARGET touch $TARGET/x && echo ok > /stage-arg.txt
RUN test ! -e /envtarget/x && echo tmpfs > /stage-arg-type.txt
RUN --mount=type=$META_TYPE,target=/meta touch /meta/f && echo ok > /meta-arg.txt
RUN --mount=type=tmpfs,target=rel touch /work/rel/f && echo ok > /relative.txt
RUN --network=none awk 'NR > 2 {print $1}' /proc/net/dev > /net-none.txt
"""


@pytest.fixture(scope="module")
def out(run_minikit, base_image, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("mounts")
    (folder / "Dockerfile").write_text(DOCKERFILE)
    (folder / "ctx.txt").write_text("from the context\n")
    run_minikit(["build", "-o", "type=local,dest=out", "."], cwd=folder)
    return folder / "out"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("from-context.txt", "from the context\n"),
        ("rw-done.txt", "done\n"),
        ("tmpfs-size.txt", "131072\n"),
        ("tmpfs-gone.txt", "gone\n"),
        ("cache-owner.txt", "1001 1002 751\n"),
        ("cache-same-target.txt", "data\n"),
        ("cache-other-target.txt", ""),
        ("cache-id.txt", "shared\n"),
        ("stage-arg.txt", "ok\n"),
        ("stage-arg-type.txt", "tmpfs\n"),
        ("meta-arg.txt", "ok\n"),
        ("relative.txt", "ok\n"),
        ("net-none.txt", "lo:\n"),
    ],
)
def test_mount_result(out, name, content):
    assert (out / name).read_text() == content


@pytest.mark.parametrize("path", ["rw", "tmp/t", "lang-owned", "envtarget", "meta"])
def test_mount_leaves_no_trace(out, path):
    assert not (out / path).exists()


def test_relative_target_left_no_files(out):
    assert not (out / "work" / "rel" / "f").exists()
