"""Tests of the generated /etc/hosts, /etc/resolv.conf and /etc/hostname."""

from __future__ import annotations

from minikit.executor.etcfiles import hostname_file, hosts_file, resolv_conf

HOST_RESOLV = (
    "# generated\nsearch example.org\nnameserver 127.0.0.53\nnameserver 192.0.2.1\n"
    "nameserver ::1\noptions edns0\n"
)


def test_hosts_file_default() -> None:
    assert hosts_file("buildkitsandbox", ()) == (
        "127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    )


def test_hosts_file_extra_hosts() -> None:
    text = hosts_file("box", (("registry.local", "10.1.2.3"), ("db", "::2")))
    assert text.splitlines()[2:] == ["10.1.2.3\tregistry.local", "::2\tdb"]


def test_hostname_file() -> None:
    assert hostname_file("box") == "box\n"


def test_resolv_conf_drops_loopback() -> None:
    text = resolv_conf(HOST_RESOLV, "none")
    assert "nameserver 192.0.2.1" in text.splitlines()
    assert "127.0.0.53" not in text
    assert "::1" not in text
    assert "search example.org" in text.splitlines()
    assert "options edns0" in text.splitlines()


def test_resolv_conf_defaults_when_only_loopback() -> None:
    text = resolv_conf("nameserver 127.0.0.1\n", "none")
    assert "nameserver 8.8.8.8" in text.splitlines()


def test_resolv_conf_slirp_forwarder() -> None:
    nameservers = [
        line
        for line in resolv_conf(HOST_RESOLV, "default").splitlines()
        if "nameserver" in line
    ]
    assert nameservers == ["nameserver 10.0.2.3"]


def test_resolv_conf_host_unchanged() -> None:
    assert resolv_conf(HOST_RESOLV, "host") == HOST_RESOLV
