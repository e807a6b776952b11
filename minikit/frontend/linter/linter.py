"""The build-check linter: collect warnings as data, honouring ``# check=``.

:meth:`Linter.check_parsed` runs every rule that needs only the parsed
Dockerfile. Rules that need values known during conversion (UndefinedVar,
UndefinedArgInFrom, InvalidDefaultArgInFrom, InvalidBaseImagePlatform,
CopyIgnoredFile) are reported by the converter through :meth:`Linter.report`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from minikit.errors import DockerfileError, DockerfileParseError, SourceLocation
from minikit.frontend.instructions import commands as c
from minikit.frontend.linter.rules import rule_for
from minikit.frontend.parser.model import Instruction, ParseResult

_SECRET_WORDS = (
    "apikey|auth|credential|credentials|key|password|pword|passwd|secret|token"
)
_SECRET_KEY = re.compile(rf"(?i)(?:_|^)(?:{_SECRET_WORDS})(?:_|$)")
_ALLOWED_KEY = re.compile(r"(?i)(?:_|^)(?:public|file|version)(?:_|$)")
_RESERVED_STAGE_NAMES = ("context", "scratch")
_SINGLE_USE = ("CMD", "ENTRYPOINT", "HEALTHCHECK")
_TARGET_PLATFORM = ("$TARGETPLATFORM", "${TARGETPLATFORM}")
_PARSER_RULE_MESSAGES = {"NoEmptyContinuation": "Empty continuation line"}


@dataclass
class LintWarning:
    """One build-check finding."""

    rule: str
    message: str
    line: int
    url: str
    description: str


@dataclass
class CheckOptions:
    """The parsed ``# check=`` directive (or ``BUILDKIT_DOCKERFILE_CHECK``)."""

    skip_all: bool = False
    skip: frozenset[str] = frozenset()
    experimental_all: bool = False
    experimental: frozenset[str] = frozenset()
    error: bool = False


def parse_check_options(text: str) -> CheckOptions:
    """Parse ``skip=A,B|all;error=true;experimental=C``; raise ValueError if invalid."""
    options = CheckOptions()
    text = text.strip()
    if not text:
        return options
    for part in text.split(";", 2):
        key, has_value, value = part.partition("=")
        if not has_value:
            raise ValueError(f'invalid check option "{part}"')
        key, value = key.strip(), value.strip()
        if key == "skip":
            names = frozenset(name.strip() for name in value.split(","))
            options.skip_all, options.skip = value == "all", names
        elif key == "experimental":
            names = frozenset(name.strip() for name in value.split(","))
            options.experimental_all, options.experimental = value == "all", names
        elif key == "error":
            options.error = _parse_go_bool(value, part)
        else:
            raise ValueError(f'invalid check option "{key}"')
    return options


def _parse_go_bool(value: str, part: str) -> bool:
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(f'failed to parse check option "{part}": invalid syntax')


class Linter:
    """Collect build-check warnings for one Dockerfile.

    ``check_directive`` is the value of ``# check=``; a non-empty
    ``build_arg_override`` (the ``BUILDKIT_DOCKERFILE_CHECK`` build arg)
    replaces it. An invalid value raises ``DockerfileParseError``.
    """

    def __init__(
        self,
        check_directive: str | None,
        filename: str,
        build_arg_override: str | None = None,
        *,
        check_line: int = 1,
    ) -> None:
        self.filename = filename
        text = build_arg_override or check_directive or ""
        try:
            self.options = parse_check_options(text)
        except ValueError as exc:
            raise DockerfileParseError(
                str(exc),
                hint="write '# check=skip=<Rule,...>|all;error=true|false'",
                location=SourceLocation(filename, check_line),
            ) from None
        self._warnings: list[LintWarning] = []

    @property
    def warnings(self) -> list[LintWarning]:
        """The warnings reported so far, in order."""
        return list(self._warnings)

    @property
    def error_on_warnings(self) -> bool:
        """Whether ``error=true`` requests a failed build after any warning."""
        return self.options.error

    def violation_error(self) -> DockerfileError | None:
        """Return the error that fails the build under ``error=true``, or None."""
        if not self.options.error or not self._warnings:
            return None
        rules = ", ".join(sorted({warning.rule for warning in self._warnings}))
        return DockerfileError(
            f"lint violation found for rules: {rules}",
            hint="fix the warnings above, or skip rules with '# check=skip=<Rule>'",
        )

    def enabled(self, rule: str) -> bool:
        """Return whether ``rule`` is reported under the current options."""
        if rule_for(rule).experimental:
            return self.options.experimental_all or rule in self.options.experimental
        return not (self.options.skip_all or rule in self.options.skip)

    def report(self, rule: str, message: str, line: int) -> None:
        """Record a warning for ``rule`` unless the options skip it."""
        if not self.enabled(rule):
            return
        info = rule_for(rule)
        self._warnings.append(
            LintWarning(rule, message, line, info.url, info.description)
        )

    def check_parsed(
        self, result: ParseResult, stages: list[c.Stage], meta_args: list[c.ArgCommand]
    ) -> None:
        """Run every rule that needs only the parsed Dockerfile."""
        for warning in result.warnings:
            # BuildKit reports the rule's own short text, not the parser's.
            message = _PARSER_RULE_MESSAGES.get(warning.rule, warning.message)
            self.report(warning.rule, message, warning.line)
        self._check_casing(result.instructions)
        self._check_from_lines(result.instructions)
        for arg in meta_args:
            self._check_secret_keys("ARG", [pair.key for pair in arg.args], arg)
        self._check_stages(stages)

    def _check_casing(self, instructions: list[Instruction]) -> None:
        keywords = [ins.raw_keyword for ins in instructions]
        consistent = [word for word in keywords if word in (word.lower(), word.upper())]
        lower = sum(1 for word in consistent if word == word.lower())
        majority_lower = lower > len(consistent) - lower
        for ins in instructions:
            word = ins.raw_keyword
            if majority_lower and word != word.lower():
                casing = "lowercase"
            elif not majority_lower and word != word.upper():
                casing = "uppercase"
            else:
                continue
            self.report(
                "ConsistentInstructionCasing",
                f"Command '{word}' should match the case of the command majority "
                f"({casing})",
                ins.start_line,
            )

    def _check_from_lines(self, instructions: list[Instruction]) -> None:
        for ins in instructions:
            if ins.keyword != "from" or len(ins.args) != 3:
                continue
            stage_name = ins.args[2]
            if stage_name != stage_name.lower():
                self.report(
                    "StageNameCasing",
                    f"Stage name '{stage_name}' should be lowercase",
                    ins.start_line,
                )
            if not _as_matches_from(ins.raw_keyword, ins.args[1]):
                self.report(
                    "FromAsCasing",
                    f"'{ins.args[1]}' and '{ins.raw_keyword}' keywords' casing do "
                    "not match",
                    ins.start_line,
                )

    def _check_stages(self, stages: list[c.Stage]) -> None:
        seen: dict[str, c.Stage] = {}
        for stage in stages:
            self._check_stage_name(stage, seen)
            self._check_platform(stage)
            self._check_commands(stage, self._inherited(stage, seen))
            if stage.name:
                seen.setdefault(stage.name, stage)

    def _check_stage_name(self, stage: c.Stage, seen: dict[str, c.Stage]) -> None:
        line = stage.location.start_line
        if stage.name and stage.name in seen:
            self.report(
                "DuplicateStageName",
                f'Duplicate stage name "{stage.name}", stage names should be unique',
                line,
            )
        if stage.name in _RESERVED_STAGE_NAMES:
            self.report(
                "ReservedStageName",
                "Stage name should not use the same name as reserved stage "
                f'"{stage.name}"',
                line,
            )

    def _check_platform(self, stage: c.Stage) -> None:
        platform = stage.platform
        line = stage.location.start_line
        if platform in _TARGET_PLATFORM:
            self.report(
                "RedundantTargetPlatform",
                f"Setting platform to predefined {platform} in FROM is redundant as "
                "this is the default behavior",
                line,
            )
        elif (
            platform
            and "$" not in platform
            and not _name_mentions(stage.name, platform)
        ):
            self.report(
                "FromPlatformFlagConstDisallowed",
                f'FROM --platform flag should not use constant value "{platform}"',
                line,
            )

    def _inherited(self, stage: c.Stage, seen: dict[str, c.Stage]) -> _StageFacts:
        """Return what ``stage`` inherits from an earlier stage it is built on."""
        facts = _StageFacts()
        base = seen.get(stage.base_name)
        while base is not None and facts.depth < len(seen):
            facts.absorb(base)
            base = seen.get(base.base_name) if base.base_name != base.name else None
        return facts

    def _check_commands(self, stage: c.Stage, facts: _StageFacts) -> None:
        single_use: dict[str, list[c.Command]] = {name: [] for name in _SINGLE_USE}
        for command in stage.commands:
            if command.name in single_use:
                single_use[command.name].append(command)
            self._check_command(command, facts)
        for name, found in single_use.items():
            for command in found[:-1]:
                self.report(
                    "MultipleInstructionsDisallowed",
                    f"Multiple {name} instructions should not be used in the same "
                    "stage because only the last one will be used",
                    command.location.start_line,
                )

    def _check_command(self, command: c.Command, facts: _StageFacts) -> None:
        # NOTE: BuildKit runs JSONArgsRecommended, WorkdirRelativePath and
        # MultipleInstructionsDisallowed while dispatching, so a build warns only
        # for the stages it builds, and a SHELL in the base image's config also
        # silences JSONArgsRecommended. These checks see every stage and only
        # this Dockerfile's SHELL instructions.
        line = command.location.start_line
        if isinstance(command, c.ShellCommand):
            facts.shell_set = True
        elif isinstance(command, (c.CmdCommand, c.EntrypointCommand)):
            if command.prepend_shell and not facts.shell_set:
                self.report(
                    "JSONArgsRecommended",
                    f"JSON arguments recommended for {command.name} to prevent "
                    "unintended behavior related to OS signals",
                    line,
                )
        elif isinstance(command, c.MaintainerCommand):
            self.report(
                "MaintainerDeprecated",
                "Maintainer instruction is deprecated in favor of using label",
                line,
            )
        elif isinstance(command, (c.EnvCommand, c.LabelCommand)):
            self._check_pairs(command)
        elif isinstance(command, c.ArgCommand):
            self._check_secret_keys("ARG", [pair.key for pair in command.args], command)
            self._check_descriptions(command)
        elif isinstance(command, c.WorkdirCommand):
            self._check_workdir(command, facts)
        elif isinstance(command, c.ExposeCommand):
            self._check_expose(command)

    def _check_pairs(self, command: c.EnvCommand | c.LabelCommand) -> None:
        pairs = command.env if isinstance(command, c.EnvCommand) else command.labels
        if any(pair.legacy for pair in pairs):
            self.report(
                "LegacyKeyValueFormat",
                f'"{command.name} key=value" should be used instead of legacy '
                f'"{command.name} key value" format',
                command.location.start_line,
            )
        if isinstance(command, c.EnvCommand):
            self._check_secret_keys("ENV", [pair.key for pair in pairs], command)

    def _check_secret_keys(
        self, kind: str, keys: list[str], command: c.Command
    ) -> None:
        for key in keys:
            if _SECRET_KEY.search(key) and not _ALLOWED_KEY.search(key):
                self.report(
                    "SecretsUsedInArgOrEnv",
                    "Do not use ARG or ENV instructions for sensitive data "
                    f'({kind} "{key}")',
                    command.location.start_line,
                )

    def _check_descriptions(self, command: c.ArgCommand) -> None:
        # Experimental: a comment right above an ARG should start with its name.
        lines = command.source_lines
        start = command.location.start_line
        comment = lines[start - 2].strip() if start >= 2 and len(lines) >= start else ""
        if not comment.startswith("#"):
            return
        words = comment.lstrip("#").strip().split(" ")
        keys = [pair.key for pair in command.args]
        if keys and words[0] not in keys:
            example = keys[0] if len(keys) == 1 else "<arg_key>"
            self.report(
                "InvalidDefinitionDescription",
                "Comment for ARG should follow the format: "
                f"`# {example} <description>`",
                start,
            )

    def _check_workdir(self, command: c.WorkdirCommand, facts: _StageFacts) -> None:
        path = command.path
        if path.startswith("/") or "$" in path:
            facts.absolute_workdir = facts.absolute_workdir or path.startswith("/")
            return
        if not facts.absolute_workdir and not facts.relative_reported:
            facts.relative_reported = True
            self.report(
                "WorkdirRelativePath",
                f'Relative workdir "{path}" can have unexpected results if the base '
                "image changes",
                command.location.start_line,
            )

    def _check_expose(self, command: c.ExposeCommand) -> None:
        for port in command.ports:
            if "$" in port:
                continue
            if ":" in port:
                self.report(
                    "ExposeInvalidFormat",
                    "EXPOSE instruction should not define an IP address or host-port "
                    f"mapping, found '{port}'",
                    command.location.start_line,
                )
            _, slash, proto = port.partition("/")
            if slash and proto != proto.lower():
                self.report(
                    "ExposeProtoCasing",
                    f"Defined protocol '{port}' in EXPOSE instruction should be "
                    "lowercase",
                    command.location.start_line,
                )


@dataclass
class _StageFacts:
    """The facts that rules track along a chain of stages built on each other."""

    shell_set: bool = False
    absolute_workdir: bool = False
    relative_reported: bool = False
    depth: int = 0

    def absorb(self, stage: c.Stage) -> None:
        self.depth += 1
        for command in stage.commands:
            if isinstance(command, c.ShellCommand):
                self.shell_set = True
            elif isinstance(command, c.WorkdirCommand) and command.path.startswith("/"):
                self.absolute_workdir = True


def _as_matches_from(from_word: str, as_word: str) -> bool:
    # A FROM keyword in mixed case is ConsistentInstructionCasing's business.
    if from_word == from_word.lower():
        return as_word == as_word.lower()
    if from_word == from_word.upper():
        return as_word == as_word.upper()
    return True


def _name_mentions(name: str, platform: str) -> bool:
    # "FROM --platform=linux/amd64 x AS build-amd64" names its platform, so a
    # constant is intended there.
    return bool(name) and any(part and part in name for part in platform.split("/")[1:])
