"""Reading the Dockerfile and the build context's ignore rules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from minikit.errors import ContextError


@dataclass(frozen=True)
class DockerfileSource:
    """The Dockerfile's bytes and the name used for it in messages."""

    data: bytes
    name: str
    path: Path | None


def read_dockerfile(
    context: Path, dockerfile: Path | None, text: bytes | None, cwd: Path
) -> DockerfileSource:
    """Return the Dockerfile: from ``-f`` (relative to cwd), stdin, or the context.

    Raise DockerfileParseError when the file is not UTF-8 text.
    """
    from minikit.frontend.encoding import check_text

    source = _locate_dockerfile(context, dockerfile, text, cwd)
    check_text(source.data, source.name)
    return source


def _locate_dockerfile(
    context: Path, dockerfile: Path | None, text: bytes | None, cwd: Path
) -> DockerfileSource:
    if text is not None:
        return DockerfileSource(text, "Dockerfile", None)
    if dockerfile is not None:
        path = dockerfile if dockerfile.is_absolute() else cwd / dockerfile
        return DockerfileSource(_read(path, str(dockerfile)), path.name, path)
    for name in ("Dockerfile", "dockerfile"):
        path = context / name
        if path.is_file():
            return DockerfileSource(_read(path, name), name, path)
    raise ContextError(
        f"failed to read dockerfile: open {context / 'Dockerfile'}: no such file or directory",
        hint="create a Dockerfile in the build context, or pass its path with -f",
    )


def _read(path: Path, shown: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ContextError(
            f"failed to read dockerfile: open {shown}: no such file or directory",
            hint="check the path given with -f (it is relative to the current folder)",
        ) from None
    except IsADirectoryError:
        raise ContextError(
            f"failed to read dockerfile: {shown} is a directory",
            hint="pass the Dockerfile itself with -f, not its folder",
        ) from None
    except OSError as exc:
        raise ContextError(
            f"failed to read dockerfile {shown}: {exc.strerror}"
        ) from None


def check_context(context: Path) -> Path:
    """Return the absolute context folder; raise ContextError when it is unusable."""
    if not context.exists():
        raise ContextError(
            f"unable to prepare context: path {str(context)!r} not found",
            hint="pass an existing folder as the build context (often `.`)",
        )
    if not context.is_dir():
        raise ContextError(
            f"unable to prepare context: {context} is not a directory",
            hint="pass the folder that holds the files to copy; use -f for the Dockerfile",
        )
    return context.resolve()
