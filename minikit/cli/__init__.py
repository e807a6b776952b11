"""Command-line interface: flags, progress rendering and error reports."""
