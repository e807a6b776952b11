"""COPY and ADD: sources from the context, a stage, an image or heredocs."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from minikit.errors import DockerfileError
from minikit.frontend.convert.state import StageState
from minikit.llb import (
    NO_INDEX,
    ChownOpt,
    CopyAction,
    FileAction,
    FileOp,
    MergeOp,
    MkfileAction,
    NodeOutput,
    UserOpt,
    make_node,
)

if TYPE_CHECKING:
    from minikit.frontend.convert.converter import Converter

_OCTAL = re.compile(r"[0-7]+")


@dataclass
class _Source:
    """One source of a COPY or ADD: which input it reads, and the path inside it."""

    path: str
    input: NodeOutput
    remote: bool = False


def dispatch_copy(
    conv: "Converter", state: StageState, command: Any, number: int, total: int
) -> None:
    """COPY or ADD: one file op whose actions copy each source in turn."""
    is_add = command.name.upper() == "ADD"
    expand, words = conv.expander(state, command)
    command.expand(expand, words)
    dest = _destination(state, command)
    if len(command.sources) + len(command.files) > 1 and not dest.endswith("/"):
        raise conv.fail(
            "When using COPY with more than one source file, the destination must be "
            "a directory and end with a /",
            command,
            hint=f"write the destination as {command.dest.rstrip('/')}/",
        )
    mode, mode_str = _chmod(conv, command)
    owner = _chown(command.chown)
    link = bool(command.link) and not command.chmod
    sources = _sources(conv, state, command, is_add)
    inputs: list[NodeOutput] = []
    if state.output is not None and not link:
        inputs.append(state.output)
    indexes = [_input_index(inputs, source.input) for source in sources]
    has_base = state.output is not None and not link
    actions = _actions(
        state,
        command,
        dest,
        (owner, mode, mode_str),
        is_add,
        list(zip(sources, indexes)),
        (len(inputs), has_base),
    )
    text = _command_text(command, is_add)
    name = conv.step_name(state, number, total, text)
    metadata = conv.metadata(state, command, name, text)
    node = make_node(
        lambda edges: FileOp(tuple(actions), inputs=edges), tuple(inputs), metadata
    )
    result = NodeOutput(node)
    if link and state.output is not None:
        merge_meta = conv.metadata(state, command, name + " (link)", text)
        merge_meta.step = ""
        merged = make_node(
            lambda edges: MergeOp(inputs=edges), (state.output, result), merge_meta
        )
        result = NodeOutput(merged)
    state.output = result
    state.add_history(
        _history_text(command, is_add) + " # buildkit",
        empty_layer=False,
        epoch=conv.epoch,
    )


def _input_index(inputs: list[NodeOutput], output: NodeOutput) -> int:
    for index, existing in enumerate(inputs):
        if existing.node is output.node and existing.index == output.index:
            return index
    inputs.append(output)
    return len(inputs) - 1


def _sources(
    conv: "Converter", state: StageState, command: Any, is_add: bool
) -> list[_Source]:
    """Classify each source: local or --from (shared input), Git, or HTTP."""
    from minikit.source.gitref import is_git_url

    out = []
    shared: NodeOutput | None = None
    for text in command.sources:
        is_url = text.lower().startswith(("http://", "https://"))
        is_git = is_git_url(text)
        if not is_add and is_git:
            raise conv.fail(
                "source can't be a git ref for COPY",
                command,
                hint="use ADD for a Git repository",
            )
        if not is_add and is_url:
            raise conv.fail(
                "source can't be a URL for COPY",
                command,
                hint="use ADD to download a URL",
            )
        if is_git:
            out.append(_Source("/", _git_node(conv, state, command, text), remote=True))
        elif is_url:
            node, filename = _http_node(conv, state, command, text)
            out.append(_Source("/" + filename, node, remote=True))
        else:
            if getattr(command, "checksum", ""):
                raise conv.fail(
                    "checksum can't be specified for non-HTTP(S) sources", command
                )
            if shared is None:
                shared = _source(conv, state, command)
            out.append(_Source(text, shared))
    return out


def _git_node(
    conv: "Converter", state: StageState, command: Any, text: str
) -> NodeOutput:
    """Return the source node of ``ADD <git url>``, with the ADD flags folded in."""
    from minikit.errors import GitError
    from minikit.llb import OpMetadata, SourceOp
    from minikit.source.gitref import parse_git_ref

    try:
        ref = parse_git_ref(text)
    except GitError as exc:
        raise conv.fail(exc.message, command, hint=exc.hint) from None
    keep = ref.keep_git_dir
    flag = getattr(command, "keep_git_dir", None)
    if flag is not None and keep is not None and flag != keep:
        raise conv.fail(
            "inconsistent keep-git-dir configuration",
            command,
            hint="give --keep-git-dir or ?keep-git-dir=, not both",
        )
    if flag is not None:
        keep = flag
    if keep is None:
        keep_arg = conv.options.build_args.get("BUILDKIT_CONTEXT_KEEP_GIT_DIR", "")
        keep = keep_arg.lower() in ("1", "true")
    checksum = getattr(command, "checksum", "") or ""
    if checksum and ref.checksum and checksum != ref.checksum:
        raise conv.fail(
            "inconsistent checksum configuration",
            command,
            hint="give --checksum or ?checksum=, not both",
        )
    url = _with_checksum(text, checksum) if checksum and not ref.checksum else text
    attrs = (("git.keepgitdir", "true" if keep else "false"), ("git.url", url))
    name = f"[internal] load git source {ref.remote}"
    meta = OpMetadata(description={"llb.customname": name}, stage=state.name)
    node = make_node(lambda edges: SourceOp(ref.identifier, attrs), (), meta)
    return NodeOutput(node)


def _with_checksum(text: str, checksum: str) -> str:
    """Return the Git URL ``text`` with ``checksum=`` added to its query."""
    base, sep, fragment = text.partition("#")
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}checksum={checksum}{sep}{fragment}"


def _http_node(
    conv: "Converter", state: StageState, command: Any, url: str
) -> tuple[NodeOutput, str]:
    """Return the source node of ``ADD <url>`` and the file name it downloads to."""
    from minikit.llb import OpMetadata, SourceOp
    from minikit.source.http import download_name

    checksum = getattr(command, "checksum", "") or ""
    if checksum and not re.fullmatch(r"sha256:[0-9a-f]{64}", checksum):
        raise conv.fail(
            f"invalid checksum {checksum!r}",
            command,
            hint="write --checksum=sha256:<64 hex digits>",
        )
    filename = download_name(url)
    attrs = tuple(
        sorted(
            {
                "http.checksum": checksum,
                "http.filename": filename,
                "http.perm": "600",
            }.items()
        )
    )
    meta = OpMetadata(
        description={"llb.customname": f"[internal] load {url}"}, stage=state.name
    )
    node = make_node(lambda edges: SourceOp(url, attrs), (), meta)
    return NodeOutput(node), filename


def _destination(state: StageState, command: Any) -> str:
    dest = command.dest
    trailing = dest.endswith("/") or dest in (".", "..") or dest.endswith("/.")
    if not posixpath.isabs(dest):
        dest = posixpath.join(state.workdir, dest)
    dest = posixpath.normpath(dest)
    if dest.startswith("//"):
        dest = "/" + dest.lstrip("/")
    if trailing and not dest.endswith("/"):
        dest += "/"
    return dest


def _chmod(conv: "Converter", command: Any) -> tuple[int | None, str]:
    text = command.chmod
    if not text:
        return None, ""
    if _OCTAL.fullmatch(text):
        value = int(text, 8)
        if value > 0o7777:
            raise conv.fail(
                f"invalid chmod parameter {text}: mode cannot be greater than 07777",
                command,
            )
        return value, ""
    if re.fullmatch(r"[ugoa]*[-+=][rwxXst]*(,[ugoa]*[-+=][rwxXst]*)*", text):
        return None, text
    raise conv.fail(
        f"invalid chmod parameter {text}",
        command,
        hint="use an octal mode like 0755 or a symbolic one like u+x",
    )


def _chown(text: str) -> ChownOpt | None:
    if not text:
        return None
    user, _, group = text.partition(":")
    user_opt = None
    if user:
        user_opt = UserOpt(id=int(user)) if user.isdigit() else UserOpt(name=user)
    group_opt = None
    if group:
        group_opt = UserOpt(id=int(group)) if group.isdigit() else UserOpt(name=group)
    return ChownOpt(user_opt, group_opt)


def _source(conv: "Converter", state: StageState, command: Any) -> NodeOutput:
    name = getattr(command, "from_", "") or ""
    if not name:
        return conv.context()
    named = conv.named_context(name)
    if named is not None:
        return named
    index = conv.stage_by_ref(name, before=state.index, allow_index=True)
    if index is not None:
        output = conv.infos[index].state.output
        return output if output is not None else _empty(conv, state, command)
    lowered = name.lower()
    if name.isdigit() or any(
        info.stage.name == lowered for info in conv.infos[state.index :]
    ):
        raise conv.fail(
            f"invalid from flag value {name}: cannot copy from stage {name!r}, it needs to be defined before current stage {state.name!r}",
            command,
        )
    from minikit.oci.reference import InvalidReference, Reference

    try:
        reference = Reference.parse(name)
    except InvalidReference as exc:
        raise conv.fail(f"invalid from flag value {name}: {exc}", command) from None
    output, _resolved = conv.image_node(reference, state.platform)
    return output


def _empty(conv: "Converter", state: StageState, command: Any) -> NodeOutput:
    """Return an empty snapshot, for COPY --from a stage that is still scratch."""
    from minikit.llb import MkdirAction

    action = FileAction(MkdirAction("/", 0o755, make_parents=True), output=0)
    node = make_node(lambda edges: FileOp((action,), inputs=edges), ())
    return NodeOutput(node)


def _actions(
    state: StageState,
    command: Any,
    dest: str,
    attributes: tuple[ChownOpt | None, int | None, str],
    is_add: bool,
    sources: list[tuple[_Source, int]],
    layout: tuple[int, bool],
) -> list[FileAction]:
    """Return the chained copy actions; heredoc files are made on scratch, then copied."""
    owner, mode, mode_str = attributes
    input_count, has_base = layout
    actions: list[FileAction] = []
    previous = 0 if has_base else NO_INDEX
    unpack_local = is_add and command.unpack is not False
    unpack_remote = is_add and command.unpack is True
    for source, index in sources:
        copy = CopyAction(
            src=source.path,
            dest=dest,
            owner=owner,
            mode=mode,
            mode_str=mode_str,
            follow_symlink=True,
            dir_copy_contents=True,
            attempt_unpack=unpack_remote if source.remote else unpack_local,
            create_dest_path=True,
            allow_wildcard=not source.remote,
            allow_empty_wildcard=True,
            exclude_patterns=tuple(command.excludes or ()),
            parents=bool(getattr(command, "parents", False)),
        )
        actions.append(
            FileAction(copy, input=previous, secondary_input=index, output=NO_INDEX)
        )
        previous = input_count + len(actions) - 1
    for item in command.files:
        data = item.data
        if item.chomp:
            data = re.sub(r"(?m)^\t+", "", data)
        if item.expand:
            data = _expand_heredoc(state, data)
        mkfile = MkfileAction(
            "/" + item.path, data.encode("utf-8", "surrogateescape"), 0o644
        )
        actions.append(FileAction(mkfile, input=NO_INDEX, output=NO_INDEX))
        scratch = input_count + len(actions) - 1
        copy = CopyAction(
            src="/" + item.path,
            dest=dest,
            owner=owner,
            mode=mode,
            mode_str=mode_str,
            follow_symlink=True,
            dir_copy_contents=True,
            create_dest_path=True,
        )
        actions.append(
            FileAction(copy, input=previous, secondary_input=scratch, output=NO_INDEX)
        )
        previous = input_count + len(actions) - 1
    last = actions[-1]
    actions[-1] = FileAction(last.action, last.input, last.secondary_input, output=0)
    return actions


def _expand_heredoc(state: StageState, data: str) -> str:
    """Expand a COPY heredoc body: variables and backslashes, never quotes."""
    from minikit.frontend.shell import Lexer

    lexer = Lexer("\\", skip_process_quotes=True)
    return lexer.process_word(data, state.env.as_dict())


def _command_text(command: Any, is_add: bool) -> str:
    return command.original or (
        ("ADD " if is_add else "COPY ") + " ".join(command.sources + [command.dest])
    )


def _history_text(command: Any, is_add: bool) -> str:
    parts = ["ADD" if is_add else "COPY"]
    if getattr(command, "parents", False):
        parts.append("--parents")
    if command.chown:
        parts.append(f"--chown={command.chown}")
    if command.chmod:
        parts.append(f"--chmod={command.chmod}")
    parts.extend(command.sources)
    parts.extend(f"<<{item.path}" for item in command.files)
    parts.append(command.dest)
    return " ".join(parts)


__all__ = ["dispatch_copy", "DockerfileError"]
