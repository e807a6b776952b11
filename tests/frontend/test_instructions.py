"""Typed instructions: flags, argument checks, mounts, heredocs and expansion."""

from __future__ import annotations

import pytest

from minikit.errors import DockerfileParseError, ShellExpansionError
from minikit.frontend import instructions as ins
from minikit.frontend.parser import parse
from minikit.frontend.shell import Lexer


def stages_of(text: str) -> tuple[list[ins.Stage], list[ins.ArgCommand]]:
    return ins.parse_instructions(parse(text))


def command(text: str) -> ins.Command:
    stages, _ = stages_of("FROM base\n" + text)
    return stages[0].commands[-1]


def error_of(text: str) -> DockerfileParseError:
    with pytest.raises(DockerfileParseError) as caught:
        stages_of(text)
    return caught.value


def where(error: DockerfileParseError) -> tuple[int, int | None]:
    assert error.location is not None
    return error.location.line, error.location.column


# Errors that point at a word


def test_unknown_instruction_suggests() -> None:
    error = error_of("FROM x\n  RUNN echo\n")
    assert str(error) == "unknown instruction: RUNN"
    assert error.hint == "did you mean RUN?"
    assert where(error) == (2, 3)


def test_unknown_instruction_lowercase_suggestion() -> None:
    assert error_of("FROM x\ncopyy a b\n").hint == "did you mean copy?"


def test_unknown_instruction_without_suggestion() -> None:
    error = error_of("FROM x\nfrobnicate\n")
    assert str(error) == "unknown instruction: frobnicate"
    assert error.hint is not None
    assert "did you mean" not in error.hint


def test_unknown_flag_suggests() -> None:
    error = error_of("FROM x\nRUN --mont=type=bind,target=/x true\n")
    assert str(error) == "unknown flag: --mont"
    assert error.hint == "did you mean mount?"
    assert where(error) == (2, 5)


def test_mount_key_typo() -> None:
    error = error_of("FROM x\nRUN --mount=typ=cache,target=/x true\n")
    assert str(error) == "unexpected key 'typ' in 'typ=cache'"
    assert error.hint == "did you mean type?"
    assert where(error) == (2, 13)


def test_mount_type_typo() -> None:
    error = error_of("FROM x\nRUN --mount=type=tmp,target=/x true\n")
    assert str(error) == 'unsupported mount type "tmp"'
    assert error.hint == "did you mean tmpfs?"
    assert where(error) == (2, 13)


def test_mount_required_value() -> None:
    error = error_of("FROM x\nRUN --mount=type=secret,id=s,required=maybe true\n")
    assert str(error) == "invalid value for required: maybe"


def test_mount_required_before_type() -> None:
    error = error_of("FROM x\nRUN --mount=required,type=secret,id=s true\n")
    assert str(error) == "unexpected key 'required' for mount type 'bind'"


def test_duplicate_flag() -> None:
    error = error_of("FROM x\nCOPY --chown=1 --chown=2 a b\n")
    assert str(error) == "duplicate flag specified: chown"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("COPY --link= a b", "missing a value on flag: link"),
        ("COPY --link=maybe a b", "expecting boolean value for flag link, not: maybe"),
        ("COPY --chown a b", "missing a value on flag: chown"),
        ("ADD --from=x a b", "unknown flag: --from"),
        ("ADD --parents a b", "unknown flag: --parents"),
        ("COPY --checksum=sha256:x a b", "unknown flag: --checksum"),
    ],
)
def test_flag_errors(text: str, message: str) -> None:
    assert str(error_of("FROM x\n" + text + "\n")) == message


# Argument counts


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("WORKDIR", "WORKDIR requires exactly one argument"),
        ("USER", "USER requires exactly one argument"),
        ("STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
        ("MAINTAINER", "MAINTAINER requires exactly one argument"),
        ("ENV", "ENV requires at least one argument"),
        ("LABEL", "LABEL requires at least one argument"),
        ("EXPOSE", "EXPOSE requires at least one argument"),
        ("VOLUME", "VOLUME requires at least one argument"),
        ("ARG", "ARG requires at least one argument"),
        ("ONBUILD", "ONBUILD requires at least one argument"),
        ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
        ("SHELL []", "SHELL requires at least one argument"),
        (
            "COPY a",
            (
                "COPY requires at least two arguments, but only one was provided. "
                "Destination could not be determined"
            ),
        ),
        ("FROM a b", "FROM requires either one or three arguments"),
    ],
)
def test_argument_count(text: str, message: str) -> None:
    assert str(error_of("FROM x\n" + text + "\n")) == message


def test_commands_before_from() -> None:
    error = error_of("RUN true\nFROM x\n")
    assert (str(error), where(error)) == ("no build stage in current context", (1, 1))


# Stages


def test_stage_fields() -> None:
    stages, meta = stages_of("ARG V=1\nFROM --platform=$P img:$V As Build\nRUN a\n")
    stage = stages[0]
    assert (stage.name, stage.base_name, stage.platform) == ("build", "img:$V", "$P")
    assert (stage.as_keyword, stage.original) == (
        "As",
        "FROM --platform=$P img:$V As Build",
    )
    assert [arg.args[0].key for arg in meta] == ["V"]
    assert stage.location == ins.Location(2, 2)


def test_stage_name_invalid() -> None:
    error = error_of("FROM x AS 1st\n")
    assert str(error).startswith('invalid name for build stage: "1st"')
    assert where(error) == (1, 11)


def test_stage_description_comment() -> None:
    stages, _ = stages_of("# build compiles things\nFROM x AS build\n")
    assert stages[0].comment == "compiles things"


# Commands


def test_env_pairs() -> None:
    env = command('ENV a=1 b="2 3"\nENV c d e\n')
    assert isinstance(env, ins.EnvCommand)
    assert env.env == [ins.KeyValuePair("c", "d e", legacy=True)]


def test_env_blank_name() -> None:
    assert str(error_of("FROM x\nENV =v\n")) == "ENV names can not be blank"


def test_arg_pairs() -> None:
    arg = command('ARG a="1 2" b\n')
    assert isinstance(arg, ins.ArgCommand)
    assert arg.args == [
        ins.KeyValuePairOptional("a", '"1 2"'),
        ins.KeyValuePairOptional("b"),
    ]


def test_run_shell_and_exec() -> None:
    shell = command("RUN echo $HOME\n")
    exec_form = command('RUN ["echo", "x"]\n')
    assert isinstance(shell, ins.RunCommand) and isinstance(exec_form, ins.RunCommand)
    assert (shell.cmd, shell.prepend_shell) == (["echo $HOME"], True)
    assert (exec_form.cmd, exec_form.prepend_shell) == (["echo", "x"], False)


def test_run_network_and_security() -> None:
    run = command("RUN --network=none --security=insecure --device=/dev/x true\n")
    assert isinstance(run, ins.RunCommand)
    assert (run.network, run.security, run.devices) == ("none", "insecure", ["/dev/x"])


def test_run_invalid_network() -> None:
    assert (
        str(error_of("FROM x\nRUN --network=bridge true\n"))
        == 'invalid network mode "bridge"'
    )


def test_run_heredoc_files() -> None:
    run = command("RUN <<-EOF\n\techo\nEOF\n")
    assert isinstance(run, ins.RunCommand)
    assert run.files == [ins.SourceFile("EOF", "\techo\n", chomp=True, expand=True)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "type=cache,target=/c",
            ins.MountSpec("cache", "/c", readonly=False, id="/c", sharing="shared"),
        ),
        ("target=/src,rw", ins.MountSpec("bind", "/src", readonly=False)),
        (
            "type=bind,source=a,target=/b,from=stage",
            ins.MountSpec("bind", "/b", "a", "stage"),
        ),
        (
            "type=tmpfs,target=/t,size=128m",
            ins.MountSpec("tmpfs", "/t", readonly=False, size=128 << 20),
        ),
        (
            "type=secret,id=tok,env=TOKEN,required",
            ins.MountSpec("secret", id="tok", required=True, env="TOKEN"),
        ),
        ("type=secret,target=/run/x/pw", ins.MountSpec("secret", "/run/x/pw", id="pw")),
        (
            "type=ssh,mode=0600,uid=1,gid=2",
            ins.MountSpec("ssh", id="default", mode=0o600, uid=1, gid=2),
        ),
        (
            "type=cache,dst=/c,id=shared-c,sharing=LOCKED,ro",
            ins.MountSpec("cache", "/c", id="shared-c", sharing="locked"),
        ),
    ],
)
def test_mount_values(value: str, expected: ins.MountSpec) -> None:
    run = command(f"RUN --mount={value} true\n")
    assert isinstance(run, ins.RunCommand)
    assert run.mounts == [expected]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("type=bind,mode=0755,target=/x", 'mode not allowed for "bind" type mounts'),
        ("type=secret,from=x,id=s", "secret mount should not have a from"),
        ("type=secret", "invalid secret mount. one of source, target required"),
        ("type=secret,source=a,id=b", "both source and id can't be set"),
        (
            "type=bind,sharing=private,target=/x",
            "invalid cache sharing set for bind mount",
        ),
        (
            "type=cache,target=/x,size=1m",
            "unexpected key 'size' for mount type 'cache'",
        ),
        ("type=cache,target=/x,uid=root", "invalid value root for uid"),
        ("target=/x,readonly=maybe", "invalid value for readonly: maybe"),
        ("target=/x,bogus", "invalid field 'bogus' must be a key=value pair"),
        ("type=ssh,source=a", "ssh does not support source"),
        (
            "from=$X,target=/x",
            "'from' doesn't support variable expansion, define alias stage instead",
        ),
    ],
)
def test_mount_errors(value: str, message: str) -> None:
    assert str(error_of(f"FROM x\nRUN --mount={value} true\n")) == message


def test_mount_expanded_by_expand() -> None:
    run = command("RUN --mount=type=$T,target=$DIR true\n")
    assert isinstance(run, ins.RunCommand)
    env = {"T": "cache", "DIR": "/cache"}
    lexer = Lexer()
    run.expand(lambda word: lexer.process_word(word, env), lambda word: [word])
    assert run.mounts[0].type == "cache"
    assert run.mounts[0].target == "/cache"


def test_mount_error_after_expansion_has_location() -> None:
    run = command("RUN --mount=type=$T true\n")
    with pytest.raises(DockerfileParseError) as caught:
        run.expand(lambda word: "bogus", lambda word: [word])
    assert str(caught.value) == 'unsupported mount type "bogus"'
    assert caught.value.location is not None
    assert caught.value.location.line == 2


def test_copy_flags() -> None:
    copy = command(
        "COPY --from=build --chown=1:2 --chmod=755 --link --parents --exclude=*.md --exclude=x a b /d/\n"
    )
    assert isinstance(copy, ins.CopyCommand)
    assert (copy.from_, copy.chown, copy.chmod) == ("build", "1:2", "755")
    assert (copy.link, copy.parents, copy.excludes) == (True, True, ["*.md", "x"])
    assert (copy.sources, copy.dest) == (["a", "b"], "/d/")


def test_copy_from_variable_rejected() -> None:
    error = error_of("ARG S=x\nFROM x\nARG S\nCOPY --from=$S /a /b\n")
    assert str(error).startswith("variable expansion is not supported for --from")
    assert where(error) == (4, 13)


def test_copy_heredoc_source() -> None:
    copy = command("COPY <<-EOT <<'RAW' /d/\n\thi\nEOT\n$x\nRAW\n")
    assert isinstance(copy, ins.CopyCommand)
    assert copy.sources == []
    assert copy.files == [
        ins.SourceFile("EOT", "hi\n", chomp=True, expand=True),
        ins.SourceFile("RAW", "$x\n", chomp=False, expand=False),
    ]


def test_copy_heredoc_destination_rejected() -> None:
    error = error_of("FROM x\nCOPY a <<EOF\nbody\nEOF\n")
    assert str(error) == "COPY cannot accept a heredoc as a destination"
    assert where(error) == (2, 8)


def test_copy_heredoc_expansion() -> None:
    copy = command(
        'ARG WHO=world\nCOPY <<EOT /r\nsay "hi" to ${WHO}, it\'s $WHO\nC:\\temp \\$WHO \\\\x\nEOT\n'
    )
    assert isinstance(copy, ins.CopyCommand)
    body = Lexer("\\", skip_process_quotes=True)
    copy.expand_files(lambda data: body.process_word(data, {"WHO": "world"}))
    assert copy.files[0].data == 'say "hi" to world, it\'s world\nC:temp $WHO \\x\n'


def test_add_flags() -> None:
    add = command(
        "ADD --keep-git-dir --checksum=abc --unpack=false https://h/r.git /d\n"
    )
    assert isinstance(add, ins.AddCommand)
    assert (add.keep_git_dir, add.checksum, add.unpack) == (True, "abc", False)


def test_add_flags_unset() -> None:
    add = command("ADD a b\n")
    assert isinstance(add, ins.AddCommand)
    assert (add.keep_git_dir, add.unpack) == (None, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "ADD --checksum=sha256:a x y /d",
            "checksum can't be specified for multiple sources",
        ),
        (
            "ADD --checksum=sha256:a local.txt /d",
            "checksum can't be specified for non-HTTP(S) sources",
        ),
    ],
)
def test_add_checksum_restrictions(text: str, message: str) -> None:
    assert str(error_of("FROM x\n" + text + "\n")) == message


def test_healthcheck_shell_form() -> None:
    check = command(
        "HEALTHCHECK --interval=1m30s --timeout=3s --start-period=0s --retries=2 CMD curl x\n"
    )
    assert isinstance(check, ins.HealthcheckCommand)
    assert check.test == ["CMD-SHELL", "curl x"]
    assert (check.interval, check.timeout, check.start_period, check.retries) == (
        90.0,
        3.0,
        None,
        2,
    )


def test_healthcheck_exec_and_none() -> None:
    exec_form = command('HEALTHCHECK CMD ["curl", "x"]\n')
    none = command("HEALTHCHECK --interval=bogus NONE\n")
    assert isinstance(exec_form, ins.HealthcheckCommand) and isinstance(
        none, ins.HealthcheckCommand
    )
    assert (exec_form.test, none.test) == (["CMD", "curl", "x"], ["NONE"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
        (
            "HEALTHCHECK CONNECT TCP 7000",
            'Unknown type "CONNECT" in HEALTHCHECK (try CMD)',
        ),
        ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
        ("HEALTHCHECK --interval=10 CMD x", 'time: missing unit in duration "10"'),
        (
            "HEALTHCHECK --timeout=1ns CMD x",
            'Interval "timeout" cannot be less than 1ms',
        ),
        ("HEALTHCHECK --retries=-1 CMD x", "--retries cannot be negative (-1)"),
    ],
)
def test_healthcheck_errors(text: str, message: str) -> None:
    assert str(error_of("FROM x\n" + text + "\n")) == message


def test_onbuild_expression_keeps_heredoc() -> None:
    onbuild = command("onbuild  RUN <<EOF\necho x\nEOF\n")
    assert isinstance(onbuild, ins.OnbuildCommand)
    assert onbuild.expression == "RUN <<EOF\necho x\nEOF"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "ONBUILD ONBUILD RUN x",
            "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        ),
        ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
        ("ONBUILD MAINTAINER me", "MAINTAINER isn't allowed as an ONBUILD trigger"),
    ],
)
def test_onbuild_restrictions(text: str, message: str) -> None:
    assert str(error_of("FROM x\n" + text + "\n")) == message


def test_shell_needs_json() -> None:
    assert (
        str(error_of("FROM x\nSHELL /bin/sh -c\n"))
        == "SHELL requires the arguments to be in JSON form"
    )


def test_entrypoint_empty_json_unsets() -> None:
    entrypoint = command("ENTRYPOINT []\n")
    assert isinstance(entrypoint, ins.EntrypointCommand)
    assert entrypoint.cmd is None


def test_expose_sorted_and_expanded() -> None:
    expose = command("EXPOSE 80 $PORTS 443/udp\n")
    assert isinstance(expose, ins.ExposeCommand)
    assert expose.ports == ["$PORTS", "443/udp", "80"]
    lexer = Lexer()
    env = {"PORTS": "1 2"}
    expose.expand(
        lambda w: lexer.process_word(w, env), lambda w: lexer.process_words(w, env)
    )
    assert expose.ports == ["1", "2", "443/udp", "80"]


def test_volume_empty_entry() -> None:
    assert (
        str(error_of('FROM x\nVOLUME ["/a", " "]\n'))
        == "VOLUME specified can not be an empty string"
    )


def test_stopsignal_ignores_flags() -> None:
    signal = command("STOPSIGNAL --bogus SIGTERM\n")
    assert isinstance(signal, ins.StopSignalCommand)
    assert signal.signal == "SIGTERM"


def test_expand_only_expanded_fields() -> None:
    stages, _ = stages_of(
        "FROM x\nENV A=$V\nWORKDIR $V\nUSER $V\nRUN echo $V\nCOPY --chown=$V $V /$V\n"
    )
    expanded = []
    for item in stages[0].commands:
        item.expand(lambda word: word.replace("$V", "v"), lambda word: [word])
        expanded.append(item)
    env, workdir, user, run, copy = expanded
    assert isinstance(env, ins.EnvCommand) and env.env[0].value == "v"
    assert isinstance(workdir, ins.WorkdirCommand) and workdir.path == "v"
    assert isinstance(user, ins.UserCommand) and user.user == "v"
    assert isinstance(run, ins.RunCommand) and run.cmd == ["echo $V"]
    assert isinstance(copy, ins.CopyCommand) and (
        copy.chown,
        copy.sources,
        copy.dest,
    ) == ("v", ["v"], "/v")


def test_expand_error_gets_location() -> None:
    workdir = command("WORKDIR ${X:?}\n")
    lexer = Lexer()
    with pytest.raises(ShellExpansionError) as caught:
        workdir.expand(lambda word: lexer.process_word(word, {}), lambda word: [word])
    assert caught.value.location is not None
    assert caught.value.location.line == 2


def test_parse_command_for_trigger() -> None:
    trigger = parse("COPY --from=x a b\n").instructions[0]
    copy = ins.parse_command(trigger, "onbuild", ())
    assert isinstance(copy, ins.CopyCommand)
    assert copy.from_ == "x"
