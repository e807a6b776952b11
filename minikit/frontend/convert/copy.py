"""COPY and ADD: sources from the context, a stage, an image or heredocs."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from minikit.errors import MinikitError
from minikit.frontend.convert.naming import expand_for_display, uppercase_command
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
_SYMBOLIC_MODE = re.compile(r"[ugoa]*[-+=][rwxXst]*(,[ugoa]*[-+=][rwxXst]*)*")
_LEADING_TABS = re.compile(r"(?m)^\t+")
_CHMOD_OCTAL_MESSAGE = (
    "invalid chmod parameter: '{}'. it should be octal string and between 0 and 07777"
)


@dataclass
class _Source:
    """One source of a COPY or ADD: which input it reads, and the path inside it."""

    path: str
    input: NodeOutput
    remote: bool = False


def dispatch_copy(conv: Converter, state: StageState, command: Any) -> None:
    """COPY or ADD: one file op whose actions copy each source in turn."""
    is_add = command.name.upper() == "ADD"
    expand, words = conv.expander(state, command)
    command.expand(expand, words)
    dest = _destination(state, command)
    _check_destination(conv, command, dest)

    mode, mode_str = _chmod(conv, command)
    owner = _chown(command.chown)
    # Like BuildKit, --link is dropped when --chmod is given.
    link = bool(command.link) and not command.chmod
    sources = _sources(conv, state, command, is_add)
    inputs: list[NodeOutput] = []
    if state.output is not None and not link:
        inputs.append(state.output)
    indexes = [_input_index(inputs, source.input) for source in sources]
    has_base = state.output is not None and not link
    actions = _actions(
        command,
        dest,
        (owner, mode, mode_str),
        is_add,
        list(zip(sources, indexes)),
        (len(inputs), has_base),
        _heredoc_files(conv, state, command),
    )

    display = uppercase_command(
        expand_for_display(conv.lexer, command.original, state.env.as_dict())
    )
    name = conv.step_name(state, display)
    metadata = conv.metadata(state, command, name, command.original)
    node = make_node(
        lambda edges: FileOp(tuple(actions), inputs=edges), tuple(inputs), metadata
    )
    result = NodeOutput(node)
    if link and state.output is not None:
        result = _merge_link(conv, state, command, name, result)
    state.output = result
    state.add_history(
        _history_text(command, is_add) + " # buildkit",
        empty_layer=False,
        epoch=conv.epoch,
    )


def _check_destination(conv: Converter, command: Any, dest: str) -> None:
    if len(command.sources) + len(command.files) > 1 and not dest.endswith("/"):
        raise conv.fail(
            f"When using {command.name} with more than one source file, the "
            "destination must be a directory and end with a /",
            command,
            hint=f"write the destination as {command.dest.rstrip('/')}/",
            word=command.dest,
        )


def _merge_link(
    conv: Converter, state: StageState, command: Any, name: str, layer: NodeOutput
) -> NodeOutput:
    """Stack the ``--link`` layer on the stage, as a merge op named ``LINK ...``."""
    merge_name = name.replace("] ", "] LINK ", 1) if "] " in name else "LINK " + name
    merge_meta = conv.metadata(state, command, merge_name, command.original)
    merge_meta.step = ""
    assert state.output is not None
    merged = make_node(
        lambda edges: MergeOp(inputs=edges), (state.output, layer), merge_meta
    )
    return NodeOutput(merged)


def _heredoc_files(
    conv: Converter, state: StageState, command: Any
) -> list[tuple[str, bytes]]:
    """Return each heredoc source as (name, content), expanded when unquoted.

    An unquoted delimiter expands variables and backslash escapes with the
    backslash as escape token (regardless of ``# escape=``) and keeps quotes.
    """
    from minikit.frontend.shell import Lexer

    lexer = Lexer("\\", skip_process_quotes=True)
    env = state.env.as_dict()
    files = []
    for item in command.files:
        data = _LEADING_TABS.sub("", item.data) if item.chomp else item.data
        if item.expand:
            try:
                data, _found, missing = lexer.process_word_with_matches(data, env)
            except MinikitError as exc:
                exc.hint = exc.hint or (
                    "quote the delimiter (<<'EOF') to copy the body as written"
                )
                raise exc.with_location(conv.command_location(command, "<<"))
            conv.report_undefined(state, missing, command)
        files.append((item.path, data.encode("utf-8", "surrogateescape")))
    return files


def _input_index(inputs: list[NodeOutput], output: NodeOutput) -> int:
    for index, existing in enumerate(inputs):
        if existing.node is output.node and existing.index == output.index:
            return index
    inputs.append(output)
    return len(inputs) - 1


def _sources(
    conv: Converter, state: StageState, command: Any, is_add: bool
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
    conv: Converter, state: StageState, command: Any, text: str
) -> NodeOutput:
    """Return the source node of ``ADD <git url>``, with the ADD flags folded in."""
    from minikit.errors import GitError
    from minikit.llb import SourceOp
    from minikit.source.gitref import parse_git_ref
    from minikit.util.redact import redact_url

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
    name = f"[internal] load git source {redact_url(ref.remote)}"
    meta = _source_metadata(conv, state, command, name)
    node = make_node(lambda edges: SourceOp(ref.identifier, attrs), (), meta)
    return NodeOutput(node)


def _with_checksum(text: str, checksum: str) -> str:
    """Return the Git URL ``text`` with ``checksum=`` added to its query."""
    base, sep, fragment = text.partition("#")
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}checksum={checksum}{sep}{fragment}"


def _http_node(
    conv: Converter, state: StageState, command: Any, url: str
) -> tuple[NodeOutput, str]:
    """Return the source node of ``ADD <url>`` and the file name it downloads to."""
    from minikit.llb import SourceOp
    from minikit.source.http import download_name
    from minikit.util.redact import redact_url

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
    name = f"[internal] load {redact_url(url)}"
    meta = _source_metadata(conv, state, command, name)
    node = make_node(lambda edges: SourceOp(url, attrs), (), meta)
    return NodeOutput(node), filename


def _source_metadata(
    conv: Converter, state: StageState, command: Any, name: str
) -> Any:
    """Return a Git or HTTP source's metadata, located at the ADD that reads it."""
    from minikit.llb import OpMetadata
    from minikit.llb.definition import SourceRange

    loc = command.location
    ranges = (SourceRange(conv.filename, loc.start_line, loc.end_line),)
    return OpMetadata(
        description={"llb.customname": name}, stage=state.name, locations=ranges
    )


def _destination(state: StageState, command: Any) -> str:
    dest = command.dest
    trailing = dest.endswith(("/", "/.")) or dest in (".", "..")
    if not posixpath.isabs(dest):
        dest = posixpath.join(state.workdir, dest)
    dest = posixpath.normpath(dest)
    if dest.startswith("//"):
        dest = "/" + dest.lstrip("/")
    if trailing and not dest.endswith("/"):
        dest += "/"
    return dest


def _chmod(conv: Converter, command: Any) -> tuple[int | None, str]:
    text = command.chmod
    if not text:
        return None, ""
    hint = "use an octal mode like 0755 or a symbolic one like u+x,g-w"
    if _OCTAL.fullmatch(text):
        value = int(text, 8)
        if value > 0o7777:
            raise conv.fail(_CHMOD_OCTAL_MESSAGE.format(text), command, hint, "--chmod")
        return value, ""
    if text.isdigit():
        raise conv.fail(_CHMOD_OCTAL_MESSAGE.format(text), command, hint, "--chmod")
    if _SYMBOLIC_MODE.fullmatch(text):
        return None, text
    raise conv.fail(
        f"invalid chmod parameter {text!r}: not an octal or symbolic mode",
        command,
        hint,
        "--chmod",
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


def _source(conv: Converter, state: StageState, command: Any) -> NodeOutput:
    """Return what COPY reads: the context, a stage, a named context or an image."""
    name = getattr(command, "from_", "") or ""
    if not name:
        return conv.context()
    if name.isdigit():
        return _stage_source(conv, state, command, _stage_by_index(conv, command, name))
    lowered = name.lower()
    for info in conv.infos:
        if info.stage.name and info.stage.name == lowered:
            return _stage_source(conv, state, command, info.state.index)
    named = conv.named_context(name)
    if named is not None:
        return named
    from minikit.oci.reference import InvalidReference, Reference

    try:
        reference = Reference.parse(name)
    except InvalidReference as exc:
        raise conv.fail(
            f'failed to parse stage name "{name}": {exc}',
            command,
            hint="name an earlier stage (FROM ... AS name), a stage index, or an "
            "image such as busybox:1.36",
            word="--from=" + name,
        ) from None
    output, _resolved = conv.image_node(reference, state.platform)
    return output


def _stage_by_index(conv: Converter, command: Any, text: str) -> int:
    index = int(text)
    if index >= len(conv.infos):
        raise conv.fail(
            f"invalid stage index {index}",
            command,
            hint=f"stages are numbered from 0 to {len(conv.infos) - 1}, in file order",
            word="--from=" + text,
        )
    return index


def _stage_source(
    conv: Converter, state: StageState, command: Any, index: int
) -> NodeOutput:
    info = conv.infos[index]
    if index < state.index and not info.state.dispatched:
        conv.dispatch_earlier(index)
    if index >= state.index or not info.state.dispatched:
        raise conv.fail(
            f'cannot copy from stage "{command.from_}", it needs to be defined '
            f'before current stage "{state.name}"',
            command,
            hint="move the stage above this one, or copy from an earlier stage",
            word="--from=" + command.from_,
        )
    output = info.state.output
    return output if output is not None else _empty()


def _empty() -> NodeOutput:
    """Return an empty snapshot, for COPY --from a stage that is still scratch."""
    from minikit.llb import MkdirAction

    action = FileAction(MkdirAction("/", 0o755, make_parents=True), output=0)
    node = make_node(lambda edges: FileOp((action,), inputs=edges), ())
    return NodeOutput(node)


def _actions(
    command: Any,
    dest: str,
    attributes: tuple[ChownOpt | None, int | None, str],
    is_add: bool,
    sources: list[tuple[_Source, int]],
    layout: tuple[int, bool],
    files: list[tuple[str, bytes]],
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

    for path, data in files:
        mkfile = MkfileAction("/" + path, data, 0o644)
        actions.append(FileAction(mkfile, input=NO_INDEX, output=NO_INDEX))
        scratch = input_count + len(actions) - 1
        copy = CopyAction(
            src="/" + path,
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


__all__ = ["dispatch_copy"]
