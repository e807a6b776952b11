"""EXPOSE port specs: ``[ip:][hostport:]port[-end][/proto]`` to ``port/proto``.

This follows BuildKit's ``convert_expose.go``: the protocol defaults to tcp
and must be tcp, udp or sctp (any case), a range gives one entry per port,
ports are 16-bit, and a host part is checked and then ignored.
"""

from __future__ import annotations

import ipaddress

_PROTOCOLS = ("tcp", "udp", "sctp")
_MAX_PORT = 65535


class PortSpecError(ValueError):
    """An EXPOSE entry that BuildKit rejects; ``spec`` is the entry as expanded."""

    def __init__(self, message: str, spec: str) -> None:
        super().__init__(message)
        self.spec = spec


def parse_port_specs(specs: list[str]) -> list[str]:
    """Return ``port/proto`` for every port of every spec, in order."""
    ports: list[str] = []
    for spec in specs:
        ports.extend(parse_port_spec(spec))
    return ports


def parse_port_spec(spec: str) -> list[str]:
    """Return ``port/proto`` for each port of one spec."""
    ip, host_port, container = _split_parts(spec)
    container, _, proto = container.partition("/")
    if container == "":
        raise PortSpecError(f"no port specified: {spec}<empty>", spec)
    proto = proto.lower() or "tcp"
    if proto not in _PROTOCOLS:
        raise PortSpecError(f"invalid proto: {proto}", spec)
    _check_ip(ip, spec)
    start, end = _port_range(container, "containerPort", spec)
    if host_port:
        host_start, host_end = _port_range(host_port, "hostPort", spec)
        if end - start != host_end - host_start and end != start:
            raise PortSpecError(
                "invalid ranges specified for container and host Ports: "
                f"{container} and {host_port}",
                spec,
            )
    return [f"{port}/{proto}" for port in range(start, end + 1)]


def _split_parts(spec: str) -> tuple[str, str, str]:
    parts = spec.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return ":".join(parts[:-2]), parts[-2], parts[-1]


def _check_ip(ip: str, spec: str) -> None:
    if not ip:
        return
    text = ip[1:-1] if ip.startswith("[") and ip.endswith("]") else ip
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise PortSpecError(f"invalid IP address: {ip}", spec) from None


def _port_range(text: str, kind: str, spec: str) -> tuple[int, int]:
    bounds = text.split("-")
    if len(bounds) > 2 or not all(_is_port(bound) for bound in bounds):
        raise PortSpecError(f"invalid {kind}: {text}", spec)
    start, end = int(bounds[0]), int(bounds[-1])
    if end < start:
        raise PortSpecError(f"invalid {kind}: {text}", spec)
    return start, end


def _is_port(text: str) -> bool:
    return text.isdigit() and text.isascii() and int(text) <= _MAX_PORT
