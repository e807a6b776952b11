"""The error tree that every user-visible failure belongs to.

Only the CLI turns these into text and exit codes. Each error carries what
failed, on which value, an optional hint that says what to do next, and, for
Dockerfile problems, the location of the offending line. No message may hold
a secret: callers pass secret ids, never values, and strip credentials from
URLs before formatting (see ``minikit.util.redact``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SourceLocation:
    """A place in a Dockerfile (or another input file) that an error points at.

    Lines and columns are 1-based. ``column`` is None when the whole line is
    meant; ``end_column`` marks the end of the underlined span (exclusive).
    ``lines`` holds the text of the file split on newlines, so the renderer
    can show the offending line with its neighbours.
    """

    filename: str
    line: int
    end_line: int | None = None
    column: int | None = None
    end_column: int | None = None
    lines: tuple[str, ...] = field(default=(), repr=False, compare=False)


class MinikitError(Exception):
    """Root of minikit's errors: ``str()`` is the message shown to the user."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        location: SourceLocation | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.location = location

    def __str__(self) -> str:
        return self.message

    def with_location(self, location: SourceLocation) -> "MinikitError":
        """Attach a location unless one is already set, and return self."""
        if self.location is None:
            self.location = location
        return self


class UsageError(MinikitError):
    """Invalid command-line flags or flag values."""

    exit_code = 2


class ConfigError(MinikitError):
    """An invalid or unreadable minikit configuration file."""


class DockerfileError(MinikitError):
    """A Dockerfile that cannot be parsed or converted into a build graph."""


class DockerfileParseError(DockerfileError):
    """A syntax error found while reading the Dockerfile text."""


class ShellExpansionError(DockerfileError):
    """A failed variable substitution such as ``${X:?}`` or a missing brace."""


class ContextError(MinikitError):
    """A build context, named context or ignore file that cannot be read."""


class RegistryError(MinikitError):
    """A registry request that failed."""


class ImageNotFound(RegistryError):
    """A reference that the registry does not hold."""


class RegistryUnreachable(RegistryError):
    """A registry that refused the connection or timed out."""


class RegistryAuthError(RegistryError):
    """A registry that rejected the credentials, or demanded some."""


class SolveError(MinikitError):
    """A build step that failed while the graph was being solved."""


class ExecError(SolveError):
    """A RUN whose process exited with a non-zero status."""

    def __init__(
        self,
        message: str,
        *,
        command: str,
        exit_status: int,
        output_tail: tuple[str, ...] = (),
        hint: str | None = None,
        location: SourceLocation | None = None,
    ) -> None:
        super().__init__(message, hint=hint, location=location)
        self.command = command
        self.exit_status = exit_status
        self.output_tail = output_tail


class ExecutorError(SolveError):
    """The sandbox for a RUN could not be set up (namespaces, mounts, users)."""


class SecretError(MinikitError):
    """A secret that is missing, unreadable or misused."""


class SSHError(MinikitError):
    """An SSH agent or key that cannot be forwarded."""


class GitError(MinikitError):
    """A Git source that cannot be resolved or fetched."""


class HTTPSourceError(MinikitError):
    """An ``ADD https://...`` download that failed."""


class EntitlementError(MinikitError):
    """A privileged feature used without the matching ``--allow`` flag."""


class SecretLeakError(MinikitError):
    """A layer about to be exported contains the bytes of a build secret."""


class CacheError(MinikitError):
    """The cache store, or a cache import or export, failed."""


class ExportError(MinikitError):
    """An exporter could not write its output."""


class BuildInterrupted(MinikitError):
    """The build was stopped by SIGINT or SIGTERM."""

    exit_code = 130
