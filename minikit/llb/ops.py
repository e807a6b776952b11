"""The build graph's operations as frozen data.

Each op is a frozen dataclass whose canonical JSON form is its identity: the
op digest is ``sha256`` over that JSON, and it covers the digests of the ops
it takes input from, so a digest names a whole subgraph. Everything that
changes the result of an op is a field here. Descriptions, progress names,
Dockerfile line ranges and ignore-cache flags live in ``OpMetadata`` beside
the digest, never inside it.

The model follows BuildKit's ``solver/pb/ops.proto``: a source op (image,
local context, Git, HTTP), an exec op, a file op with mkdir, mkfile, rm,
symlink and copy actions, and a merge op.
"""

from __future__ import annotations

import base64
import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from minikit.util.digest import digest_of

NetworkMode = Literal["default", "none", "host"]
SecurityMode = Literal["sandbox", "insecure"]
MountType = Literal["bind", "cache", "tmpfs", "secret", "ssh"]
CacheSharing = Literal["shared", "private", "locked"]

# Index value meaning "no input" (an empty directory) or "no output".
NO_INDEX = -1


@dataclass(frozen=True)
class OpInput:
    """A reference to output ``index`` of the op with digest ``digest``."""

    digest: str
    index: int = 0


class Op:
    """Base of every op: ``kind`` tags the JSON form, ``inputs`` lists its edges."""

    kind: ClassVar[str] = ""
    inputs: tuple[OpInput, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the canonical JSON-ready form that the digest is taken over."""
        body = _encode(self)
        body["kind"] = self.kind
        return body

    @property
    def digest(self) -> str:
        """Return ``sha256:<hex>`` of the canonical JSON form."""
        cached = self.__dict__.get("_digest")
        if cached is None:
            cached = digest_of(self.to_dict())
            object.__setattr__(self, "_digest", cached)
        return cached


@dataclass(frozen=True)
class SourceOp(Op):
    """A source of content: ``docker-image://``, ``local://``, ``git://``, ``https://``.

    ``attrs`` carries source options, for example ``image.platform`` or
    ``local.excludepatterns``, as sorted key/value pairs.
    """

    kind: ClassVar[str] = "source"
    identifier: str
    attrs: tuple[tuple[str, str], ...] = ()
    inputs: tuple[OpInput, ...] = ()

    def attr(self, key: str, default: str = "") -> str:
        """Return the value of attribute ``key``, or ``default``."""
        for name, value in self.attrs:
            if name == key:
                return value
        return default


@dataclass(frozen=True)
class CacheOpt:
    """Options of a ``type=cache`` mount."""

    id: str
    sharing: CacheSharing = "shared"
    uid: int = 0
    gid: int = 0
    mode: int = 0o755


@dataclass(frozen=True)
class SecretOpt:
    """Options of a ``type=secret`` mount: the secret is named by id, never by value."""

    id: str
    uid: int = 0
    gid: int = 0
    mode: int = 0o400
    optional: bool = True


@dataclass(frozen=True)
class SSHOpt:
    """Options of a ``type=ssh`` mount."""

    id: str = "default"
    uid: int = 0
    gid: int = 0
    mode: int = 0o600
    optional: bool = True


@dataclass(frozen=True)
class TmpfsOpt:
    """Options of a ``type=tmpfs`` mount; a size of 0 means the kernel default."""

    size: int = 0


@dataclass(frozen=True)
class Mount:
    """One mount of an exec op.

    ``input`` indexes the op's inputs (``NO_INDEX`` for an empty directory),
    ``selector`` is a path inside that input, and ``output`` is the output
    index the mount's changes become (``NO_INDEX`` to throw them away). The
    root filesystem is the mount with ``dest == "/"``.
    """

    dest: str
    input: int = NO_INDEX
    output: int = NO_INDEX
    selector: str = ""
    readonly: bool = False
    type: MountType = "bind"
    cache: CacheOpt | None = None
    secret: SecretOpt | None = None
    ssh: SSHOpt | None = None
    tmpfs: TmpfsOpt | None = None


@dataclass(frozen=True)
class SecretEnv:
    """A secret exposed to the process as environment variable ``name``."""

    id: str
    name: str
    optional: bool = True


@dataclass(frozen=True)
class ExecMeta:
    """The process an exec op runs.

    ``proxy_env`` holds the proxy variables taken from build args, which do
    not take part in the cache key (as in BuildKit's ``Meta.ProxyEnv``).
    """

    args: tuple[str, ...]
    env: tuple[str, ...] = ()
    cwd: str = "/"
    user: str = ""
    hostname: str = ""
    extra_hosts: tuple[str, ...] = ()
    proxy_env: tuple[str, ...] = ()
    remove_mount_stubs: bool = True


@dataclass(frozen=True)
class ExecOp(Op):
    """Run a process on the root filesystem mount and keep its changes."""

    kind: ClassVar[str] = "exec"
    meta: ExecMeta
    mounts: tuple[Mount, ...]
    network: NetworkMode = "default"
    security: SecurityMode = "sandbox"
    secret_env: tuple[SecretEnv, ...] = ()
    inputs: tuple[OpInput, ...] = ()


@dataclass(frozen=True)
class UserOpt:
    """A user or group given by number or by name (resolved in the destination)."""

    id: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class ChownOpt:
    """The owner of created files; None parts keep the default (root)."""

    user: UserOpt | None = None
    group: UserOpt | None = None


@dataclass(frozen=True)
class CopyAction:
    """Copy ``src`` from the secondary input into ``dest`` of the primary input."""

    src: str
    dest: str
    owner: ChownOpt | None = None
    mode: int | None = None
    mode_str: str = ""
    follow_symlink: bool = False
    dir_copy_contents: bool = False
    attempt_unpack: bool = False
    create_dest_path: bool = False
    allow_wildcard: bool = False
    allow_empty_wildcard: bool = False
    timestamp: int | None = None
    include_patterns: tuple[str, ...] = ()
    exclude_patterns: tuple[str, ...] = ()
    always_replace_existing: bool = False
    parents: bool = False


@dataclass(frozen=True)
class MkfileAction:
    """Create a file at ``path`` holding ``data``."""

    path: str
    data: bytes
    mode: int = 0o644
    owner: ChownOpt | None = None
    timestamp: int | None = None


@dataclass(frozen=True)
class MkdirAction:
    """Create a directory at ``path``."""

    path: str
    mode: int = 0o755
    make_parents: bool = False
    owner: ChownOpt | None = None
    timestamp: int | None = None


@dataclass(frozen=True)
class RmAction:
    """Remove ``path``."""

    path: str
    allow_not_found: bool = False
    allow_wildcard: bool = False


@dataclass(frozen=True)
class SymlinkAction:
    """Create a symbolic link ``newpath`` pointing at ``oldpath``."""

    oldpath: str
    newpath: str
    owner: ChownOpt | None = None
    timestamp: int | None = None


FileActionBody = CopyAction | MkfileAction | MkdirAction | RmAction | SymlinkAction


@dataclass(frozen=True)
class FileAction:
    """One step of a file op.

    ``input`` and ``secondary_input`` index the op's inputs; a value of at
    least ``len(op.inputs)`` refers to the output of an earlier action
    (``value - len(inputs)``), and ``NO_INDEX`` means an empty directory.
    ``output`` is the op output this action's result becomes, or ``NO_INDEX``.
    """

    action: FileActionBody
    input: int = NO_INDEX
    secondary_input: int = NO_INDEX
    output: int = NO_INDEX


@dataclass(frozen=True)
class FileOp(Op):
    """Change files with a sequence of actions; each action can feed the next."""

    kind: ClassVar[str] = "file"
    actions: tuple[FileAction, ...]
    inputs: tuple[OpInput, ...] = ()


@dataclass(frozen=True)
class MergeOp(Op):
    """Stack the inputs' layers in order, as ``COPY --link`` does."""

    kind: ClassVar[str] = "merge"
    inputs: tuple[OpInput, ...] = field(default=())


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for item in dataclasses.fields(value):
            if item.name.startswith("_"):
                continue
            out[item.name] = _encode(getattr(value, item.name))
        if isinstance(value, (CopyAction, MkfileAction, MkdirAction, RmAction, SymlinkAction)):
            out["type"] = type(value).__name__.removesuffix("Action").lower()
        return out
    if isinstance(value, tuple | list):
        return [_encode(item) for item in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value
