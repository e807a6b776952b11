"""Networking of a RUN: the loopback device and slirp4netns.

The loopback device is brought up with one RTM_NEWLINK netlink message
that pyroute2 encodes. Opening pyroute2's ``IPRoute`` in every RUN took
about 5 ms, and importing pyroute2 into the helper made each fork of it
about 1.3 ms slower (measured on the 2-core test machine), so a short-lived
child of the helper imports pyroute2 once, encodes the message and hands
the bytes back; each RUN then sends those bytes on a plain netlink socket.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import struct

from minikit.executor.syscalls import SetupError

SLIRP4NETNS = "slirp4netns"
TUN_DEVICE = "/dev/net/tun"
# The tap device slirp4netns creates in the RUN's network namespace.
TAP_DEVICE = "eth0"
# The largest MTU slirp4netns accepts is 65521; rootlesskit uses 65520.
SLIRP_MTU = 65520


# An RTM_NEWLINK request that sets IFF_UP on interface index 1, which is
# the loopback device in every network namespace (LOOPBACK_IFINDEX).
_NETLINK_HEADER = struct.Struct("=IHHII")
_IFINFO = struct.Struct("=BxHiII")
_RTM_NEWLINK = 16
_NLMSG_ERROR = 2
_NLM_F_REQUEST = 0x1
_NLM_F_ACK = 0x4
_IFF_UP = 0x1
_LOOPBACK_INDEX = 1


def hand_built_loopback_request() -> bytes:
    """Return the loopback request built with ``struct``, to check pyroute2's against."""
    length = _NETLINK_HEADER.size + _IFINFO.size
    header = _NETLINK_HEADER.pack(
        length, _RTM_NEWLINK, _NLM_F_REQUEST | _NLM_F_ACK, 1, 0
    )
    body = _IFINFO.pack(socket.AF_UNSPEC, 0, _LOOPBACK_INDEX, _IFF_UP, _IFF_UP)
    return header + body


def encode_loopback_request() -> bytes:
    """Return the loopback request as pyroute2 encodes it (imports pyroute2)."""
    from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST
    from pyroute2.netlink.rtnl import RTM_NEWLINK
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

    message = ifinfmsg()
    message["family"] = socket.AF_UNSPEC
    message["index"] = _LOOPBACK_INDEX
    message["flags"] = _IFF_UP
    message["change"] = _IFF_UP
    message["header"]["type"] = RTM_NEWLINK
    message["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK
    message["header"]["sequence_number"] = 1
    message.encode()
    return bytes(message.data)


# The pyroute2 encoder child: (pid, read end of its pipe), then the bytes.
_encoder: tuple[int, int] | None = None
_loopback_request: bytes | None = None


def start_loopback_encoder() -> None:
    """Fork the child that encodes the loopback request; the helper calls this once."""
    global _encoder
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            from minikit.executor.syscalls import PR_SET_PDEATHSIG, prctl

            # Dies with the helper, so a killed helper leaves no encoder behind.
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            os.close(read_fd)
            os.write(write_fd, encode_loopback_request())
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    _encoder = (pid, read_fd)


def loopback_up_request() -> bytes:
    """Return the encoded loopback request, waiting for the encoder the first time.

    Call it in the helper before forking a RUN, so the RUN inherits the bytes.
    """
    global _encoder, _loopback_request
    if _loopback_request is not None:
        return _loopback_request
    if _encoder is None:
        start_loopback_encoder()
    assert _encoder is not None
    pid, read_fd = _encoder
    chunks = []
    while chunk := os.read(read_fd, 4096):
        chunks.append(chunk)
    os.close(read_fd)
    os.waitpid(pid, 0)
    _encoder = None
    data = b"".join(chunks)
    if not data:
        raise SetupError(
            "failed to set up the network: pyroute2 could not encode the loopback request",
            hint="install pyroute2 into minikit's environment (pip install pyroute2)",
        )
    _loopback_request = data
    return data


def bring_up_loopback() -> None:
    """Set ``lo`` up in the calling process's network namespace."""
    try:
        with socket.socket(
            socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE
        ) as sock:
            sock.send(loopback_up_request())
            reply = sock.recv(4096)
    except OSError as error:
        raise SetupError.from_os_error("bring up", "lo", error) from error
    code = parse_netlink_ack(reply)
    if code != 0:
        raise SetupError.from_errno("bring up", "lo", code)


def parse_netlink_ack(reply: bytes) -> int:
    """Return the errno of a netlink acknowledgement, 0 for success."""
    if len(reply) < _NETLINK_HEADER.size + 4:
        return errno.EPROTO
    _length, kind, _flags, _sequence, _port = _NETLINK_HEADER.unpack_from(reply)
    if kind != _NLMSG_ERROR:
        return errno.EPROTO
    negative_errno: int = struct.unpack_from("=i", reply, _NETLINK_HEADER.size)[0]
    return -negative_errno


def find_slirp4netns() -> str:
    """Return the path of slirp4netns, or raise ``SetupError`` naming the package."""
    path = shutil.which(SLIRP4NETNS)
    if path is None:
        raise SetupError(
            "failed to set up the default network: slirp4netns was not found in PATH",
            hint="install the Debian package slirp4netns, or use --network=none or --network=host",
        )
    return path


def check_tun_device() -> None:
    """Raise ``SetupError`` unless this process may open the TUN device.

    slirp4netns opens it inside the RUN's user namespace with the invoking
    user's permissions, so a rootless build needs the usual mode 0666.
    """
    if not os.access(TUN_DEVICE, os.R_OK | os.W_OK):
        raise SetupError(
            f"failed to set up the default network: {TUN_DEVICE} is missing or not "
            "readable and writable by this user",
            hint=f"make {TUN_DEVICE} mode 0666 (as Debian's udev rules do), "
            "or use --network=none or --network=host",
        )


def slirp_command(executable: str, pid: int, ready_fd: int, exit_fd: int) -> list[str]:
    """Return the argv that attaches slirp4netns to the network namespace of ``pid``."""
    return [
        executable,
        "--configure",
        f"--mtu={SLIRP_MTU}",
        "--disable-host-loopback",
        f"--ready-fd={ready_fd}",
        f"--exit-fd={exit_fd}",
        str(pid),
        TAP_DEVICE,
    ]


def wait_until_ready(ready_fd: int) -> None:
    """Block until slirp4netns reports that the tap device is configured.

    slirp4netns writes ``1`` to its ready fd; end of file means it exited
    first. The helper sends slirp4netns's stderr to the build process then.
    """
    data = os.read(ready_fd, 1)
    os.close(ready_fd)
    if data != b"1":
        raise SetupError(
            "failed to set up the default network: slirp4netns exited before it was ready",
            hint="run slirp4netns by hand to see why, or use --network=none",
        )
