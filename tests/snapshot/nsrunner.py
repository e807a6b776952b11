"""A runner for driver.py scenarios in mount namespaces, as root and rootless."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).resolve().with_name("driver.py")
# The unprivileged account of the rootless runs, created with useradd if missing.
TEST_USER = os.environ.get("MINIKIT_TEST_USER", "minikit-test")
DRIVER_TIMEOUT_SECONDS = 300


class NamespaceRunner:
    """Runs ``driver.py`` scenarios under ``unshare``, each in a new work folder."""

    def __init__(self, mode: str, user: pwd.struct_passwd | None, python: str) -> None:
        self.mode = mode
        self._user = user
        self._python = python
        self._folders: list[Path] = []

    @property
    def rootless(self) -> bool:
        return self.mode == "rootless"

    def run(
        self, scenario: str, *options: str, mount_namespace: bool = True
    ) -> dict[str, Any]:
        """Run one scenario and return the JSON object it printed.

        Without ``mount_namespace`` a rootless run gets only a user namespace, in
        which mounting fails as it does for a user who skipped the build namespace.
        """
        work = self._new_work_folder()
        command = self._prefix(mount_namespace)
        command += [self._python, str(DRIVER), scenario, str(work)]
        completed = subprocess.run(
            command + list(options),
            capture_output=True,
            env=self._environment(),
            timeout=DRIVER_TIMEOUT_SECONDS,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr.decode(errors="replace")
        result: dict[str, Any] = json.loads(completed.stdout)
        result["work"] = str(work)
        return result

    def _prefix(self, mount_namespace: bool) -> list[str]:
        if not self.rootless:
            return ["unshare", "--mount", "--propagation", "private"]
        namespaces = ["unshare", "--user", "--map-root-user"]
        if mount_namespace:
            namespaces.append("--mount")
        if os.geteuid() == 0 and self._user is not None:
            return ["runuser", "-u", self._user.pw_name, "--"] + namespaces
        return namespaces

    def _environment(self) -> dict[str, str]:
        home = self._user.pw_dir if self._user is not None else "/tmp"
        return {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "PYTHONPATH": str(REPO_ROOT),
            "HOME": home,
            "LANG": "C.UTF-8",
        }

    def _new_work_folder(self) -> Path:
        # Under /tmp, not pytest's tmp_path: the unprivileged user cannot enter
        # /tmp/pytest-of-root.
        work = Path(tempfile.mkdtemp(prefix="minikit-snapshot-", dir="/tmp"))
        self._folders.append(work)
        if self.rootless and os.geteuid() == 0 and self._user is not None:
            os.chown(work, self._user.pw_uid, self._user.pw_gid)
        return work

    def cleanup(self) -> None:
        for folder in self._folders:
            shutil.rmtree(folder, ignore_errors=True)


def unprivileged_user() -> pwd.struct_passwd:
    """Return the test account, creating it with useradd, or skip the test."""
    try:
        return pwd.getpwnam(TEST_USER)
    except KeyError:
        pass
    if shutil.which("useradd") is None:
        pytest.skip(f"no user {TEST_USER!r} and no useradd to create one")
    subprocess.run(["useradd", "-m", TEST_USER], check=True, capture_output=True)
    return pwd.getpwnam(TEST_USER)


def python_for(user: pwd.struct_passwd | None) -> str:
    """Return a Python >= 3.11 that ``user`` may execute."""
    if user is None:
        return sys.executable
    for candidate in (sys.executable, "/usr/bin/python3"):
        check = ["runuser", "-u", user.pw_name, "--", candidate, "-c", _VERSION_CHECK]
        if subprocess.run(check, capture_output=True, check=False).returncode == 0:
            return candidate
    pytest.skip(f"no Python >= 3.11 that user {user.pw_name!r} may run")


_VERSION_CHECK = "import sys; sys.exit(sys.version_info < (3, 11))"
