"""``RUN --mount=type=ssh``, ``--ssh`` and Git over SSH, as root and rootless.

An OpenSSH ``ssh-agent`` owned by the user that runs minikit holds a key
that the test's ``sshd`` on 127.0.0.1 accepts. The RUN steps use ``ssh``,
``ssh-add`` and ``git`` copied from the host (``ssh_tools``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fixtures.sshd import SCP_HOST, Agent, make_key
from fixtures.tools import wait_until
from secrets_support import MODES, Builder, make_builder

AGENT_DOCKERFILE = """\
FROM busybox:1.36
COPY --from=tools / /
ENV GIT_SSH_COMMAND="ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
RUN --mount=type=ssh ssh-add -l > /keys.txt \\
 && echo "$SSH_AUTH_SOCK" > /sock.txt \\
 && { ssh-add -D 2>/dev/null && echo removed || echo refused; } > /remove.txt \\
 && ssh-add -l > /keys-after.txt
RUN --mount=type=ssh,id=default,target=/tmp/agent.sock,mode=741,uid=100,gid=102 \\
    --mount=type=ssh \\
    stat -c '%a %u %g %F' /tmp/agent.sock > /params.txt \\
 && echo "$SSH_AUTH_SOCK" > /first.txt
RUN { test -e /run/buildkit/ssh_agent.0 && echo stub || echo gone; } > /after.txt
ARG CLONE_URL
RUN --network=host --mount=type=ssh git clone -q "$CLONE_URL" /cloned \\
 && cat /cloned/README.md > /cloned.txt
ARG ADD_URL
ADD ${ADD_URL} /via-ssh
"""

KEYS_DOCKERFILE = """\
FROM busybox:1.36
COPY --from=tools / /
RUN --mount=type=ssh,required ssh-add -l > /keys.txt
"""


@pytest.fixture(scope="module", params=MODES)
def builder(request, base_image, tmp_path_factory) -> Builder:
    return make_builder(request.param, request, tmp_path_factory.mktemp("ssh"))


@pytest.fixture(scope="module")
def agent(builder, sshd):
    folder = builder.folder("agent")
    started = Agent(folder / "run", owner=builder.owner)
    started.add(sshd.client_key)
    yield started
    started.stop()


def _agent_fds(agent: Agent) -> int:
    return len(os.listdir(f"/proc/{agent.process.pid}/fd"))


def _proxy_folders() -> set[str]:
    return {name for name in os.listdir("/tmp") if name.startswith("minikit-ssh-")}


@pytest.fixture(scope="module")
def agent_build(builder, agent, sshd, git_servers, ssh_tools):
    context = builder.folder("agent-build")
    (context / "Dockerfile").write_text(AGENT_DOCKERFILE)
    builder.give(context)
    repos = git_servers.main.root
    fds_before = _agent_fds(agent)
    folders_before = _proxy_folders()
    args = ["build", "--allow", "network.host", "--ssh", "default"]
    args += ["--build-context", f"tools={ssh_tools}"]
    args += ["--build-arg", f"CLONE_URL={sshd.url(repos / 'public/mono.git')}"]
    args += ["--build-arg", f"ADD_URL={sshd.url(repos / 'private/plain.git')}#main"]
    env = {"SSH_AUTH_SOCK": str(agent.socket)}
    builder([*args, "-o", "type=local,dest=out", "."], context, env)
    settled = wait_until(lambda: _agent_fds(agent) == fds_before, timeout=10)
    return context / "out", settled, _proxy_folders() - folders_before


def test_agent_lists_key(agent_build, sshd):
    keys = (agent_build[0] / "keys.txt").read_text()
    assert sshd.client_key.fingerprint in keys
    assert "minikit-test-client" in keys


def test_default_socket_path(agent_build):
    assert (agent_build[0] / "sock.txt").read_text() == "/run/buildkit/ssh_agent.0\n"


def test_agent_is_read_only(agent_build, sshd):
    assert (agent_build[0] / "remove.txt").read_text() == "refused\n"
    assert (
        sshd.client_key.fingerprint in (agent_build[0] / "keys-after.txt").read_text()
    )


def test_socket_owner_and_mode(agent_build):
    assert (agent_build[0] / "params.txt").read_text() == "741 100 102 socket\n"


def test_auth_sock_is_first_mount(agent_build):
    assert (agent_build[0] / "first.txt").read_text() == "/tmp/agent.sock\n"


def test_socket_gone_after_step(agent_build):
    assert (agent_build[0] / "after.txt").read_text() == "gone\n"
    assert not (agent_build[0] / "run" / "buildkit").exists()


def test_agent_connections_closed(agent_build):
    assert agent_build[1]


def test_no_proxy_folders_left(agent_build):
    assert agent_build[2] == set()


def test_git_clone_over_ssh(agent_build):
    assert (agent_build[0] / "cloned.txt").read_text() == "mono readme\n"


def test_add_over_ssh(agent_build):
    assert (
        agent_build[0] / "via-ssh" / "hello.txt"
    ).read_text() == "hello from private\n"


def test_add_scp_form(builder, agent, sshd, git_servers):
    if not sshd.scp_ready:
        pytest.skip(f"port 22 of {SCP_HOST} is taken, so scp-like URLs have no server")
    context = builder.folder("scp")
    path = git_servers.main.root / "private/plain.git"
    (context / "Dockerfile").write_text(
        f"FROM busybox:1.36\nADD root@{SCP_HOST}:{path} /plain\n"
    )
    builder.give(context)
    args = ["build", "--ssh", "default", "-o", "type=local,dest=out", "."]
    builder(args, context, {"SSH_AUTH_SOCK": str(agent.socket)})
    assert (
        context / "out" / "plain" / "hello.txt"
    ).read_text() == "hello from private\n"


def test_add_over_ssh_needs_agent(builder, sshd, git_servers):
    context = builder.folder("no-agent")
    url = sshd.url(git_servers.main.root / "private/plain.git")
    (context / "Dockerfile").write_text(f"FROM busybox:1.36\nADD {url} /x\n")
    builder.give(context)
    result = builder(["build", "."], context, check=False)
    assert result.returncode != 0
    assert 'no SSH key "default" forwarded from the client' in result.stderr


# -- key files -----------------------------------------------------------------


def _keys_context(builder) -> Path:
    context = builder.folder("keys")
    (context / "Dockerfile").write_text(KEYS_DOCKERFILE)
    return context


def test_key_file_served(builder, ssh_tools):
    context = _keys_context(builder)
    key = make_key(context / "id_build", "key-file-comment")
    builder.give(context)
    args = ["build", "--ssh", f"default={key.private}"]
    args += ["--build-context", f"tools={ssh_tools}", "-o", "type=local,dest=out", "."]
    builder(args, context)
    keys = (context / "out" / "keys.txt").read_text()
    assert key.fingerprint in keys
    assert "key-file-comment" in keys


def test_passphrase_key_rejected(builder, ssh_tools):
    context = _keys_context(builder)
    key = make_key(context / "id_locked", "locked", passphrase="correct horse")
    builder.give(context)
    args = ["build", "--ssh", f"default={key.private}"]
    result = builder(
        [*args, "--build-context", f"tools={ssh_tools}", "."], context, check=False
    )
    assert result.returncode != 0
    assert "this private key is passphrase protected" in result.stderr
    assert "load build definition" not in result.stderr


# -- case ssh-mount-without-agent ------------------------------------------------


def test_optional_mount_skipped(builder):
    context = builder.case("ssh-mount-without-agent")
    builder(["build", "-o", "type=local,dest=out", "."], context)
    assert (context / "out" / "r27-optional.txt").read_text() == "none\n"
    assert (
        context / "out" / "r27-env.txt"
    ).read_text() == "/run/buildkit/ssh_agent.0\n"


def test_required_mount_fails(builder):
    context = builder.case("ssh-mount-without-agent")
    args = ["build", "-f", "Dockerfile.required", "."]
    result = builder(args, context, check=False)
    assert result.returncode != 0
    assert 'no SSH key "default" forwarded from the client' in result.stderr
    assert "Dockerfile.required:2" in result.stderr


def test_unknown_id_fails(builder, agent):
    context = builder.folder("unknown-id")
    (context / "Dockerfile").write_text(
        "FROM busybox:1.36\nRUN --mount=type=ssh,id=other,required true\n"
    )
    builder.give(context)
    args = ["build", "--ssh", "default", "."]
    result = builder(args, context, {"SSH_AUTH_SOCK": str(agent.socket)}, check=False)
    assert result.returncode != 0
    assert "unset ssh forward key other" in result.stderr
