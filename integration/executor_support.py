"""Helpers for the executor's integration tests, and the driver they run.

``enter_build_namespace`` forks and must run before any thread exists, so
the tests never call it in the pytest process. Each test writes a scenario
(a list of RUN steps) as JSON to a driver process, ``driver_main``. The
driver enters the build namespace, puts an overlay on a busybox root
filesystem, runs the steps with ``Executor`` and prints its observations
as JSON.

The driver runs as root, or as the unprivileged ``minikit-exec-test`` user
with Debian's ``/usr/bin/python3`` and a world-readable copy of the
``minikit`` package, since that user can read neither ``/root`` nor the
repository. This module is copied next to it, so its top level imports
only the standard library.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import pwd
import shutil
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
from typing import Any

TEST_USER = "minikit-exec-test"
# A user without subordinate ids, for the single-id fallback.
NO_RANGE_USER = "minikit-exec-nosub"
SYSTEM_PYTHON = "/usr/bin/python3"
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    "user:x:1000:1000:user:/home/user:/bin/sh\n"
)
GROUP = "root:x:0:\nnobody:x:65534:\nuser:x:1000:\nstaff:x:50:user\n"
DRIVER_TIMEOUT = 180
# The busybox the driver copies, set from the scenario.
BUSYBOX_IN_DRIVER = [""]
_PT_INTERP = 3


# --- building the root filesystem ------------------------------------------


def find_static_busybox() -> str | None:
    """Return the path of a statically linked busybox, or None (Debian busybox-static)."""
    for path in BUSYBOX_CANDIDATES:
        if os.path.isfile(path) and not _has_interpreter(path):
            return path
    return None


def _has_interpreter(path: str) -> bool:
    # A dynamically linked ELF file has a PT_INTERP program header.
    with open(path, "rb") as handle:
        header = handle.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2:
            return True
        (phoff,) = struct.unpack_from("<Q", header, 32)
        (phentsize, phnum) = struct.unpack_from("<HH", header, 54)
        handle.seek(phoff)
        table = handle.read(phentsize * phnum)
    kinds = [struct.unpack_from("<I", table, i * phentsize)[0] for i in range(phnum)]
    return _PT_INTERP in kinds


def make_busybox_rootfs(root: str, busybox: str) -> None:
    """Create a root filesystem with busybox, its applet links, passwd and group."""
    for directory in ("bin", "etc", "tmp", "existing"):
        os.makedirs(os.path.join(root, directory), exist_ok=True)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    shutil.copy(busybox, os.path.join(root, "bin/busybox"))
    applets = subprocess.run(
        [busybox, "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        link = os.path.join(root, "bin", applet)
        if applet != "busybox" and not os.path.lexists(link):
            os.symlink("busybox", link)
    for name, text in (("passwd", PASSWD), ("group", GROUP)):
        with open(os.path.join(root, "etc", name), "w", encoding="ascii") as handle:
            handle.write(text)


# --- the driver, inside the build namespace --------------------------------


def driver_main() -> None:
    """Run the scenario read from stdin and print the observations as JSON."""
    scenario = json.load(sys.stdin)
    from minikit.executor import Executor, enter_build_namespace

    namespace = enter_build_namespace()
    BUSYBOX_IN_DRIVER[0] = scenario["busybox"]
    workdir = scenario["workdir"]
    merged = _prepare_overlay(workdir, scenario["busybox"])
    _prepare_host_files(workdir, scenario.get("host_files", {}))
    listener = _listen_unix(workdir) if scenario.get("unix_socket") else None
    report: dict[str, Any] = {
        "namespace": {
            "rootless": namespace.rootless,
            "full_range": namespace.full_range,
            "warnings": list(namespace.warnings),
            "uid_map": [list(m.__dict__.values()) for m in namespace.uid_map],
        },
        "steps": [],
    }
    with Executor.start(namespace) as executor:
        report["steps"] = _run_steps(executor, merged, workdir, scenario["steps"])
    if listener is not None:
        listener.close()
    json.dump(report, sys.stdout)


def _prepare_overlay(workdir: str, busybox: str) -> str:
    from minikit.executor.syscalls import mount

    lower = os.path.join(workdir, "lower")
    make_busybox_rootfs(lower, busybox)
    for name in ("upper", "work", "merged"):
        os.makedirs(os.path.join(workdir, name), exist_ok=True)
    merged = os.path.join(workdir, "merged")
    options = f"lowerdir={lower},upperdir={workdir}/upper,workdir={workdir}/work"
    mount("overlay", merged, "overlay", 0, options)
    return merged


def _prepare_host_files(workdir: str, files: dict[str, str]) -> None:
    host = os.path.join(workdir, "host")
    os.makedirs(host, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(host, name), "w", encoding="utf-8") as handle:
            handle.write(text)


def _listen_unix(workdir: str) -> socket.socket:
    path = os.path.join(workdir, "host", "agent.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    return listener


def _run_steps(executor: Any, merged: str, workdir: str, steps: list[Any]) -> list[Any]:
    results = []
    if any(step.get("parallel") for step in steps):
        return _run_parallel(executor, merged, workdir, steps)
    for step in steps:
        results.append(_run_step(executor, merged, workdir, step))
    return results


def _run_parallel(
    executor: Any, merged: str, workdir: str, steps: list[Any]
) -> list[Any]:
    results: list[Any] = [None] * len(steps)

    def worker(index: int) -> None:
        results[index] = _run_step(executor, merged, workdir, steps[index])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(steps))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _build_spec(fields: dict[str, Any], merged: str, workdir: str) -> Any:
    from minikit.executor import MountSpec, RunSpec

    fields = dict(fields)
    mounts = []
    for mount in fields.pop("mounts", []):
        mount = dict(mount)
        mount["data"] = base64.b64decode(mount.pop("data_b64", ""))
        if mount.get("source", "").startswith("@/"):
            mount["source"] = os.path.join(workdir, mount["source"][2:])
        mounts.append(MountSpec(**mount))
    rootfs = fields.pop("rootfs", merged)
    if rootfs == "@/plain":
        # A second root filesystem, for RUNs that must not share one.
        rootfs = os.path.join(workdir, "plain")
        if not os.path.exists(rootfs):
            make_busybox_rootfs(rootfs, BUSYBOX_IN_DRIVER[0])
    elif rootfs.startswith("@/"):
        rootfs = os.path.join(workdir, rootfs[2:])
    fields.setdefault("env", [])
    fields.setdefault("network", "none")
    fields["args"] = tuple(arg.replace("@WORKDIR@", workdir) for arg in fields["args"])
    fields["env"] = tuple(fields["env"])
    fields["extra_hosts"] = tuple(tuple(pair) for pair in fields.get("extra_hosts", []))
    return RunSpec(rootfs=rootfs, mounts=tuple(mounts), **fields)


def _run_step(
    executor: Any, merged: str, workdir: str, step: dict[str, Any]
) -> dict[str, Any]:
    from minikit.errors import ExecutorError

    spec = _build_spec(step["spec"], merged, workdir)
    mounts_before = _read_mountinfo()
    times_before = {path: _times(merged + path) for path in step.get("times", [])}
    output = {1: bytearray(), 2: bytearray()}
    cancel = threading.Event()
    observed: dict[str, Any] = {}
    marker = step.get("marker", "").encode()

    def on_output(stream: int, data: bytes) -> None:
        output[stream] += data
        if marker and marker in output[1] and "marker_seen" not in observed:
            observed["marker_seen"] = True
            if step.get("scan_proc"):
                observed["found_in_proc"] = _found_in_proc(
                    base64.b64decode(step["scan_proc"])
                )
            if step.get("cancel"):
                cancel.set()

    result: dict[str, Any] = {}
    try:
        outcome = executor.run(spec, on_output=on_output, cancel=cancel)
        result.update(
            exit_code=outcome.exit_code,
            cancelled=outcome.cancelled,
            removed_stubs=list(outcome.removed_stubs),
        )
    except ExecutorError as error:
        result.update(error=error.message, hint=error.hint or "")
    result.update(observed)
    result["stdout"] = output[1].decode("utf-8", "replace")
    result["stderr"] = output[2].decode("utf-8", "replace")
    # Only mounts that appeared count: a leak adds one, while mounts that
    # other programs on the machine unmount meanwhile are not the RUN's doing.
    result["mounts_unchanged"] = not set(_read_mountinfo()) - set(mounts_before)
    result["upper"] = {
        path: _describe(workdir + "/upper" + path) for path in step.get("upper", [])
    }
    result["times_restored"] = {
        path: _times(merged + path) == before for path, before in times_before.items()
    }
    result["host"] = {
        path: _describe(workdir + "/host" + path) for path in step.get("host", [])
    }
    if step.get("leftover"):
        result["leftover"] = _processes_matching(step["leftover"].encode())
    if step.get("scan_disk"):
        needle = base64.b64decode(step["scan_disk"])
        scratch = glob.glob(os.path.join(tempfile.gettempdir(), "*-exec-*"))
        result["found_on_disk"] = _found_on_disk(needle, [workdir, *scratch])
    return result


def _read_mountinfo() -> list[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        return sorted(line.split(" ", 4)[4] for line in handle)


def _times(path: str) -> list[int]:
    info = os.lstat(path)
    return [info.st_mtime_ns]


def _describe(path: str) -> dict[str, Any] | None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    return {"uid": info.st_uid, "gid": info.st_gid, "mode": stat.S_IMODE(info.st_mode)}


def _process_files() -> list[str]:
    paths = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            paths += [f"/proc/{name}/cmdline", f"/proc/{name}/environ"]
    return paths


def _found_in_proc(needle: bytes) -> bool:
    for path in _process_files():
        try:
            with open(path, "rb") as handle:
                if needle in handle.read():
                    return True
        except OSError:
            continue
    return False


def _processes_matching(needle: bytes) -> list[str]:
    matches = []
    for path in _process_files():
        if not path.endswith("cmdline"):
            continue
        try:
            with open(path, "rb") as handle:
                content = handle.read()
        except OSError:
            continue
        if needle in content:
            matches.append(content.replace(b"\0", b" ").decode("utf-8", "replace"))
    return matches


def _found_on_disk(needle: bytes, roots: list[str]) -> list[str]:
    found = []
    for root in roots:
        for directory, _dirs, files in os.walk(root):
            for name in files:
                path = os.path.join(directory, name)
                try:
                    if os.path.isfile(path) and needle in _read_bytes(path):
                        found.append(path)
                except OSError:
                    continue
    return found


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(1 << 24)


# --- the pytest side -------------------------------------------------------


class DriverFailed(AssertionError):
    """The driver process exited with an error instead of printing a report."""


class SandboxRunner:
    """Runs scenarios through the driver as root or as the test user."""

    def __init__(
        self,
        mode: str,
        python: str,
        paths: list[str],
        busybox: str,
        user: str = TEST_USER,
    ) -> None:
        self.mode = mode
        self.python = python
        self.paths = paths
        self.busybox = busybox
        self.user = user

    @property
    def rootless(self) -> bool:
        """Whether the driver runs as an unprivileged user."""
        return self.mode == "rootless"

    def run(self, steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        """Run ``steps`` in a fresh work directory and return the driver's report."""
        workdir = tempfile.mkdtemp(prefix="minikit-exec-test-")
        os.chmod(workdir, 0o755)
        account = pwd.getpwnam(self.user) if self.rootless else None
        if account is not None:
            os.chown(workdir, account.pw_uid, account.pw_gid)
        scenario = {
            "workdir": workdir,
            "busybox": self.busybox,
            "steps": steps,
            **extra,
        }
        try:
            return self._drive(scenario, account)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _drive(
        self, scenario: dict[str, Any], account: pwd.struct_passwd | None
    ) -> dict[str, Any]:
        code = (
            f"import sys; sys.path[:0] = {self.paths!r}; "
            "import executor_support; executor_support.driver_main()"
        )
        environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        options: dict[str, Any] = {}
        if account is not None:
            environment["HOME"] = account.pw_dir
            options = {
                "user": account.pw_uid,
                "group": account.pw_gid,
                "extra_groups": [],
            }
        completed = subprocess.run(
            [self.python, "-c", code],
            input=json.dumps(scenario),
            capture_output=True,
            text=True,
            env=environment,
            cwd=scenario["workdir"],
            timeout=DRIVER_TIMEOUT,
            check=False,
            **options,
        )
        if completed.returncode != 0:
            raise DriverFailed(
                f"driver exited with {completed.returncode}:\n{completed.stderr}"
            )
        report: dict[str, Any] = json.loads(completed.stdout)
        return report


def ensure_test_user(
    name: str = TEST_USER, subordinate_ids: bool = True
) -> pwd.struct_passwd:
    """Create an unprivileged test user if it is missing.

    Debian's useradd gives a new user subordinate id ranges, unless
    ``subordinate_ids`` is False.
    """
    try:
        return pwd.getpwnam(name)
    except KeyError:
        command = ["useradd", "-m"]
        if not subordinate_ids:
            command += ["-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0"]
        subprocess.run([*command, name], check=True, capture_output=True)
        return pwd.getpwnam(name)


def copy_for_test_user(repository: str) -> str:
    """Copy ``minikit``, pyroute2 and this module into a world-readable directory."""
    destination = tempfile.mkdtemp(prefix="minikit-exec-code-")
    shutil.copytree(
        os.path.join(repository, "minikit"),
        os.path.join(destination, "minikit"),
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(__file__, os.path.join(destination, "executor_support.py"))
    # The RUN sandbox needs pyroute2 (pure Python) next to the copied package.
    import pyroute2

    shutil.copytree(
        os.path.dirname(pyroute2.__file__),
        os.path.join(destination, "pyroute2"),
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for directory, _dirs, files in os.walk(destination):
        os.chmod(directory, 0o755)
        for name in files:
            os.chmod(os.path.join(directory, name), 0o644)
    return destination


def tun_usable_by(account: pwd.struct_passwd) -> bool:
    """Return whether ``account`` may open /dev/net/tun, which slirp4netns needs."""
    try:
        info = os.stat("/dev/net/tun")
    except FileNotFoundError:
        return False
    if info.st_mode & 0o006 == 0o006:
        return True
    return info.st_uid == account.pw_uid and info.st_mode & 0o600 == 0o600
