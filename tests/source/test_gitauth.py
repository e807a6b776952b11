"""The Authorization header for Git remotes, by Docker's documented rules."""

import base64

import pytest

from minikit.errors import GitError
from minikit.session.secrets import SecretStore
from minikit.source.gitauth import auth_header_for


def _header(host="127.0.0.1:18420", **secrets):
    values = {key.replace("__", "."): value.encode() for key, value in secrets.items()}
    return auth_header_for(SecretStore(values), host)


def test_token_is_bearer():
    assert _header(GIT_AUTH_TOKEN="good").value == "Bearer good"


def test_basic_with_bare_token():
    expected = "Basic " + base64.b64encode(b"x-access-token:good").decode()
    assert _header(GIT_AUTH_TOKEN="good", GIT_AUTH_HEADER="basic").value == expected


def test_basic_with_user_password():
    expected = "Basic " + base64.b64encode(b"alice:s3cret").decode()
    assert _header(GIT_AUTH_TOKEN="alice:s3cret", GIT_AUTH_HEADER="basic").value == expected


def test_whole_header_verbatim():
    assert _header(GIT_AUTH_HEADER="Bearer good").value == "Bearer good"


def test_host_and_port_qualified_wins():
    values = {"GIT_AUTH_TOKEN.127.0.0.1:18420": b"good", "GIT_AUTH_TOKEN": b"bad"}
    assert auth_header_for(SecretStore(values), "127.0.0.1:18420").value == "Bearer good"


def test_host_qualified_without_port():
    values = {"GIT_AUTH_TOKEN.127.0.0.1": b"good", "GIT_AUTH_TOKEN": b"bad"}
    assert auth_header_for(SecretStore(values), "127.0.0.1:18420").value == "Bearer good"


def test_qualified_applies_to_its_host_only():
    values = {"GIT_AUTH_TOKEN.127.0.0.1:18420": b"good", "GIT_AUTH_TOKEN": b"plain"}
    assert auth_header_for(SecretStore(values), "127.0.0.2:18420").value == "Bearer plain"


def test_other_scheme_rejected():
    with pytest.raises(GitError, match="only the Bearer and Basic schemes are supported"):
        _header(GIT_AUTH_TOKEN="good", GIT_AUTH_HEADER="digest")


def test_no_secret_no_header():
    assert _header() is None


def test_repr_hides_value():
    assert "good" not in repr(_header(GIT_AUTH_TOKEN="good"))
