"""Entry point of the ``minikit`` command."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` and return the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    print("minikit: not implemented yet", file=sys.stderr)
    return 1
