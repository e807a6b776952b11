"""Tests of the request and status messages between the build process and the helper."""

from __future__ import annotations

import os
import socket

from minikit.executor.protocol import (
    RunRequest,
    decode_request,
    encode_request,
    receive_request,
    receive_status,
    send_request,
    send_status,
)
from minikit.executor.types import MountSpec, RunSpec

SPEC = RunSpec(
    rootfs="/tmp/rootfs",
    args=("/bin/sh", "-c", "true"),
    env=("A=1",),
    mounts=(
        MountSpec(
            dest="/run/secrets/x", type="secret", data=b"\x00secret\xff", mode=0o400
        ),
    ),
    extra_hosts=(("registry", "10.0.0.1"),),
)


def test_request_round_trip() -> None:
    request = RunRequest(
        SPEC, {"hosts": "127.0.0.1 localhost\n"}, "/usr/bin/slirp4netns"
    )
    assert decode_request(encode_request(request)) == request


def test_request_keeps_secret_out_of_json_text() -> None:
    body = encode_request(RunRequest(SPEC))
    assert "secret\xff" not in str(body)


def test_mount_spec_repr_hides_data() -> None:
    assert "data=" not in repr(SPEC.mounts[0])


def test_request_with_descriptors() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    read_end, write_end = os.pipe()
    big = RunSpec(rootfs="/r", args=("x",) * 50000, env=())
    try:
        send_request(left, encode_request(RunRequest(big)), [write_end])
        received = receive_request(right)
        assert received is not None
        body, fds = received
        assert decode_request(body).spec == big
        assert len(fds) == 1
        os.write(fds[0], b"through")
        assert os.read(read_end, 7) == b"through"
        for fd in fds:
            os.close(fd)
    finally:
        for fd in (read_end, write_end):
            os.close(fd)
        left.close()
        right.close()


def test_request_end_of_stream() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    left.close()
    assert receive_request(right) is None
    right.close()


def test_status_packets_keep_boundaries() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    send_status(left.fileno(), {"type": "error", "message": "one"})
    send_status(left.fileno(), {"type": "exit", "code": 3})
    left.close()
    assert receive_status(right) == {"type": "error", "message": "one"}
    assert receive_status(right) == {"type": "exit", "code": 3}
    assert receive_status(right) is None
    right.close()


def test_status_to_closed_peer_is_ignored() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    right.close()
    send_status(left.fileno(), {"type": "exit", "code": 0})
    left.close()
