"""Dockerfile -> build graph: stages, arguments, base images, and the final image.

The steps follow BuildKit's ``dockerfile2llb``. Parse into typed stages and
compute the global arguments (predefined platform args plus the ARGs before
the first FROM). Expand each FROM with them, and link stages to their bases
and to the stages they copy or mount from. Keep only what the target
reaches, resolve base images, then dispatch each kept stage's instructions
in file order. The result is the target's graph output and image config.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

from minikit.errors import DockerfileError, MinikitError, SourceLocation
from minikit.frontend.convert import args as build_args
from minikit.frontend.convert.args import PROXY_ARGS
from minikit.frontend.convert.naming import STEP_KEYWORDS, prefix_command
from minikit.frontend.convert.options import ConvertOptions, NamedContext
from minikit.frontend.convert.state import (
    OrderedEnv,
    StageState,
    empty_image,
    image_from_base,
)
from minikit.frontend.instructions.suggest import did_you_mean, suggest
from minikit.frontend.location import instruction_location
from minikit.llb import NodeOutput, OpMetadata, SourceOp, SourceRange, make_node
from minikit.oci.reference import InvalidReference, Reference
from minikit.oci.spec import Platform

log = logging.getLogger(__name__)

__all__ = ["PROXY_ARGS", "ConvertResult", "Converter"]

SCRATCH = "scratch"


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
    # The --build-context name that base_context was found under.
    context_name: str = ""
    # A --build-context of the stage's own name replaces the whole stage.
    replaced: bool = False
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
        self.layout_images: dict[str, Any] = {}
        self.image_nodes: dict[tuple[str, str], NodeOutput] = {}
        self.infos: list[_StageInfo] = []
        self.global_args: dict[str, str] = {}
        self.meta_arg_names: set[str] = set()
        self.epoch = build_args.source_date_epoch(options.build_args, {})
        self.multi_stage = False
        self.secrets: list[tuple[str, bool]] = []
        self.ssh: list[tuple[str, bool]] = []
        self.contexts = {
            context_key(name): (name, context)
            for name, context in options.named_contexts.items()
        }

    # -- entry point -------------------------------------------------------

    def convert(self) -> ConvertResult:
        """Run the conversion and return the target's result."""
        from minikit.frontend.convert.dispatch import dispatch_stage
        from minikit.frontend.instructions import parse_instructions

        stages, meta_args = parse_instructions(self.parsed)
        if not stages:
            raise DockerfileError(
                "dockerfile contains no stages to build",
                hint="start the build stage with FROM <image>",
                location=self.location(1),
            )
        self.linter.check_parsed(self.parsed, stages, meta_args)
        target_index = self._target_index(stages)
        self._set_global_args(meta_args, stages, stages[target_index])
        # _stage_info looks up earlier stages in self.infos, so it grows in order.
        self.infos = []
        for index, stage in enumerate(stages):
            self.infos.append(self._stage_info(index, stage))
        self._name_stages()
        reachable = self._reachable(target_index)
        if self.options.check_only and not self.options.target:
            # Build checks look at every stage, as BuildKit's lint request does.
            reachable = set(range(len(self.infos)))
        self._resolve_bases(reachable)
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
        """Return a location in the Dockerfile at the keyword of line ``start``."""
        location = instruction_location(self.filename, self.lines, start, end)
        if column is None:
            return location
        return SourceLocation(
            self.filename, start, end, column, column + 1, lines=self.lines
        )

    def command_location(
        self, command: Any, word: str | tuple[str | None, ...] | None = None
    ) -> SourceLocation:
        """Return the location of ``word`` in ``command`` (else of its keyword)."""
        loc = command.location
        return instruction_location(
            self.filename, self.lines, loc.start_line, loc.end_line, word
        )

    def fail(
        self,
        message: str,
        command: Any,
        hint: str | None = None,
        word: str | tuple[str | None, ...] | None = None,
    ) -> DockerfileError:
        """Return an error located at ``word`` in ``command`` (else its keyword)."""
        return DockerfileError(
            message, hint=hint, location=self.command_location(command, word)
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
            step=f"{self.filename}:{state.name}:{_step_text(command, name)}",
            locations=(SourceRange(self.filename, loc.start_line, loc.end_line),),
        )

    def step_name(self, state: StageState, text: str) -> str:
        """Return the progress name ``[stage i/n] TEXT`` of the stage's next step."""
        return prefix_command(state, text, state.cmd_is_onbuild)

    def expander(
        self, state: StageState, command: Any
    ) -> tuple[Callable[[str], str], Callable[[str], list[str]]]:
        """Return word and words expanders over the stage's environment, with lint checks."""
        env = state.env.as_dict()

        def expand(word: str) -> str:
            try:
                result, _found, missing = self.lexer.process_word_with_matches(
                    word, env
                )
            except MinikitError as exc:
                raise self._expansion_error(exc, command, word)
            self.report_undefined(state, missing, command)
            return result

        def expand_words(word: str) -> list[str]:
            try:
                return self.lexer.process_words(word, env)
            except MinikitError as exc:
                raise self._expansion_error(exc, command, word)

        return expand, expand_words

    def _expansion_error(
        self, exc: MinikitError, command: Any, word: str
    ) -> MinikitError:
        if exc.hint is None:
            exc.hint = "check the ${...} syntax, or escape a literal dollar sign as \\$"
        return exc.with_location(self.command_location(command, word))

    def report_undefined(
        self, state: StageState, missing: set[str], command: Any
    ) -> None:
        """Report UndefinedVar for each unset name that no ARG of the stage declares."""
        options = list(state.env.as_dict())
        for name in sorted(missing):
            if name in state.declared_args or name in build_args.NON_ENV_ARGS:
                continue
            message = f"Usage of undefined variable '${name}'"
            match = suggest(name, options, case_sensitive=True)
            if match:
                message += f" (did you mean ${match}?)"
            self.linter.report("UndefinedVar", message, command.location.start_line)

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

    def named_context_of(self, name: str) -> tuple[str, NamedContext] | None:
        """Return the ``--build-context`` given for ``name``, and its key.

        Names compare as Docker's familiar image names without ``:latest``,
        so ``alpine``, ``alpine:latest`` and ``docker.io/library/alpine``
        all find ``--build-context alpine=...``.
        """
        key = context_key(name)
        found = self.contexts.get(key)
        if found is None or key in (SCRATCH, "context"):
            return None
        return key, found[1]

    def named_context(self, name: str) -> NodeOutput | None:
        """Return the node of ``--build-context name=...`` when one was given."""
        found = self.named_context_of(name)
        if found is None:
            return None
        name, context = found
        if name in self.named_nodes:
            return self.named_nodes[name]
        if context.kind == "local":
            node = make_node(
                lambda inputs: SourceOp(f"local://{self.contexts[name][0]}"),
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
        from minikit.source.ocilayout import resolve_layout

        platform = self.options.platform
        image = resolve_layout(value, platform)
        self.layout_images[name] = image
        attrs = (("image.platform", str(platform)),)
        node = make_node(
            lambda inputs: SourceOp(str(image.pinned), attrs),
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
            label = name or f"FROM {pinned}"
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
        names = [stage.name for stage in stages if stage.name]
        hint = did_you_mean(target, names, case_sensitive=True)
        raise DockerfileError(
            f'target stage "{target}" could not be found',
            hint=hint
            or "name a stage that the Dockerfile declares with FROM ... AS NAME",
        )

    def _set_global_args(
        self, meta_args: list[Any], stages: list[Any], target_stage: Any
    ) -> None:
        options = self.options
        defaults = build_args.default_args(
            options.platform, options.build_platform, target_stage.name, {}
        )
        self._check_default_bases(meta_args, stages, defaults)
        predefined = build_args.default_args(
            options.platform,
            options.build_platform,
            target_stage.name,
            options.build_args,
        )
        self.global_args = build_args.meta_args(
            predefined, self.lexer, meta_args, options.build_args, self._locate_arg
        )
        for command in meta_args:
            for pair in command.args:
                self.used_args.add(pair.key)
                self.meta_arg_names.add(pair.key)
        self.epoch = build_args.source_date_epoch(options.build_args, self.global_args)

    def _locate_arg(self, command: Any, word: str) -> SourceLocation:
        return self.command_location(command, word)

    def _check_default_bases(
        self, meta_args: list[Any], stages: list[Any], defaults: dict[str, str]
    ) -> None:
        """Report InvalidDefaultArgInFrom: FROM lines that fail with default ARGs."""
        try:
            args = build_args.meta_args(
                defaults, self.lexer, meta_args, {}, self._locate_arg
            )
            for stage in stages:
                base = self.lexer.process_word(stage.base_name, args)
                try:
                    Reference.parse(base)
                except InvalidReference:
                    self.linter.report(
                        "InvalidDefaultArgInFrom",
                        f"Default value for ARG {stage.base_name} results in empty "
                        "or invalid base image name",
                        stage.location.start_line,
                    )
        except MinikitError:
            # The same error fails the build below, with its location.
            return

    def _warn_unused_args(self) -> None:
        unused = build_args.unused_build_args(self.options.build_args, self.used_args)
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
        base, platform_text = self._expand_from(stage)
        info.base_text = base
        state.platform = (
            self._parse_platform(stage, platform_text)
            if platform_text
            else self.options.platform
        )
        own_context = self.named_context_of(stage.name) if stage.name else None
        if own_context is not None:
            info.replaced = True
            info.context_name, info.base_context = own_context
            return info
        earlier = [other.stage.name for other in self.infos[:index]]
        if base in earlier:
            info.base_stage = earlier.index(base)
            info.deps.add(info.base_stage)
        else:
            found = self.named_context_of(base)
            if found is not None:
                info.context_name, info.base_context = found
        info.deps.update(self._source_deps(index, stage))
        state.cmd_total = _step_count(
            stage, info.base_stage is None and base != SCRATCH
        )
        return info

    def _expand_from(self, stage: Any) -> tuple[str, str]:
        """Expand the FROM base name and ``--platform`` with the global args."""
        try:
            base, _found, missing = self.lexer.process_word_with_matches(
                stage.base_name, self.global_args
            )
            platform_text = ""
            platform_missing: set[str] = set()
            if stage.platform:
                platform_text, _found, platform_missing = (
                    self.lexer.process_word_with_matches(
                        stage.platform, self.global_args
                    )
                )
        except MinikitError as exc:
            if exc.hint is None:
                exc.hint = "check the ${...} syntax in the FROM line"
            raise exc.with_location(stage.source_location(stage.base_name))
        self._report_from_args(stage, missing | platform_missing)
        if not base:
            raise DockerfileError(
                f"base name ({stage.base_name}) should not be blank",
                hint="give FROM an image name, or give the ARG it uses a default "
                "before the first FROM",
                location=stage.source_location(stage.base_name),
            )
        if stage.platform and not platform_text:
            raise DockerfileError(
                f"empty platform value from expression {stage.platform}",
                hint="give the ARG a default before the first FROM, or pass "
                "--build-arg",
                location=stage.source_location(stage.platform),
            )
        return base, platform_text

    def _report_from_args(self, stage: Any, missing: set[str]) -> None:
        known = set(self.global_args) | self.meta_arg_names
        for arg in sorted(missing):
            if arg in known:
                continue
            message = f"FROM argument '{arg}' is not declared"
            match = suggest(arg, known, case_sensitive=True)
            if match:
                message += f" (did you mean {match}?)"
            self.linter.report("UndefinedArgInFrom", message, stage.location.start_line)

    def _parse_platform(self, stage: Any, text: str) -> Platform:
        try:
            return Platform.parse(text)
        except ValueError as exc:
            raise DockerfileError(
                f"failed to parse platform {stage.platform}: {exc}",
                hint="write a platform such as linux/amd64 or linux/arm64/v8",
                location=stage.source_location(stage.platform),
            ) from None

    def _source_deps(self, index: int, stage: Any) -> set[int]:
        """Return the earlier stages that COPY --from and RUN --mount from= name.

        A ``--mount`` whose other fields only parse once expanded (such as
        ``type=$T,from=build``) is missing here; its stage is dispatched when
        the RUN is, through :meth:`dispatch_earlier`.
        """
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

    def _name_stages(self) -> None:
        """Decide whether step names carry the stage name, as BuildKit does.

        BuildKit leaves the name out only when the build has one state. Every
        ``COPY --from`` that names no stage, and every ``RUN --mount``, adds
        a state of its own, so such a Dockerfile shows ``stage-0`` too.
        """
        states = len(self.infos)
        for info in self.infos:
            for command in info.stage.commands:
                states += _extra_states(self, command)
        self.multi_stage = states > 1
        for info in self.infos:
            info.state.display_name = info.state.name if self.multi_stage else ""

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
                or info.base_text == SCRATCH
            ):
                continue
            try:
                reference = Reference.parse(info.base_text)
            except InvalidReference as exc:
                raise DockerfileError(
                    f'failed to parse stage name "{info.base_text}": {exc}',
                    hint="check the image name in FROM; a stage name must match an "
                    "earlier FROM ... AS name exactly",
                    location=info.stage.source_location(info.stage.base_name),
                ) from None
            jobs[index] = (reference, info.state.platform)
        if not jobs:
            return
        # One lookup per image and platform, reported once in the progress.
        first: dict[tuple[str, str], int] = {}
        for index, (reference, platform) in sorted(jobs.items()):
            first.setdefault((str(reference), str(platform)), index)
        with futures.ThreadPoolExecutor(max_workers=min(8, len(first))) as pool:
            pending = {
                index: pool.submit(self.options.resolver.resolve, *jobs[index])
                for index in first.values()
            }
            for index, future in pending.items():
                try:
                    future.result()
                except MinikitError as exc:
                    stage = self.infos[index].stage
                    raise exc.with_location(stage.source_location(stage.base_name))

    def dispatch_earlier(self, index: int) -> None:
        """Dispatch an earlier stage that the graph did not know was needed.

        That happens for stages named by a base image's ONBUILD triggers,
        which are known only while the stage that inherits them is
        dispatched; BuildKit adds them to the graph once it has read them.
        """
        from minikit.frontend.convert.dispatch import dispatch_stage

        needed = {
            i for i in self._reachable(index) if not self.infos[i].state.dispatched
        }
        self._resolve_bases(needed)
        for position in sorted(needed):
            dispatch_stage(self, self.infos[position])

    def init_stage(self, info: _StageInfo) -> None:
        """Give a stage its starting state: an earlier stage's, an image's, or scratch."""
        state = info.state
        if info.base_stage is not None:
            self._init_from_stage(state, self.infos[info.base_stage].state)
            return
        if info.base_text == SCRATCH and info.base_context is None:
            state.image = empty_image(state.platform)
            state.output = None
        else:
            self._init_from_image(info)
        self._load_image_env(state)

    def _init_from_stage(self, state: StageState, base: StageState) -> None:
        state.output = base.output
        state.image = _deep(base.image)
        state.env = base.env.copy()
        state.workdir = base.workdir
        state.user = base.user
        state.shell = base.shell
        state.build_args = list(base.build_args)
        state.declared_args = set(base.declared_args)
        state.platform = base.platform
        state.base_pinned = base.base_pinned
        state.workdir_set = base.workdir_set
        state.cmd_total += len(state.config.get("OnBuild") or [])

    def _init_from_image(self, info: _StageInfo) -> None:
        state = info.state
        if info.base_context is not None and info.base_context.kind == "oci-layout":
            self._init_from_layout(info)
            return
        if info.base_context is not None and info.base_context.kind != "image":
            state.output = self.named_context(info.context_name)
            state.image = empty_image(state.platform)
            return
        text = (
            info.base_context.value if info.base_context is not None else info.base_text
        )
        reference = Reference.parse(text)
        output, resolved = self.image_node(reference, state.platform)
        state.output = output
        state.image = image_from_base(resolved.config, state.platform)
        state.base_pinned = str(resolved.pinned)
        state.cmd_total += len(state.config.get("OnBuild") or [])
        name = self.step_name(state, f"FROM {resolved.pinned}")
        self._name_image_node(output, name, info)

    def _init_from_layout(self, info: _StageInfo) -> None:
        state = info.state
        output = self.named_context(info.context_name)
        assert output is not None
        image = self.layout_images[info.context_name]
        state.output = output
        state.image = image_from_base(image.config, state.platform)
        state.base_pinned = str(image.pinned)
        state.cmd_total += len(state.config.get("OnBuild") or [])
        name = self.step_name(state, f"FROM {image.pinned}")
        meta = output.node.metadata
        meta.description["llb.customname"] = name
        meta.description["com.docker.dockerfile.v1.command"] = info.stage.original
        meta.stage = state.name

    def _name_image_node(self, output: NodeOutput, name: str, info: _StageInfo) -> None:
        # The first stage that uses an image names its vertex.
        meta = output.node.metadata
        if meta.stage:
            return
        loc = info.stage.location
        meta.description["llb.customname"] = name
        meta.description["com.docker.dockerfile.v1.command"] = info.stage.original
        meta.stage = info.state.name
        meta.locations = (SourceRange(self.filename, loc.start_line, loc.end_line),)

    def _load_image_env(self, state: StageState) -> None:
        config = state.config
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


def context_key(name: str) -> str:
    """Return the key a ``--build-context`` name is matched by."""
    try:
        reference = Reference.parse(name)
    except InvalidReference:
        return name
    return reference.familiar().removesuffix(":latest")


def _step_count(stage: Any, counts_from: bool) -> int:
    """Return the steps a stage shows: its FROM (of an image) and each RUN, COPY,
    ADD and WORKDIR."""
    steps = sum(1 for command in stage.commands if command.name in STEP_KEYWORDS)
    return steps + (1 if counts_from else 0)


def _extra_states(conv: Converter, command: Any) -> int:
    from minikit.frontend.instructions import CopyCommand, RunCommand

    if isinstance(command, RunCommand):
        return len(command.mount_values)
    if isinstance(command, CopyCommand) and command.from_:
        name = command.from_.lower()
        if name.isdigit() or any(info.stage.name == name for info in conv.infos):
            return 0
        return 1
    return 0


def _step_text(command: Any, name: str) -> str:
    """Return what identifies a step across builds: its instruction as written.

    The progress name shows build args expanded, so it changes with them;
    the unexpanded text does not, and --explain-cache can then name the arg.
    """
    text = getattr(command, "original", "") or name.split("] ", 1)[-1]
    return " ".join(text.split())[:200]


def _deep(value: Any) -> Any:
    import copy

    return copy.deepcopy(value)


def _go_list(items: list[str]) -> str:
    return "[" + " ".join(items) + "]"
