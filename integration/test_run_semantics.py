"""RUN through ``minikit build``, as root and rootless: command, environment, users.

One build per mode runs every RUN of ``DOCKERFILE`` and writes what each saw
into ``/results``; the tests read the local output. Failing builds (a
non-zero exit, an unknown user or group) run separately and check the error
report: the command, the exit code, the last output lines and the line.
"""

from __future__ import annotations

import re

import pytest
from run_support import MODES, Build, Builder, make_builder

DOCKERFILE = """\
FROM busybox:1.36
ARG STAGE_ARG=from-arg
ENV IMAGE_ENV=from-env
RUN mkdir -m 777 /results && env > /results/env.txt && umask > /results/umask.txt \\
 && cat > /results/stdin.txt && echo streamed-to-progress
RUN ["/bin/sh", "-c", "echo exec-form:$0 > /results/exec.txt"]
SHELL ["/bin/sh", "-u", "-c"]
RUN echo "flags:$-" > /results/shell.txt
SHELL ["/bin/sh", "-c"]
RUN cat /proc/1/cmdline > /results/pid1.txt; echo $$ > /results/command-pid.txt; \
 cat /proc/self/uid_map > /results/uid_map.txt; cat /proc/self/gid_map > /results/gid_map.txt
RUN sh -c 'sleep 2 & echo $! > /tmp/orphan'; pid=$(cat /tmp/orphan); i=0; \\
 while [ -e /proc/$pid ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; \\
 if [ -e /proc/$pid ]; then grep State /proc/$pid/status; else echo reaped; fi \\
 > /results/orphan.txt
RUN trap 'echo forwarded > /results/signal.txt; exit 0' TERM; kill -TERM 1; \\
 sleep 5 & wait $!
RUN ls /dev > /results/dev.txt; head -c 3 /dev/zero | wc -c > /results/zero.txt; \\
 echo x > /dev/full 2> /results/full.txt; \\
 grep -E ' /(proc|sys|dev|dev/pts|dev/shm) ' /proc/mounts > /results/mounts.txt; \\
 cp /etc/hosts /etc/resolv.conf /etc/hostname /results/; hostname > /results/uts.txt
WORKDIR /gone
RUN rmdir /gone
USER user
RUN pwd > /tmp/cwd.txt && stat -c '%u:%g' /gone > /results/cwd-owner.txt
RUN id -u > /results/user-name.txt; id -g >> /results/user-name.txt; \\
 grep Groups /proc/self/status >> /results/user-name.txt; echo $HOME >> /results/user-name.txt
USER 1000
RUN id -u > /results/user-uid.txt; id -g >> /results/user-uid.txt; \\
 grep Groups /proc/self/status >> /results/user-uid.txt
USER 1000:50
RUN id -u > /results/user-pair.txt; id -g >> /results/user-pair.txt; \\
 grep Groups /proc/self/status >> /results/user-pair.txt
USER user:staff
RUN id -g > /results/user-group-name.txt; grep Groups /proc/self/status >> /results/user-group-name.txt
USER 4242
RUN id -u > /results/user-unknown-uid.txt; id -g >> /results/user-unknown-uid.txt; \\
 echo $HOME >> /results/user-unknown-uid.txt
USER nobody
RUN id -u > /results/user-nobody.txt
"""

FAILING = """\
FROM busybox:1.36
RUN echo before
RUN for i in $(seq 1 15); do echo line-$i; done; echo to-stderr >&2; exit 3
"""

UNKNOWN_USER = """\
FROM busybox:1.36
USER nosuchuser
RUN echo should-not-run
"""

UNKNOWN_GROUP = """\
FROM busybox:1.36
USER user:nosuchgroup
RUN echo should-not-run
"""

# An environment variable of minikit's own process that no RUN may see.
LEAK_PROBE = "MINIKIT_RUN_ENV_PROBE"


@pytest.fixture(scope="module", params=MODES)
def builder(request, base_image, tmp_path_factory) -> Builder:
    return make_builder(request, tmp_path_factory)


@pytest.fixture(scope="module")
def semantics(builder: Builder) -> Build:
    context = builder.context("semantics", DOCKERFILE)
    return builder.build(
        context,
        "--build-arg",
        "HTTP_PROXY=http://proxy.invalid:3128",
        "--add-host",
        "extra.test:10.1.2.3",
        env={LEAK_PROBE: "leaked"},
    )


def _env(build: Build) -> dict[str, str]:
    pairs = (line.partition("=") for line in build.text("results/env.txt").splitlines())
    return {name: value for name, _, value in pairs}


def test_env_image_arg_proxy(semantics):
    env = _env(semantics)
    assert env["IMAGE_ENV"] == "from-env"
    assert env["STAGE_ARG"] == "from-arg"
    assert env["HTTP_PROXY"] == "http://proxy.invalid:3128"
    assert env["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert env["HOME"] == "/root"


def test_env_hides_build_process(semantics):
    env = _env(semantics)
    assert LEAK_PROBE not in env
    assert "XDG_DATA_HOME" not in env


def test_umask_and_stdin(semantics):
    assert semantics.text("results/umask.txt") == "0022\n"
    assert semantics.text("results/stdin.txt") == ""


def test_output_streams_to_progress(semantics):
    assert re.search(
        r"^#\d+ \d+\.\d+ streamed-to-progress$", semantics.log, re.MULTILINE
    )


def test_exec_form_runs_without_shell(semantics):
    assert semantics.text("results/exec.txt") == "exec-form:/bin/sh\n"


def test_shell_instruction(semantics):
    assert "u" in semantics.text("results/shell.txt").removeprefix("flags:")


def test_init_is_pid_one(semantics):
    assert semantics.text("results/pid1.txt").rstrip("\0") == "minikit-init"
    assert semantics.text("results/command-pid.txt") == "2\n"


@pytest.mark.parametrize("name", ["uid_map", "gid_map"])
def test_id_map(semantics, builder, name):
    rows = [line.split() for line in semantics.text(f"results/{name}.txt").splitlines()]
    if builder.mode == "root":
        # Host ids map onto themselves, all of them.
        assert rows == [["0", "0", "4294967295"]]
    else:
        # Root is the invoking user, and 1 up are its subordinate range.
        assert rows[0] == ["0", "0", "1"]
        assert rows[1][:2] == ["1", "1"]
        assert int(rows[1][2]) >= 65536


def test_init_reaps_orphans(semantics):
    assert semantics.text("results/orphan.txt") == "reaped\n"


def test_init_forwards_sigterm(semantics):
    assert semantics.text("results/signal.txt") == "forwarded\n"


def test_dev_minimal(semantics):
    devices = set(semantics.text("results/dev.txt").split())
    for name in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm"):
        assert name in devices
    assert semantics.text("results/zero.txt").strip() == "3"
    assert "No space left on device" in semantics.text("results/full.txt")


def test_proc_sys_dev_mounts(semantics):
    mounts = {}
    for line in semantics.text("results/mounts.txt").splitlines():
        _source, target, fstype, options, *_ = line.split()
        mounts[target] = (fstype, options.split(","))
    assert mounts["/proc"][0] == "proc"
    assert mounts["/sys"][0] == "sysfs"
    assert "ro" in mounts["/sys"][1]
    assert mounts["/dev"][0] == "tmpfs"
    assert mounts["/dev/pts"][0] == "devpts"
    assert mounts["/dev/shm"][0] == "tmpfs"


def test_etc_files_generated(semantics):
    hosts = semantics.text("results/hosts")
    assert "127.0.0.1\tlocalhost buildkitsandbox" in hosts.splitlines()
    assert "10.1.2.3\textra.test" in hosts.splitlines()
    assert semantics.text("results/hostname") == "buildkitsandbox\n"
    assert semantics.text("results/uts.txt") == "buildkitsandbox\n"
    assert "nameserver 10.0.2.3" in semantics.text("results/resolv.conf").splitlines()


def test_missing_workdir_created_for_user(semantics):
    assert semantics.text("tmp/cwd.txt") == "/gone\n"
    assert semantics.text("results/cwd-owner.txt") == "1000:1000\n"


def test_user_name_groups_home(semantics):
    uid, gid, groups, home = semantics.text("results/user-name.txt").splitlines()
    assert (uid, gid) == ("1000", "1000")
    assert groups.split() == ["Groups:", "50"]
    assert home == "/home/user"


def test_user_uid_looked_up(semantics):
    uid, gid, groups = semantics.text("results/user-uid.txt").splitlines()
    assert (uid, gid) == ("1000", "1000")
    assert groups.split() == ["Groups:", "50"]


def test_user_uid_gid_pair(semantics):
    uid, gid, groups = semantics.text("results/user-pair.txt").splitlines()
    assert (uid, gid) == ("1000", "50")
    assert groups.split() == ["Groups:"]


def test_user_group_name(semantics):
    gid, groups = semantics.text("results/user-group-name.txt").splitlines()
    assert gid == "50"
    assert groups.split() == ["Groups:"]


def test_user_unknown_uid(semantics):
    uid, gid, home = semantics.text("results/user-unknown-uid.txt").splitlines()
    assert (uid, gid, home) == ("4242", "0", "/")


def test_user_nobody(semantics):
    assert semantics.text("results/user-nobody.txt") == "65534\n"


def _error_block(log: str) -> list[str]:
    """Return the output lines between the ``------`` rules of the error report."""
    match = re.search(r"^------\n(.*?)^------\n", log, re.MULTILINE | re.DOTALL)
    assert match, log
    return [line.strip() for line in match.group(1).splitlines()]


@pytest.fixture(scope="module")
def failed_run(builder: Builder) -> Build:
    context = builder.context("failing", FAILING)
    return builder.build(context, output="none", check=False)


def test_failure_exit_status(failed_run):
    assert failed_run.result.returncode != 0
    assert "Traceback" not in failed_run.log


def test_failure_names_command_and_code(failed_run):
    assert (
        'process "/bin/sh -c for i in $(seq 1 15); do echo line-$i; done; '
        'echo to-stderr >&2; exit 3" did not complete successfully: exit code: 3'
    ) in failed_run.log


def test_failure_shows_last_lines(failed_run):
    block = _error_block(failed_run.log)
    assert block[-1] == "to-stderr"
    assert "line-15" in block
    assert "line-1" not in block


def test_failure_names_line(failed_run):
    assert "ERROR: Dockerfile:3: process" in failed_run.log
    assert ">>> RUN for i in $(seq 1 15)" in failed_run.log


def test_unknown_user(builder: Builder):
    context = builder.context("unknown-user", UNKNOWN_USER)
    build = builder.build(context, output="none", check=False)
    assert build.result.returncode != 0
    assert (
        "Dockerfile:3: unable to find user nosuchuser: "
        "no matching entries in /etc/passwd"
    ) in build.log
    assert "should-not-run" not in build.log.replace("RUN echo should-not-run", "")


def test_unknown_group(builder: Builder):
    context = builder.context("unknown-group", UNKNOWN_GROUP)
    build = builder.build(context, output="none", check=False)
    assert build.result.returncode != 0
    assert (
        "Dockerfile:3: unable to find group nosuchgroup: "
        "no matching entries in /etc/group"
    ) in build.log
