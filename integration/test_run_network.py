"""RUN --network and --security through ``minikit build``, as root and rootless.

``default`` reaches a host outside the machine's loopback through
slirp4netns: an HTTP server in a network namespace the test creates, joined
to the host by a veth pair. ``none`` has only ``lo``. ``host`` and
``insecure`` need their ``--allow`` entitlements, as in buildx. A sandboxed
RUN has the seccomp filter and BuildKit's default capabilities, and
``--security=insecure`` lifts both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from run_support import MODES, Build, Builder, NetnsServer, make_builder

# BuildKit's default capabilities (containerd's default OCI spec), with bits.
DEFAULT_CAPABILITIES = {
    "CAP_CHOWN": 0,
    "CAP_DAC_OVERRIDE": 1,
    "CAP_FOWNER": 3,
    "CAP_FSETID": 4,
    "CAP_KILL": 5,
    "CAP_SETGID": 6,
    "CAP_SETUID": 7,
    "CAP_SETPCAP": 8,
    "CAP_NET_BIND_SERVICE": 10,
    "CAP_NET_RAW": 13,
    "CAP_SYS_CHROOT": 18,
    "CAP_MKNOD": 27,
    "CAP_AUDIT_WRITE": 29,
    "CAP_SETFCAP": 31,
}

STATUS = "grep -E '^(Cap|Seccomp:)' /proc/self/status"


@pytest.fixture(scope="module", params=MODES)
def builder(request, base_image, tmp_path_factory) -> Builder:
    return make_builder(request, tmp_path_factory)


@pytest.fixture(scope="module")
def netns_server(tmp_path_factory) -> Iterator[NetnsServer]:
    server = NetnsServer(tmp_path_factory.mktemp("netns-server")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def network(builder: Builder, netns_server: NetnsServer) -> Build:
    dockerfile = f"""\
FROM busybox:1.36
RUN mkdir /results; timeout 30 wget -q -O /results/default.txt {netns_server.url}; \\
 ip -o link > /results/default-links.txt; ip -o -4 addr > /results/default-addr.txt
RUN --network=none ip -o link > /results/none-links.txt; \\
 timeout 10 wget -q -O - {netns_server.url} > /results/none.txt 2>&1 || echo unreachable \\
 >> /results/none.txt
RUN {STATUS} > /results/sandbox.txt
USER user
RUN {STATUS} > /tmp/user.txt
USER root
RUN --security=insecure {STATUS} > /results/insecure.txt; \\
 mount | grep ' /sys ' > /results/insecure-sys.txt
"""
    context = builder.context("network", dockerfile)
    return builder.build(context, "--allow", "security.insecure")


def _status(build: Build, name: str) -> dict[str, str]:
    lines = build.text(name).splitlines()
    return {
        key: value.strip() for key, _, value in (line.partition(":") for line in lines)
    }


def _mask(names) -> int:
    return sum(1 << DEFAULT_CAPABILITIES[name] for name in names)


def test_default_network_outbound(network, netns_server):
    assert network.text("results/default.txt") == netns_server.body


def test_default_network_tap(network):
    links = network.text("results/default-links.txt")
    assert " lo:" in links
    assert " eth0:" in links
    assert "inet 10.0.2.100/24" in network.text("results/default-addr.txt")


def test_none_only_loopback(network):
    links = [
        line.split(":")[1].strip()
        for line in network.text("results/none-links.txt").splitlines()
    ]
    assert links == ["lo"]


def test_none_unreachable(network, netns_server):
    text = network.text("results/none.txt")
    assert netns_server.body not in text
    assert text.endswith("unreachable\n")


def test_sandbox_seccomp(network):
    assert _status(network, "results/sandbox.txt")["Seccomp"] == "2"


def test_sandbox_default_capabilities(network):
    status = _status(network, "results/sandbox.txt")
    expected = _mask(DEFAULT_CAPABILITIES)
    for key in ("CapPrm", "CapEff", "CapBnd"):
        assert int(status[key], 16) == expected, key
    assert int(status["CapInh"], 16) == 0
    assert int(status["CapAmb"], 16) == 0


def test_sandbox_user_no_capabilities(network):
    status = _status(network, "tmp/user.txt")
    assert int(status["CapEff"], 16) == 0
    assert int(status["CapBnd"], 16) == _mask(DEFAULT_CAPABILITIES)
    assert status["Seccomp"] == "2"


def test_insecure_lifts_restrictions(network):
    status = _status(network, "results/insecure.txt")
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    assert status["Seccomp"] == "0"
    assert int(status["CapEff"], 16) == (1 << (last + 1)) - 1


def test_insecure_sys_writable(network):
    options = network.text("results/insecure-sys.txt").split("(")[1].split(",")
    assert options[0] == "rw"


@pytest.mark.parametrize(
    "flag,entitlement",
    [("--network=host", "network.host"), ("--security=insecure", "security.insecure")],
)
def test_entitlement_required(builder: Builder, flag: str, entitlement: str):
    context = builder.context("entitlement", f"FROM busybox:1.36\nRUN {flag} true\n")
    build = builder.build(context, output="none", check=False)
    assert build.result.returncode != 0
    errors = [line for line in build.log.splitlines() if line.startswith("ERROR: ")]
    assert errors[-1].startswith("ERROR: Dockerfile:2")
    assert entitlement in errors[-1]
    hints = [line for line in build.log.splitlines() if line.startswith("hint: ")]
    assert f"--allow {entitlement}" in hints[-1]
