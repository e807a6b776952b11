"""``minikit du`` and ``minikit prune``: what the store holds, and freeing space."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from minikit.errors import UsageError


def add_store_parsers(subparsers: Any) -> None:
    """Register ``du`` and ``prune``."""
    du = subparsers.add_parser("du", help="show disk usage of the store")
    du.add_argument("--verbose", action="store_true", help="list every record")
    du.set_defaults(handler=run_du)
    prune = subparsers.add_parser("prune", help="remove build cache")
    prune.add_argument(
        "-a",
        "--all",
        action="store_true",
        help="remove everything, pulled base layers too",
    )
    prune.add_argument(
        "--keep-storage",
        default="",
        metavar="SIZE",
        help="keep this much cache (e.g. 5GB)",
    )
    prune.add_argument(
        "--filter",
        dest="filters",
        action="append",
        default=[],
        metavar="until=DURATION",
        help="remove only what was last used longer ago than DURATION (e.g. 24h)",
    )
    prune.add_argument(
        "-f",
        "--force",
        action="store_true",
        help="do not ask for confirmation (never asked)",
    )
    prune.set_defaults(handler=run_prune)


def _store_root(args: argparse.Namespace) -> Path:
    from minikit.cli.paths import check_root
    from minikit.worker import default_root

    return check_root(Path(args.root) if args.root else default_root())


def _enter(args: argparse.Namespace) -> None:
    from minikit.executor import enter_build_namespace

    enter_build_namespace()


def run_du(args: argparse.Namespace) -> int:
    """Print what the store holds."""
    from minikit.cache.prune import disk_usage

    root = _store_root(args)
    _enter(args)
    usage = disk_usage(root)
    if args.verbose:
        for row in usage.rows:
            sys.stdout.write(
                f"{row.id:<14} {row.kind:<10} {_human(row.size):>10}  {row.description}\n"
            )
        sys.stdout.write("\n")
    sys.stdout.write(f"{'TYPE':<14}{'COUNT':>8}{'SIZE':>12}\n")
    for kind, (count, size) in sorted(usage.totals.items()):
        sys.stdout.write(f"{kind:<14}{count:>8}{_human(size):>12}\n")
    sys.stdout.write(f"{'Total:':<22}{_human(usage.total):>12}\n")
    return 0


def run_prune(args: argparse.Namespace) -> int:
    """Remove cache entries by age and size."""
    from minikit.cache.prune import prune

    root = _store_root(args)
    _enter(args)
    until = None
    for text in args.filters:
        key, _, value = text.partition("=")
        if key != "until":
            raise UsageError(
                f"unsupported prune filter {text!r}", hint="use --filter until=24h"
            )
        until = parse_duration(value)
    keep = parse_size(args.keep_storage) if args.keep_storage else None
    freed = prune(root, all_entries=args.all, keep_bytes=keep, older_than=until)
    sys.stdout.write(f"Total: {_human(freed)}\n")
    return 0


def parse_duration(text: str) -> float:
    """Parse ``90s``, ``15m``, ``24h`` or ``7d`` into seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    total = 0.0
    number = ""
    for char in text.strip():
        if char.isdigit() or char == ".":
            number += char
        elif char in units and number:
            total += float(number) * units[char]
            number = ""
        else:
            raise UsageError(
                f"invalid duration {text!r}",
                hint="write a duration like 90m, 24h or 7d",
            )
    if number:
        raise UsageError(
            f"invalid duration {text!r}: missing unit",
            hint="write a duration like 90m, 24h or 7d",
        )
    return total


def parse_size(text: str) -> int:
    """Parse ``512MB``, ``5GB``, ``1.5GiB`` or a plain number of bytes."""
    import re

    match = re.fullmatch(r"\s*([0-9.]+)\s*([kKmMgGtT]?)(i?)[bB]?\s*", text)
    if match is None:
        raise UsageError(
            f"invalid size {text!r}", hint="write a size like 512MB or 5GB"
        )
    number, unit, binary = match.groups()
    base = 1024 if binary else 1000
    power = " kmgt".index(unit.lower()) if unit else 0
    return int(float(number) * base**power)


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.1f}{unit}" if unit != "B" else f"{int(value)}B"
        value /= 1000
    return f"{size}B"
