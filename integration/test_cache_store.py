"""The store under --root: killed builds, builds at once, ``du`` and ``prune``.

A build killed with SIGKILL at any moment must leave a store from which the
next build succeeds with the same output. Each kill point below waits for a
progress event of that phase. The reference output comes from a clean build
in a root of its own. SOURCE_DATE_EPOCH makes the image digests comparable.
"""

from __future__ import annotations

import signal

import pytest
from cache_support import (
    BackgroundBuild,
    Project,
    logged,
    started,
    wait_for_leftovers,
)
from fixtures.oci_tools import read_oci_archive

EPOCH = "1700000000"
KILLED = """\
FROM busybox:1.36
RUN echo one > /one
RUN echo kill-point && sleep 0.5 && echo two > /two
RUN head -c 3000000 /dev/zero > /big
COPY note.txt /note.txt
"""


def _reference(project: Project) -> str:
    out = project.folder / "reference.tar"
    project.build(
        "--build-arg",
        f"SOURCE_DATE_EPOCH={EPOCH}",
        "-o",
        f"type=oci,dest={out}",
        root=project.folder / "reference-root",
    )
    return read_oci_archive(out).manifest_digest


@pytest.fixture(scope="module")
def killed(run_minikit, base_image, tmp_path_factory):
    project = Project(tmp_path_factory.mktemp("killed"), run_minikit)
    project.write("Dockerfile", KILLED)
    project.write("note.txt", "note\n")
    return project, _reference(project)


KILL_POINTS = {
    "pull": started("FROM "),
    "run": logged("kill-point"),
    "export": started("exporting"),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_rebuild_after_sigkill(killed, minikit_config, point):
    project, reference = killed
    root = project.folder / f"root-{point}"
    out = project.folder / f"after-{point}.tar"
    args = ["--build-arg", f"SOURCE_DATE_EPOCH={EPOCH}", "-o", f"type=oci,dest={out}"]
    build = BackgroundBuild(
        project.args(*args, root=root), project.folder, minikit_config.env
    )
    build.wait_for(KILL_POINTS[point])
    build.signal(signal.SIGKILL)
    assert build.finish()[0] == -signal.SIGKILL
    assert wait_for_leftovers(str(root)) == []
    project.build(*args, root=root)
    assert read_oci_archive(out).manifest_digest == reference


def test_killed_build_debris_is_swept(killed, minikit_config):
    project, _ = killed
    root = project.folder / "root-debris"
    build = BackgroundBuild(project.args(root=root), project.folder, minikit_config.env)
    build.wait_for(logged("kill-point"))
    build.signal(signal.SIGKILL)
    build.finish()
    wait_for_leftovers(str(root))
    project.build(root=root)
    owned = [p.name for p in (root / "tmp").iterdir() if p.name.split("-")[0].isdigit()]
    assert owned == []


STAGE = """\
FROM busybox:1.36
RUN echo shared > /shared
RUN sleep 1 && echo {name} > /{name}
"""


@pytest.fixture(scope="module")
def concurrent(run_minikit, minikit_config, base_image, tmp_path_factory):
    """Two builds of different Dockerfiles, started together in one root."""
    folder = tmp_path_factory.mktemp("concurrent")
    projects = [Project(folder / name, run_minikit) for name in ("left", "right")]
    root = folder / "root"
    builds = []
    for project in projects:
        name = project.folder.name
        project.write("Dockerfile", STAGE.format(name=name))
        out = project.folder / "out"
        args = project.args("-o", f"type=local,dest={out}", root=root)
        builds.append(BackgroundBuild(args, project.folder, minikit_config.env))
    statuses = [build.finish() for build in builds]
    return projects, root, statuses


def test_concurrent_builds_succeed(concurrent):
    failed = [stderr[-2000:] for status, stderr in concurrent[2] if status != 0]
    assert failed == []


@pytest.mark.parametrize("index", [0, 1])
def test_concurrent_outputs(concurrent, index):
    project = concurrent[0][index]
    name = project.folder.name
    assert (project.folder / "out" / name).read_text() == f"{name}\n"


@pytest.mark.parametrize("index", [0, 1])
def test_concurrent_results_are_cached(concurrent, index):
    _, events = concurrent[0][index].build(root=concurrent[1])
    assert events.ran_runs() == []


@pytest.fixture(scope="module")
def stocked(run_minikit, base_image, tmp_path_factory):
    project = Project(tmp_path_factory.mktemp("stocked"), run_minikit)
    project.write("Dockerfile", "FROM busybox:1.36\nRUN echo x > /x\n")
    project.build()
    return project


def _du(project: Project, run_minikit) -> str:
    return run_minikit(["du", "--root", str(project.root)], cwd=project.folder).stdout


def test_du_lists_layers(stocked, run_minikit):
    text = _du(stocked, run_minikit)
    assert "base layer" in text
    assert "build layer" in text


def test_prune_keeps_base_layers(stocked, run_minikit):
    run_minikit(["prune", "--root", str(stocked.root)], cwd=stocked.folder)
    text = _du(stocked, run_minikit)
    assert "base layer" in text
    assert "build layer" not in text


def test_prune_all_empties_the_store(stocked, run_minikit):
    run_minikit(["prune", "--all", "--root", str(stocked.root)], cwd=stocked.folder)
    assert "layer" not in _du(stocked, run_minikit)


def test_prune_filter_until_keeps_recent(stocked, run_minikit):
    stocked.build()
    args = ["prune", "--all", "--filter", "until=24h", "--root", str(stocked.root)]
    run_minikit(args, cwd=stocked.folder)
    assert "build layer" in _du(stocked, run_minikit)


def test_prune_during_build_spares_its_layers(
    run_minikit, minikit_config, base_image, tmp_path
):
    project = Project(tmp_path, run_minikit)
    project.write(
        "Dockerfile",
        "FROM busybox:1.36\nRUN echo a > /a\nRUN echo prune-now && sleep 2\nRUN cat /a /bin/busybox > /b\n",
    )
    build = BackgroundBuild(project.args(), project.folder, minikit_config.env)
    build.wait_for(logged("prune-now"))
    run_minikit(["prune", "--all", "--root", str(project.root)], cwd=tmp_path)
    status, stderr = build.finish()
    assert status == 0, stderr
