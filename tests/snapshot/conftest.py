"""Fixtures that run snapshotter scenarios in mount namespaces, as root and rootless."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from .nsrunner import NamespaceRunner, python_for, unprivileged_user


@pytest.fixture(
    scope="session",
    params=["root", pytest.param("rootless", marks=pytest.mark.rootless)],
)
def namespaces(request: pytest.FixtureRequest) -> Iterator[NamespaceRunner]:
    """A scenario runner, once as root and once as an unprivileged user."""
    if shutil.which("unshare") is None:
        pytest.skip("util-linux unshare is not installed")
    mode = request.param
    user = None
    if mode == "root" and os.geteuid() != 0:
        pytest.skip("the root variant needs to run as root")
    if mode == "rootless" and os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("util-linux runuser is not installed")
        user = unprivileged_user()
    runner = NamespaceRunner(mode, user, python_for(user))
    yield runner
    runner.cleanup()
