"""``RUN --mount=type=secret`` and ``--secret`` end to end, as root and rootless.

Each module-scoped fixture runs one build and several tests read its output,
so the module costs a handful of builds per mode.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from fixtures.oci_tools import read_oci_archive
from secrets_support import MODES, Builder, make_builder

SECRET_VALUE = "s3cr3t-Mounted-7781"

PARAMS_DOCKERFILE = """\
FROM busybox:1.36
ENV SECRET_ENV=from-env-instruction
RUN --mount=type=secret,id=mysecret,required=false,mode=741,uid=100,gid=102,\
target=/mysecret \\
    stat -c '%a %u %g %F' /mysecret > /params.txt \\
 && grep ' /mysecret ' /proc/mounts > /mountinfo.txt \\
 && { test -e /run/secrets/mysecret && echo present || echo absent; } > /default.txt
RUN { test -e /mysecret && echo stub || echo gone; } > /after.txt
RUN --mount=type=secret,id=mysecret,env=SECRET_ENV \\
    echo "[$SECRET_ENV]" | wc -c > /env-length.txt \\
 && { test -e /run/secrets/mysecret && echo file || echo no-file; } > /env-file.txt
RUN --mount=type=secret,id=mysecret,env=BOTH,target=/both \\
    { test "$BOTH" = "$(cat /both)" && echo same || echo differ; } > /both.txt
RUN --mount=type=secret,id=a/b/nested \\
    { test -f /run/secrets/nested && echo basename || echo missing; } > /nested.txt
RUN --mount=type=secret,id=mysecret \\
    grep -c ' /run/secrets/mysecret .* ro,' /proc/mounts > /default-ro.txt
"""

LEAK_DOCKERFILE = """\
FROM busybox:1.36
RUN echo harmless > /harmless.txt
RUN --mount=type=secret,id=leaky cp /run/secrets/leaky /copied-secret.txt
"""

# The RUN stores the value in upper case: the leak guard rejects a copy.
CLIENT_DOCKERFILE = """\
FROM busybox:1.36
RUN --mount=type=secret,id=API_TOKEN,required \\
    tr a-z A-Z < /run/secrets/API_TOKEN > /token.txt
"""


@pytest.fixture(scope="module", params=MODES)
def builder(request, base_image, tmp_path_factory) -> Builder:
    return make_builder(request.param, request, tmp_path_factory.mktemp("secrets"))


# -- case secret-not-provided --------------------------------------------------


@pytest.fixture(scope="module")
def not_provided(builder):
    context = builder.case("secret-not-provided")
    builder(["build", "-f", "Dockerfile", "-o", "type=local,dest=out", "."], context)
    return context / "out"


def test_optional_file_absent(not_provided):
    assert (not_provided / "r23-file.txt").read_text() == "absent\n"


def test_optional_env_empty(not_provided):
    assert (not_provided / "r23-env.txt").read_text() == "set:[]\n"


def test_required_false_accepted(not_provided):
    assert (not_provided / "r23-flag-false.txt").read_text() == "parsed-false\n"


def test_optional_leaves_no_stub(not_provided):
    assert not (not_provided / "root" / "opt.txt").exists()


def test_required_missing_fails(builder):
    context = builder.case("secret-not-provided")
    args = ["build", "-f", "Dockerfile.required", "-o", "type=local,dest=out", "."]
    result = builder(args, context, check=False)
    assert result.returncode != 0
    assert "secret need: not found" in result.stderr
    assert "Dockerfile.required:2" in result.stderr


def test_required_invalid_value(builder):
    context = builder.case("secret-not-provided")
    args = ["build", "-f", "Dockerfile.badflag", "-o", "type=local,dest=out", "."]
    result = builder(args, context, check=False)
    assert result.returncode != 0
    assert "invalid value for required: maybe" in result.stderr


def test_required_provided(builder):
    context = builder.case("secret-not-provided")
    (context / "need.txt").write_text("hello")
    builder.give(context / "need.txt")
    args = ["build", "-f", "Dockerfile.required", "--secret", "id=need,src=need.txt"]
    builder([*args, "-o", "type=local,dest=out", "."], context)
    assert (context / "out").is_dir()


# -- case secret-change-keeps-cache -------------------------------------------


def _plain(builder, context, root, secret, out, *extra):
    args = ["build", "--progress=plain", "--root", str(root), "--secret", secret]
    return builder([*args, *extra, "-o", f"type=local,dest={out}", "."], context)


def _run_cached(stderr: str) -> bool:
    lines = stderr.splitlines()
    for index, line in enumerate(lines):
        if " RUN --mount=type=secret" in line:
            step = line.split()[0]
            return any(
                other.startswith(step + " CACHED") for other in lines[index + 1 :]
            )
    raise AssertionError(f"no RUN step in the progress output:\n{stderr}")


@pytest.fixture(scope="module")
def cache_runs(builder):
    context = builder.case("secret-change-keeps-cache")
    root = builder.folder("cache-root")
    first = _plain(builder, context, root, "id=tok,src=v1.txt", "out1")
    second = _plain(builder, context, root, "id=tok,src=v2.txt", "out2")
    third = _plain(builder, context, root, "id=tok,src=v2.txt", "out3", "--no-cache")
    return context, root, (first, second, third)


def test_first_build_reads_secret(cache_runs):
    context, _root, _runs = cache_runs
    assert (context / "out1" / "r22.txt").read_text() == "v1"


def test_changed_value_is_cached(cache_runs):
    context, _root, runs = cache_runs
    assert _run_cached(runs[1].stderr)
    assert (context / "out2" / "r22.txt").read_text() == "v1"


def test_no_cache_reads_new_value(cache_runs):
    context, _root, runs = cache_runs
    assert not _run_cached(runs[2].stderr)
    assert (context / "out3" / "r22.txt").read_text() == "v2"


@pytest.mark.parametrize(
    "mount",
    [
        "type=secret,id=other",
        "type=secret,id=tok,target=/elsewhere",
        "type=secret,id=tok,env=TOK_ENV",
    ],
    ids=["id", "target", "env"],
)
def test_mount_options_change_key(builder, cache_runs, mount):
    context, root, _runs = cache_runs
    variant = context / f"Dockerfile.{mount.split(',')[1].split('=')[0]}"
    command = "cat /run/secrets/tok > /r22.txt || true"
    variant.write_text(f"FROM busybox:1.36\nRUN --mount={mount} {command}\n")
    builder.give(variant)
    secret = "id=other,src=v1.txt" if "id=other" in mount else "id=tok,src=v1.txt"
    result = _plain(builder, context, root, secret, "out-variant", "-f", variant.name)
    assert not _run_cached(result.stderr)


# -- mount parameters -----------------------------------------------------------


@pytest.fixture(scope="module")
def params_build(builder):
    context = builder.folder("params")
    (context / "Dockerfile").write_text(PARAMS_DOCKERFILE)
    (context / "secret.txt").write_text(SECRET_VALUE)
    builder.give(context)
    args = ["build", "--progress=plain", "--secret", "id=mysecret,src=secret.txt"]
    args += ["--secret", "id=a/b/nested,src=secret.txt"]
    result = builder([*args, "-o", "type=local,dest=out", "."], context)
    return context / "out", result


def test_file_owner_and_mode(params_build):
    assert (params_build[0] / "params.txt").read_text() == "741 100 102 regular file\n"


def test_file_mount_read_only(params_build):
    options = (params_build[0] / "mountinfo.txt").read_text().split()[3].split(",")
    assert "ro" in options


def test_file_mount_nosuid(params_build):
    options = (params_build[0] / "mountinfo.txt").read_text().split()[3].split(",")
    assert "nosuid" in options


def test_file_mount_nodev(params_build):
    options = (params_build[0] / "mountinfo.txt").read_text().split()[3].split(",")
    assert "nodev" in options


def test_file_mount_on_tmpfs(params_build):
    assert (params_build[0] / "mountinfo.txt").read_text().split()[2] == "tmpfs"


def test_target_replaces_default(params_build):
    assert (params_build[0] / "default.txt").read_text() == "absent\n"


def test_target_gone_after_step(params_build):
    assert (params_build[0] / "after.txt").read_text() == "gone\n"
    assert not (params_build[0] / "mysecret").exists()


def test_env_overrides_env_instruction(params_build):
    expected = len(f"[{SECRET_VALUE}]\n")
    assert (params_build[0] / "env-length.txt").read_text().strip() == str(expected)


def test_env_alone_has_no_file(params_build):
    assert (params_build[0] / "env-file.txt").read_text() == "no-file\n"


def test_env_with_target_gives_both(params_build):
    assert (params_build[0] / "both.txt").read_text() == "same\n"


def test_id_with_slash_uses_basename(params_build):
    assert (params_build[0] / "nested.txt").read_text() == "basename\n"


def test_default_mount_read_only(params_build):
    assert (params_build[0] / "default-ro.txt").read_text() == "1\n"


def test_env_masked_in_progress(params_build):
    assert 'echo "[****]"' in params_build[1].stderr
    assert SECRET_VALUE not in params_build[1].stderr


def test_no_run_secrets_left(params_build):
    assert not (params_build[0] / "run" / "secrets").exists()


# -- client side: --secret --------------------------------------------------------


def _client_build(builder, secret: str, env: dict[str, str], with_file: bool):
    context = builder.folder("client")
    (context / "Dockerfile").write_text(CLIENT_DOCKERFILE)
    if with_file:
        (context / "API_TOKEN").write_text("from-file")
    builder.give(context)
    args = ["build", "--no-cache", "--secret", secret, "-o", "type=local,dest=out", "."]
    result = builder(args, context, env, check=False)
    return context, result


def _token(context: Path) -> str:
    return (context / "out" / "token.txt").read_text().lower()


def test_bare_id_prefers_env(builder):
    context, result = _client_build(
        builder, "id=API_TOKEN", {"API_TOKEN": "env-v"}, True
    )
    assert result.returncode == 0, result.stderr
    assert _token(context) == "env-v"


def test_bare_id_falls_back_to_file(builder):
    context, result = _client_build(builder, "id=API_TOKEN", {}, True)
    assert result.returncode == 0, result.stderr
    assert _token(context) == "from-file"


def test_env_form(builder):
    context, result = _client_build(
        builder, "id=API_TOKEN,env=OTHER_VAR", {"OTHER_VAR": "other-v"}, True
    )
    assert result.returncode == 0, result.stderr
    assert _token(context) == "other-v"


def test_typed_env_form(builder):
    secret = "type=env,id=API_TOKEN,src=OTHER_VAR"
    context, result = _client_build(builder, secret, {"OTHER_VAR": "typed-v"}, False)
    assert result.returncode == 0, result.stderr
    assert _token(context) == "typed-v"


def test_typed_file_form(builder):
    secret = "type=file,id=API_TOKEN,src=API_TOKEN"
    context, result = _client_build(builder, secret, {"API_TOKEN": "ignored"}, True)
    assert result.returncode == 0, result.stderr
    assert _token(context) == "from-file"


def test_missing_file_fails_early(builder):
    _context, result = _client_build(builder, "id=API_TOKEN,src=nope.txt", {}, False)
    assert result.returncode != 0
    assert "secret API_TOKEN" in result.stderr
    assert "nope.txt" in result.stderr
    assert "load build definition" not in result.stderr
    assert "Traceback" not in result.stderr


# -- case build-arg-vs-secret-history ----------------------------------------------


@pytest.fixture(scope="module")
def history_build(builder):
    context = builder.case("build-arg-vs-secret-history")
    args = ["build", "--progress=plain", "--build-arg", "API_TOKEN=arg-value-123"]
    args += ["--secret", "id=api,src=api.txt", "-o", "type=oci,dest=out.tar", "."]
    result = builder(args, context)
    return read_oci_archive(context / "out.tar"), result


def _created_by(image) -> list[str]:
    return [entry.get("created_by", "") for entry in image.history]


def test_build_arg_in_history(history_build):
    expected = (
        'RUN |1 API_TOKEN=arg-value-123 /bin/sh -c echo "token length '
        '${#API_TOKEN}" > /r25-arg.txt # buildkit'
    )
    assert expected in _created_by(history_build[0])


def test_secret_not_in_config(history_build):
    image = history_build[0]
    assert b"secret-value-456" not in json.dumps(image.config).encode()


def test_secret_run_history_clean(history_build):
    entry = [text for text in _created_by(history_build[0]) if "r25-secret" in text]
    assert len(entry) == 1
    assert "api.txt" not in entry[0]
    assert "secret-value-456" not in entry[0]


def test_secret_not_in_layers(history_build):
    needles = (b"secret-value-456", base64.b64encode(b"secret-value-456"))
    for layer in history_build[0].layers:
        for entry in layer.entries:
            for needle in needles:
                assert needle not in (entry.content or b""), entry.name


def test_secret_layer_contents(history_build):
    last = history_build[0].layers[-1]
    names = [name.rstrip("/") for name in last.names()]
    assert names == ["r25-secret.txt"]
    assert last.entry("r25-secret.txt").content.strip() == b"16"


def test_secret_not_in_log(history_build):
    assert "secret-value-456" not in history_build[1].stderr


# -- the leak guard -------------------------------------------------------------------


def _leak_context(builder) -> Path:
    context = builder.folder("leak")
    (context / "Dockerfile").write_text(LEAK_DOCKERFILE)
    (context / "leaky.txt").write_text("leak-me-" + SECRET_VALUE)
    return builder.give(context)


def test_leak_guard_fails_build(builder):
    context = _leak_context(builder)
    args = ["build", "--secret", "id=leaky,src=leaky.txt", "-o", "type=oci,dest=o.tar"]
    result = builder([*args, "."], context, check=False)
    assert result.returncode != 0
    assert "Dockerfile:3" in result.stderr
    assert "/copied-secret.txt" in result.stderr
    assert SECRET_VALUE not in result.stderr
    assert not (context / "o.tar").exists()


def test_leak_guard_allow_warns(builder):
    context = _leak_context(builder)
    args = ["build", "--secret", "id=leaky,src=leaky.txt", "--allow", "secret-in-layer"]
    result = builder([*args, "-o", "type=local,dest=out", "."], context)
    assert "allowed by --allow secret-in-layer" in result.stderr
    assert "/copied-secret.txt" in result.stderr
    assert (context / "out" / "copied-secret.txt").is_file()
