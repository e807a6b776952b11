"""The process environment that Git commands inherit."""

from __future__ import annotations

import os


def scrub_git_environment() -> None:
    """Drop ``GIT_*`` variables from this process's environment.

    GitPython passes the process environment on to every git command, and
    variables such as ``GIT_DIR`` or ``GIT_CONFIG_PARAMETERS`` from the
    caller's shell would change what git does. Call before threads start.
    """
    for name in list(os.environ):
        if name.startswith("GIT_"):
            del os.environ[name]
