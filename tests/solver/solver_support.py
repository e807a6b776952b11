"""Stand-in op implementations for solver tests."""

import threading
import time

from minikit.errors import BuildInterrupted, SolveError
from minikit.llb import ExecOp
from minikit.solver.types import SnapshotResult


class FakeImpl:
    """Runs an op by recording it; a command of 'fail' raises, 'sleep N' waits."""

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
            env = {e.split("=")[0]: "h" + str(hash(e)) for e in self.op.meta.env}
            return {"command": " ".join(self.op.meta.args), "env": env}
        return {}

    def run(self, ctx, inputs):
        name = self.metadata.name
        self.log.append(("start", name, time.monotonic()))
        if isinstance(self.op, ExecOp):
            if self.op.meta.args[0] == "fail":
                raise SolveError("step failed")
            if self.op.meta.args[0] == "sleep":
                if ctx.cancel.wait(float(self.op.meta.args[1])):
                    raise BuildInterrupted("build cancelled")
        self.log.append(("end", name, time.monotonic()))
        chain = inputs[0].chain if inputs else ()
        return SnapshotResult(chain)


class Resolver:
    """Resolves every op to a FakeImpl sharing one log."""

    def __init__(self):
        self.log = []
        self.lock = threading.Lock()

    def resolve(self, op, metadata):
        return FakeImpl(op, metadata, self.log)
