"""Tests of USER resolution against passwd and group text."""

from __future__ import annotations

import pytest

from minikit.executor.syscalls import SetupError
from minikit.executor.users import Identity, parse_group, parse_passwd, resolve_identity

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    "user:x:1000:1000:user:/home/user:/bin/sh\n"
    "1234:x:5000:5000::/home/numeric:/bin/sh\n"
    "broken line\n"
)
GROUP = "root:x:0:\nuser:x:1000:\nstaff:x:50:user,other\nwheel:x:10:other\n"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", Identity(0, 0, (), "/root")),
        ("root", Identity(0, 0, (), "/root")),
        ("user", Identity(1000, 1000, (50,), "/home/user")),
        ("1000", Identity(1000, 1000, (50,), "/home/user")),
        ("user:staff", Identity(1000, 50, (), "/home/user")),
        ("user:10", Identity(1000, 10, (), "/home/user")),
        ("user:777", Identity(1000, 777, (), "/home/user")),
        ("1000:1000", Identity(1000, 1000, (), "/home/user")),
        ("4242:4343", Identity(4242, 4343, (), "/")),
        ("4242", Identity(4242, 0, (), "/")),
        ("root:staff", Identity(0, 50, (), "/root")),
        ("1234", Identity(1234, 0, (), "/")),
    ],
)
def test_resolve_identity_cases(spec: str, expected: Identity) -> None:
    assert resolve_identity(spec, PASSWD, GROUP) == expected


def test_resolve_identity_numeric_without_files() -> None:
    assert resolve_identity("77:88", None, None) == Identity(77, 88, (), "/")
    assert resolve_identity("77", None, None) == Identity(77, 0, (), "/")


def test_resolve_identity_unknown_user() -> None:
    with pytest.raises(SetupError) as caught:
        resolve_identity("app", PASSWD, GROUP)
    assert (
        caught.value.message
        == "unable to find user app: no matching entries in /etc/passwd"
    )


def test_resolve_identity_unknown_user_without_passwd() -> None:
    with pytest.raises(SetupError) as caught:
        resolve_identity("app", None, None)
    assert "unable to find user app" in caught.value.message


def test_resolve_identity_unknown_group() -> None:
    with pytest.raises(SetupError) as caught:
        resolve_identity("user:docker", PASSWD, GROUP)
    assert (
        caught.value.message
        == "unable to find group docker: no matching entries in /etc/group"
    )


def test_resolve_identity_uid_out_of_range() -> None:
    with pytest.raises(SetupError):
        resolve_identity(str(2**31), PASSWD, GROUP)


def test_parse_passwd_skips_bad_lines() -> None:
    names = [entry.name for entry in parse_passwd(PASSWD)]
    assert names == ["root", "nobody", "user", "1234"]


def test_parse_group_members() -> None:
    staff = next(entry for entry in parse_group(GROUP) if entry.name == "staff")
    assert staff.members == ("user", "other")
