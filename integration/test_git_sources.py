"""``ADD <git url>``, Git build contexts and Git HTTP auth, as root and rootless.

The repositories come from ``fixtures.git_server``: ``public/*`` needs no
credentials, and ``private/*`` answers 401 unless the request carries one
of the Authorization values a test allows.
"""

from __future__ import annotations

import base64
import time

import pytest
from secrets_support import MODES, Builder, make_builder

MODES_DOCKERFILE = """\
FROM busybox:1.36
ARG GITPORT
ADD http://127.0.0.1:${GITPORT}/public/mono.git?ref=main&keep-git-dir=true /query-keep
ADD http://127.0.0.1:${GITPORT}/public/mono.git#v1 /tag-fragment
ADD http://127.0.0.1:${GITPORT}/public/mono.git?tag=v1 /tag-query
ADD http://127.0.0.1:${GITPORT}/public/mono.git?branch=main /branch-query
ADD http://127.0.0.1:${GITPORT}/public/mono.git#main:svc /subdir-fragment
ADD http://127.0.0.1:${GITPORT}/public/mono.git?subdir=svc/nested /subdir-query
ADD http://127.0.0.1:${GITPORT}/public/mono.git?submodules=false /no-submodules
ADD --checksum=${COMMIT} http://127.0.0.1:${GITPORT}/public/mono.git#main /checksum
RUN { test -d /query-keep/.git && echo has-git || echo no-git; } > /query-keep.txt \\
 && cat /tag-fragment/svc/a.txt /tag-query/svc/a.txt > /tags.txt \\
 && cat /branch-query/svc/a.txt > /branch.txt \\
 && ls -A /subdir-fragment > /subdir-fragment.txt \\
 && ls -A /subdir-query > /subdir-query.txt \\
 && ls -A /no-submodules/vendor/lib | wc -l > /no-submodules.txt \\
 && cat /checksum/README.md > /checksum.txt
"""

PER_HOST_DOCKERFILE = """\
FROM busybox:1.36
ARG MAIN
ARG OTHER
ADD ${MAIN}/private/plain.git /main
ADD ${OTHER}/private/plain.git /other
RUN cat /main/hello.txt /other/hello.txt > /both.txt
"""


@pytest.fixture(scope="module", params=MODES)
def builder(request, base_image, tmp_path_factory) -> Builder:
    return make_builder(request.param, request, tmp_path_factory.mktemp("git"))


def _port(git_servers) -> str:
    return str(git_servers.main.port)


# -- case git-keep-dir-and-modes ------------------------------------------------


@pytest.fixture(scope="module")
def keep_dir(builder, git_servers):
    context = builder.case("git-keep-dir-and-modes")
    args = ["build", "--no-cache", "--build-arg", f"GITPORT={_port(git_servers)}"]
    builder([*args, "-o", "type=local,dest=out", "."], context)
    return context / "out"


def test_git_dir_dropped(keep_dir):
    assert (keep_dir / "r31-plain.txt").read_text() == "no-git\n"


def test_git_dir_kept(keep_dir):
    assert (keep_dir / "r31-keep.txt").read_text() == "has-git\n"


def test_modes_normalized(keep_dir):
    assert (keep_dir / "r31-modes.txt").read_text() == (
        "755 0:0 /r31-plain/tools/run.sh\n"
        "644 0:0 /r31-plain/data/locked.txt\n"
        "644 0:0 /r31-plain/README.md\n"
        "755 0:0 /r31-plain/svc\n"
    )


def test_submodules_fetched(keep_dir):
    text = (keep_dir / "r31-plain" / "vendor" / "lib" / "lib.txt").read_text()
    assert text == "lib content\n"


def test_keep_dir_conflict(builder, git_servers):
    context = builder.folder("conflict")
    url = f"{git_servers.url('public/mono.git')}?keep-git-dir=true"
    (context / "Dockerfile").write_text(
        f"FROM busybox:1.36\nADD --keep-git-dir=false {url} /x\n"
    )
    builder.give(context)
    result = builder(["build", "."], context, check=False)
    assert result.returncode != 0
    assert "inconsistent keep-git-dir configuration" in result.stderr


# -- refs, subdirs, submodules and checksums ---------------------------------------


@pytest.fixture(scope="module")
def ref_forms(builder, git_servers):
    context = builder.folder("ref-forms")
    (context / "Dockerfile").write_text(MODES_DOCKERFILE)
    builder.give(context)
    commit = git_servers.commits["public/mono.git"]
    args = ["build", "--build-arg", f"GITPORT={_port(git_servers)}"]
    args += ["--build-arg", f"COMMIT={commit}", "-o", "type=local,dest=out", "."]
    builder(args, context)
    return context / "out"


def test_query_keeps_git_dir(ref_forms):
    assert (ref_forms / "query-keep.txt").read_text() == "has-git\n"


def test_tag_forms(ref_forms):
    assert (ref_forms / "tags.txt").read_text() == "svc-a-v1\nsvc-a-v1\n"


def test_branch_query(ref_forms):
    assert (ref_forms / "branch.txt").read_text() == "svc-a\n"


def test_subdir_fragment(ref_forms):
    assert (ref_forms / "subdir-fragment.txt").read_text() == "a.txt\nnested\n"


def test_subdir_query(ref_forms):
    assert (ref_forms / "subdir-query.txt").read_text() == "b.txt\n"


def test_submodules_skipped(ref_forms):
    assert (ref_forms / "no-submodules.txt").read_text().strip() == "0"


def test_checksum_matches(ref_forms):
    assert (ref_forms / "checksum.txt").read_text() == "mono readme\n"


def test_checksum_mismatch(builder, git_servers):
    context = builder.folder("bad-checksum")
    url = git_servers.url("public/mono.git") + "#main"
    wrong = git_servers.commits["public/lib.git"][:12]
    (context / "Dockerfile").write_text(
        f"FROM busybox:1.36\nADD --checksum={wrong} {url} /x\n"
    )
    builder.give(context)
    result = builder(["build", "."], context, check=False)
    assert result.returncode != 0
    assert "expected checksum to match" in result.stderr
    assert "Dockerfile:2" in result.stderr


def test_unknown_ref(builder, git_servers):
    context = builder.folder("bad-ref")
    url = git_servers.url("public/mono.git") + "#no-such-branch"
    (context / "Dockerfile").write_text(f"FROM busybox:1.36\nADD {url} /x\n")
    builder.give(context)
    result = builder(["build", "."], context, check=False)
    assert result.returncode != 0
    assert "does not contain ref no-such-branch" in result.stderr


# -- a Git URL as the build context --------------------------------------------------


def test_git_context_no_dockerignore(builder, git_servers):
    out = builder.folder("git-context")
    url = git_servers.url("public/context.git") + "#main"
    builder(["build", "-o", f"type=local,dest={out}", url], out)
    listing = (out / "listing.txt").read_text().split()
    assert listing == [".dockerignore", "Dockerfile", "ignored.txt"]


def test_git_context_subdir(builder, git_servers):
    out = builder.folder("git-context-subdir")
    (out / "Dockerfile.local").write_text("FROM busybox:1.36\nCOPY . /ctx/\n")
    builder.give(out)
    url = git_servers.url("public/mono.git") + "#main:svc"
    args = [
        "build",
        "-f",
        str(out / "Dockerfile.local"),
        "-o",
        f"type=local,dest={out}",
    ]
    builder([*args, url], out)
    assert (out / "ctx" / "a.txt").read_text() == "svc-a\n"


# -- case git-auth-token-and-header ----------------------------------------------------


def _basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


@pytest.fixture(scope="module")
def auth_case(builder, git_servers):
    git_servers.main.require(
        "/private/",
        "Bearer good",
        _basic("x-access-token:good"),
        _basic("alice:s3cret"),
    )
    git_servers.other.require("/private/", "Bearer plain-token")
    return builder.case("git-auth-token-and-header")


def _auth_build(builder, git_servers, context, secrets, env, check=True):
    git_servers.clear()
    args = ["build", "--no-cache", "--build-arg", f"GITPORT={_port(git_servers)}"]
    for secret in secrets:
        args += ["--secret", secret]
    out = builder.folder("auth-out")
    args += ["-o", f"type=local,dest={out}", "."]
    result = builder(args, context, env, check=check)
    return out, result, git_servers.main.requests()


def _headers(requests, prefix: str = "/private/plain.git") -> set:
    return {item.authorization for item in requests if item.path.startswith(prefix)}


def test_token_sent_as_bearer(builder, git_servers, auth_case):
    out, _result, requests = _auth_build(
        builder, git_servers, auth_case, ["id=GIT_AUTH_TOKEN,env=T"], {"T": "good"}
    )
    assert (out / "r28.txt").read_text() == "hello from private\n"
    assert _headers(requests) == {"Bearer good"}


def test_basic_with_bare_token(builder, git_servers, auth_case):
    secrets = ["id=GIT_AUTH_TOKEN,env=T", "id=GIT_AUTH_HEADER,env=S"]
    _out, _result, requests = _auth_build(
        builder, git_servers, auth_case, secrets, {"T": "good", "S": "basic"}
    )
    assert _headers(requests) == {"Basic eC1hY2Nlc3MtdG9rZW46Z29vZA=="}


def test_basic_with_user(builder, git_servers, auth_case):
    secrets = ["id=GIT_AUTH_TOKEN,env=T", "id=GIT_AUTH_HEADER,env=S"]
    _out, _result, requests = _auth_build(
        builder, git_servers, auth_case, secrets, {"T": "alice:s3cret", "S": "basic"}
    )
    assert _headers(requests) == {_basic("alice:s3cret")}


def test_whole_header_verbatim(builder, git_servers, auth_case):
    _out, _result, requests = _auth_build(
        builder,
        git_servers,
        auth_case,
        ["id=GIT_AUTH_HEADER,env=H"],
        {"H": "Bearer good"},
    )
    assert _headers(requests) == {"Bearer good"}


def test_qualified_token_wins(builder, git_servers, auth_case):
    qualified = f"id=GIT_AUTH_TOKEN.127.0.0.1:{_port(git_servers)},env=T1"
    secrets = [qualified, "id=GIT_AUTH_TOKEN,env=T2"]
    _out, _result, requests = _auth_build(
        builder, git_servers, auth_case, secrets, {"T1": "good", "T2": "bad"}
    )
    assert _headers(requests) == {"Bearer good"}


def test_host_only_qualifier(builder, git_servers, auth_case):
    secrets = ["id=GIT_AUTH_TOKEN.127.0.0.1,env=T1", "id=GIT_AUTH_TOKEN,env=T2"]
    _out, _result, requests = _auth_build(
        builder, git_servers, auth_case, secrets, {"T1": "good", "T2": "bad"}
    )
    assert _headers(requests) == {"Bearer good"}


def test_qualifier_applies_to_one_host(builder, git_servers, auth_case):
    context = builder.folder("per-host")
    (context / "Dockerfile").write_text(PER_HOST_DOCKERFILE)
    builder.give(context)
    git_servers.clear()
    qualified = f"id=GIT_AUTH_TOKEN.127.0.0.1:{_port(git_servers)},env=T1"
    args = [
        "build",
        "--no-cache",
        "--secret",
        qualified,
        "--secret",
        "id=GIT_AUTH_TOKEN,env=T2",
    ]
    args += ["--build-arg", f"MAIN={git_servers.main.url}"]
    args += [
        "--build-arg",
        f"OTHER={git_servers.other.url}",
        "-o",
        "type=local,dest=out",
        ".",
    ]
    builder(args, context, {"T1": "good", "T2": "plain-token"})
    assert _headers(git_servers.main.requests()) == {"Bearer good"}
    assert _headers(git_servers.other.requests()) == {"Bearer plain-token"}
    assert (context / "out" / "both.txt").read_text() == "hello from private\n" * 2


def test_unsupported_scheme(builder, git_servers, auth_case):
    secrets = ["id=GIT_AUTH_TOKEN,env=T", "id=GIT_AUTH_HEADER,env=S"]
    _out, result, requests = _auth_build(
        builder, git_servers, auth_case, secrets, {"T": "good", "S": "digest"}, False
    )
    assert result.returncode != 0
    assert "only the Bearer and Basic schemes are supported" in result.stderr
    assert _headers(requests) == set()


def test_missing_credentials_fail_fast(builder, git_servers, auth_case):
    started = time.monotonic()
    _out, result, _requests = _auth_build(
        builder, git_servers, auth_case, [], {}, False
    )
    assert time.monotonic() - started < 60
    assert result.returncode != 0
    assert f"{git_servers.main.url}/private/plain.git" in result.stderr
    assert "authentication was refused" in result.stderr
    assert "--secret id=GIT_AUTH_TOKEN" in result.stderr
    assert "Dockerfile:3" in result.stderr


# -- case git-token-scope-submodules ------------------------------------------------


@pytest.fixture(scope="module")
def scope_case(builder, git_servers, auth_case):
    context = builder.case("git-token-scope-submodules")
    _out, result, requests = _auth_build(
        builder, git_servers, context, ["id=GIT_AUTH_TOKEN,env=T"], {"T": "good"}, False
    )
    return context, result, requests


def test_main_remote_gets_token(scope_case):
    assert _headers(scope_case[2], "/private/app.git") == {"Bearer good"}


def test_submodule_gets_no_token(scope_case):
    assert _headers(scope_case[2], "/private/dep.git") == {None}


def test_submodule_failure_reported(scope_case):
    assert scope_case[1].returncode != 0
    assert "failed to update submodules for" in scope_case[1].stderr


def test_submodules_false_succeeds(builder, git_servers, scope_case):
    context = scope_case[0]
    url = f"http://127.0.0.1:{_port(git_servers)}/private/app.git?submodules=false"
    (context / "Dockerfile.nosub").write_text(
        f"FROM busybox:1.36\nADD {url} /src\n"
        "RUN ls -A /src/deps/priv | wc -l > /count.txt && cat /src/hello.txt > /h.txt\n"
    )
    builder.give(context)
    args = [
        "build",
        "--no-cache",
        "-f",
        "Dockerfile.nosub",
        "--secret",
        "id=GIT_AUTH_TOKEN,env=T",
    ]
    builder([*args, "-o", "type=local,dest=nosub", "."], context, {"T": "good"})
    assert (context / "nosub" / "count.txt").read_text().strip() == "0"
    assert (context / "nosub" / "h.txt").read_text() == "hello from private\n"
