"""Turn parsed instructions into typed commands and build stages.

This follows BuildKit's ``instructions/parse.go``: each keyword has a
``parse_<keyword>`` function that declares its flags, checks its arguments
and builds the command. Errors are ``DockerfileParseError`` with the line of
the instruction and, where a word is at fault, its column.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from minikit.errors import DockerfileParseError
from minikit.frontend.instructions import commands as c
from minikit.frontend.instructions.bflags import BFlags, FlagError
from minikit.frontend.instructions.duration import DurationError, parse_duration
from minikit.frontend.instructions.mounts import MountError, parse_mount
from minikit.frontend.instructions.suggest import did_you_mean
from minikit.frontend.location import instruction_location
from minikit.frontend.parser.arguments import LineError
from minikit.frontend.parser.heredoc import chomp_heredoc_content, parse_heredoc
from minikit.frontend.parser.model import Instruction, ParseResult
from minikit.frontend.shell import Lexer

_C = TypeVar("_C", bound=c.Command)

INSTRUCTION_NAMES = (
    "add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from",
    "healthcheck", "label", "maintainer", "onbuild", "run", "shell",
    "stopsignal", "user", "volume", "workdir",
)  # fmt: skip
_STAGE_NAME = re.compile(r"[a-z][a-z0-9\-_.]*\Z")
_ONBUILD_PREFIX = re.compile(r"^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*", re.IGNORECASE)
_FROM_LEXER = Lexer()
_NETWORK_MODES = ("default", "none", "host")
_SECURITY_MODES = ("sandbox", "insecure")
_MINIMUM_DURATION = 0.001  # one millisecond, in seconds
_MAX_INT32 = 2**31 - 1
# URL and git sources that ADD --checksum may verify: http(s), git, ssh and
# scp-like user@host:path remotes.
_REMOTE_SOURCE = re.compile(
    r"(?i:https?://|git://|ssh://)|[a-zA-Z0-9\-_]+@[a-zA-Z0-9\-.]+:"
)


@dataclass
class _Request:
    """One instruction on its way to a typed command."""

    instruction: Instruction
    filename: str
    lines: tuple[str, ...]
    flags: BFlags

    @property
    def name(self) -> str:
        return self.instruction.keyword.upper()

    @property
    def args(self) -> list[str]:
        return self.instruction.args

    @property
    def original(self) -> str:
        return self.instruction.original.strip()

    def location(self) -> c.Location:
        return c.Location(self.instruction.start_line, self.instruction.end_line)

    def build(self, kind: type[_C], **fields: Any) -> _C:
        """Create a command of type ``kind`` with this instruction's common fields."""
        return kind(
            name=self.name,
            location=self.location(),
            original=self.original,
            filename=self.filename,
            source_lines=self.lines,
            **fields,
        )

    def error(
        self, message: str, *, hint: str | None = None, word: str | c.Words = None
    ) -> DockerfileParseError:
        """Return an error at ``word`` in this instruction (else at its keyword)."""
        location = instruction_location(
            self.filename,
            self.lines,
            self.instruction.start_line,
            self.instruction.end_line,
            word,
        )
        return DockerfileParseError(message, hint=hint, location=location)

    def parse_flags(self) -> None:
        try:
            self.flags.parse()
        except FlagError as exc:
            raise self.error(str(exc), hint=exc.hint, word=exc.word) from None


def parse_command(
    instruction: Instruction, filename: str, lines: tuple[str, ...]
) -> c.Command | c.Stage:
    """Return the typed command (or, for FROM, the stage) for one instruction."""
    request = _Request(instruction, filename, lines, BFlags(list(instruction.flags)))
    parser = _PARSERS.get(instruction.keyword)
    if parser is None:
        raise _unknown_instruction(request)
    return parser(request)


def parse_instructions(result: ParseResult) -> tuple[list[c.Stage], list[c.ArgCommand]]:
    """Return the build stages and the meta ARGs that come before the first FROM."""
    stages: list[c.Stage] = []
    meta_args: list[c.ArgCommand] = []
    for instruction in result.instructions:
        command = parse_command(instruction, result.filename, result.lines)
        if isinstance(command, c.Stage):
            stages.append(command)
        elif not stages and isinstance(command, c.ArgCommand):
            meta_args.append(command)
        elif not stages:
            request = _Request(instruction, result.filename, result.lines, BFlags([]))
            raise request.error(
                "no build stage in current context",
                hint="start the Dockerfile with a FROM instruction",
                word=instruction.raw_keyword,
            )
        else:
            stages[-1].commands.append(command)
    return stages, meta_args


def _unknown_instruction(request: _Request) -> DockerfileParseError:
    word = request.instruction.raw_keyword
    hint = did_you_mean(word, INSTRUCTION_NAMES, case_sensitive=False) or (
        "check the spelling, and whether the line above should end with a "
        "continuation character"
    )
    return request.error(f"unknown instruction: {word}", hint=hint, word=word or None)


def _at_least_one(request: _Request) -> None:
    if not request.args:
        raise request.error(
            f"{request.name} requires at least one argument",
            hint=f"give {request.name} its arguments on the same line",
        )


def _exactly_one(request: _Request) -> None:
    if len(request.args) != 1:
        raise request.error(
            f"{request.name} requires exactly one argument",
            hint=f"give {request.name} one value; quote nothing, the whole rest of "
            "the line is the value",
        )


def parse_env(request: _Request) -> c.EnvCommand:
    """ENV k=v ... or ENV k v."""
    _at_least_one(request)
    request.parse_flags()
    split_error = request.instruction.deferred_error
    return request.build(c.EnvCommand, env=_pairs(request), split_error=split_error)


def parse_label(request: _Request) -> c.LabelCommand:
    """LABEL k=v ..."""
    _at_least_one(request)
    request.parse_flags()
    split_error = request.instruction.deferred_error
    return request.build(
        c.LabelCommand, labels=_pairs(request), split_error=split_error
    )


def _pairs(request: _Request) -> list[c.KeyValuePair]:
    args = request.args
    if len(args) % 3:
        raise request.error(
            f"Bad input to {request.name}, too many arguments",
            hint=f"write {request.name} name=value pairs",
        )
    pairs = []
    for index in range(0, len(args), 3):
        key, value, delimiter = args[index : index + 3]
        if key == "":
            raise request.error(
                f"{request.name} names can not be blank",
                hint="put a name before every '='",
                word="=" + value if value else None,
            )
        pairs.append(c.KeyValuePair(key, value, legacy=delimiter == ""))
    return pairs


def parse_maintainer(request: _Request) -> c.MaintainerCommand:
    """MAINTAINER text (deprecated)."""
    _exactly_one(request)
    request.parse_flags()
    return request.build(c.MaintainerCommand, maintainer=request.args[0])


def parse_from(request: _Request) -> c.Stage:
    """FROM [--platform=P] image [AS name]."""
    args = request.args
    name, as_keyword = _stage_name(request)
    platform = request.flags.add_string("platform")
    request.parse_flags()
    instruction = request.instruction
    return c.Stage(
        name=name,
        base_name=args[0],
        platform=platform.value,
        commands=[],
        location=request.location(),
        original=request.original,
        as_keyword=as_keyword,
        keyword=instruction.raw_keyword,
        comment=_description(instruction.prev_comment, name),
        filename=request.filename,
        source_lines=request.lines,
    )


def _stage_name(request: _Request) -> tuple[str, str]:
    args = request.args
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise request.error(
                f'invalid name for build stage: "{args[2]}", name can\'t start with a '
                "number or contain symbols",
                hint="start with a letter; use only a-z, 0-9, '-', '_' and '.'",
                word=args[2],
            )
        return name, args[1]
    if len(args) != 1:
        raise request.error(
            "FROM requires either one or three arguments",
            hint="write FROM <image> or FROM <image> AS <name>",
        )
    return "", ""


def _description(comments: list[str], name: str) -> str:
    if not name:
        return ""
    for comment in comments:
        if comment.startswith(name + " "):
            return comment[len(name) + 1 :]
    return ""


def parse_onbuild(request: _Request) -> c.OnbuildCommand:
    """ONBUILD <instruction>."""
    sub = request.instruction.sub
    if sub is None:
        raise request.error(
            "ONBUILD requires at least one argument",
            hint="write ONBUILD <instruction>, such as ONBUILD RUN make",
        )
    request.parse_flags()
    trigger = sub.raw_keyword.strip().upper()
    if trigger == "ONBUILD":
        raise request.error(
            "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
            hint="give ONBUILD one instruction to run in the child build",
            word=sub.original,
        )
    if trigger in ("MAINTAINER", "FROM"):
        raise request.error(
            f"{trigger} isn't allowed as an ONBUILD trigger",
            hint="use ONBUILD with RUN, COPY, ENV or another build instruction",
            word=sub.original,
        )
    expression = _ONBUILD_PREFIX.sub("", request.instruction.original, count=1)
    for doc in request.instruction.heredocs:
        expression += "\n" + doc.content + doc.name
    return request.build(c.OnbuildCommand, expression=expression)


def parse_workdir(request: _Request) -> c.WorkdirCommand:
    """WORKDIR path."""
    _exactly_one(request)
    request.parse_flags()
    return request.build(c.WorkdirCommand, path=request.args[0])


def parse_user(request: _Request) -> c.UserCommand:
    """USER name[:group]."""
    _exactly_one(request)
    request.parse_flags()
    return request.build(c.UserCommand, user=request.args[0])


def parse_stopsignal(request: _Request) -> c.StopSignalCommand:
    """STOPSIGNAL signal; like BuildKit, flags are not checked."""
    _exactly_one(request)
    return request.build(c.StopSignalCommand, signal=request.args[0])


def parse_volume(request: _Request) -> c.VolumeCommand:
    """VOLUME path... or VOLUME ["path", ...]."""
    _at_least_one(request)
    request.parse_flags()
    volumes = []
    for volume in request.args:
        volume = volume.strip()
        if volume == "":
            raise request.error(
                "VOLUME specified can not be an empty string",
                hint="give every VOLUME entry a path, or remove the empty one",
            )
        volumes.append(volume)
    return request.build(c.VolumeCommand, volumes=volumes)


def parse_expose(request: _Request) -> c.ExposeCommand:
    """EXPOSE port[/proto]..."""
    _at_least_one(request)
    request.parse_flags()
    return request.build(c.ExposeCommand, ports=sorted(request.args))


def parse_arg(request: _Request) -> c.ArgCommand:
    """ARG name[=default]...; like BuildKit, flags are not checked."""
    _at_least_one(request)
    pairs = []
    for word in request.args:
        key, has_value, value = word.partition("=")
        if has_value and key == "":
            raise request.error(
                "ARG names can not be blank", hint="write ARG NAME=value", word=word
            )
        comment = _description(request.instruction.prev_comment, key)
        pairs.append(c.KeyValuePairOptional(key, value if has_value else None, comment))
    return request.build(c.ArgCommand, args=pairs)


def parse_shell(request: _Request) -> c.ShellCommand:
    """SHELL ["executable", "parameters"]."""
    request.parse_flags()
    command = _command_line(request)
    if not command:
        raise request.error(
            "SHELL requires at least one argument", hint='write SHELL ["/bin/sh", "-c"]'
        )
    if not request.instruction.json:
        raise request.error(
            "SHELL requires the arguments to be in JSON form",
            hint='write SHELL ["/bin/sh", "-c"]',
        )
    return request.build(c.ShellCommand, shell=command)


def _command_line(request: _Request) -> list[str]:
    args = request.args
    if not args:
        return []
    if request.instruction.json:
        return list(args)
    return [" ".join(args)]


def _shell_files(request: _Request) -> list[c.SourceFile]:
    return [
        c.SourceFile(doc.name, doc.content, chomp=doc.chomp, expand=doc.expand)
        for doc in request.instruction.heredocs
    ]


def parse_cmd(request: _Request) -> c.CmdCommand:
    """CMD in shell or exec form."""
    request.parse_flags()
    return request.build(
        c.CmdCommand,
        cmd=_command_line(request),
        prepend_shell=not request.instruction.json,
        files=_shell_files(request),
    )


def parse_entrypoint(request: _Request) -> c.EntrypointCommand:
    """ENTRYPOINT in shell or exec form; an empty JSON array unsets it."""
    request.parse_flags()
    command = _command_line(request)
    return request.build(
        c.EntrypointCommand,
        cmd=command or None,
        prepend_shell=not request.instruction.json,
        files=_shell_files(request),
    )


def parse_run(request: _Request) -> c.RunCommand:
    """RUN [--mount=...] [--network=...] [--security=...] [--device=...] command."""
    mounts = request.flags.add_strings("mount")
    # Empty when the flag is absent, so the build's --network can apply.
    network = request.flags.add_string("network", "")
    security = request.flags.add_string("security", "sandbox")
    devices = request.flags.add_strings("device")
    request.parse_flags()
    if network.value and network.value not in _NETWORK_MODES:
        raise request.error(
            f'invalid network mode "{network.value}"',
            hint="use --network=default, none or host",
            word="--network",
        )
    if security.value not in _SECURITY_MODES:
        raise request.error(
            f'security "{security.value}" is not valid',
            hint="use --security=sandbox or insecure",
            word="--security",
        )
    return request.build(
        c.RunCommand,
        cmd=_command_line(request),
        prepend_shell=not request.instruction.json,
        files=_shell_files(request),
        mounts=_parse_mounts(request, mounts.values),
        network=network.value,
        security=security.value,
        devices=list(devices.values),
        mount_values=list(mounts.values),
    )


def _parse_mounts(request: _Request, values: list[str]) -> list[c.MountSpec]:
    """Parse the mounts that need no expansion; check ``from`` in all of them.

    A value with ``$`` in it is parsed as written when that works, and
    otherwise left for :meth:`RunCommand.expand`, as BuildKit defers it.
    """
    mounts = []
    for value in values:
        try:
            if "$" not in value:
                mounts.append(parse_mount(value, lambda word: word))
                continue
            parse_mount(value, None)
        except MountError as exc:
            raise request.error(
                str(exc), hint=exc.hint, word=(exc.word, value)
            ) from None
        try:
            mounts.append(parse_mount(value, lambda word: word))
        except MountError:
            pass
    return mounts


def parse_healthcheck(request: _Request) -> c.HealthcheckCommand:
    """HEALTHCHECK NONE or HEALTHCHECK [options] CMD command."""
    _at_least_one(request)
    kind = request.args[0].upper()
    if kind == "NONE":
        # Like BuildKit, flags on HEALTHCHECK NONE are not checked.
        if len(request.args) > 1:
            raise request.error(
                "HEALTHCHECK NONE takes no arguments",
                hint="write HEALTHCHECK NONE alone to disable the base image's check",
            )
        return request.build(c.HealthcheckCommand, test=["NONE"])

    names = ("interval", "timeout", "start-period", "start-interval", "retries")
    flags = {name: request.flags.add_string(name) for name in names}
    request.parse_flags()
    if kind != "CMD":
        raise request.error(
            f'Unknown type "{kind}" in HEALTHCHECK (try CMD)', word=request.args[0]
        )
    test = _health_test(request)

    return request.build(
        c.HealthcheckCommand,
        test=test,
        interval=_interval(request, "interval", flags["interval"].value),
        timeout=_interval(request, "timeout", flags["timeout"].value),
        start_period=_interval(request, "start-period", flags["start-period"].value),
        start_interval=_interval(
            request, "start-interval", flags["start-interval"].value
        ),
        retries=_retries(request, flags["retries"].value),
    )


def _health_test(request: _Request) -> list[str]:
    """Return the test: ``["CMD", ...]`` in exec form, ``["CMD-SHELL", text]`` else."""
    rest = request.args[1:]
    if request.instruction.json:
        command, kind = rest, "CMD"
    else:
        command, kind = [" ".join(rest)] if rest else [], "CMD-SHELL"
    if not command:
        raise request.error(
            "Missing command after HEALTHCHECK CMD",
            hint='write HEALTHCHECK CMD <command>, such as CMD ["curl", "-f", "x"]',
        )
    return [kind, *command]


def _interval(request: _Request, name: str, text: str) -> float | None:
    if text == "":
        return None
    try:
        seconds = parse_duration(text)
    except DurationError as exc:
        raise request.error(
            str(exc), hint="use a duration such as 30s or 1m30s", word=text
        ) from None
    if seconds == 0:
        return None
    if seconds < _MINIMUM_DURATION:
        raise request.error(
            f'Interval "{name}" cannot be less than 1ms',
            hint="use 0 to inherit the base image's value, or at least 1ms",
            word=text,
        )
    return seconds


def _retries(request: _Request, text: str) -> int | None:
    if text == "":
        return None
    if not re.fullmatch(r"[+-]?[0-9]+", text) or abs(int(text)) > _MAX_INT32 + (
        text[0] == "-"
    ):
        raise request.error(
            f'strconv.ParseInt: parsing "{text}": invalid syntax',
            hint="use a whole number such as 3",
            word=text,
        )
    retries = int(text)
    if retries < 0:
        raise request.error(
            f"--retries cannot be negative ({retries})",
            hint="use 0 or more retries",
            word=text,
        )
    return retries


def parse_copy(request: _Request) -> c.CopyCommand:
    """COPY [--from --chown --chmod --link --parents --exclude] src... dest."""
    flags = request.flags
    excludes = flags.add_strings("exclude")
    parents = flags.add_bool("parents")
    chown = flags.add_string("chown")
    source = flags.add_string("from")
    chmod = flags.add_string("chmod")
    link = flags.add_bool("link")
    _need_destination(request)
    request.parse_flags()
    _check_from_expansion(request, source.value)
    sources, dest, files = _sources_and_dest(request)
    return request.build(
        c.CopyCommand,
        sources=sources,
        dest=dest,
        files=files,
        from_=source.value,
        chown=chown.value,
        chmod=chmod.value,
        link=link.is_true,
        parents=parents.is_true,
        excludes=list(excludes.values),
    )


def _check_from_expansion(request: _Request, value: str) -> None:
    # BuildKit refuses --from when expansion would change it. Any variable
    # reference does (to "" when unset), so this fails before the build
    # starts; CopyCommand.expand repeats the check with the real values.
    if "$" in value and _FROM_LEXER.process_word(value, {}) != value:
        raise request.error(
            c.FROM_EXPANSION_MESSAGE,
            hint="name the stage with 'FROM $ARG AS name' and use --from=name",
            word=value,
        )


def parse_add(request: _Request) -> c.AddCommand:
    """ADD [--chown --chmod --link --keep-git-dir --checksum --unpack] src... dest."""
    flags = request.flags
    excludes = flags.add_strings("exclude")
    chown = flags.add_string("chown")
    chmod = flags.add_string("chmod")
    link = flags.add_bool("link")
    keep_git_dir = flags.add_bool("keep-git-dir")
    checksum = flags.add_string("checksum")
    unpack = flags.add_bool("unpack")
    _need_destination(request)
    request.parse_flags()
    sources, dest, files = _sources_and_dest(request)
    if checksum.value:
        _check_checksum_source(request, sources, files)
    return request.build(
        c.AddCommand,
        sources=sources,
        dest=dest,
        files=files,
        chown=chown.value,
        chmod=chmod.value,
        link=link.is_true,
        keep_git_dir=keep_git_dir.is_true if keep_git_dir.used else None,
        checksum=checksum.value,
        unpack=unpack.is_true if unpack.used else None,
        excludes=list(excludes.values),
    )


def _check_checksum_source(
    request: _Request, sources: list[str], files: list[c.SourceFile]
) -> None:
    if len(sources) != 1 or files:
        raise request.error(
            "checksum can't be specified for multiple sources",
            hint="give --checksum only for a single URL or git source",
            word="--checksum",
        )
    source = sources[0]
    # A source that still contains a variable is checked by the converter.
    if "$" not in source and not _REMOTE_SOURCE.match(source):
        raise request.error(
            "checksum can't be specified for non-HTTP(S) sources",
            hint="remove --checksum, or add from an http(s) URL or a git repository",
            word=source,
        )


def _need_destination(request: _Request) -> None:
    if len(request.args) < 2:
        raise request.error(
            f"{request.name} requires at least two arguments, but only one was "
            "provided. Destination could not be determined",
            hint=f"add a destination: {request.name} <src> <dest>",
        )


def _heredoc(request: _Request, word: str) -> Any:
    """Return the heredoc that ``word`` opens, or None; a malformed name fails at the word."""
    try:
        return parse_heredoc(word)
    except LineError as exc:
        raise request.error(str(exc), hint=exc.hint, word=exc.word or word) from None


def _sources_and_dest(request: _Request) -> tuple[list[str], str, list[c.SourceFile]]:
    *sources, dest = request.args
    if _heredoc(request, dest) is not None:
        raise request.error(
            f"{request.name} cannot accept a heredoc as a destination",
            hint=f"write {request.name} <<EOF <dest>, with the heredoc as the source",
            word=dest,
        )
    bodies = {doc.name: doc for doc in request.instruction.heredocs}
    paths: list[str] = []
    files: list[c.SourceFile] = []
    for source in sources:
        doc = _heredoc(request, source) if not request.instruction.json else None
        if doc is None:
            paths.append(source)
            continue
        body = bodies.get(doc.name)
        content = body.content if body else ""
        if doc.chomp:
            content = chomp_heredoc_content(content)
        files.append(
            c.SourceFile(doc.name, content, chomp=doc.chomp, expand=doc.expand)
        )
    return paths, dest, files


_PARSERS: dict[str, Callable[[_Request], c.Command | c.Stage]] = {
    "add": parse_add,
    "arg": parse_arg,
    "cmd": parse_cmd,
    "copy": parse_copy,
    "entrypoint": parse_entrypoint,
    "env": parse_env,
    "expose": parse_expose,
    "from": parse_from,
    "healthcheck": parse_healthcheck,
    "label": parse_label,
    "maintainer": parse_maintainer,
    "onbuild": parse_onbuild,
    "run": parse_run,
    "shell": parse_shell,
    "stopsignal": parse_stopsignal,
    "user": parse_user,
    "volume": parse_volume,
    "workdir": parse_workdir,
}
