"""Allow ``python -m minikit``."""

from minikit.cli.main import main

raise SystemExit(main())
