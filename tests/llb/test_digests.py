"""Pinned op digests: a change to the canonical serialization must show up here."""

from minikit.llb import (
    ExecMeta,
    ExecOp,
    FileAction,
    FileOp,
    MergeOp,
    MkdirAction,
    Mount,
    NodeOutput,
    OpInput,
    OpMetadata,
    SourceOp,
    make_node,
    marshal,
)

IMAGE = "docker-image://docker.io/library/busybox:1.36@sha256:" + "a" * 64


def _source() -> SourceOp:
    return SourceOp(IMAGE, (("image.platform", "linux/amd64"),))


def test_source_digest_pinned():
    assert _source().digest == "sha256:0c7d6378870ef4f1c47a65c8e0ae350178a8301ff2ce2bc042ce2bd1873ec801"


def test_exec_digest_pinned():
    op = ExecOp(
        ExecMeta(("/bin/sh", "-c", "echo hi"), ("PATH=/bin",), "/", ""),
        (Mount("/", input=0, output=0),),
        inputs=(OpInput(_source().digest),),
    )
    assert op.digest == "sha256:b2ac118cf0c61bcb40a50841d917f4867669b59755086a3c3400e75bcd414e63"


def test_file_digest_pinned():
    action = FileAction(MkdirAction("/app", 0o755, make_parents=True), input=0, output=0)
    op = FileOp((action,), inputs=(OpInput(_source().digest),))
    assert op.digest == "sha256:a6953f544a9e256dc147e5a3b7010451cbac47ba063f52706f1c59662917d333"


def test_merge_digest_pinned():
    action = FileAction(MkdirAction("/app", 0o755, make_parents=True), input=0, output=0)
    file_op = FileOp((action,), inputs=(OpInput(_source().digest),))
    op = MergeOp(inputs=(OpInput(_source().digest), OpInput(file_op.digest)))
    assert op.digest == "sha256:315986856a14aa90bc6cbe97fc3a2f5ffcb82ec645564f2f0e648daa4dcf8467"


def test_digest_covers_inputs():
    first = ExecOp(ExecMeta(("true",)), (Mount("/", input=0, output=0),), inputs=(OpInput("sha256:" + "1" * 64),))
    second = ExecOp(ExecMeta(("true",)), (Mount("/", input=0, output=0),), inputs=(OpInput("sha256:" + "2" * 64),))
    assert first.digest != second.digest


def test_metadata_outside_digest():
    named = make_node(lambda inputs: _source(), (), OpMetadata(description={"llb.customname": "a"}))
    renamed = make_node(lambda inputs: _source(), (), OpMetadata(description={"llb.customname": "b"}))
    assert named.digest == renamed.digest


def test_marshal_orders_and_dedupes():
    base = make_node(lambda inputs: _source(), ())
    left = make_node(
        lambda inputs: ExecOp(ExecMeta(("left",)), (Mount("/", input=0, output=0),), inputs=inputs),
        (NodeOutput(base),),
    )
    right = make_node(
        lambda inputs: ExecOp(ExecMeta(("right",)), (Mount("/", input=0, output=0),), inputs=inputs),
        (NodeOutput(base),),
    )
    head = make_node(lambda inputs: MergeOp(inputs=inputs), (NodeOutput(left), NodeOutput(right)))
    definition = marshal(NodeOutput(head))
    order = list(definition.ops)
    assert len(order) == 4
    assert order[0] == base.digest
    assert order[-1] == head.digest
    assert definition.head is not None and definition.head.digest == head.digest


def test_dot_has_edges():
    base = make_node(lambda inputs: _source(), ())
    run = make_node(
        lambda inputs: ExecOp(ExecMeta(("true",)), (Mount("/", input=0, output=0),), inputs=inputs),
        (NodeOutput(base),),
        OpMetadata(description={"llb.customname": "[1/2] RUN true"}, stage="build"),
    )
    dot = marshal(NodeOutput(run)).to_dot()
    assert dot.startswith("digraph llb {")
    assert f'"{base.digest[7:19]}" -> "{run.digest[7:19]}";' in dot
    assert 'label="build"' in dot
