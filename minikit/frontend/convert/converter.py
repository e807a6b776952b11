"""Dockerfile -> build graph: stages, arguments, base images, and the final image.

The steps follow BuildKit's ``dockerfile2llb``: parse into typed stages,
compute the global arguments (predefined platform args plus the ARGs before
the first FROM), expand each FROM with them, link stages to their bases and
to the stages they copy or mount from, keep only what the target reaches,
resolve base images, then dispatch each kept stage's instructions in file
order. The result is the target's graph output and image config.
"""

from __future__ import annotations

import concurrent.futures as futures
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from minikit.errors import DockerfileError, MinikitError, SourceLocation
from minikit.frontend.convert.options import ConvertOptions, NamedContext
from minikit.frontend.convert.state import StageState, empty_image, image_from_base
from minikit.llb import NodeOutput, OpMetadata, SourceOp, SourceRange, make_node
from minikit.oci.reference import InvalidReference, Reference
from minikit.oci.spec import Platform

log = logging.getLogger(__name__)

# Build args that never trigger the "not consumed" warning.
_SILENT_ARGS = {
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "FTP_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "ftp_proxy",
    "no_proxy",
    "all_proxy",
    "SOURCE_DATE_EPOCH",
}
PROXY_ARGS = {name for name in _SILENT_ARGS if name != "SOURCE_DATE_EPOCH"}
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")


@dataclass
class ConvertResult:
    """The target's graph output and image config, plus what the conversion noticed."""

    output: NodeOutput | None
    image: dict[str, Any]
    target: str
    warnings: list[Any] = field(default_factory=list)
    lines: tuple[str, ...] = ()
    secrets: list[tuple[str, bool]] = field(default_factory=list)
    ssh: list[tuple[str, bool]] = field(default_factory=list)


@dataclass
class _StageInfo:
    stage: Any
    state: StageState
    base_text: str = ""
    base_stage: int | None = None
    base_context: NamedContext | None = None
    deps: set[int] = field(default_factory=set)


class Converter:
    """Converts one parsed Dockerfile; create one per build."""

    def __init__(self, parsed: Any, options: ConvertOptions, linter: Any) -> None:
        from minikit.frontend.shell import Lexer

        self.parsed = parsed
        self.options = options
        self.linter = linter
        self.lexer = Lexer(parsed.escape_token)
        self.filename = options.filename
        self.lines: tuple[str, ...] = tuple(parsed.lines)
        self.used_args: set[str] = set()
        self.context_node: NodeOutput | None = None
        self.named_nodes: dict[str, NodeOutput] = {}
        self.image_nodes: dict[tuple[str, str], NodeOutput] = {}
        self.infos: list[_StageInfo] = []
        self.global_args: dict[str, str] = {}
        self.epoch = _source_date_epoch(options.build_args)
        self.multi_stage = False
        self.secrets: list[tuple[str, bool]] = []
        self.ssh: list[tuple[str, bool]] = []

    # -- entry point -------------------------------------------------------

    def convert(self) -> ConvertResult:
        """Run the conversion and return the target's result."""
        from minikit.frontend.instructions import parse_instructions

        stages, meta_args = parse_instructions(self.parsed)
        if not stages:
            raise DockerfileError(
                "the Dockerfile has no FROM instruction",
                hint="start the build stage with FROM <image>",
                location=self.location(1),
            )
        self.linter.check_parsed(self.parsed, stages, meta_args)
        self.multi_stage = len(stages) > 1
        target_index = self._target_index(stages)
        self.global_args = self._global_args(meta_args, stages[target_index])
        self.infos = [
            self._stage_info(index, stage) for index, stage in enumerate(stages)
        ]
        reachable = self._reachable(target_index)
        self._resolve_bases(reachable)
        from minikit.frontend.convert.dispatch import dispatch_stage

        for index in sorted(reachable):
            dispatch_stage(self, self.infos[index])
        self._warn_unused_args()
        target = self.infos[target_index].state
        image = self._finalize_image(target)
        return ConvertResult(
            target.output,
            image,
            target.name,
            list(self.linter.warnings),
            self.lines,
            self.secrets,
            self.ssh,
        )

    # -- helpers shared by the dispatchers ---------------------------------

    def location(
        self, start: int, end: int | None = None, column: int | None = None
    ) -> SourceLocation:
        """Return a location in the Dockerfile, for errors."""
        return SourceLocation(self.filename, start, end, column, lines=self.lines)

    def fail(
        self, message: str, command: Any, hint: str | None = None
    ) -> DockerfileError:
        """Return an error located at ``command``."""
        loc = command.location
        return DockerfileError(
            message, hint=hint, location=self.location(loc.start_line, loc.end_line)
        )

    def metadata(
        self, state: StageState, command: Any, name: str, text: str
    ) -> OpMetadata:
        """Return the metadata of the op for ``command``: names, lines, stage, step."""
        loc = command.location
        ignore = self.options.no_cache or state.name in self.options.no_cache_filter
        return OpMetadata(
            description={
                "llb.customname": name,
                "com.docker.dockerfile.v1.command": text,
            },
            ignore_cache=ignore,
            stage=state.name,
            step=f"{self.filename}:{state.name}:{name.split('] ', 1)[-1][:200]}",
            locations=(SourceRange(self.filename, loc.start_line, loc.end_line),),
        )

    def step_name(self, state: StageState, number: int, total: int, text: str) -> str:
        """Return the progress name ``[stage i/n] TEXT`` as BuildKit formats it."""
        prefix = f"{state.name} " if self.multi_stage else ""
        return f"[{prefix}{number}/{total}] {text}"

    def expander(
        self, state: StageState, command: Any
    ) -> tuple[Callable[[str], str], Callable[[str], list[str]]]:
        """Return word and words expanders over the stage's environment, with lint checks."""
        env = state.env.as_dict()
        line = command.location.start_line

        def expand(word: str) -> str:
            try:
                result, _found, missing = self.lexer.process_word_with_matches(
                    word, env
                )
            except MinikitError as exc:
                raise exc.with_location(self.location(line, command.location.end_line))
            self._report_undefined(state, missing, line)
            return result

        def expand_words(word: str) -> list[str]:
            try:
                return self.lexer.process_words(word, env)
            except MinikitError as exc:
                raise exc.with_location(self.location(line, command.location.end_line))

        return expand, expand_words

    def _report_undefined(
        self, state: StageState, missing: set[str], line: int
    ) -> None:
        for name in sorted(missing):
            if name in state.declared_args or name in state.env:
                continue
            self.linter.report(
                "UndefinedVar", f"Usage of undefined variable '${name}'", line
            )

    def context(self) -> NodeOutput:
        """Return the node of the main build context (``local://context``)."""
        if self.context_node is None:
            node = make_node(
                lambda inputs: SourceOp("local://context"),
                (),
                OpMetadata(
                    description={"llb.customname": "[internal] load build context"}
                ),
            )
            self.context_node = NodeOutput(node)
        return self.context_node

    def named_context(self, name: str) -> NodeOutput | None:
        """Return the node of ``--build-context name=...`` when one was given."""
        context = self.options.named_contexts.get(name)
        if context is None:
            return None
        if name in self.named_nodes:
            return self.named_nodes[name]
        if context.kind == "local":
            node = make_node(
                lambda inputs: SourceOp(f"local://{name}"),
                (),
                OpMetadata(
                    description={"llb.customname": f"[context {name}] load from client"}
                ),
            )
            output = NodeOutput(node)
        elif context.kind == "oci-layout":
            output = self._oci_layout_node(name, context.value)
        else:
            output = self.image_node(
                Reference.parse(context.value), self.options.platform
            )[0]
        self.named_nodes[name] = output
        return output

    def _oci_layout_node(self, name: str, value: str) -> NodeOutput:
        node = make_node(
            lambda inputs: SourceOp(f"oci-layout://{value}"),
            (),
            OpMetadata(
                description={"llb.customname": f"[context {name}] load from {value}"}
            ),
        )
        return NodeOutput(node)

    def image_node(
        self, reference: Reference, platform: Platform, name: str = ""
    ) -> tuple[NodeOutput, Any]:
        """Return the source node of an image, pinned by digest, and its resolved config."""
        resolved = self.options.resolver.resolve(reference, platform)
        key = (str(resolved.pinned), str(platform))
        if key not in self.image_nodes:
            attrs = (("image.platform", str(platform)),)
            pinned = str(resolved.pinned)
            label = name or f"[internal] load {reference.familiar()}"
            node = make_node(
                lambda inputs: SourceOp(f"docker-image://{pinned}", attrs),
                (),
                OpMetadata(description={"llb.customname": label}),
            )
            self.image_nodes[key] = NodeOutput(node)
        return self.image_nodes[key], resolved

    # -- arguments ----------------------------------------------------------

    def _target_index(self, stages: list[Any]) -> int:
        target = self.options.target
        if not target:
            return len(stages) - 1
        for index, stage in enumerate(stages):
            if stage.name and stage.name == target.lower():
                return index
        raise DockerfileError(
            f'target stage "{target}" could not be found',
            hint="name a stage that the Dockerfile declares with FROM ... AS NAME",
        )

    def _global_args(self, meta_args: list[Any], target_stage: Any) -> dict[str, str]:
        args = _platform_args(self.options.platform, self.options.build_platform)
        args["TARGETSTAGE"] = target_stage.name or "default"
        for name, value in self.options.build_args.items():
            if name in args:
                args[name] = value
        for command in meta_args:
            for pair in command.args:
                if pair.key in self.options.build_args:
                    value: str | None = self.options.build_args[pair.key]
                    self.used_args.add(pair.key)
                elif pair.value is not None:
                    try:
                        value = self.lexer.process_word(pair.value, args)
                    except MinikitError as exc:
                        raise exc.with_location(
                            self.location(command.location.start_line)
                        )
                else:
                    value = args.get(pair.key)
                if value is not None:
                    args[pair.key] = value
                self.used_args.add(pair.key)
        return args

    def _warn_unused_args(self) -> None:
        unused = sorted(
            name
            for name in self.options.build_args
            if name not in self.used_args
            and name not in _SILENT_ARGS
            and not name.startswith("BUILDKIT_")
        )
        if unused:
            self.linter.report(
                "UnusedBuildArgs",
                f"One or more build-args {_go_list(unused)} were not consumed",
                0,
            )

    # -- stages and bases -----------------------------------------------------

    def _stage_info(self, index: int, stage: Any) -> _StageInfo:
        name = stage.name or f"stage-{index}"
        state = StageState(name=name, index=index)
        info = _StageInfo(stage, state)
        line = stage.location.start_line
        try:
            base, _found, missing = self.lexer.process_word_with_matches(
                stage.base_name, self.global_args
            )
            platform_text = (
                self.lexer.process_word(stage.platform, self.global_args)
                if stage.platform
                else ""
            )
        except MinikitError as exc:
            raise exc.with_location(self.location(line))
        for arg in sorted(missing):
            self.linter.report(
                "UndefinedArgInFrom", f"FROM argument '{arg}' is not declared", line
            )
        if not base:
            raise DockerfileError(
                f"base name ({stage.base_name}) should not be blank",
                hint="give FROM an image name, or a default to the ARG it uses",
                location=self.location(line),
            )
        info.base_text = base
        state.platform = (
            Platform.parse(platform_text) if platform_text else self.options.platform
        )
        earlier = [other.name for other in self.infos[:index]]
        if base in earlier:
            info.base_stage = earlier.index(base)
            info.deps.add(info.base_stage)
        elif base in self.options.named_contexts:
            info.base_context = self.options.named_contexts[base]
        info.deps.update(self._copy_deps(index, stage))
        return info

    def _copy_deps(self, index: int, stage: Any) -> set[int]:
        from minikit.frontend.instructions import CopyCommand, RunCommand

        deps = set()
        for command in stage.commands:
            names = []
            if isinstance(command, CopyCommand) and command.from_:
                names.append(command.from_)
            if isinstance(command, RunCommand):
                names.extend(mount.from_ for mount in command.mounts if mount.from_)
            for name in names:
                found = self.stage_by_ref(
                    name, before=index, allow_index=isinstance(command, CopyCommand)
                )
                if found is not None:
                    deps.add(found)
        return deps

    def stage_by_ref(self, name: str, *, before: int, allow_index: bool) -> int | None:
        """Return the index of the earlier stage that ``--from=name`` means, if any."""
        if allow_index and name.isdigit():
            number = int(name)
            return number if number < before else None
        lowered = name.lower()
        for index, info in enumerate(self.infos[:before]):
            if info.stage.name and info.stage.name == lowered:
                return index
        return None

    def _reachable(self, target: int) -> set[int]:
        seen: set[int] = set()
        stack = [target]
        while stack:
            index = stack.pop()
            if index in seen:
                continue
            seen.add(index)
            stack.extend(self.infos[index].deps)
        return seen

    def _resolve_bases(self, reachable: set[int]) -> None:
        jobs: dict[int, tuple[Reference, Platform]] = {}
        for index in reachable:
            info = self.infos[index]
            if (
                info.base_stage is not None
                or info.base_context is not None
                or info.base_text == "scratch"
            ):
                continue
            try:
                reference = Reference.parse(info.base_text)
            except InvalidReference as exc:
                raise DockerfileError(
                    f'failed to parse stage name "{info.base_text}": {exc}',
                    hint="check the image name in FROM",
                    location=self.location(info.stage.location.start_line),
                ) from None
            jobs[index] = (reference, info.state.platform)
        if not jobs:
            return
        with futures.ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
            pending = {
                index: pool.submit(self.options.resolver.resolve, reference, platform)
                for index, (reference, platform) in jobs.items()
            }
            for index, future in pending.items():
                try:
                    future.result()
                except MinikitError as exc:
                    raise exc.with_location(
                        self.location(self.infos[index].stage.location.start_line)
                    )

    def init_stage(self, info: _StageInfo) -> None:
        """Give a stage its starting state: an earlier stage's, an image's, or scratch."""
        state = info.state
        if info.base_stage is not None:
            base = self.infos[info.base_stage].state
            state.output = base.output
            state.image = _deep(base.image)
            state.env = base.env.copy()
            state.workdir = base.workdir
            state.user = base.user
            state.shell = base.shell
            state.arg_names = list(base.arg_names)
            state.declared_args = set(base.declared_args)
            state.platform = base.platform
            state.base_pinned = base.base_pinned
            return
        if info.base_text == "scratch" and info.base_context is None:
            state.image = empty_image(state.platform)
            state.output = None
        else:
            self._init_from_image(info)
        self._load_image_env(state)

    def _init_from_image(self, info: _StageInfo) -> None:
        state = info.state
        if info.base_context is not None and info.base_context.kind != "image":
            state.output = self.named_context(info.base_text)
            state.image = empty_image(state.platform)
            return
        text = (
            info.base_context.value if info.base_context is not None else info.base_text
        )
        reference = Reference.parse(text)
        total = len(info.stage.commands) + 1
        output, resolved = self.image_node(reference, state.platform)
        name = self.step_name(state, 1, total, f"FROM {resolved.pinned}")
        self._name_image_node(output, name, info)
        state.output = output
        state.image = image_from_base(resolved.config, state.platform)
        state.base_pinned = str(resolved.pinned)

    def _name_image_node(self, output: NodeOutput, name: str, info: _StageInfo) -> None:
        meta = output.node.metadata
        if not meta.description.get("llb.customname", "").startswith("["):
            return
        if meta.description["llb.customname"].startswith("[internal]"):
            loc = info.stage.location
            meta.description["llb.customname"] = name
            meta.description["com.docker.dockerfile.v1.command"] = info.stage.original
            meta.stage = info.state.name
            meta.locations = (SourceRange(self.filename, loc.start_line, loc.end_line),)

    def _load_image_env(self, state: StageState) -> None:
        config = state.config
        from minikit.frontend.convert.state import OrderedEnv

        state.env = OrderedEnv(config.get("Env") or [])
        state.workdir = config.get("WorkingDir") or "/"
        state.user = config.get("User") or ""
        shell = config.get("Shell")
        if shell:
            state.shell = tuple(shell)

    # -- the final image --------------------------------------------------------

    def _finalize_image(self, state: StageState) -> dict[str, Any]:
        image = _deep(state.image)
        config = image.setdefault("config", {})
        if self.options.labels:
            labels = config.get("Labels") or {}
            labels.update(self.options.labels)
            config["Labels"] = labels
        image["architecture"] = state.platform.architecture
        image["os"] = state.platform.os
        if state.platform.variant:
            image["variant"] = state.platform.variant
        else:
            image.pop("variant", None)
        return image


def _deep(value: Any) -> Any:
    import copy

    return copy.deepcopy(value)


def _go_list(items: list[str]) -> str:
    return "[" + " ".join(items) + "]"


def _platform_args(target: Platform, build: Platform) -> dict[str, str]:
    return {
        "BUILDPLATFORM": str(build),
        "BUILDOS": build.os,
        "BUILDOSVERSION": build.os_version,
        "BUILDARCH": build.architecture,
        "BUILDVARIANT": build.variant,
        "TARGETPLATFORM": str(target),
        "TARGETOS": target.os,
        "TARGETOSVERSION": target.os_version,
        "TARGETARCH": target.architecture,
        "TARGETVARIANT": target.variant,
    }


def _source_date_epoch(build_args: dict[str, str]) -> int | None:
    value = build_args.get("SOURCE_DATE_EPOCH", "")
    if not value:
        return None
    if not value.isdigit():
        raise DockerfileError(
            f"invalid SOURCE_DATE_EPOCH {value!r}: expected a number of seconds since 1970",
            hint="pass --build-arg SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)",
        )
    return int(value)
