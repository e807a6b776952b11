"""Per-instruction dispatch: each instruction changes the stage's graph or config.

``dispatch_stage`` runs a stage's ONBUILD triggers (from its base) and then
its own instructions through the flat ``_DISPATCH`` table. Instructions that
only change the image config add a history entry with ``empty_layer``.
"""

from __future__ import annotations

import posixpath
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from minikit.frontend.convert.args import NON_ENV_ARGS
from minikit.frontend.convert.expose import parse_port_specs
from minikit.frontend.convert.gofmt import go_duration, go_quoted_slice, go_slice
from minikit.frontend.convert.naming import expand_for_display, uppercase_command
from minikit.frontend.convert.state import StageState
from minikit.frontend.convert.triggers import parse_trigger
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

Handler = Callable[["Converter", StageState, Any], None]


def dispatch_stage(conv: Converter, info: _StageInfo) -> None:
    """Dispatch every instruction of one stage, triggers from its base first."""
    conv.init_stage(info)
    state = info.state
    if info.replaced:
        # A --build-context of the stage's name replaces the whole stage.
        state.dispatched = True
        return
    triggers = _onbuild_triggers(conv, state)
    commands = [(command, True) for command in triggers]
    commands += [(command, False) for command in info.stage.commands]
    for command, is_trigger in commands:
        handler = _DISPATCH.get(type(command).__name__)
        if handler is None:
            raise conv.fail(
                f"unsupported instruction {command.name}",
                command,
                hint="please report this as a minikit bug",
            )
        state.cmd_is_onbuild = is_trigger
        handler(conv, state, command)
    state.cmd_is_onbuild = False
    state.dispatched = True


def _onbuild_triggers(conv: Converter, state: StageState) -> list[Any]:
    triggers = state.config.get("OnBuild") or []
    state.config["OnBuild"] = None
    commands = []
    for text in triggers:
        commands.extend(parse_trigger(text, conv, state))
    return commands


def _history(
    conv: Converter, state: StageState, text: str, empty_layer: bool = True
) -> None:
    state.add_history(text, empty_layer=empty_layer, epoch=conv.epoch)


def _expand(conv: Converter, state: StageState, command: Any) -> None:
    expand, words = conv.expander(state, command)
    command.expand(expand, words)


def dispatch_env(conv: Converter, state: StageState, command: Any) -> None:
    """ENV: expand against the env before this instruction, then set every pair."""
    _expand(conv, state, command)
    parts = []
    for pair in command.env:
        if not pair.key:
            raise conv.fail(
                "ENV names can not be blank", command, hint="write ENV NAME=value"
            )
        state.env.set(pair.key, pair.value)
        state.set_config_env(pair.key, pair.value)
        parts.append(f"{pair.key}={pair.value}")
    _history(conv, state, "ENV " + " ".join(parts))


def dispatch_label(conv: Converter, state: StageState, command: Any) -> None:
    """LABEL: expand and set labels; later values replace earlier ones."""
    _expand(conv, state, command)
    labels = state.config.get("Labels") or {}
    parts = []
    for pair in command.labels:
        labels[pair.key] = pair.value
        parts.append(f"{pair.key}={pair.value}")
    state.config["Labels"] = labels
    _history(conv, state, "LABEL " + " ".join(parts))


def dispatch_arg(conv: Converter, state: StageState, command: Any) -> None:
    """ARG: each pair in turn; a build arg wins over the default, which is expanded.

    A pair without a default takes the build arg, else the global value of
    the same name (an ARG before the first FROM, or a predefined one).
    Each value joins the environment at once, so ``ARG a=1 b=$a`` gives
    ``b=1``.
    """
    parts = []
    for pair in command.args:
        value = _arg_value(conv, state, command, pair)
        conv.used_args.add(pair.key)
        state.declared_args.add(pair.key)
        state.build_args.append((pair.key, value))
        if value is not None and pair.key not in NON_ENV_ARGS:
            state.env.set(pair.key, value)
        parts.append(pair.key if value is None else f"{pair.key}={value}")
    _history(conv, state, "ARG " + " ".join(parts))


def _arg_value(conv: Converter, state: StageState, command: Any, pair: Any) -> Any:
    if pair.key in conv.options.build_args:
        return conv.options.build_args[pair.key]
    if pair.value is None:
        return conv.global_args.get(pair.key)
    expand, _words = conv.expander(state, command)
    return expand(pair.value)


def dispatch_user(conv: Converter, state: StageState, command: Any) -> None:
    """USER: set the user of later RUNs and of the image."""
    _expand(conv, state, command)
    state.user = command.user
    state.config["User"] = command.user
    _history(conv, state, f"USER {command.user}")


def dispatch_workdir(conv: Converter, state: StageState, command: Any) -> None:
    """WORKDIR: join with the previous one; make the folder, which adds a layer."""
    _expand(conv, state, command)
    path = command.path
    if not posixpath.isabs(path):
        path = posixpath.join(state.workdir, path)
    path = posixpath.normpath(path)
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    state.workdir = path
    state.workdir_set = True
    state.config["WorkingDir"] = path
    if path != "/":
        _make_workdir(conv, state, command, path)
    _history(conv, state, f"WORKDIR {path}", empty_layer=path == "/")


def _make_workdir(conv: Converter, state: StageState, command: Any, path: str) -> None:
    owner = _owner_of_user(state.user)
    action = FileAction(
        MkdirAction(path, 0o755, make_parents=True, owner=owner, timestamp=conv.epoch),
        input=0 if state.output is not None else -1,
        output=0,
    )
    text = command.original
    display = uppercase_command(
        expand_for_display(conv.lexer, text, state.env.as_dict())
    )
    meta = conv.metadata(state, command, conv.step_name(state, display), text)
    parents = (state.output,) if state.output is not None else ()
    node = make_node(lambda inputs: FileOp((action,), inputs=inputs), parents, meta)
    state.output = NodeOutput(node)


def _owner_of_user(user: str) -> ChownOpt | None:
    if not user:
        return None
    name, _, group = user.partition(":")
    user_opt = UserOpt(id=int(name)) if name.isdigit() else UserOpt(name=name)
    group_opt = None
    if group:
        group_opt = UserOpt(id=int(group)) if group.isdigit() else UserOpt(name=group)
    return ChownOpt(user_opt, group_opt)


def dispatch_expose(conv: Converter, state: StageState, command: Any) -> None:
    """EXPOSE: record ports as ``port/proto`` (tcp by default), ranges expanded."""
    _expand(conv, state, command)
    try:
        ports = parse_port_specs(command.ports)
    except ValueError as exc:
        raise conv.fail(
            str(exc),
            command,
            hint="write ports like 80, 80/udp or 8000-8010/tcp",
            word=getattr(exc, "spec", None),
        ) from None
    exposed = state.config.get("ExposedPorts") or {}
    for port in ports:
        exposed[port] = {}
    state.config["ExposedPorts"] = exposed
    _history(conv, state, "EXPOSE " + go_slice(ports))


def dispatch_volume(conv: Converter, state: StageState, command: Any) -> None:
    """VOLUME: record the volumes in the config (later RUN changes below them are kept)."""
    _expand(conv, state, command)
    volumes = state.config.get("Volumes") or {}
    for volume in command.volumes:
        volumes[volume] = {}
    state.config["Volumes"] = volumes
    _history(conv, state, "VOLUME " + go_slice(command.volumes))


def dispatch_stopsignal(conv: Converter, state: StageState, command: Any) -> None:
    """STOPSIGNAL: validate the signal and record it."""
    written = command.signal
    _expand(conv, state, command)
    if not _valid_signal(command.signal):
        raise conv.fail(
            f"Invalid signal: {command.signal}",
            command,
            hint="use a name like SIGTERM or TERM, or a number such as 15",
            word=written,
        )
    state.config["StopSignal"] = command.signal
    _history(conv, state, f"STOPSIGNAL {command.signal}")


def _valid_signal(text: str) -> bool:
    if text.isdigit():
        return 0 < int(text) < 65
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    return name in signal.Signals.__members__ or name.startswith(
        ("SIGRTMIN", "SIGRTMAX")
    )


def dispatch_healthcheck(conv: Converter, state: StageState, command: Any) -> None:
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
            health[key] = round(seconds * 1_000_000_000)
    if command.retries:
        health["Retries"] = command.retries
    state.config["Healthcheck"] = health
    _history(conv, state, "HEALTHCHECK " + _health_text(health["Test"], command))


def _health_text(test: list[str], command: Any) -> str:
    # Go's %+v of the HealthcheckConfig struct.
    return (
        f"{{Test:{go_slice(test)} Interval:{go_duration(command.interval or 0)} "
        f"Timeout:{go_duration(command.timeout or 0)} "
        f"StartPeriod:{go_duration(command.start_period or 0)} "
        f"StartInterval:{go_duration(command.start_interval or 0)} "
        f"Retries:{command.retries or 0}}}"
    )


def dispatch_shell(conv: Converter, state: StageState, command: Any) -> None:
    """SHELL: the shell for later shell-form RUN, CMD and ENTRYPOINT."""
    state.shell = tuple(command.shell)
    state.config["Shell"] = list(command.shell)
    _history(conv, state, "SHELL " + go_slice(command.shell))


def _with_shell(state: StageState, command: Any) -> list[str]:
    if command.prepend_shell:
        return [*state.shell, " ".join(command.cmd)]
    return list(command.cmd)


def dispatch_cmd(conv: Converter, state: StageState, command: Any) -> None:
    """CMD: the default command; shell form gets the shell prepended."""
    cmd = _with_shell(state, command)
    state.config["Cmd"] = cmd
    state.config["ArgsEscaped"] = True
    state.cmd_set = True
    _history(conv, state, "CMD " + go_quoted_slice(cmd))


def dispatch_entrypoint(conv: Converter, state: StageState, command: Any) -> None:
    """ENTRYPOINT: an empty JSON list unsets it; it clears an inherited CMD."""
    entrypoint = _with_shell(state, command) if command.cmd is not None else []
    state.config["Entrypoint"] = entrypoint or None
    if not state.cmd_set:
        state.config["Cmd"] = None
    _history(conv, state, "ENTRYPOINT " + go_quoted_slice(entrypoint))


def dispatch_onbuild(conv: Converter, state: StageState, command: Any) -> None:
    """ONBUILD: store the trigger for images built from this one (no history)."""
    triggers = state.config.get("OnBuild") or []
    triggers.append(command.expression)
    state.config["OnBuild"] = triggers


def dispatch_maintainer(conv: Converter, state: StageState, command: Any) -> None:
    """MAINTAINER: the deprecated author field."""
    state.image["author"] = command.maintainer
    _history(conv, state, f"MAINTAINER {command.maintainer}")


def _run(conv: Converter, state: StageState, command: Any) -> None:
    from minikit.frontend.convert.run import dispatch_run

    dispatch_run(conv, state, command)


def _copy(conv: Converter, state: StageState, command: Any) -> None:
    from minikit.frontend.convert.copy import dispatch_copy

    dispatch_copy(conv, state, command)


_DISPATCH: dict[str, Handler] = {
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
