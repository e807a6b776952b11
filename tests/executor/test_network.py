"""Tests of the netlink message that brings the loopback device up."""

from __future__ import annotations

import errno
import struct

from minikit.executor.network import (
    loopback_up_request,
    parse_netlink_ack,
    slirp_command,
)


def test_loopback_request_layout() -> None:
    message = loopback_up_request()
    length, kind, flags, _sequence, _port = struct.unpack_from("=IHHII", message)
    _family, _type, index, change_flags, change_mask = struct.unpack_from(
        "=BxHiII", message, 16
    )
    assert length == len(message) == 32
    assert kind == 16  # RTM_NEWLINK
    assert flags == 0x5  # NLM_F_REQUEST | NLM_F_ACK
    assert index == 1
    assert change_flags == 1  # IFF_UP
    assert change_mask == 1


def test_netlink_ack_success() -> None:
    reply = struct.pack("=IHHII", 36, 2, 0, 1, 0) + struct.pack("=i", 0) + bytes(16)
    assert parse_netlink_ack(reply) == 0


def test_netlink_ack_error() -> None:
    reply = (
        struct.pack("=IHHII", 36, 2, 0, 1, 0)
        + struct.pack("=i", -errno.EPERM)
        + bytes(16)
    )
    assert parse_netlink_ack(reply) == errno.EPERM


def test_netlink_ack_truncated() -> None:
    assert parse_netlink_ack(b"\0" * 8) == errno.EPROTO


def test_slirp_command_options() -> None:
    command = slirp_command("/usr/bin/slirp4netns", 4242, 7, 8)
    assert command[0] == "/usr/bin/slirp4netns"
    assert "--configure" in command
    assert "--mtu=65520" in command
    assert "--disable-host-loopback" in command
    assert "--ready-fd=7" in command
    assert "--exit-fd=8" in command
    assert command[-2:] == ["4242", "eth0"]


def test_pyroute2_encodes_loopback_request():
    from minikit.executor import network

    assert network.encode_loopback_request() == network.hand_built_loopback_request()
