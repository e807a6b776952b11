"""Tests of minikit.toml's registry tables and the endpoints they produce."""

from __future__ import annotations

from pathlib import Path

import pytest

from minikit.errors import ConfigError
from minikit.registry.config import (
    RegistryHostConfig,
    default_config_path,
    is_loopback,
    load_config,
    parse_mirror,
    pull_endpoints,
    upstream_endpoint,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "minikit.toml"
    path.write_text(text)
    return path


def test_default_path_uses_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_config_path() == tmp_path / "minikit" / "minikit.toml"


def test_default_path_ignores_relative_xdg(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_config_path() == tmp_path / ".config" / "minikit" / "minikit.toml"


def test_missing_default_is_empty(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    config = load_config(None)
    assert dict(config.hosts) == {}
    assert config.path is None


def test_missing_explicit_path_raises(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert str(missing) in str(caught.value)


def test_invalid_toml_names_path(tmp_path: Path) -> None:
    path = write(tmp_path, '[registry."docker.io"\nmirrors = 1')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) in str(caught.value)
    assert "invalid TOML" in str(caught.value)


def test_full_table_parses(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [registry."docker.io"]
        mirrors = ["127.0.0.1:5000", "https://mirror.example.com/hub"]
        upstream = false
        [registry."127.0.0.1:5000"]
        http = true
        [registry."internal.example:8443"]
        insecure = true
        [other]
        ignored = "yes"
        """,
    )
    config = load_config(path)
    hub = config.for_host("docker.io")
    assert hub.mirrors == ("127.0.0.1:5000", "https://mirror.example.com/hub")
    assert hub.upstream is False
    assert config.for_host("127.0.0.1:5000").http is True
    assert config.for_host("internal.example:8443").insecure is True
    assert config.path == path


def test_for_host_defaults_for_unknown_host(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config.for_host("quay.io") == RegistryHostConfig()


def test_for_host_maps_docker_hub_aliases(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, '[registry."index.docker.io"]\nmirrors = ["m:1"]')
    )
    assert config.for_host("docker.io").mirrors == ("m:1",)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            '[registry."docker.io"]\nmirror = ["x"]',
            'registry."docker.io".mirror is not a known key',
        ),
        ('[registry."docker.io"]\nmirrors = "x"', "mirrors must be a list of strings"),
        ('[registry."docker.io"]\nhttp = "yes"', "http must be true or false"),
        ('[registry."docker.io"]\nmirrors = ["ftp://x"]', "has scheme 'ftp'"),
        ('[registry."docker.io"]\nmirrors = ["x:notaport"]', "invalid port"),
        ("registry = 1", "must be a table"),
    ],
)
def test_invalid_tables_raise(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert fragment in str(caught.value)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("127.0.0.1:5000", (None, "127.0.0.1:5000", "")),
        ("http://127.0.0.1:5000", ("http", "127.0.0.1:5000", "")),
        (
            "https://mirror.example.com/v2/hub/",
            ("https", "mirror.example.com", "v2/hub"),
        ),
        ("mirror.example.com/hub", (None, "mirror.example.com", "hub")),
        ("[::1]:5000", (None, "[::1]:5000", "")),
    ],
)
def test_parse_mirror_forms(entry: str, expected: tuple[str | None, str, str]) -> None:
    assert parse_mirror(entry, "docker.io") == expected


@pytest.mark.parametrize(
    ("netloc", "expected"),
    [
        ("localhost:5000", True),
        ("127.0.0.1:5000", True),
        ("127.8.9.10", True),
        ("[::1]:5000", True),
        ("10.0.0.1:5000", False),
        ("registry.example.com", False),
    ],
)
def test_is_loopback(netloc: str, expected: bool) -> None:
    assert is_loopback(netloc) is expected


def test_endpoints_mirrors_then_upstream(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[registry."docker.io"]\n'
        'mirrors = ["127.0.0.1:5000", "mirror.example.com/hub"]',
    )
    endpoints = pull_endpoints(load_config(path), "docker.io")
    assert [e.url("/library/busybox/manifests/1") for e in endpoints] == [
        "http://127.0.0.1:5000/v2/library/busybox/manifests/1",
        "https://mirror.example.com/v2/hub/library/busybox/manifests/1",
        "https://registry-1.docker.io/v2/library/busybox/manifests/1",
    ]
    assert [e.mirror_of for e in endpoints] == ["docker.io", "docker.io", None]


def test_endpoints_without_upstream(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[registry."docker.io"]\nmirrors = ["127.0.0.1:5000"]\nupstream = false',
    )
    endpoints = pull_endpoints(load_config(path), "docker.io")
    assert [e.netloc for e in endpoints] == ["127.0.0.1:5000"]


def test_mirror_scheme_from_its_table(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[registry."docker.io"]\nmirrors = ["mirror.lan:5000"]\n'
        '[registry."mirror.lan:5000"]\nhttp = true',
    )
    first = pull_endpoints(load_config(path), "docker.io")[0]
    assert first.scheme == "http"


def test_insecure_host_skips_verification(tmp_path: Path) -> None:
    path = write(tmp_path, '[registry."internal.example"]\ninsecure = true')
    endpoint = upstream_endpoint(load_config(path), "internal.example")
    assert (endpoint.scheme, endpoint.verify_tls) == ("https", False)


def test_remote_host_verifies_tls(tmp_path: Path) -> None:
    endpoint = upstream_endpoint(load_config(write(tmp_path, "")), "quay.io")
    assert (endpoint.scheme, endpoint.verify_tls) == ("https", True)
