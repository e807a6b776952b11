"""RUN: the command, its heredocs, its mounts, network and security mode."""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from minikit.errors import DockerfileError, EntitlementError
from minikit.frontend.convert.converter import PROXY_ARGS
from minikit.frontend.convert.state import StageState
from minikit.llb import (
    NO_INDEX,
    CacheOpt,
    ExecMeta,
    ExecOp,
    FileAction,
    FileOp,
    MkfileAction,
    Mount,
    NodeOutput,
    SecretEnv,
    SecretOpt,
    SSHOpt,
    TmpfsOpt,
    make_node,
)

if TYPE_CHECKING:
    from minikit.frontend.convert.converter import Converter

PIPES_DIR = "/dev/pipes/"
SSH_SOCKET_PREFIX = "/run/buildkit/ssh_agent."


class _Inputs:
    """The inputs of one exec op: index 0 is the root filesystem when there is one."""

    def __init__(self) -> None:
        self.outputs: list[NodeOutput] = []

    def add(self, output: NodeOutput | None) -> int:
        if output is None:
            return NO_INDEX
        for index, existing in enumerate(self.outputs):
            if existing.node is output.node and existing.index == output.index:
                return index
        self.outputs.append(output)
        return len(self.outputs) - 1


def dispatch_run(
    conv: "Converter", state: StageState, command: Any, number: int, total: int
) -> None:
    """RUN: build the exec op on the stage's current root filesystem."""
    network = _network(conv, command)
    security = _security(conv, command)
    inputs = _Inputs()
    root_index = inputs.add(state.output)
    mounts = [Mount("/", input=root_index, output=0)]
    env = state.env.copy()
    args, extra = _command_args(conv, state, command, inputs)
    mounts.extend(extra)
    secret_env: list[SecretEnv] = []
    mount_specs = _expanded_mounts(conv, state, command)
    mounts.extend(_mounts(conv, state, command, mount_specs, inputs, env, secret_env))
    meta = ExecMeta(
        args=tuple(args),
        env=tuple(env.as_list()),
        cwd=state.workdir,
        user=state.user,
        hostname=conv.options.build_args.get("BUILDKIT_SANDBOX_HOSTNAME", ""),
        extra_hosts=conv.options.extra_hosts,
        proxy_env=_proxy_env(conv, state),
    )
    text = command.original or "RUN " + " ".join(command.cmd)
    name = conv.step_name(state, number, total, _display(conv, text, env, secret_env))
    metadata = conv.metadata(state, command, name, text)
    op_inputs = tuple(inputs.outputs)
    node = make_node(
        lambda edges: ExecOp(
            meta, tuple(mounts), network, security, tuple(secret_env), inputs=edges
        ),
        op_inputs,
        metadata,
    )
    state.output = NodeOutput(node, 0)
    state.add_history(
        "RUN " + _history_text(state, env, args) + " # buildkit",
        empty_layer=False,
        epoch=conv.epoch,
    )


def _display(
    conv: "Converter", text: str, env: Any, secret_env: list[SecretEnv]
) -> str:
    """Return the step name, with secret env variables shown as ``****`` as BuildKit does."""
    for item in secret_env:
        text = text.replace(f"${{{item.name}}}", "****").replace(
            f"${item.name}", "****"
        )
    return text


def _history_text(state: StageState, env: Any, args: list[str]) -> str:
    pairs = []
    for name in state.arg_names:
        value = env.get(name)
        if value is not None and name not in PROXY_ARGS:
            pairs.append(f"{name}={value}")
    prefix = [f"|{len(pairs)}", *pairs] if pairs else []
    return " ".join(prefix + list(args))


def _proxy_env(conv: "Converter", state: StageState) -> tuple[str, ...]:
    items = []
    for name, value in conv.options.build_args.items():
        if name in PROXY_ARGS and name not in state.declared_args:
            items.append(f"{name}={value}")
    return tuple(items)


def _network(conv: "Converter", command: Any) -> str:
    network = command.network or conv.options.network or "default"
    if network == "sandbox":
        network = "default"
    if network not in ("default", "none", "host"):
        raise conv.fail(
            f"invalid network mode {network!r}",
            command,
            hint="use default, none or host",
        )
    if network == "host" and "network.host" not in conv.options.entitlements:
        raise EntitlementError(
            "RUN --network=host needs the network.host entitlement, which this build does not grant",
            hint="add --allow network.host to the build command",
            location=conv.location(
                command.location.start_line, command.location.end_line
            ),
        )
    return network


def _security(conv: "Converter", command: Any) -> str:
    security = command.security or "sandbox"
    if security not in ("sandbox", "insecure"):
        raise conv.fail(
            f"invalid security mode {security!r}",
            command,
            hint="use sandbox or insecure",
        )
    if security == "insecure" and "security.insecure" not in conv.options.entitlements:
        raise EntitlementError(
            "RUN --security=insecure needs the security.insecure entitlement, which this build does not grant",
            hint="add --allow security.insecure to the build command",
            location=conv.location(
                command.location.start_line, command.location.end_line
            ),
        )
    return security


def _command_args(
    conv: "Converter", state: StageState, command: Any, inputs: _Inputs
) -> tuple[list[str], list[Mount]]:
    args = list(command.cmd)
    mounts: list[Mount] = []
    files = list(command.files or [])
    if files:
        if len(args) != 1 or not command.prepend_shell:
            raise conv.fail("parsing produced an invalid run command", command)
        if len(files) == 1 and _is_heredoc_word(args[0]):
            data = _chomp(files[0].data) if files[0].chomp else files[0].data
            if data.startswith("#!"):
                mounts.append(
                    _pipe_mount(conv, state, command, files[0].path, data, inputs)
                )
                args = [PIPES_DIR + files[0].path]
            else:
                args = [data]
        else:
            full = args[0]
            for item in files:
                full += "\n" + item.data + item.path
            args = [full]
    if command.prepend_shell:
        args = [*state.shell, " ".join(args)]
    return args, mounts


def _is_heredoc_word(word: str) -> bool:
    import re

    return re.fullmatch(r"[0-9]*<<-?[\t\n\f\r ]*[^<]+", word.strip()) is not None


def _chomp(data: str) -> str:
    import re

    return re.sub(r"(?m)^\t+", "", data)


def _pipe_mount(
    conv: "Converter",
    state: StageState,
    command: Any,
    name: str,
    data: str,
    inputs: _Inputs,
) -> Mount:
    action = FileAction(
        MkfileAction(name, data.encode(), 0o755, timestamp=conv.epoch), output=0
    )
    meta = conv.metadata(state, command, "[internal] preparing inline document", "")
    meta.step = ""
    node = make_node(lambda edges: FileOp((action,), inputs=edges), (), meta)
    index = inputs.add(NodeOutput(node))
    return Mount(PIPES_DIR, input=index, selector="/", readonly=True)


def _expanded_mounts(conv: "Converter", state: StageState, command: Any) -> list[Any]:
    expand, _words = conv.expander(state, command)
    specs = []
    for spec in command.mounts:
        for attribute in ("target", "source", "id", "sharing", "env"):
            value = getattr(spec, attribute, None)
            if isinstance(value, str) and value:
                setattr(spec, attribute, expand(value))
        specs.append(spec)
    return specs


def _target(conv: "Converter", state: StageState, command: Any, target: str) -> str:
    if not posixpath.isabs(target):
        target = posixpath.join(state.workdir, target)
    target = posixpath.normpath(target)
    if target.startswith("//"):
        target = "/" + target.lstrip("/")
    if target == "/":
        raise conv.fail(
            "invalid mount target /",
            command,
            hint="mount somewhere other than the root",
        )
    return target


def _mounts(
    conv: "Converter",
    state: StageState,
    command: Any,
    specs: list[Any],
    inputs: _Inputs,
    env: Any,
    secret_env: list[SecretEnv],
) -> list[Mount]:
    mounts = []
    ssh_count = 0
    for spec in specs:
        kind = spec.type or "bind"
        if kind == "bind":
            mounts.append(_bind(conv, state, command, spec, inputs))
        elif kind == "cache":
            mounts.append(_cache(conv, state, command, spec, inputs))
        elif kind == "tmpfs":
            target = _target(conv, state, command, spec.target)
            mounts.append(Mount(target, type="tmpfs", tmpfs=TmpfsOpt(spec.size or 0)))
        elif kind == "secret":
            mount = _secret(conv, state, command, spec, secret_env)
            if mount is not None:
                mounts.append(mount)
        elif kind == "ssh":
            mount = _ssh(conv, state, command, spec, ssh_count)
            if ssh_count == 0 and "SSH_AUTH_SOCK" not in env:
                env.set("SSH_AUTH_SOCK", mount.dest)
            ssh_count += 1
            mounts.append(mount)
        else:
            raise conv.fail(f'unsupported mount type "{kind}"', command)
    return mounts


def _mount_source(
    conv: "Converter", state: StageState, command: Any, name: str
) -> NodeOutput | None:
    """Return what ``from=name`` means: a stage, a named context, or an image."""
    named = conv.named_context(name)
    if named is not None:
        return named
    index = conv.stage_by_ref(name, before=state.index, allow_index=False)
    if index is not None:
        return conv.infos[index].state.output
    lowered = name.lower()
    for info in conv.infos[state.index :]:
        if info.stage.name == lowered:
            raise conv.fail(
                f"cannot mount from stage {name!r} to {state.name!r}: it is not an earlier stage",
                command,
            )
    from minikit.oci.reference import Reference

    output, _resolved = conv.image_node(Reference.parse(name), state.platform)
    return output


def _bind(
    conv: "Converter", state: StageState, command: Any, spec: Any, inputs: _Inputs
) -> Mount:
    source = (
        conv.context()
        if not spec.from_
        else _mount_source(conv, state, command, spec.from_)
    )
    target = _target(conv, state, command, spec.target)
    index = inputs.add(source)
    return Mount(
        target, input=index, selector=spec.source or "/", readonly=spec.readonly
    )


def _cache(
    conv: "Converter", state: StageState, command: Any, spec: Any, inputs: _Inputs
) -> Mount:
    target = _target(conv, state, command, spec.target)
    cache_id = spec.id or target
    namespace = conv.options.build_args.get("BUILDKIT_CACHE_MOUNT_NS", "")
    if namespace:
        cache_id = f"{namespace}/{cache_id}"
    index = NO_INDEX
    if spec.from_:
        index = inputs.add(_mount_source(conv, state, command, spec.from_))
    opt = CacheOpt(
        cache_id,
        spec.sharing or "shared",
        spec.uid or 0,
        spec.gid or 0,
        0o755 if spec.mode is None else spec.mode,
    )
    return Mount(
        target,
        input=index,
        selector=spec.source or "",
        readonly=spec.readonly,
        type="cache",
        cache=opt,
    )


def _secret(
    conv: "Converter",
    state: StageState,
    command: Any,
    spec: Any,
    secret_env: list[SecretEnv],
) -> Mount | None:
    secret_id = spec.id or spec.source or posixpath.basename(spec.target or "")
    if not secret_id:
        raise conv.fail("invalid secret mount. one of source, target required", command)
    optional = not spec.required
    conv.secrets.append((secret_id, spec.required))
    if spec.env:
        secret_env.append(SecretEnv(secret_id, spec.env, optional))
        if not spec.target:
            return None
    target = spec.target or "/run/secrets/" + posixpath.basename(secret_id)
    target = _target(conv, state, command, target)
    opt = SecretOpt(
        secret_id,
        spec.uid or 0,
        spec.gid or 0,
        0o400 if spec.mode is None else spec.mode,
        optional,
    )
    return Mount(target, type="secret", readonly=True, secret=opt)


def _ssh(
    conv: "Converter", state: StageState, command: Any, spec: Any, number: int
) -> Mount:
    ssh_id = spec.id or "default"
    target = spec.target or f"{SSH_SOCKET_PREFIX}{number}"
    target = _target(conv, state, command, target)
    conv.ssh.append((ssh_id, spec.required))
    opt = SSHOpt(
        ssh_id,
        spec.uid or 0,
        spec.gid or 0,
        0o600 if spec.mode is None else spec.mode,
        not spec.required,
    )
    return Mount(target, type="ssh", readonly=True, ssh=opt)


__all__ = ["dispatch_run", "DockerfileError"]
