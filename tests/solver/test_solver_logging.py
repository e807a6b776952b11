"""A step that raises a non-minikit exception: one error for the user, a debug log line."""

import logging

import pytest
from solver_support import FakeImpl, Resolver

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
from minikit.progress import RecordingProgress
from minikit.solver.solver import Solver

SOLVER_LOGGER = "minikit.solver.solver"


class _CrashingImpl(FakeImpl):
    """Raises an exception outside minikit's error tree, as a bug in an op would."""

    def run(self, ctx, inputs):
        if isinstance(self.op, ExecOp):
            raise RuntimeError("unexpected state")
        return super().run(ctx, inputs)


class _CrashingResolver(Resolver):
    def resolve(self, op, metadata):
        return _CrashingImpl(op, metadata, self.log)


def _definition():
    base = make_node(
        lambda inputs: SourceOp("docker-image://example/base@sha256:" + "c" * 64),
        (),
        OpMetadata(description={"llb.customname": "FROM base"}),
    )
    run = make_node(
        lambda inputs: ExecOp(
            ExecMeta(("crash",)), (Mount("/", input=0, output=0),), inputs=inputs
        ),
        (NodeOutput(base),),
        OpMetadata(description={"llb.customname": "RUN crash"}),
    )
    return marshal(NodeOutput(run))


def _solve(store):
    with pytest.raises(SolveError) as caught:
        Solver(store, _CrashingResolver(), RecordingProgress(), jobs=1).solve(
            _definition()
        )
    return caught.value


def test_crash_becomes_solve_error(store):
    error = _solve(store)
    assert error.message == "failed to run RUN crash: unexpected state"


def test_crash_not_logged_as_warning(store, caplog):
    caplog.set_level(logging.WARNING, logger=SOLVER_LOGGER)
    _solve(store)
    assert [r for r in caplog.records if r.name == SOLVER_LOGGER] == []


def test_crash_traceback_in_debug_log(store, caplog):
    caplog.set_level(logging.DEBUG, logger=SOLVER_LOGGER)
    _solve(store)
    failures = [r for r in caplog.records if "step RUN crash failed" in r.getMessage()]
    assert failures[0].levelno == logging.DEBUG
    assert failures[0].exc_info is not None
