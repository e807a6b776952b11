"""The default bound on parallel steps, imported caches, and cancelled siblings."""

import os

import pytest
from solver_support import Resolver

from minikit.errors import SolveError
from minikit.llb import (
    ExecMeta,
    ExecOp,
    Mount,
    NodeOutput,
    OpMetadata,
    SourceOp,
    make_node,
    marshal,
)
from minikit.progress import RecordingProgress, VertexCompleted
from minikit.solver.solver import MIN_DEFAULT_JOBS, Solver, default_jobs


def _base():
    return make_node(
        lambda inputs: SourceOp("docker-image://example/base@sha256:" + "b" * 64),
        (),
        OpMetadata(description={"llb.customname": "FROM base"}),
    )


def _exec(name, parent, args):
    meta = OpMetadata(description={"llb.customname": name})
    return make_node(
        lambda inputs: ExecOp(
            ExecMeta(tuple(args)), (Mount("/", input=0, output=0),), inputs=inputs
        ),
        (NodeOutput(parent),),
        meta,
    )


def _join(*parents):
    mounts = (Mount("/", input=0, output=0),) + tuple(
        Mount(f"/m{i}", input=i) for i in range(1, len(parents))
    )
    return make_node(
        lambda inputs: ExecOp(ExecMeta(("join",)), mounts, inputs=inputs),
        tuple(NodeOutput(p) for p in parents),
        OpMetadata(description={"llb.customname": "join"}),
    )


def test_default_jobs_has_a_floor():
    assert default_jobs() >= MIN_DEFAULT_JOBS


def test_default_jobs_follows_many_cpus(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert default_jobs() == 16


def test_four_sleeping_stages_overlap_with_default_jobs(store):
    base = _base()
    stages = [_exec(f"RUN {n}", base, ("sleep", "0.3", n)) for n in "abcd"]
    resolver = Resolver()
    Solver(store, resolver, RecordingProgress(), jobs=default_jobs()).solve(
        marshal(NodeOutput(_join(*stages)))
    )
    starts = [
        at
        for kind, name, at in resolver.log
        if kind == "start" and name.startswith("RUN ")
    ]
    ends = [
        at
        for kind, name, at in resolver.log
        if kind == "end" and name.startswith("RUN ")
    ]
    assert max(starts) < min(ends)


class _Importer:
    def __init__(self, chains):
        self.chains = chains
        self.asked = []

    def load(self, key):
        self.asked.append(key)
        return self.chains.get(key)


def test_imported_record_is_a_hit(store):
    head = _exec("RUN a", _base(), ("a",))
    resolver = Resolver()
    probe = Solver(store, Resolver(), RecordingProgress(), jobs=1).solve(
        marshal(NodeOutput(head))
    )
    other = type(store)(store.root.parent / "other")
    importer = _Importer({probe.head_key: ()})
    Solver(other, resolver, RecordingProgress(), jobs=1, importers=[importer]).solve(
        marshal(NodeOutput(head))
    )
    assert resolver.log == []


def test_imported_record_is_stored(store):
    head = _exec("RUN a", _base(), ("a",))
    probe = Solver(store, Resolver(), RecordingProgress(), jobs=1).solve(
        marshal(NodeOutput(head))
    )
    other = type(store)(store.root.parent / "other")
    Solver(
        other,
        Resolver(),
        RecordingProgress(),
        jobs=1,
        importers=[_Importer({probe.head_key: ()})],
    ).solve(marshal(NodeOutput(head)))
    assert other.get_record(probe.head_key) == ()


def test_sibling_of_failure_is_reported_cancelled(store):
    base = _base()
    head = _join(
        base,
        _exec("RUN slow", base, ("sleep", "30")),
        _exec("RUN bad", base, ("fail",)),
    )
    progress = RecordingProgress()
    with pytest.raises(SolveError):
        Solver(store, Resolver(), progress, jobs=4).solve(marshal(NodeOutput(head)))
    done = {e.name: e for e in progress.events if isinstance(e, VertexCompleted)}
    assert done["RUN slow"].cancelled


def test_failed_step_is_not_reported_cancelled(store):
    base = _base()
    head = _join(
        base,
        _exec("RUN slow", base, ("sleep", "30")),
        _exec("RUN bad", base, ("fail",)),
    )
    progress = RecordingProgress()
    with pytest.raises(SolveError):
        Solver(store, Resolver(), progress, jobs=4).solve(marshal(NodeOutput(head)))
    done = {e.name: e for e in progress.events if isinstance(e, VertexCompleted)}
    assert not done["RUN bad"].cancelled


def test_completed_steps_stay_cached(store):
    quick = _exec("RUN quick", _base(), ("quick",))
    gate = _exec("RUN gate", quick, ("sleep", "0.1"))
    bad = _exec("RUN bad", gate, ("fail",))
    with pytest.raises(SolveError):
        Solver(store, Resolver(), RecordingProgress(), jobs=4).solve(
            marshal(NodeOutput(bad))
        )
    resolver = Resolver()
    Solver(store, resolver, RecordingProgress(), jobs=4).solve(
        marshal(NodeOutput(gate))
    )
    assert resolver.log == []
