"""Typed Dockerfile instructions: parsed flags, checked arguments, build stages.

:func:`parse_instructions` turns a :class:`~minikit.frontend.parser.ParseResult`
into build stages and the meta ARGs before the first FROM, and
:func:`parse_command` does it for one instruction (also for ONBUILD triggers
read from a base image).
"""

from minikit.frontend.instructions.commands import (
    AddCommand,
    ArgCommand,
    CmdCommand,
    Command,
    CopyCommand,
    EntrypointCommand,
    EnvCommand,
    ExposeCommand,
    HealthcheckCommand,
    KeyValuePair,
    KeyValuePairOptional,
    LabelCommand,
    Location,
    MaintainerCommand,
    MountSpec,
    OnbuildCommand,
    RunCommand,
    ShellCommand,
    SourceFile,
    Stage,
    StopSignalCommand,
    UserCommand,
    VolumeCommand,
    WorkdirCommand,
)
from minikit.frontend.instructions.parse import parse_command, parse_instructions

__all__ = [
    "AddCommand",
    "ArgCommand",
    "CmdCommand",
    "Command",
    "CopyCommand",
    "EntrypointCommand",
    "EnvCommand",
    "ExposeCommand",
    "HealthcheckCommand",
    "KeyValuePair",
    "KeyValuePairOptional",
    "LabelCommand",
    "Location",
    "MaintainerCommand",
    "MountSpec",
    "OnbuildCommand",
    "RunCommand",
    "ShellCommand",
    "SourceFile",
    "Stage",
    "StopSignalCommand",
    "UserCommand",
    "VolumeCommand",
    "WorkdirCommand",
    "parse_command",
    "parse_instructions",
]
