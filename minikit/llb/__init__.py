"""The build graph as frozen data: ops, digests and definitions. No I/O."""

from minikit.llb.definition import Definition, Node, NodeOutput, OpMetadata, SourceRange, make_node, marshal
from minikit.llb.ops import (
    NO_INDEX,
    CacheOpt,
    ChownOpt,
    CopyAction,
    ExecMeta,
    ExecOp,
    FileAction,
    FileOp,
    MergeOp,
    MkdirAction,
    MkfileAction,
    Mount,
    Op,
    OpInput,
    RmAction,
    SecretEnv,
    SecretOpt,
    SourceOp,
    SSHOpt,
    SymlinkAction,
    TmpfsOpt,
    UserOpt,
)

__all__ = [
    "NO_INDEX", "CacheOpt", "ChownOpt", "CopyAction", "Definition", "ExecMeta", "ExecOp",
    "FileAction", "FileOp", "MergeOp", "MkdirAction", "MkfileAction", "Mount", "Node",
    "NodeOutput", "Op", "OpInput", "OpMetadata", "RmAction", "SecretEnv", "SecretOpt",
    "SourceOp", "SourceRange", "SSHOpt", "SymlinkAction", "TmpfsOpt", "UserOpt",
    "make_node", "marshal",
]
