"""Typed Dockerfile instructions, like BuildKit's ``instructions`` package.

Each command keeps its arguments unexpanded. The converter calls
:meth:`Command.expand` with its variable expander right before it dispatches
the command, and only the fields that BuildKit expands change. Those are ENV
and LABEL keys and values, ADD/COPY sources, destination, ``--chown``,
``--chmod`` and ADD's ``--checksum``, WORKDIR, USER, VOLUME, STOPSIGNAL,
EXPOSE (split into words) and every ``RUN --mount`` value except ``from``.
RUN, CMD, ENTRYPOINT, SHELL and HEALTHCHECK commands are left to the shell.
ONBUILD, MAINTAINER and ARG are not expanded here; the converter expands ARG
defaults one by one, because each default may use the ARGs before it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from minikit.errors import DockerfileParseError, MinikitError, SourceLocation
from minikit.frontend.location import instruction_location

if TYPE_CHECKING:
    from minikit.frontend.parser.arguments import LineError

Expander = Callable[[str], str]
# Candidate words for an error's column, tried in order.
Words = tuple[str | None, ...] | None
WordsExpander = Callable[[str], list[str]]

FROM_EXPANSION_MESSAGE = (
    "variable expansion is not supported for --from, define a new stage with "
    "FROM using ARG from global scope as a workaround"
)


@dataclass
class Location:
    """The physical lines an instruction spans, 1-based and inclusive."""

    start_line: int
    end_line: int


@dataclass
class KeyValuePair:
    """One ENV or LABEL pair; ``legacy`` marks the ``KEY value`` form."""

    key: str
    value: str
    legacy: bool = False


@dataclass
class KeyValuePairOptional:
    """One ARG name with its default, None when the ARG has no ``=``."""

    key: str
    value: str | None = None
    comment: str = ""  # the description from a "# NAME text" comment above


@dataclass
class SourceFile:
    """A heredoc used as a file: a COPY/ADD source or a RUN/CMD script.

    For COPY and ADD, ``data`` already has leading tabs stripped when
    ``chomp`` is true. For RUN it is the raw body, and the converter strips
    the tabs when it runs the body as a script.
    """

    path: str
    data: str
    chomp: bool = False
    expand: bool = True


@dataclass
class MountSpec:
    """One ``RUN --mount`` value, with the defaults BuildKit fills in at parse time.

    ``type`` defaults to ``bind``. ``readonly`` defaults to true for bind,
    secret and ssh mounts and to false for cache and tmpfs. ``sharing``
    defaults to ``shared`` for cache mounts. The ``id`` of a cache mount defaults to
    the cleaned target, of a secret to its ``source`` or else the basename of
    the target, and of an ssh mount to ``default``. ``mode``, ``uid`` and
    ``gid`` stay None unless given, because the converter picks their
    defaults per mount type. ``size`` is in bytes, 0 for no limit.
    """

    type: str = "bind"
    target: str = ""
    source: str = ""
    from_: str = ""
    readonly: bool = True
    id: str = ""
    sharing: str = ""
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    size: int = 0
    required: bool = False
    env: str | None = None


@dataclass(kw_only=True, eq=False)
class Command:
    """The base of every typed instruction.

    ``name`` is the upper-case keyword and ``original`` the instruction text
    as written, trimmed.
    """

    name: str
    location: Location
    original: str
    filename: str = field(default="Dockerfile", repr=False)
    source_lines: tuple[str, ...] = field(default=(), repr=False)

    def expand(self, expander: Expander, words_expander: WordsExpander) -> None:
        """Expand, in place, the fields that BuildKit expands for this command.

        ``expander`` maps one word to one string and ``words_expander`` maps
        one word to a list of words. Either may raise ``ShellExpansionError``,
        which is re-raised with this command's location.
        """
        try:
            self._expand(expander, words_expander)
        except MinikitError as exc:
            exc.with_location(self.source_location())
            raise

    def _expand(self, expander: Expander, words_expander: WordsExpander) -> None:
        """Expand the fields of this command; commands that expand nothing keep this."""

    def source_location(self, word: str | Words = None) -> SourceLocation:
        """Return the location of ``word`` in this command (else its keyword)."""
        return instruction_location(
            self.filename,
            self.source_lines,
            self.location.start_line,
            self.location.end_line,
            word,
        )

    def error(
        self, message: str, hint: str | None = None, word: str | Words = None
    ) -> DockerfileParseError:
        """Return an error at ``word`` in this command (else at its keyword)."""
        return DockerfileParseError(
            message, hint=hint, location=self.source_location(word)
        )


@dataclass(kw_only=True, eq=False)
class RunCommand(Command):
    """RUN: a command line, its heredoc files and its ``--mount``/``--network`` options.

    ``mounts`` is filled at parse time for mounts that hold no ``$``;
    :meth:`expand` parses every ``mount_values`` entry again with the real
    expander, so the converter must call it before reading ``mounts``.
    """

    cmd: list[str]
    prepend_shell: bool
    files: list[SourceFile] = field(default_factory=list)
    mounts: list[MountSpec] = field(default_factory=list)
    network: str = ""  # "" when RUN has no --network flag
    security: str = "sandbox"
    devices: list[str] = field(default_factory=list)
    mount_values: list[str] = field(default_factory=list, repr=False)

    def _expand(self, expander: Expander, words_expander: WordsExpander) -> None:
        from minikit.frontend.instructions.mounts import MountError, parse_mount

        mounts = []
        for value in self.mount_values:
            try:
                mounts.append(parse_mount(value, expander))
            except MountError as exc:
                raise self.error(str(exc), exc.hint, (exc.word, value)) from None
        self.mounts = mounts


@dataclass(kw_only=True, eq=False)
class CmdCommand(Command):
    """CMD: the default command; ``prepend_shell`` marks shell form."""

    cmd: list[str]
    prepend_shell: bool
    files: list[SourceFile] = field(default_factory=list)


@dataclass(kw_only=True, eq=False)
class EntrypointCommand(Command):
    """ENTRYPOINT; ``cmd`` is None when an empty JSON array unsets it."""

    cmd: list[str] | None
    prepend_shell: bool
    files: list[SourceFile] = field(default_factory=list)


@dataclass(kw_only=True, eq=False)
class ShellCommand(Command):
    """SHELL: the shell that later shell-form commands run with."""

    shell: list[str]


@dataclass(kw_only=True, eq=False)
class EnvCommand(Command):
    """ENV: variables set in the image and for later instructions."""

    env: list[KeyValuePair]
    # Raised after expansion; see BracedValueError in the parser.
    split_error: LineError | None = None

    def _expand(self, expander: Expander, words_expander: WordsExpander) -> None:
        self.env = _expand_pairs(self.env, expander)
        _raise_split_error(self)


@dataclass(kw_only=True, eq=False)
class LabelCommand(Command):
    """LABEL: image labels."""

    labels: list[KeyValuePair]
    split_error: LineError | None = None

    def _expand(self, expander: Expander, words_expander: WordsExpander) -> None:
        self.labels = _expand_pairs(self.labels, expander)
        _raise_split_error(self)


@dataclass(kw_only=True, eq=False)
class ArgCommand(Command):
    """ARG: build arguments with optional defaults (expanded by the converter)."""

    args: list[KeyValuePairOptional]


@dataclass(kw_only=True, eq=False)
class ExposeCommand(Command):
    """EXPOSE: ports, sorted as written; expansion splits them into words."""

    ports: list[str]

    def _expand(self, expander: Expander, words_expander: WordsExpander) -> None:
        self.ports = [word for port in self.ports for word in words_expander(port)]


@dataclass(kw_only=True, eq=False)
class UserCommand(Command):
    """USER: the user (and group) for later instructions and the image."""

    user: str

    def _expand(self, expander: Expander, words_expander: WordsExpander) -> None:
        self.user = expander(self.user)


@dataclass(kw_only=True, eq=False)
class WorkdirCommand(Command):
    """WORKDIR: the working directory, relative to the previous one."""

    path: str

    def _expand(self, expander: Expander, words_expander: WordsExpander) -> None:
        self.path = expander(self.path)


@dataclass(kw_only=True, eq=False)
class VolumeCommand(Command):
    """VOLUME: mount points recorded in the image config."""

    volumes: list[str]

    def _expand(self, expander: Expander, words_expander: WordsExpander) -> None:
        volumes = [expander(volume) for volume in self.volumes]
        for written, volume in zip(self.volumes, volumes):
            if volume == "":
                raise self.error(
                    "VOLUME specified can not be an empty string",
                    hint="give every VOLUME entry a path, or remove the empty one",
                    word=written,
                )
        self.volumes = volumes


@dataclass(kw_only=True, eq=False)
class StopSignalCommand(Command):
    """STOPSIGNAL: the signal that stops the container."""

    signal: str

    def _expand(self, expander: Expander, words_expander: WordsExpander) -> None:
        self.signal = expander(self.signal)


@dataclass(kw_only=True, eq=False)
class HealthcheckCommand(Command):
    """HEALTHCHECK; ``test`` is ``["NONE"]``, ``["CMD", ...]`` or ``["CMD-SHELL", c]``.

    Durations are in seconds, and None (like 0) means "inherit".
    """

    test: list[str] | None
    interval: float | None = None
    timeout: float | None = None
    start_period: float | None = None
    start_interval: float | None = None
    retries: int | None = None


@dataclass(kw_only=True, eq=False)
class OnbuildCommand(Command):
    """ONBUILD: the trigger text, with its heredoc bodies appended."""

    expression: str


@dataclass(kw_only=True, eq=False)
class MaintainerCommand(Command):
    """MAINTAINER: the deprecated author field."""

    maintainer: str


@dataclass(kw_only=True, eq=False)
class _CopyBase(Command):
    sources: list[str]
    dest: str
    files: list[SourceFile] = field(default_factory=list)
    chown: str = ""
    chmod: str = ""
    link: bool = False
    excludes: list[str] = field(default_factory=list)

    def _expand_common(self, expander: Expander) -> None:
        self.chown = expander(self.chown)
        self.chmod = expander(self.chmod)
        self.sources = [expander(source) for source in self.sources]
        self.dest = expander(self.dest)

    def expand_files(self, expander: Expander) -> None:
        """Expand the bodies of heredoc files whose delimiter was not quoted.

        ``expander`` should be a lexer with ``skip_process_quotes`` and the
        backslash as escape token, as BuildKit uses for heredoc bodies.
        """
        try:
            for source in self.files:
                if source.expand:
                    source.data = expander(source.data)
        except MinikitError as exc:
            exc.with_location(self.source_location())
            raise


@dataclass(kw_only=True, eq=False)
class CopyCommand(_CopyBase):
    """COPY: files from the context, a stage, an image or heredocs."""

    from_: str = ""
    parents: bool = False

    def _expand(self, expander: Expander, words_expander: WordsExpander) -> None:
        if self.from_ and expander(self.from_) != self.from_:
            raise self.error(
                FROM_EXPANSION_MESSAGE,
                hint="name the stage with 'FROM $ARG AS name' and use --from=name",
                word=self.from_,
            )
        self._expand_common(expander)


@dataclass(kw_only=True, eq=False)
class AddCommand(_CopyBase):
    """ADD: like COPY, plus URLs, git sources and archive unpacking.

    ``keep_git_dir`` and ``unpack`` are None when the flag was not given.
    """

    keep_git_dir: bool | None = None
    checksum: str = ""
    unpack: bool | None = None

    def _expand(self, expander: Expander, words_expander: WordsExpander) -> None:
        self.checksum = expander(self.checksum)
        self._expand_common(expander)


@dataclass(kw_only=True, eq=False)
class Stage:
    """One build stage: its FROM line and the commands after it.

    ``name`` is lowercased ("" for an unnamed stage); ``base_name`` and
    ``platform`` are as written, for the converter to expand with the
    global ARGs.
    """

    name: str
    base_name: str
    platform: str
    commands: list[Command]
    location: Location
    original: str
    as_keyword: str = ""  # "AS" as written, "" without a name
    keyword: str = "FROM"  # FROM as written
    comment: str = ""  # the description from a "# name text" comment above
    filename: str = field(default="Dockerfile", repr=False)
    source_lines: tuple[str, ...] = field(default=(), repr=False)

    def source_location(self, word: str | Words = None) -> SourceLocation:
        """Return the location of ``word`` in the FROM line (else of FROM)."""
        return instruction_location(
            self.filename,
            self.source_lines,
            self.location.start_line,
            self.location.end_line,
            word,
        )


def _expand_pairs(pairs: list[KeyValuePair], expander: Expander) -> list[KeyValuePair]:
    return [KeyValuePair(expander(p.key), expander(p.value), p.legacy) for p in pairs]


def _raise_split_error(command: EnvCommand | LabelCommand) -> None:
    error = command.split_error
    if error is not None:
        raise command.error(str(error), error.hint, error.word)
