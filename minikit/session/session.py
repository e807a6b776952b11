"""The session: everything a build receives from the client side."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minikit.session.secrets import SecretStore


@dataclass
class Session:
    """Secrets, SSH forwarding and the local folders (context and named contexts)."""

    secrets: SecretStore = field(default_factory=SecretStore)
    ssh: Any = (
        None  # minikit.session.ssh.SSHForwarder, or None when nothing is forwarded
    )
    local_dirs: dict[str, Path] = field(default_factory=dict)
