"""Messages between the build process, the namespace helper and a RUN.

Requests travel over a SOCK_STREAM socketpair as a 4-byte big-endian length
and a JSON body, with file descriptors attached through SCM_RIGHTS. Status
messages of one RUN travel over its own SOCK_SEQPACKET socketpair, one JSON
object per packet, so the several processes that write to it never mix
their bytes.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
from dataclasses import asdict, dataclass, field
from typing import Any

from minikit.executor.types import MountSpec, RunSpec

_HEADER = struct.Struct(">I")
# A request carries at most a few secrets of BuildKit's 500 KiB limit each.
MAX_REQUEST_BYTES = 64 * 1024 * 1024
MAX_FDS = 8
MAX_STATUS_BYTES = 64 * 1024


class ProtocolError(Exception):
    """A malformed or truncated message."""


def send_request(sock: socket.socket, body: dict[str, Any], fds: list[int]) -> None:
    """Send ``body`` with ``fds`` attached; the caller serializes concurrent senders."""
    payload = json.dumps(body, separators=(",", ":")).encode()
    frame = _HEADER.pack(len(payload)) + payload
    sent = socket.send_fds(sock, [frame], fds)
    if sent < len(frame):
        sock.sendall(frame[sent:])


def receive_request(sock: socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    """Receive one request and its descriptors; ``None`` at end of stream."""
    header, fds, _flags, _address = socket.recv_fds(sock, _HEADER.size, MAX_FDS)
    if not header:
        return None
    header += _read_exactly(sock, _HEADER.size - len(header))
    (length,) = _HEADER.unpack(header)
    if length > MAX_REQUEST_BYTES:
        raise ProtocolError(
            f"request of {length} bytes is larger than {MAX_REQUEST_BYTES}"
        )
    body = json.loads(_read_exactly(sock, length))
    return body, list(fds)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size > 0:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise ProtocolError("connection closed in the middle of a request")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def send_status(fd: int, message: dict[str, Any]) -> None:
    """Send one status packet on the SOCK_SEQPACKET socket ``fd``.

    A closed peer is ignored: the build process has stopped listening.
    """
    payload = json.dumps(message, separators=(",", ":")).encode()
    if len(payload) > MAX_STATUS_BYTES:
        message = {
            "type": "error",
            "message": f"status message of {len(payload)} bytes",
        }
        payload = json.dumps(message).encode()
    try:
        # One write(2) on a SOCK_SEQPACKET socket sends exactly one packet.
        os.write(fd, payload)
    except (BrokenPipeError, ConnectionResetError):
        pass


def receive_status(sock: socket.socket) -> dict[str, Any] | None:
    """Receive one status packet; ``None`` once every writer has closed its end."""
    packet = sock.recv(MAX_STATUS_BYTES)
    if not packet:
        return None
    message = json.loads(packet)
    if not isinstance(message, dict):
        raise ProtocolError(f"status packet is not a JSON object: {packet[:80]!r}")
    return message


@dataclass(frozen=True)
class RunRequest:
    """The namespace helper's input for one RUN.

    ``files`` maps ``hosts``, ``resolv.conf`` and ``hostname`` to the content
    of the generated ``/etc`` files. ``slirp4netns`` is the executable's path
    when the network mode is ``default``.
    """

    spec: RunSpec
    files: dict[str, str] = field(default_factory=dict)
    slirp4netns: str = ""


def encode_request(request: RunRequest) -> dict[str, Any]:
    """Return ``request`` as JSON-ready data; secret bytes become base64."""
    spec = asdict(request.spec)
    for mount in spec["mounts"]:
        mount["data"] = base64.b64encode(mount["data"]).decode()
    return {
        "type": "run",
        "spec": spec,
        "files": request.files,
        "slirp4netns": request.slirp4netns,
    }


def decode_request(body: dict[str, Any]) -> RunRequest:
    """Rebuild the ``RunRequest`` that ``encode_request`` turned into ``body``."""
    spec = dict(body["spec"])
    mounts = []
    for mount in spec.pop("mounts"):
        mount = dict(mount)
        mount["data"] = base64.b64decode(mount["data"])
        mounts.append(MountSpec(**mount))
    for name in ("args", "env"):
        spec[name] = tuple(spec[name])
    spec["extra_hosts"] = tuple(tuple(pair) for pair in spec["extra_hosts"])
    run_spec = RunSpec(mounts=tuple(mounts), **spec)
    return RunRequest(run_spec, dict(body["files"]), body["slirp4netns"])
