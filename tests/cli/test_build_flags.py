"""Flag values of ``minikit build`` that must fail as usage errors before a build."""

from pathlib import Path

import pytest

from minikit.cli.build import request_from_args
from minikit.cli.flags import check_platform, parse_add_host
from minikit.cli.main import build_parser
from minikit.errors import UsageError
from minikit.oci.spec import Platform


def _request(tmp_path: Path, *flags: str, context: str = "."):
    argv = ["build", *flags, context]
    return request_from_args(build_parser(argv).parse_args(argv), tmp_path)


def _other_platform() -> str:
    """Return a platform that is not the one the tests run on."""
    host = Platform.host()
    return "linux/arm64" if host.architecture != "arm64" else "linux/amd64"


@pytest.mark.parametrize(
    ("flags", "value"),
    [
        (("--add-host", "db:notanip"), "notanip"),
        (("--add-host", "db:300.1.1.1"), "300.1.1.1"),
        (("--jobs", "-3"), "-3"),
        (("--allow", "bogus"), "bogus"),
        (("--allow", "network.host,bogus"), "bogus"),
        (("--call", "bogus"), "bogus"),
        (("--call", "outline"), "outline"),
        (("-t", ""), "''"),
        (("-t", "Upper:1"), "Upper:1"),
        (("-t", "app:1", "-t", "app:bad tag"), "app:bad tag"),
        (("--platform", "garbage"), "garbage"),
        (("--platform", "linux/amd64,linux/arm64"), "linux/amd64,linux/arm64"),
        (("--platform", "windows/amd64"), "windows/amd64"),
    ],
)
def test_invalid_flag_rejected(tmp_path, flags, value):
    with pytest.raises(UsageError) as caught:
        _request(tmp_path, *flags)
    assert value in caught.value.message
    assert caught.value.hint
    assert caught.value.exit_code == 2


def test_other_platform_rejected(tmp_path):
    with pytest.raises(UsageError) as caught:
        _request(tmp_path, "--platform", _other_platform())
    assert str(Platform.host()) in caught.value.message
    assert "emulation" in (caught.value.hint or "")


@pytest.mark.parametrize("value", ["local", str(Platform.host()), ""])
def test_host_platform_accepted(value):
    assert check_platform(value) in (str(Platform.host()), "")


def test_local_platform_normalized():
    assert check_platform("local") == str(Platform.host())


def test_empty_progress_rejected(tmp_path):
    from minikit.cli.build import progress_mode

    argv = ["build", "--progress=", "."]
    with pytest.raises(UsageError, match="invalid --progress ''"):
        progress_mode(build_parser(argv).parse_args(argv))


def test_empty_context_rejected(tmp_path):
    with pytest.raises(UsageError, match="invalid build context ''"):
        _request(tmp_path, context="")


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("db:10.0.0.5", "db=10.0.0.5"),
        ("db=::1", "db=::1"),
        ("db:::1", "db=::1"),
        ("db:[fe80::1]", "db=fe80::1"),
    ],
)
def test_add_host_accepted(text, entry):
    assert parse_add_host(text) == entry


def test_jobs_zero_means_default(tmp_path):
    assert _request(tmp_path, "--jobs", "0").jobs == 0


def test_known_entitlements_granted(tmp_path):
    request = _request(tmp_path, "--allow", "network.host, secret-in-layer")
    assert request.entitlements == {"network.host", "secret-in-layer"}


@pytest.mark.parametrize("value", ["device", "buildx.local.delete"])
def test_ignored_entitlement_warns(tmp_path, capsys, value):
    request = _request(tmp_path, "--allow", value)
    assert request.entitlements == set()
    assert f"WARNING: --allow {value} is ignored" in capsys.readouterr().err


def test_call_check_means_check(tmp_path):
    assert _request(tmp_path, "--call", "check").check_only


def test_valid_tags_kept(tmp_path):
    tags = ["app:1", "localhost:5000/team/app:2"]
    request = _request(tmp_path, "-t", tags[0], "-t", tags[1])
    assert request.tags == tags
