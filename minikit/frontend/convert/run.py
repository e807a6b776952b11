"""RUN: the command, its heredocs, its mounts, network and security mode."""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING, Any

from minikit.errors import EntitlementError
from minikit.frontend.convert.args import PROXY_ARGS
from minikit.frontend.convert.naming import (
    expand_for_display,
    masked_env,
    run_display_lexer,
    summarize_heredoc,
    uppercase_command,
)
from minikit.frontend.convert.state import OrderedEnv, StageState
from minikit.frontend.parser.heredoc import parse_heredoc
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
_LEADING_TABS = re.compile(r"(?m)^\t+")


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


def dispatch_run(conv: Converter, state: StageState, command: Any) -> None:
    """RUN: build the exec op on the stage's current root filesystem."""
    if command.devices:
        raise conv.fail(
            "device feature is only supported in Dockerfile frontend 1.14.0-labs "
            "or later",
            command,
            hint="remove --device; minikit builds with the mainline frontend",
            word="--device",
        )
    network = _network(conv, command)
    security = _security(conv, command)
    expand, words = conv.expander(state, command)
    command.expand(expand, words)

    inputs = _Inputs()
    mounts = [Mount("/", input=inputs.add(state.output), output=0)]
    env = state.env.copy()
    args, extra, summary = _command_args(conv, state, command, inputs)
    mounts.extend(extra)
    secret_env: list[SecretEnv] = []
    mounts.extend(_mounts(conv, state, command, inputs, env, secret_env))
    meta = ExecMeta(
        args=tuple(args),
        env=tuple(env.as_list()),
        cwd=state.workdir,
        user=state.user,
        hostname=conv.options.build_args.get("BUILDKIT_SANDBOX_HOSTNAME", ""),
        extra_hosts=conv.options.extra_hosts,
        proxy_env=_proxy_env(conv, state),
    )

    name = conv.step_name(state, _display(conv, state, command, summary, secret_env))
    metadata = conv.metadata(state, command, name, command.original)
    node = make_node(
        lambda edges: ExecOp(
            meta, tuple(mounts), network, security, tuple(secret_env), inputs=edges
        ),
        tuple(inputs.outputs),
        metadata,
    )
    state.output = NodeOutput(node, 0)
    state.add_history(
        "RUN " + _history_text(state, args) + " # buildkit",
        empty_layer=False,
        epoch=conv.epoch,
    )


def _display(
    conv: Converter,
    state: StageState,
    command: Any,
    summary: str,
    secret_env: list[SecretEnv],
) -> str:
    """Return the step text: the RUN line with the stage's variables expanded.

    Quotes stay, unset variables stay as written, and secret environment
    variables show as ``****``, as in BuildKit.
    """
    text = command.original + (f" ({summary})" if summary else "")
    env = masked_env(state.env.as_dict(), [item.name for item in secret_env])
    lexer = run_display_lexer(conv.lexer.escape_token)
    return uppercase_command(expand_for_display(lexer, text, env))


def _history_text(state: StageState, args: list[str]) -> str:
    """Return BuildKit's RUN history: ``|N k=v ...`` for the stage's ARGs, then argv."""
    values: dict[str, str] = {}
    for name, value in state.build_args:
        current = state.env.get(name)
        values[name] = current if current is not None else (value or "")
    pairs = [f"{name}={value}" for name, value in values.items()]
    prefix = [f"|{len(pairs)}", *pairs] if pairs else []
    return " ".join(prefix + list(args))


def _proxy_env(conv: Converter, state: StageState) -> tuple[str, ...]:
    """Return the proxy variables from build args, in both cases, as BuildKit sets them.

    ``http_proxy`` and ``HTTP_PROXY`` name the same proxy; of the two, the
    name that sorts last wins. A proxy that the stage declares with ARG is
    an ordinary variable instead.
    """
    values: dict[str, str] = {}
    for name, value in sorted(conv.options.build_args.items()):
        if name in PROXY_ARGS and name not in state.declared_args:
            values[name.upper()] = value
    items = []
    for name, value in values.items():
        items += [f"{name}={value}", f"{name.lower()}={value}"]
    return tuple(items)


def _network(conv: Converter, command: Any) -> str:
    network = command.network or conv.options.network or "default"
    if network == "sandbox":
        network = "default"
    if network not in ("default", "none", "host"):
        raise conv.fail(
            f"invalid network mode {network!r}",
            command,
            hint="use default, none or host",
            word="--network",
        )
    if network == "host" and "network.host" not in conv.options.entitlements:
        raise EntitlementError(
            "network.host is not allowed: RUN --network=host needs the network.host "
            "entitlement",
            hint="add --allow network.host to the build command",
            location=conv.command_location(command, "--network"),
        )
    return network


def _security(conv: Converter, command: Any) -> str:
    security = command.security or "sandbox"
    if security == "insecure" and "security.insecure" not in conv.options.entitlements:
        raise EntitlementError(
            "security.insecure is not allowed: RUN --security=insecure needs the "
            "security.insecure entitlement",
            hint="add --allow security.insecure to the build command",
            location=conv.command_location(command, "--security"),
        )
    return security


def _command_args(
    conv: Converter, state: StageState, command: Any, inputs: _Inputs
) -> tuple[list[str], list[Mount], str]:
    """Return the argv, any heredoc mount, and the heredoc summary for the name."""
    args = list(command.cmd)
    mounts: list[Mount] = []
    summary = ""
    files = list(command.files or [])
    if files:
        if len(args) != 1 or not command.prepend_shell:
            raise conv.fail(
                f"parsing produced an invalid run command: {args}",
                command,
                hint="please report this as a minikit bug, with the RUN instruction",
            )
        if parse_heredoc(args[0]) is not None:
            args, mounts = _lone_heredoc(conv, state, command, files[0], inputs)
            summary = summarize_heredoc(files[0].data)
        else:
            # The shell runs the line and its heredocs itself.
            full = args[0]
            for item in files:
                full += "\n" + item.data + item.path
            args = [full]
    if command.prepend_shell:
        args = [*state.shell, " ".join(args)]
    return args, mounts, summary


def _lone_heredoc(
    conv: Converter, state: StageState, command: Any, doc: Any, inputs: _Inputs
) -> tuple[list[str], list[Mount]]:
    """``RUN <<EOF``: run a ``#!`` body as a script file, any other as ``sh -c``."""
    data = _LEADING_TABS.sub("", doc.data) if doc.chomp else doc.data
    if not data.startswith("#!"):
        return [data], []
    action = FileAction(
        MkfileAction(doc.path, data.encode(), 0o755, timestamp=conv.epoch), output=0
    )
    meta = conv.metadata(state, command, "[internal] preparing inline document", "")
    meta.step = ""
    node = make_node(lambda edges: FileOp((action,), inputs=edges), (), meta)
    index = inputs.add(NodeOutput(node))
    mount = Mount(PIPES_DIR, input=index, selector="/", readonly=True)
    return [PIPES_DIR + doc.path], [mount]


def _target(conv: Converter, state: StageState, command: Any, spec: Any) -> str:
    target = spec.target
    if not posixpath.isabs(target):
        target = posixpath.join(state.workdir, target)
    target = posixpath.normpath(target)
    if target.startswith("//"):
        target = "/" + target.lstrip("/")
    if target == "/":
        raise conv.fail(
            'invalid mount target "/"',
            command,
            hint="give the mount a target other than /, such as target=/src",
            word=("target=" + spec.target, "--mount"),
        )
    return target


def _mounts(
    conv: Converter,
    state: StageState,
    command: Any,
    inputs: _Inputs,
    env: OrderedEnv,
    secret_env: list[SecretEnv],
) -> list[Mount]:
    mounts = []
    ssh_count = 0
    for spec in command.mounts:
        kind = spec.type or "bind"
        if kind == "bind":
            mounts.append(_bind(conv, state, command, spec, inputs))
        elif kind == "cache":
            mounts.append(_cache(conv, state, command, spec, inputs))
        elif kind == "tmpfs":
            target = _target(conv, state, command, spec)
            mounts.append(Mount(target, type="tmpfs", tmpfs=TmpfsOpt(spec.size or 0)))
        elif kind == "secret":
            mount = _secret(conv, state, command, spec, secret_env)
            if mount is not None:
                mounts.append(mount)
        else:
            mount = _ssh(conv, state, command, spec, ssh_count)
            if ssh_count == 0 and "SSH_AUTH_SOCK" not in env:
                env.set("SSH_AUTH_SOCK", mount.dest)
            ssh_count += 1
            mounts.append(mount)
    return mounts


def _mount_source(
    conv: Converter, state: StageState, command: Any, name: str
) -> NodeOutput | None:
    """Return what ``from=name`` means: a named context, a stage, or an image."""
    named = conv.named_context(name)
    if named is not None:
        return named
    index = conv.stage_by_ref(name, before=state.index, allow_index=False)
    if index is not None:
        if not conv.infos[index].state.dispatched:
            conv.dispatch_earlier(index)
        return conv.infos[index].state.output
    lowered = name.lower()
    for info in conv.infos[state.index :]:
        if info.stage.name == lowered:
            raise conv.fail(
                f"cannot mount from stage {name!r} to {state.name!r}: it is not an "
                "earlier stage",
                command,
                hint=f"move the stage {name!r} above this one",
                word="from=" + name,
            )
    from minikit.oci.reference import InvalidReference, Reference

    try:
        reference = Reference.parse(name)
    except InvalidReference as exc:
        raise conv.fail(
            f"invalid mount from {name!r}: {exc}",
            command,
            hint="name an earlier stage, or an image such as busybox:1.36",
            word="from=" + name,
        ) from None
    output, _resolved = conv.image_node(reference, state.platform)
    return output


def _bind(
    conv: Converter, state: StageState, command: Any, spec: Any, inputs: _Inputs
) -> Mount:
    source = (
        conv.context()
        if not spec.from_
        else _mount_source(conv, state, command, spec.from_)
    )
    target = _target(conv, state, command, spec)
    index = inputs.add(source)
    selector = posixpath.join("/", spec.source) if spec.source else "/"
    return Mount(target, input=index, selector=selector, readonly=spec.readonly)


def _cache(
    conv: Converter, state: StageState, command: Any, spec: Any, inputs: _Inputs
) -> Mount:
    target = _target(conv, state, command, spec)
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
    conv: Converter,
    state: StageState,
    command: Any,
    spec: Any,
    secret_env: list[SecretEnv],
) -> Mount | None:
    secret_id = spec.id or spec.source or posixpath.basename(spec.target or "")
    if not secret_id:
        raise conv.fail(
            "invalid secret mount. one of source, target required",
            command,
            hint="add id=<secret id> or target=<path> to the secret mount",
            word="--mount",
        )
    optional = not spec.required
    conv.secrets.append((secret_id, spec.required))
    if spec.env:
        secret_env.append(SecretEnv(secret_id, spec.env, optional))
        if not spec.target:
            return None
    if not spec.target:
        spec.target = "/run/secrets/" + posixpath.basename(secret_id)
    target = _target(conv, state, command, spec)
    opt = SecretOpt(
        secret_id,
        spec.uid or 0,
        spec.gid or 0,
        0o400 if spec.mode is None else spec.mode,
        optional,
    )
    return Mount(target, type="secret", readonly=True, secret=opt)


def _ssh(
    conv: Converter, state: StageState, command: Any, spec: Any, number: int
) -> Mount:
    ssh_id = spec.id or "default"
    if not spec.target:
        spec.target = f"{SSH_SOCKET_PREFIX}{number}"
    target = _target(conv, state, command, spec)
    conv.ssh.append((ssh_id, spec.required))
    opt = SSHOpt(
        ssh_id,
        spec.uid or 0,
        spec.gid or 0,
        0o600 if spec.mode is None else spec.mode,
        not spec.required,
    )
    return Mount(target, type="ssh", readonly=True, ssh=opt)
