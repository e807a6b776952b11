"""Allow ``python -m minikit``."""

from minikit.cli.main import run

run()
