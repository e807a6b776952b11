"""``minikit debug parse`` and ``minikit debug dump-llb``: look inside without building."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from minikit.errors import ContextError


def add_debug_parser(subparsers: Any) -> None:
    """Register ``debug`` and its subcommands."""
    from minikit.cli.build import add_build_flags

    debug = subparsers.add_parser(
        "debug", help="inspect how minikit reads a Dockerfile"
    )
    commands = debug.add_subparsers(dest="debug_command", metavar="SUBCOMMAND")
    commands.required = True
    parse = commands.add_parser(
        "parse", help="print the parse tree in BuildKit's dump format"
    )
    parse.add_argument("file", metavar="FILE", help="the Dockerfile to parse")
    parse.set_defaults(handler=run_parse)
    dump = commands.add_parser(
        "dump-llb", help="print the build graph without building"
    )
    dump.add_argument(
        "--format",
        choices=("json", "dot"),
        default="json",
        help="output format (default: json)",
    )
    add_build_flags(dump)
    dump.add_argument("context", metavar="CONTEXT", help="build context folder")
    dump.set_defaults(handler=run_dump_llb)
    for sub in (parse, dump):
        sub.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help=argparse.SUPPRESS,
        )
        sub.add_argument("--root", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sub.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def run_parse(args: argparse.Namespace) -> int:
    """Print the dump of ``args.file``."""
    from minikit.frontend.parser import debug_parse

    try:
        text = debug_parse(Path(args.file))
    except OSError as error:
        raise ContextError(
            f"failed to read dockerfile {args.file}: {error.strerror}",
            hint="pass the path of a Dockerfile (relative to the current folder)",
        ) from None
    sys.stdout.write(text)
    return 0


def run_dump_llb(args: argparse.Namespace) -> int:
    """Convert the Dockerfile and print the definition as JSON or dot."""
    from minikit.cli.build import request_from_args
    from minikit.cli.progress import QuietProgress
    from minikit.worker.inspect import definition_of

    request = request_from_args(args, Path.cwd())
    definition = definition_of(request, QuietProgress())
    if args.format == "dot":
        sys.stdout.write(definition.to_dot())
    else:
        sys.stdout.write(
            json.dumps(definition.to_json(), indent=2, sort_keys=False) + "\n"
        )
    return 0
