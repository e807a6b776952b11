"""Tests of challenge parsing, bearer tokens and Basic auth, on the fake registry."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
from registry_fake import FakeRegistry, make_client

from minikit.errors import RegistryAuthError
from minikit.oci.reference import Reference
from minikit.oci.spec import Platform
from minikit.registry.auth import Authorizer, Challenge, parse_challenges
from minikit.registry.credentials import DockerConfigCredentials
from minikit.registry.transport import Transport

AMD64 = Platform("linux", "amd64")
PASSWORD = "s3cr3t-pa55word"


def login(
    tmp_path: Path, host: str, user: str = "alice", password: str = PASSWORD
) -> Path:
    folder = tmp_path / "docker-login"
    folder.mkdir(exist_ok=True)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (folder / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return folder


def test_parse_bearer_challenge() -> None:
    header = 'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"'
    assert parse_challenges([header]) == [
        Challenge(
            "bearer",
            {
                "realm": "https://auth.example/token",
                "service": "registry.example",
                "scope": "repository:a/b:pull",
            },
        )
    ]


def test_parse_two_challenges_in_one_value() -> None:
    parsed = parse_challenges(
        ['Basic realm="x", Bearer realm="https://t/", service=reg']
    )
    assert [c.scheme for c in parsed] == ["basic", "bearer"]
    assert parsed[1].params == {"realm": "https://t/", "service": "reg"}


def test_parse_escaped_quote() -> None:
    parsed = parse_challenges(['Basic realm="say \\"hi\\""'])
    assert parsed[0].params["realm"] == 'say "hi"'


def test_anonymous_bearer_token(fake: FakeRegistry, empty_docker_config: Path) -> None:
    image = fake.add_image("library/busybox", "1.36")
    fake.state.auth = "bearer"
    client = make_client(empty_docker_config)
    resolved = client.resolve(
        Reference.parse(f"{fake.host}/library/busybox:1.36"), AMD64
    )
    assert resolved.manifest_digest == image["digest"]
    request = fake.state.token_requests[0]
    assert request["service"] == ["fake-registry"]
    assert request["scope"] == ["repository:library/busybox:pull"]


def test_token_is_cached(fake: FakeRegistry, empty_docker_config: Path) -> None:
    fake.add_image("library/busybox", "1.36")
    fake.state.auth = "bearer"
    client = make_client(empty_docker_config)
    ref = Reference.parse(f"{fake.host}/library/busybox:1.36")
    client.resolve(ref, AMD64)
    client.resolve(ref, AMD64)
    assert len(fake.state.token_requests) == 1
    unauthorized = [
        r
        for r in fake.state.requests
        if "/v2/" in r.path and "Authorization" not in r.headers
    ]
    assert len(unauthorized) == 1


def test_expired_token_is_refetched(
    fake: FakeRegistry, empty_docker_config: Path
) -> None:
    fake.state.token_lifetime = 120
    now = [0.0]
    store = DockerConfigCredentials(empty_docker_config)
    authorizer = Authorizer(Transport(), store, clock=lambda: now[0])
    challenge = [f'Bearer realm="http://{fake.host}/token",service="fake-registry"']
    scopes = ("repository:app:pull",)
    first = authorizer.answer_challenge(fake.host, scopes, challenge)
    assert authorizer.authorization(fake.host, scopes) == first
    now[0] = 115.0
    assert authorizer.authorization(fake.host, scopes) != first
    assert len(fake.state.token_requests) == 2


def test_token_request_sends_login(fake: FakeRegistry, tmp_path: Path) -> None:
    fake.add_image("private/app", "v1")
    fake.state.auth = "bearer"
    fake.state.anonymous_pull = False
    fake.state.users = {"alice": PASSWORD}
    client = make_client(login(tmp_path, fake.host))
    client.resolve(Reference.parse(f"{fake.host}/private/app:v1"), AMD64)
    token_calls = fake.requests_to("/token")
    assert token_calls[0].headers["Authorization"].startswith("Basic ")


def test_anonymous_denied_raises(fake: FakeRegistry, empty_docker_config: Path) -> None:
    fake.add_image("private/app", "v1")
    fake.state.auth = "bearer"
    fake.state.anonymous_pull = False
    client = make_client(empty_docker_config)
    with pytest.raises(RegistryAuthError) as caught:
        client.resolve(Reference.parse(f"{fake.host}/private/app:v1"), AMD64)
    assert "access denied" in str(caught.value)
    assert f"{fake.host}/private/app:v1" in str(caught.value)


def test_wrong_password_hidden(
    fake: FakeRegistry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake.add_image("private/app", "v1")
    fake.state.auth = "bearer"
    fake.state.users = {"alice": "the-right-one"}
    client = make_client(login(tmp_path, fake.host))
    caplog.set_level(logging.DEBUG, logger="minikit")
    with pytest.raises(RegistryAuthError) as caught:
        client.resolve(Reference.parse(f"{fake.host}/private/app:v1"), AMD64)
    assert "rejected the credentials" in str(caught.value)
    texts = [str(caught.value), caught.value.hint or "", caplog.text]
    for text in texts:
        assert PASSWORD not in text
        assert base64.b64encode(f"alice:{PASSWORD}".encode()).decode() not in text


def test_tokens_never_logged(
    fake: FakeRegistry, empty_docker_config: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake.add_image("library/busybox", "1.36")
    fake.state.auth = "bearer"
    caplog.set_level(logging.DEBUG, logger="minikit")
    make_client(empty_docker_config).resolve(
        Reference.parse(f"{fake.host}/library/busybox:1.36"), AMD64
    )
    for token in fake.state.issued_tokens:
        assert token not in caplog.text


def test_basic_auth_with_login(fake: FakeRegistry, tmp_path: Path) -> None:
    image = fake.add_image("app", "v1")
    fake.state.auth = "basic"
    fake.state.users = {"alice": PASSWORD}
    client = make_client(login(tmp_path, fake.host))
    resolved = client.resolve(Reference.parse(f"{fake.host}/app:v1"), AMD64)
    assert resolved.manifest_digest == image["digest"]


def test_basic_auth_without_login(
    fake: FakeRegistry, empty_docker_config: Path
) -> None:
    fake.add_image("app", "v1")
    fake.state.auth = "basic"
    with pytest.raises(RegistryAuthError) as caught:
        make_client(empty_docker_config).resolve(
            Reference.parse(f"{fake.host}/app:v1"), AMD64
        )
    assert "requires authentication" in str(caught.value)
    assert "docker login" in (caught.value.hint or "")
