"""Session fixtures that start real components for the integration tests.

- ``registry``: Debian's docker-registry on a free port of 127.0.0.1.
- ``auth_registry``: another one that requires a login (htpasswd, Basic auth).
- ``base_image``: busybox images in that registry and as an OCI layout on disk.
- ``minikit_config``: minikit.toml mirroring docker.io to the registry
  (with ``upstream = false``), plus an env for running minikit.
- ``run_minikit``: runs ``python -m minikit`` as a subprocess with that env.
- ``unprivileged_user`` and ``rootless_minikit``: minikit run by an ordinary user.
- ``oci_tools``: skopeo, umoci and pure-Python readers of image archives.

A required tool that is missing fails the tests when ``CI`` is set and
skips them, naming the tool, otherwise.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from fixtures.images import BaseImage, build_base_image
from fixtures.minikit_env import MinikitConfig, MinikitRunner, make_minikit_config
from fixtures.oci_tools import OciTools
from fixtures.registry import RegistryServer, start_registry
from fixtures.rootless import (
    RootlessMinikit,
    UnprivilegedUser,
    build_venv,
    ensure_user,
    make_workspace,
)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A docker-registry on 127.0.0.1; ``registry.host`` is ``127.0.0.1:PORT``."""
    server = start_registry(tmp_path_factory.mktemp("registry"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A second docker-registry that requires Basic auth; its ``login`` has the user."""
    server = start_registry(tmp_path_factory.mktemp("auth-registry"), with_login=True)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def base_image(
    registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory
) -> BaseImage:
    """The busybox base image, pushed to ``registry`` and kept as an OCI layout."""
    if os.geteuid() != 0:
        pytest.skip(
            "base_image needs root to give /home/user the owner 1000:1000 in the "
            f"layer; these tests run as uid {os.geteuid()}"
        )
    return build_base_image(tmp_path_factory.mktemp("base-image"), registry.host)


@pytest.fixture(scope="session")
def minikit_config(
    registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory
) -> MinikitConfig:
    """minikit.toml that sends docker.io to the test registry, and the env to use it."""
    return make_minikit_config(tmp_path_factory.mktemp("minikit-env"), registry.host)


@pytest.fixture(scope="session")
def run_minikit(minikit_config: MinikitConfig) -> MinikitRunner:
    """Call as ``run_minikit(args, cwd, env=None, check=True)``; see MinikitRunner."""
    return MinikitRunner(minikit_config)


@pytest.fixture(scope="session")
def unprivileged_user() -> UnprivilegedUser:
    """The user ``minikit-test`` with subordinate id ranges (created once, as root)."""
    return ensure_user()


@pytest.fixture(scope="session")
def rootless_minikit(
    unprivileged_user: UnprivilegedUser, registry: RegistryServer
) -> Iterator[RootlessMinikit]:
    """Runs minikit as ``minikit-test``: call as ``rootless_minikit(args, cwd)``."""
    venv = build_venv(unprivileged_user)
    workspace = make_workspace(unprivileged_user)
    try:
        yield RootlessMinikit(unprivileged_user, venv, workspace, registry.host)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


@pytest.fixture(scope="session")
def oci_tools() -> OciTools:
    """skopeo and umoci helpers for checking archives minikit writes."""
    return OciTools()


# -- Git and SSH servers, for the secret, SSH and Git source tests -------------

import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from fixtures.git_server import GitServers, start_git_servers  # noqa: E402
from fixtures.sshd import SSHServer, make_tool_tree, start_sshd  # noqa: E402


@pytest.fixture(scope="session")
def git_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServers]:
    """Smart-HTTP Git servers on 127.0.0.1 and 127.0.0.2 over the same repositories."""
    servers = start_git_servers(tmp_path_factory.mktemp("git-servers"))
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHServer]:
    """OpenSSH's sshd on 127.0.0.1, accepting ``sshd.client_key`` for root."""
    if os.geteuid() != 0:
        pytest.skip(f"sshd needs root to log users in; these tests run as uid {os.geteuid()}")
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def ssh_tools() -> Iterator[Path]:
    """A world-readable folder with ssh, ssh-add and git and their libraries."""
    folder = Path(tempfile.mkdtemp(prefix="minikit-ssh-tools-", dir="/tmp"))
    os.chmod(folder, 0o755)
    try:
        yield make_tool_tree(folder / "tree")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
