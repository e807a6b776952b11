"""--explain-cache: which step a miss is compared with, and what it names."""

from solver_support import Resolver

from minikit.llb import (
    ExecMeta,
    ExecOp,
    Mount,
    NodeOutput,
    OpMetadata,
    SourceOp,
    SourceRange,
    make_node,
    marshal,
)
from minikit.progress import RecordingProgress
from minikit.solver.explain import explain_miss
from minikit.solver.solver import Solver


def _image(tag):
    return make_node(
        lambda inputs: SourceOp(f"docker-image://example/base@sha256:{tag * 64}"),
        (),
        OpMetadata(description={"llb.customname": "FROM base"}),
    )


def _run(parent, command, env=(), line=2):
    meta = OpMetadata(
        description={"llb.customname": f"[2/2] RUN {command}"},
        stage="stage-0",
        step=f"Dockerfile:stage-0:RUN {command}",
        locations=(SourceRange("Dockerfile", line, line),),
    )
    return make_node(
        lambda inputs: ExecOp(
            ExecMeta(("sh", "-c", command), tuple(env)),
            (Mount("/", input=0, output=0),),
            inputs=inputs,
        ),
        (NodeOutput(parent),),
        meta,
    )


def _reasons(store, head):
    solved = Solver(store, Resolver(), RecordingProgress(), jobs=1, explain=True).solve(
        marshal(NodeOutput(head))
    )
    return [reason for report in solved.reports for reason in report.explanation]


def test_changed_command_is_named(store):
    _reasons(store, _run(_image("a"), "echo one"))
    reasons = _reasons(store, _run(_image("a"), "echo two"))
    assert reasons == ["command changed: was sh -c echo one"]


def test_changed_base_image_is_named(store):
    _reasons(store, _run(_image("a"), "echo one"))
    reasons = _reasons(store, _run(_image("b"), "echo one"))
    assert reasons[0].startswith(
        "base image changed: docker-image://example/base@sha256:aaa"
    )


def test_changed_env_names_the_variable(store):
    _reasons(store, _run(_image("a"), "echo", env=("REV=1", "KEEP=x")))
    reasons = _reasons(store, _run(_image("a"), "echo", env=("REV=2", "KEEP=x")))
    assert reasons == ["build arg or env value changed: REV"]


def test_env_values_are_not_stored(store):
    _reasons(store, _run(_image("a"), "echo", env=("TOKEN=hunter2-value",)))
    rows = store.query("SELECT components FROM explain")
    assert not any("hunter2-value" in row[0] for row in rows)


def test_hit_writes_no_explain_rows(store):
    head = _run(_image("a"), "echo one")
    _reasons(store, head)
    before = store.query("SELECT step, updated FROM explain")
    _reasons(store, head)
    assert store.query("SELECT step, updated FROM explain") == before


def test_repeated_step_text_keeps_two_records(store):
    first = _run(_image("a"), "make", line=2)
    second = _run(first, "make", line=3)
    _reasons(store, second)
    steps = {
        row[0]
        for row in store.query("SELECT step FROM explain WHERE step NOT LIKE 'slot:%'")
    }
    assert steps == {"Dockerfile:stage-0:RUN make", "Dockerfile:stage-0:RUN make#2"}


def test_files_summarised_after_five():
    before = {"files": {f"/f{i}": "a" for i in range(8)}}
    after = {"files": {f"/f{i}": "b" for i in range(8)}}
    assert explain_miss(before, after) == (
        "files changed: /f0, /f1, /f2, /f3, /f4 and 3 more",
    )


def test_no_cache_reason():
    assert "--no-cache" in explain_miss(None, {}, ignore_cache=True)[0]
