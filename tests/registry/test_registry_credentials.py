"""Tests of credential lookup in Docker's config.json and of their redaction."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from minikit.errors import ConfigError
from minikit.registry.credentials import (
    Credentials,
    DockerConfigCredentials,
    normalize_auth_key,
)


def docker_config(tmp_path: Path, document: object) -> Path:
    folder = tmp_path / "docker"
    folder.mkdir(exist_ok=True)
    text = document if isinstance(document, str) else json.dumps(document)
    (folder / "config.json").write_text(text)
    return folder


def encoded(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_auth_field_decodes(tmp_path: Path) -> None:
    folder = docker_config(
        tmp_path, {"auths": {"reg.example:5000": {"auth": encoded("u", "p:w")}}}
    )
    found = DockerConfigCredentials(folder).lookup("reg.example:5000")
    assert found == Credentials("u", "p:w")


def test_username_password_fields(tmp_path: Path) -> None:
    folder = docker_config(
        tmp_path,
        {"auths": {"https://reg.example/v2/": {"username": "u", "password": "p"}}},
    )
    assert DockerConfigCredentials(folder).lookup("reg.example") == Credentials(
        "u", "p"
    )


def test_docker_hub_key(tmp_path: Path) -> None:
    folder = docker_config(
        tmp_path,
        {"auths": {"https://index.docker.io/v1/": {"auth": encoded("hub", "pw")}}},
    )
    store = DockerConfigCredentials(folder)
    assert store.lookup("registry-1.docker.io") == Credentials("hub", "pw")
    assert store.lookup("docker.io") == Credentials("hub", "pw")


def test_unknown_host_is_anonymous(tmp_path: Path) -> None:
    folder = docker_config(
        tmp_path, {"auths": {"a.example": {"auth": encoded("u", "p")}}}
    )
    assert DockerConfigCredentials(folder).lookup("b.example") is None


def test_missing_file_is_anonymous(tmp_path: Path) -> None:
    assert DockerConfigCredentials(tmp_path).lookup("reg.example") is None


def test_invalid_json_raises(tmp_path: Path) -> None:
    folder = docker_config(tmp_path, "{not json")
    with pytest.raises(ConfigError) as caught:
        DockerConfigCredentials(folder).lookup("reg.example")
    assert str(folder / "config.json") in str(caught.value)


def test_invalid_auth_field_raises(tmp_path: Path) -> None:
    folder = docker_config(tmp_path, {"auths": {"reg.example": {"auth": "!!!"}}})
    with pytest.raises(ConfigError) as caught:
        DockerConfigCredentials(folder).lookup("reg.example")
    assert "not base64" in str(caught.value)


def test_docker_config_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = docker_config(
        tmp_path, {"auths": {"reg.example": {"auth": encoded("e", "v")}}}
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    assert DockerConfigCredentials().lookup("reg.example") == Credentials("e", "v")


@pytest.mark.parametrize(
    ("key", "host"),
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("http://reg.example:5000", "reg.example:5000"),
        ("reg.example/v2/", "reg.example"),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
    ],
)
def test_normalize_auth_key(key: str, host: str) -> None:
    assert normalize_auth_key(key) == host


def test_repr_hides_secrets() -> None:
    credentials = Credentials("alice-user", "hunter2-secret")
    for text in (repr(credentials), str(credentials), f"{credentials}"):
        assert "hunter2-secret" not in text
        assert "alice-user" not in text


def test_basic_header() -> None:
    header = Credentials("u", "p").basic_authorization()
    assert header == "Basic " + base64.b64encode(b"u:p").decode()


def write_helper(tmp_path: Path, body: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    helper = bin_dir / "docker-credential-fake"
    helper.write_text("#!/bin/sh\n" + body)
    helper.chmod(0o755)
    return bin_dir


def test_cred_helper_answers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bin_dir = write_helper(
        tmp_path,
        'read server\n[ "$1" = get ] || exit 3\n'
        'printf \'{"ServerURL":"%s","Username":"hu","Secret":"hs"}\' "$server"\n',
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    folder = docker_config(tmp_path, {"credHelpers": {"reg.example": "fake"}})
    assert DockerConfigCredentials(folder).lookup("reg.example") == Credentials(
        "hu", "hs"
    )


def test_creds_store_without_entry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bin_dir = write_helper(
        tmp_path, 'echo "credentials not found in native keychain"\nexit 1\n'
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    folder = docker_config(tmp_path, {"credsStore": "fake"})
    assert DockerConfigCredentials(folder).lookup("reg.example") is None


def test_missing_helper_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    folder = docker_config(tmp_path, {"credHelpers": {"reg.example": "absent"}})
    with pytest.raises(ConfigError) as caught:
        DockerConfigCredentials(folder).lookup("reg.example")
    assert "docker-credential-absent" in str(caught.value)
