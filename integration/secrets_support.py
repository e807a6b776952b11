"""One way to run ``minikit build`` as root or as the unprivileged user.

The secret, SSH and Git tests run each behaviour in both modes. ``Builder``
hides the difference: it makes folders the builder's user owns, copies the
cases from ``integration/cases/`` into them, and runs minikit with extra
environment variables (which reach minikit through its environment, never
its argv).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CASES = Path(__file__).resolve().parent / "cases"
MODES = ("root", "rootless")


class Builder:
    """Runs minikit as root (``run_minikit``) or as ``minikit-test``."""

    def __init__(self, mode: str, runner: Any, scratch: Path) -> None:
        self.mode = mode
        self.runner = runner
        self.scratch = scratch
        self._count = 0

    @property
    def rootless(self) -> bool:
        """Tell whether minikit runs as the unprivileged user."""
        return self.mode == "rootless"

    @property
    def owner(self) -> tuple[int, int]:
        """Return the uid and gid that minikit runs as."""
        if self.rootless:
            return self.runner.user.uid, self.runner.user.gid
        return 0, 0

    @property
    def path(self) -> str:
        """Return the ``PATH`` that minikit runs with."""
        if self.rootless:
            return str(self.runner.env["PATH"])
        return str(self.runner.config.env.get("PATH", os.defpath))

    def folder(self, name: str) -> Path:
        """Create a new empty folder that the builder's user owns."""
        self._count += 1
        path = self.scratch / f"{self._count:03d}-{name}"
        path.mkdir(parents=True)
        return self.give(path)

    def give(self, path: Path) -> Path:
        """Hand ``path`` (and everything below it) to the builder's user."""
        if not self.rootless:
            return path
        if path.is_dir():
            self.runner.give(path)
        else:
            os.chown(path, *self.owner, follow_symlinks=False)
        return path

    def case(self, name: str) -> Path:
        """Copy case ``name`` into a new folder and return the copy."""
        target = self.folder(name) / "context"
        shutil.copytree(CASES / name, target)
        for folder, _dirs, files in os.walk(target):
            os.chmod(folder, 0o755)
            for item in files:
                os.chmod(os.path.join(folder, item), 0o644)
        return self.give(target)

    def __call__(
        self,
        args: Sequence[str],
        cwd: Path,
        env: Mapping[str, str] | None = None,
        *,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``minikit ARGS`` in ``cwd``; ``env`` adds variables."""
        return self.runner(list(args), cwd, env, check=check)


def make_builder(mode: str, request: Any, scratch: Path) -> Builder:
    """Return a Builder for ``mode``, pulling the fixtures it needs from ``request``."""
    if mode == "rootless":
        runner = request.getfixturevalue("rootless_minikit")
        scratch = runner.make_dir(runner.workspace / scratch.name)
        return Builder(mode, runner, scratch)
    return Builder(mode, request.getfixturevalue("run_minikit"), scratch)
