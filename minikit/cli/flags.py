"""Parsing of ``docker buildx build`` style flag values into request values."""

from __future__ import annotations

import csv
import ipaddress
import os
from pathlib import Path

from minikit.errors import UsageError
from minikit.frontend.convert.options import NamedContext
from minikit.oci.reference import InvalidReference, Reference
from minikit.oci.spec import Platform
from minikit.worker.request import CacheSpec, OutputSpec, SSHSpec


def csv_fields(text: str) -> list[str]:
    """Split a comma-separated flag value, honouring double quotes as buildx does."""
    rows = list(csv.reader([text]))
    return [field.strip() for field in (rows[0] if rows else []) if field.strip()]


def parse_output(text: str) -> OutputSpec:
    """Parse ``-o``: ``type=T,k=v``, a bare folder (local), or ``-`` (tar to stdout)."""
    if text == "-":
        return OutputSpec("tar", {"dest": "-"})
    if "=" not in text and "," not in text:
        return OutputSpec("local", {"dest": text})
    attrs: dict[str, str] = {}
    for item in csv_fields(text):
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(
                f"invalid output {text!r}: {item!r} is not key=value",
                hint="write -o type=oci,dest=FILE",
            )
        attrs[key.strip().lower()] = value
    kind = attrs.pop("type", "")
    if not kind:
        if "dest" in attrs:
            kind = "local"
        else:
            raise UsageError(
                f"invalid output {text!r}: type is missing",
                hint="write -o type=oci,dest=FILE",
            )
    if kind not in ("oci", "docker", "tar", "local", "image", "registry"):
        raise UsageError(
            f"invalid output {text!r}: unsupported type {kind!r}",
            hint="supported types: oci, docker, tar, local, image (with push=true), registry",
        )
    return OutputSpec(kind, attrs)


def parse_cache(text: str) -> CacheSpec:
    """Parse ``--cache-from``/``--cache-to``; a bare ref means ``type=registry,ref=REF``."""
    if "=" not in text:
        return CacheSpec("registry", {"ref": text})
    attrs: dict[str, str] = {}
    for item in csv_fields(text):
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(
                f"invalid cache option {text!r}: {item!r} is not key=value"
            )
        attrs[key.strip().lower()] = value
    kind = attrs.pop("type", "registry")
    if kind not in ("local", "registry", "inline"):
        raise UsageError(
            f"invalid cache option {text!r}: unsupported type {kind!r}",
            hint="supported cache types: local, registry, inline",
        )
    return CacheSpec(kind, attrs)


def parse_ssh(text: str) -> SSHSpec:
    """Parse ``--ssh default|ID[=SOCKET|KEY[,KEY...]]``."""
    ssh_id, sep, rest = text.partition("=")
    ssh_id = ssh_id.strip() or "default"
    paths = tuple(item for item in rest.split(",") if item) if sep else ()
    return SSHSpec(ssh_id, paths)


def parse_build_arg(text: str) -> tuple[str, str | None]:
    """Parse ``--build-arg K=V``; a bare ``K`` takes its value from the environment."""
    key, sep, value = text.partition("=")
    if not key:
        raise UsageError(
            f"invalid --build-arg {text!r}: the name is empty",
            hint="write --build-arg NAME=VALUE",
        )
    if sep:
        return key, value
    return key, os.environ.get(key)


def parse_label(text: str) -> tuple[str, str]:
    """Parse ``--label K=V``."""
    key, _sep, value = text.partition("=")
    if not key:
        raise UsageError(
            f"invalid --label {text!r}: the name is empty",
            hint="write --label NAME=VALUE",
        )
    return key, value


def parse_build_context(text: str, cwd: Path) -> tuple[str, NamedContext]:
    """Parse ``--build-context name=PATH|docker-image://REF|oci-layout://PATH``."""
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise UsageError(
            f"invalid --build-context {text!r}: expected NAME=VALUE",
            hint="write --build-context name=./dir or name=docker-image://alpine:3.20",
        )
    if value.startswith("docker-image://"):
        return name, NamedContext("image", value[len("docker-image://") :])
    if value.startswith("oci-layout://"):
        return name, NamedContext("oci-layout", value[len("oci-layout://") :])
    if "://" in value:
        raise UsageError(
            f"invalid --build-context {text!r}: unsupported scheme",
            hint="use a folder, docker-image://REF or oci-layout://PATH",
        )
    path = Path(value)
    if not path.is_absolute():
        path = cwd / path
    if not path.is_dir():
        raise UsageError(f"invalid --build-context {text!r}: {path} is not a directory")
    return name, NamedContext("local", str(path.resolve()))


# Entitlements that minikit grants.
ENTITLEMENTS = ("network.host", "security.insecure", "secret-in-layer")
# Entitlements that buildx accepts and minikit accepts too, but ignores.
IGNORED_ENTITLEMENTS = ("device", "buildx.local.delete")
# Bake's file-system entitlements (``fs=PATH``, ``fs.read=PATH``, ``fs.write=PATH``).
BAKE_ENTITLEMENTS = ("fs", "fs.read", "fs.write")
# Values of ``--call`` that buildx has and minikit does not run.
UNSUPPORTED_CALLS = ("outline", "targets", "subrequests.describe")
# Operating systems and architectures that containerd's platform parser accepts.
KNOWN_OS = frozenset(
    "aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd "
    "openbsd plan9 solaris wasip1 windows zos".split()
)
KNOWN_ARCHITECTURES = frozenset(
    "386 amd64 amd64p32 arm armbe arm64 arm64be loong64 mips mipsle mips64 "
    "mips64le mips64p32 mips64p32le ppc ppc64 ppc64le riscv riscv64 s390 s390x "
    "sparc sparc64 wasm".split()
)


def parse_add_host(text: str) -> str:
    """Parse ``--add-host NAME:IP`` (or ``NAME=IP``) into ``NAME=IP``."""
    separator = "=" if "=" in text else ":"
    host, sep, address = text.partition(separator)
    if not sep or not host or not address:
        raise UsageError(
            f"invalid --add-host {text!r}: expected NAME:IP",
            hint="write --add-host NAME:IP or NAME=IP, such as db:10.0.0.5",
        )
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise UsageError(
            f"invalid --add-host {text!r}: {address!r} is not an IP address",
            hint="give an IPv4 or IPv6 address, such as db:10.0.0.5 or db=::1",
        ) from None
    return f"{host}={address}"


def check_jobs(jobs: int) -> int:
    """Return ``--jobs``; 0 means the default, and a negative count is invalid."""
    if jobs < 0:
        raise UsageError(
            f"invalid --jobs {jobs}: the number of steps must not be negative",
            hint="pass a positive count, or 0 for the default (the number of CPUs)",
        )
    return jobs


def parse_allow(
    values: list[str], *, bake: bool = False, name: str = "--allow", where: str = ""
) -> tuple[set[str], list[str]]:
    """Parse entitlements; return those granted and those minikit ignores.

    Error messages call a value ``name`` (a flag or a bake key), followed by
    ``where``, as in " in bake target 'app'".
    """
    granted: set[str] = set()
    ignored: list[str] = []
    for text in values:
        for item in (part.strip() for part in text.split(",")):
            if item in ENTITLEMENTS:
                granted.add(item)
            elif _is_ignored_entitlement(item, bake):
                ignored.append(item)
            elif item:
                raise UsageError(
                    f"invalid {name} {item!r}{where}: unknown entitlement",
                    hint="use network.host, security.insecure or secret-in-layer",
                )
    return granted, ignored


def _is_ignored_entitlement(item: str, bake: bool) -> bool:
    name = item.partition("=")[0]
    if item in IGNORED_ENTITLEMENTS or name == "device":
        return True
    return bake and name in BAKE_ENTITLEMENTS


def check_call(call: str) -> str:
    """Return ``--call`` when minikit runs it: ``build`` or ``check``."""
    if call in ("build", "check"):
        return call
    if call in UNSUPPORTED_CALLS:
        raise UsageError(
            f"unsupported --call {call!r}: minikit runs only build and check",
            hint="use --call build (the default) or --call check",
        )
    raise UsageError(
        f"invalid --call {call!r}",
        hint="use --call build (the default) or --call check",
    )


def check_tags(tags: list[str], where: str = "") -> list[str]:
    """Return ``tags`` when each one is a valid image reference.

    ``where`` follows the tag in error messages, as in " in bake target 'app'".
    """
    for tag in tags:
        try:
            Reference.parse(tag)
        except InvalidReference as error:
            raise UsageError(
                f"invalid tag {tag!r}{where}: {error}",
                hint="write NAME[:TAG] in lowercase, such as app:1 or "
                "registry.example.com/team/app:1",
            ) from None
    return tags


def check_platform(text: str, name: str = "--platform", where: str = "") -> str:
    """Return the platform ``text`` names, normalized; raise UsageError unless it is the host's.

    minikit runs every RUN step natively and has no emulation, so an image
    for another platform would hold the host's binaries under a wrong label.
    Error messages call the value ``name`` (a flag or a bake key), followed
    by ``where``, as in " in bake target 'app'".
    """
    host = Platform.host()
    items = [item.strip() for item in text.split(",") if item.strip()]
    parsed = [(item, _parse_platform(item, name, where)) for item in items]
    if len({platform for _, platform in parsed}) > 1:
        raise UsageError(
            f"invalid {name} {text!r}{where}: minikit builds for one platform, "
            f"the host's ({host})",
            hint=f"pass {host} or nothing; minikit has no emulation to build "
            "for other platforms",
        )
    for item, platform in parsed:
        if not host.matches(platform):
            raise UsageError(
                f"unsupported {name} {item!r}{where}: minikit builds only for the "
                f"host platform {host}",
                hint="build on a machine of that platform; minikit has no "
                "emulation (such as QEMU) to run other platforms' binaries",
            )
    return str(parsed[0][1]) if parsed else ""


def _parse_platform(text: str, name: str, where: str) -> Platform:
    hint = "write OS/ARCH[/VARIANT], such as linux/amd64, or local"
    try:
        platform = Platform.parse(text)
    except ValueError:
        raise UsageError(f"invalid {name} {text!r}{where}", hint=hint) from None
    known = platform.os in KNOWN_OS and platform.architecture in KNOWN_ARCHITECTURES
    if not known:
        raise UsageError(
            f"invalid {name} {text!r}{where}: unknown operating system or "
            "architecture",
            hint=hint,
        )
    return platform
