"""Entry point of the ``minikit`` command: subcommands, logging, exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from typing import Any, Callable, NoReturn

from minikit import __version__
from minikit.errors import MinikitError


def _register_build(subparsers: Any) -> None:
    from minikit.cli.build import add_build_parser

    add_build_parser(subparsers)


def _register_bake(subparsers: Any) -> None:
    from minikit.cli.bake import add_bake_parser

    add_bake_parser(subparsers)


def _register_debug(subparsers: Any) -> None:
    from minikit.cli.debug import add_debug_parser

    add_debug_parser(subparsers)


def _register_store(subparsers: Any) -> None:
    from minikit.cli.store import add_store_parsers

    add_store_parsers(subparsers)


# Subcommand -> the function that registers it. Only the subcommand being run
# gets its parser built, which keeps start-up short for builds.
_COMMANDS: dict[str, Callable[[Any], None]] = {
    "build": _register_build,
    "bake": _register_bake,
    "debug": _register_debug,
    "du": _register_store,
    "prune": _register_store,
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """Return the parser for the subcommand in ``argv`` (every subcommand without one)."""
    parser = argparse.ArgumentParser(
        prog="minikit",
        description="Build container images from Dockerfiles without a daemon, as BuildKit does.",
    )
    parser.add_argument("--version", action="version", version=f"minikit {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        help="log what minikit does and show tracebacks on errors",
    )
    common.add_argument(
        "--root",
        default=None,
        help="state folder (default: $XDG_DATA_HOME/minikit, or /var/lib/minikit as root)",
    )
    common.add_argument(
        "--config",
        default=None,
        help="config file (default: $XDG_CONFIG_HOME/minikit/minikit.toml)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    original = subparsers.add_parser

    def add_parser(name, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("parents", []).append(common)
        return original(name, **kwargs)

    subparsers.add_parser = add_parser  # type: ignore[method-assign]
    command = next((word for word in argv or [] if not word.startswith("-")), None)
    registrations = [_COMMANDS[command]] if command in _COMMANDS else list(dict.fromkeys(_COMMANDS.values()))
    for register in registrations:
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` and return the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except MinikitError as error:
        from minikit.cli.errors import render_error

        if args.debug:
            raise
        render_error(error, sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        from minikit.cli.signals import interrupted_status

        sys.stderr.write("ERROR: interrupted\n")
        return interrupted_status()
    except BrokenPipeError:
        return 1
    except RecursionError:
        if args.debug:
            raise
        sys.stderr.write(
            "ERROR: failed to process the input: it is nested too deeply "
            "(Python's recursion limit was reached)\n"
            "hint: flatten the deepest nesting: folders in the build context, "
            "expressions in the Dockerfile or bake file; --debug shows where\n"
        )
        return 1
    except Exception as error:  # noqa: BLE001 - the last line of defence against tracebacks
        if args.debug:
            raise
        sys.stderr.write(f"ERROR: internal error: {type(error).__name__}: {error}\n")
        sys.stderr.write(
            "hint: run again with --debug for a traceback, and report it as a bug\n"
        )
        return 1


def run() -> NoReturn:
    """Run the command line of this process and end the process with its status.

    Once the command has returned, the interpreter's teardown would only free
    memory, and with every module of a build loaded that takes longer than
    a warm build itself. So the process flushes its output and leaves with
    ``os._exit``. While another thread still runs, it exits the
    normal way, which waits for that thread.
    """
    status = main()
    if threading.active_count() > 1:
        sys.exit(status)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # the descriptor was closed when the process started
            continue
        try:
            stream.flush()
        except (OSError, ValueError):
            status = status or 1
    os._exit(status)
