"""Per-instruction dispatch: each instruction changes the stage's graph or config.

``dispatch_stage`` runs a stage's ONBUILD triggers (from its base) and then
its own instructions through the flat ``_DISPATCH`` table. Instructions that
only change the image config add a history entry with ``empty_layer``.
"""

from __future__ import annotations

import posixpath
import signal
from typing import TYPE_CHECKING, Any, Callable

from minikit.errors import DockerfileError
from minikit.frontend.convert.triggers import parse_trigger
from minikit.frontend.convert.gofmt import go_duration, go_quoted_slice, go_slice
from minikit.frontend.convert.state import StageState
from minikit.llb import (
    ChownOpt,
    FileAction,
    FileOp,
    MkdirAction,
    NodeOutput,
    UserOpt,
    make_node,
)

if TYPE_CHECKING:
    from minikit.frontend.convert.converter import Converter, _StageInfo


def dispatch_stage(conv: "Converter", info: "_StageInfo") -> None:
    """Dispatch every instruction of one stage, triggers from its base first."""
    conv.init_stage(info)
    state = info.state
    commands = _onbuild_triggers(conv, state) + list(info.stage.commands)
    total = len(commands) + 1
    for number, command in enumerate(commands, start=2):
        handler = _DISPATCH.get(type(command).__name__)
        if handler is None:
            raise conv.fail(f"unsupported instruction {command.name}", command)
        handler(conv, state, command, number, total)
    state.dispatched = True


def _onbuild_triggers(conv: "Converter", state: StageState) -> list[Any]:
    triggers = state.config.get("OnBuild") or []
    state.config["OnBuild"] = None
    if not triggers:
        return []
    commands = []
    for text in triggers:
        commands.extend(parse_trigger(text, conv, state))
    return commands


def _history(
    conv: "Converter", state: StageState, text: str, empty_layer: bool = True
) -> None:
    state.add_history(text, empty_layer=empty_layer, epoch=conv.epoch)


def dispatch_env(
    conv: "Converter", state: StageState, command: Any, number: int, total: int
) -> None:
    """ENV: expand against the env before this instruction, then set every pair."""
    expand, words = conv.expander(state, command)
    command.expand(expand, words)
    parts = []
    for pair in command.env:
        if not pair.key:
            raise conv.fail("ENV names can not be blank", command)
        state.env.set(pair.key, pair.value)
        state.set_config_env(pair.key, pair.value)
        parts.append(f"{pair.key}={pair.value}")
    _history(conv, state, "ENV " + " ".join(parts))


def dispatch_label(
    conv: "Converter", state: StageState, command: Any, number: int, total: int
) -> None:
    """LABEL: expand and set labels; later values replace earlier ones."""
    expand, words = conv.expander(state, command)
    command.expand(expand, words)
    labels = state.config.get("Labels") or {}
    parts = []
    for pair in command.labels:
        labels[pair.key] = pair.value
        parts.append(f"{pair.key}={pair.value}")
    state.config["Labels"] = labels
    _history(conv, state, "LABEL " + " ".join(parts))


def dispatch_arg(
    conv: "Converter", state: StageState, command: Any, number: int, total: int
) -> None:
    """ARG: each pair in turn; a build arg wins over the default, which is expanded."""
    parts = []
    for pair in command.args:
        value = pair.value
        if pair.key in conv.options.build_args:
            value = conv.options.build_args[pair.key]
        elif value is None:
            value = conv.global_args.get(pair.key)
        else:
            value = conv.lexer.process_word(value, state.env.as_dict())
        conv.used_args.add(pair.key)
        state.declared_args.add(pair.key)
        if pair.key not in state.arg_names:
            state.arg_names.append(pair.key)
        if value is not None:
            state.env.set(pair.key, value)
        parts.append(pair.key if value is None else f"{pair.key}={value}")
    _history(conv, state, "ARG " + " ".join(parts))


def dispatch_user(
    conv: "Converter", state: StageState, command: Any, number: int, total: int
) -> None:
    """USER: set the user of later RUNs and of the image."""
    expand, words = conv.expander(state, command)
    command.expand(expand, words)
    state.user = command.user
    state.config["User"] = command.user
    _history(conv, state, f"USER {command.user}")


def dispatch_workdir(
    conv: "Converter", state: StageState, command: Any, number: int, total: int
) -> None:
    """WORKDIR: join with the previous one; make the folder, which adds a layer."""
    expand, words = conv.expander(state, command)
    command.expand(expand, words)
    path = command.path
    if not posixpath.isabs(path):
        path = posixpath.join(state.workdir, path)
    path = posixpath.normpath(path)
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    state.workdir = path
    state.config["WorkingDir"] = path
    if path != "/":
        owner = _owner_of_user(state.user)
        action = FileAction(
            MkdirAction(
                path, 0o755, make_parents=True, owner=owner, timestamp=conv.epoch
            ),
            input=0 if state.output is not None else -1,
            output=0,
        )
        text = f"WORKDIR {command.path}"
        meta = conv.metadata(
            state, command, conv.step_name(state, number, total, text), text
        )
        parents = (state.output,) if state.output is not None else ()
        node = make_node(lambda inputs: FileOp((action,), inputs=inputs), parents, meta)
        state.output = NodeOutput(node)
    _history(conv, state, f"WORKDIR {path}", empty_layer=path == "/")


def _owner_of_user(user: str) -> ChownOpt | None:
    if not user:
        return None
    name, _, group = user.partition(":")
    user_opt = UserOpt(id=int(name)) if name.isdigit() else UserOpt(name=name)
    group_opt = None
    if group:
        group_opt = UserOpt(id=int(group)) if group.isdigit() else UserOpt(name=group)
    return ChownOpt(user_opt, group_opt)


def dispatch_expose(
    conv: "Converter", state: StageState, command: Any, number: int, total: int
) -> None:
    """EXPOSE: record ports as ``port/proto`` (tcp by default), ranges expanded."""
    expand, words = conv.expander(state, command)
    command.expand(expand, words)
    exposed = state.config.get("ExposedPorts") or {}
    added = []
    for spec in command.ports:
        for port in _parse_ports(spec, conv, command):
            exposed[port] = {}
            added.append(port)
    state.config["ExposedPorts"] = exposed
    _history(conv, state, "EXPOSE " + go_slice(sorted(set(added))))


def _parse_ports(spec: str, conv: "Converter", command: Any) -> list[str]:
    text, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if ":" in text:
        text = text.rsplit(":", 1)[1]
    low, _, high = text.partition("-")
    if not low.isdigit() or (high and not high.isdigit()):
        raise conv.fail(
            f"invalid containerPort: {spec}",
            command,
            hint="write a port like 80, 80/udp or 8000-8010",
        )
    start, end = int(low), int(high or low)
    if end < start:
        raise conv.fail(f"invalid range specified for container port: {spec}", command)
    return [f"{port}/{proto}" for port in range(start, end + 1)]


def dispatch_volume(
    conv: "Converter", state: StageState, command: Any, number: int, total: int
) -> None:
    """VOLUME: record the volumes in the config (later RUN changes below them are kept)."""
    expand, words = conv.expander(state, command)
    command.expand(expand, words)
    volumes = state.config.get("Volumes") or {}
    for volume in command.volumes:
        if not volume.strip():
            raise conv.fail("VOLUME specified can not be an empty string", command)
        volumes[volume] = {}
    state.config["Volumes"] = volumes
    _history(conv, state, "VOLUME " + go_slice(command.volumes))


def dispatch_stopsignal(
    conv: "Converter", state: StageState, command: Any, number: int, total: int
) -> None:
    """STOPSIGNAL: validate the signal and record it."""
    expand, words = conv.expander(state, command)
    command.expand(expand, words)
    if not _valid_signal(command.signal):
        raise conv.fail(
            f"Invalid signal: {command.signal}",
            command,
            hint="use a name like SIGTERM or a number",
        )
    state.config["StopSignal"] = command.signal
    _history(conv, state, f"STOPSIGNAL {command.signal}")


def _valid_signal(text: str) -> bool:
    if text.isdigit():
        return 0 < int(text) < 65
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    return (
        name in signal.Signals.__members__
        or name.startswith("SIGRTMIN")
        or name.startswith("SIGRTMAX")
    )


def dispatch_healthcheck(
    conv: "Converter", state: StageState, command: Any, number: int, total: int
) -> None:
    """HEALTHCHECK: record the test and its timings (nanoseconds in the config)."""
    health: dict[str, Any] = {"Test": list(command.test or ["NONE"])}
    fields = (
        ("Interval", command.interval),
        ("Timeout", command.timeout),
        ("StartPeriod", command.start_period),
        ("StartInterval", command.start_interval),
    )
    for key, seconds in fields:
        if seconds:
            health[key] = int(round(seconds * 1_000_000_000))
    if command.retries:
        health["Retries"] = command.retries
    state.config["Healthcheck"] = health
    text = (
        "HEALTHCHECK {Test:%s Interval:%s Timeout:%s StartPeriod:%s StartInterval:%s Retries:%d}"
        % (
            go_slice(health["Test"]),
            go_duration(command.interval or 0),
            go_duration(command.timeout or 0),
            go_duration(command.start_period or 0),
            go_duration(command.start_interval or 0),
            command.retries or 0,
        )
    )
    _history(conv, state, text)


def dispatch_shell(
    conv: "Converter", state: StageState, command: Any, number: int, total: int
) -> None:
    """SHELL: the shell for later shell-form RUN, CMD and ENTRYPOINT."""
    state.shell = tuple(command.shell)
    state.config["Shell"] = list(command.shell)
    _history(conv, state, "SHELL " + go_slice(command.shell))


def _with_shell(state: StageState, command: Any) -> list[str]:
    if command.prepend_shell:
        return [*state.shell, " ".join(command.cmd)]
    return list(command.cmd)


def dispatch_cmd(
    conv: "Converter", state: StageState, command: Any, number: int, total: int
) -> None:
    """CMD: the default command; shell form gets the shell prepended."""
    cmd = _with_shell(state, command)
    state.config["Cmd"] = cmd
    state.config["ArgsEscaped"] = True
    state.cmd_set = True
    _history(conv, state, "CMD " + go_quoted_slice(cmd))


def dispatch_entrypoint(
    conv: "Converter", state: StageState, command: Any, number: int, total: int
) -> None:
    """ENTRYPOINT: an empty JSON list unsets it; it clears an inherited CMD."""
    entrypoint = _with_shell(state, command)
    state.config["Entrypoint"] = entrypoint or None
    if not state.cmd_set:
        state.config["Cmd"] = None
    _history(conv, state, "ENTRYPOINT " + go_quoted_slice(entrypoint))


def dispatch_onbuild(
    conv: "Converter", state: StageState, command: Any, number: int, total: int
) -> None:
    """ONBUILD: store the trigger for images built from this one (no history)."""
    triggers = state.config.get("OnBuild") or []
    triggers.append(command.expression)
    state.config["OnBuild"] = triggers


def dispatch_maintainer(
    conv: "Converter", state: StageState, command: Any, number: int, total: int
) -> None:
    """MAINTAINER: the deprecated author field."""
    state.image["author"] = command.maintainer
    _history(conv, state, f"MAINTAINER {command.maintainer}")


def _run(
    conv: "Converter", state: StageState, command: Any, number: int, total: int
) -> None:
    from minikit.frontend.convert.run import dispatch_run

    dispatch_run(conv, state, command, number, total)


def _copy(
    conv: "Converter", state: StageState, command: Any, number: int, total: int
) -> None:
    from minikit.frontend.convert.copy import dispatch_copy

    dispatch_copy(conv, state, command, number, total)


_DISPATCH: dict[str, Callable[..., None]] = {
    "EnvCommand": dispatch_env,
    "LabelCommand": dispatch_label,
    "ArgCommand": dispatch_arg,
    "UserCommand": dispatch_user,
    "WorkdirCommand": dispatch_workdir,
    "ExposeCommand": dispatch_expose,
    "VolumeCommand": dispatch_volume,
    "StopSignalCommand": dispatch_stopsignal,
    "HealthcheckCommand": dispatch_healthcheck,
    "ShellCommand": dispatch_shell,
    "CmdCommand": dispatch_cmd,
    "EntrypointCommand": dispatch_entrypoint,
    "OnbuildCommand": dispatch_onbuild,
    "MaintainerCommand": dispatch_maintainer,
    "RunCommand": _run,
    "CopyCommand": _copy,
    "AddCommand": _copy,
}

__all__ = ["dispatch_stage", "DockerfileError"]
