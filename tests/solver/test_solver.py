"""The solver with stand-in ops: keys, hits, parallelism, failures, explanations."""

import threading
import time
from pathlib import Path

import pytest

from minikit.cache.store import Store
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
from minikit.progress import RecordingProgress, VertexCached
from minikit.solver.solver import Solver
from minikit.solver.types import SnapshotResult


class _FakeImpl:
    """Runs an op by recording it; a command of 'fail' raises."""

    def __init__(self, op, metadata, log):
        self.op = op
        self.metadata = metadata
        self.log = log

    def cache_base(self):
        return self.op.digest

    def content_key(self, index, result):
        return None

    def explain(self):
        if isinstance(self.op, ExecOp):
            return {
                "command": " ".join(self.op.meta.args),
                "env": {e.split("=")[0]: e for e in self.op.meta.env},
            }
        return {}

    def run(self, ctx, inputs):
        name = self.metadata.name
        self.log.append(("start", name, time.monotonic()))
        if isinstance(self.op, ExecOp):
            if self.op.meta.args[0] == "fail":
                raise SolveError("step failed")
            if self.op.meta.args[0] == "sleep":
                ctx.cancel.wait(float(self.op.meta.args[1]))
        self.log.append(("end", name, time.monotonic()))
        chain = inputs[0].chain if inputs else ()
        return SnapshotResult(chain)


class _Resolver:
    def __init__(self):
        self.log = []
        self.lock = threading.Lock()

    def resolve(self, op, metadata):
        return _FakeImpl(op, metadata, self.log)


def _exec(name, parent, args=("true",), env=(), step=""):
    meta = OpMetadata(description={"llb.customname": name}, step=step or name)
    return make_node(
        lambda inputs: ExecOp(
            ExecMeta(tuple(args), tuple(env)),
            (Mount("/", input=0, output=0),),
            inputs=inputs,
        ),
        (NodeOutput(parent),),
        meta,
    )


def _base():
    return make_node(
        lambda inputs: SourceOp("docker-image://example/base@sha256:" + "b" * 64),
        (),
        OpMetadata(description={"llb.customname": "FROM base"}),
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "root")


def test_second_solve_hits_cache(store):
    base = _base()
    head = _exec("RUN a", base, ("a",))
    resolver = _Resolver()
    Solver(store, resolver, RecordingProgress(), jobs=2).solve(
        marshal(NodeOutput(head))
    )
    progress = RecordingProgress()
    resolver.log.clear()
    Solver(store, resolver, progress, jobs=2).solve(marshal(NodeOutput(head)))
    assert resolver.log == []
    assert any(
        isinstance(e, VertexCached) and e.name == "RUN a" for e in progress.events
    )


def test_independent_vertices_overlap(store):
    base = _base()
    left = _exec("RUN left", base, ("sleep", "0.3", "left"))
    right = _exec("RUN right", base, ("sleep", "0.3", "right"))
    head = make_node(
        lambda inputs: ExecOp(
            ExecMeta(("join",)),
            (Mount("/", input=0, output=0), Mount("/r", input=1)),
            inputs=inputs,
        ),
        (NodeOutput(left), NodeOutput(right)),
        OpMetadata(description={"llb.customname": "join"}),
    )
    resolver = _Resolver()
    Solver(store, resolver, RecordingProgress(), jobs=2).solve(
        marshal(NodeOutput(head))
    )
    times = {(kind, name): at for kind, name, at in resolver.log}
    assert times[("start", "RUN right")] < times[("end", "RUN left")]
    assert times[("start", "RUN left")] < times[("end", "RUN right")]


def test_jobs_bound_serializes(store):
    base = _base()
    left = _exec("RUN left", base, ("sleep", "0.2", "left"))
    right = _exec("RUN right", base, ("sleep", "0.2", "right"))
    head = make_node(
        lambda inputs: ExecOp(
            ExecMeta(("join",)),
            (Mount("/", input=0, output=0), Mount("/r", input=1)),
            inputs=inputs,
        ),
        (NodeOutput(left), NodeOutput(right)),
        OpMetadata(description={"llb.customname": "join"}),
    )
    resolver = _Resolver()
    Solver(store, resolver, RecordingProgress(), jobs=1).solve(
        marshal(NodeOutput(head))
    )
    starts = [entry for entry in resolver.log if entry[1] in ("RUN left", "RUN right")]
    assert [kind for kind, _, _ in starts] == ["start", "end", "start", "end"]


def test_identical_vertex_runs_once(store):
    base = _base()
    first = _exec("RUN same", base, ("same",))
    second = _exec("RUN same", base, ("same",))
    head = make_node(
        lambda inputs: ExecOp(
            ExecMeta(("join",)),
            (Mount("/", input=0, output=0), Mount("/r", input=1)),
            inputs=inputs,
        ),
        (NodeOutput(first), NodeOutput(second)),
        OpMetadata(description={"llb.customname": "join"}),
    )
    resolver = _Resolver()
    Solver(store, resolver, RecordingProgress(), jobs=2).solve(
        marshal(NodeOutput(head))
    )
    assert [name for kind, name, _ in resolver.log if kind == "start"].count(
        "RUN same"
    ) == 1


def test_failure_cancels_siblings(store):
    base = _base()
    slow = _exec("RUN slow", base, ("sleep", "30"))
    bad = _exec("RUN bad", base, ("fail",))
    head = make_node(
        lambda inputs: ExecOp(
            ExecMeta(("join",)),
            (Mount("/", input=0, output=0), Mount("/r", input=1)),
            inputs=inputs,
        ),
        (NodeOutput(slow), NodeOutput(bad)),
        OpMetadata(description={"llb.customname": "join"}),
    )
    resolver = _Resolver()
    started = time.monotonic()
    with pytest.raises(SolveError, match="step failed"):
        Solver(store, resolver, RecordingProgress(), jobs=2).solve(
            marshal(NodeOutput(head))
        )
    assert time.monotonic() - started < 20
    assert ("start", "join") not in [(kind, name) for kind, name, _ in resolver.log]


def test_ignore_cache_reruns(store):
    base = _base()
    head = _exec("RUN a", base, ("a",))
    resolver = _Resolver()
    Solver(store, resolver, RecordingProgress(), jobs=1).solve(
        marshal(NodeOutput(head))
    )
    head.metadata.ignore_cache = True
    resolver.log.clear()
    Solver(store, resolver, RecordingProgress(), jobs=1).solve(
        marshal(NodeOutput(head))
    )
    assert ("start", "RUN a") in [(kind, name) for kind, name, _ in resolver.log]


def test_explain_names_changed_env(store):
    base = _base()
    first = _exec("RUN a", base, ("a",), env=("REV=1",), step="stage/1")
    Solver(store, _Resolver(), RecordingProgress(), jobs=1, explain=True).solve(
        marshal(NodeOutput(first))
    )
    second = _exec("RUN a", base, ("a",), env=("REV=2",), step="stage/1")
    solved = Solver(
        store, _Resolver(), RecordingProgress(), jobs=1, explain=True
    ).solve(marshal(NodeOutput(second)))
    reasons = [r for report in solved.reports for r in report.explanation]
    assert any("REV" in reason for reason in reasons)
