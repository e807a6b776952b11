"""The generated ``/etc/hosts``, ``/etc/resolv.conf`` and ``/etc/hostname`` of a RUN."""

from __future__ import annotations

import ipaddress

HOST_RESOLV_CONF = "/etc/resolv.conf"
# systemd-resolved's list of real upstream servers, used when the host's
# resolv.conf only names its loopback stub.
RESOLVED_RESOLV_CONF = "/run/systemd/resolve/resolv.conf"
# slirp4netns forwards DNS queries sent to this address to the host's resolver.
SLIRP_NAMESERVER = "10.0.2.3"
# The fallback nameservers of Docker and BuildKit when no usable one is left.
DEFAULT_NAMESERVERS = (
    "8.8.8.8",
    "8.8.4.4",
    "2001:4860:4860::8888",
    "2001:4860:4860::8844",
)


def hosts_file(hostname: str, extra_hosts: tuple[tuple[str, str], ...]) -> str:
    """Return ``/etc/hosts``: localhost entries naming ``hostname``, then the extra hosts."""
    lines = [
        f"127.0.0.1\tlocalhost {hostname}",
        "::1\tlocalhost ip6-localhost ip6-loopback",
    ]
    lines.extend(f"{address}\t{name}" for name, address in extra_hosts)
    return "\n".join(lines) + "\n"


def hostname_file(hostname: str) -> str:
    """Return the content of ``/etc/hostname``."""
    return hostname + "\n"


def resolv_conf(host_text: str, network: str) -> str:
    """Return the RUN's ``resolv.conf`` derived from the host's ``host_text``.

    ``host`` networking keeps the file as it is. Otherwise loopback
    nameservers, which cannot be reached from a new network namespace, are
    dropped; slirp4netns gets its DNS forwarder instead of any nameserver.
    """
    if network == "host":
        return host_text
    other_lines: list[str] = []
    nameservers: list[str] = []
    for line in host_text.splitlines():
        fields = line.split()
        if fields[:1] != ["nameserver"]:
            other_lines.append(line)
        elif len(fields) > 1 and not _is_loopback(fields[1]):
            nameservers.append(fields[1])
    if network == "default":
        nameservers = [SLIRP_NAMESERVER]
    elif not nameservers:
        nameservers = list(DEFAULT_NAMESERVERS)
    lines = [line for line in other_lines if line.strip()]
    lines.extend(f"nameserver {address}" for address in nameservers)
    return "\n".join(lines) + "\n"


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def read_host_resolv_conf() -> str:
    """Read the host's resolv.conf, or systemd-resolved's upstream list behind its stub."""
    text = _read_text(HOST_RESOLV_CONF)
    nameservers = [line.split()[1] for line in text.splitlines() if _names_server(line)]
    if nameservers and all(_is_loopback(address) for address in nameservers):
        upstream = _read_text(RESOLVED_RESOLV_CONF)
        if upstream:
            return upstream
    return text


def _names_server(line: str) -> bool:
    fields = line.split()
    return len(fields) > 1 and fields[0] == "nameserver"


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""
