"""Git sources: pin the commit first (it is the cache key), then fetch shallowly.

Git runs on the host side of the build with an environment minikit controls:
no system or global config, no credential helpers, terminal prompts off,
``file://`` submodules refused. The HTTP credentials are an
``http.<remote>.extraheader`` scoped to the remote URL, in a private config
file that ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``
include. They never appear in argv or in an environment, where other
processes could read them in ``/proc``. Submodules on other URLs never
receive them, and redirects are not followed while they are set.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import tempfile
import threading
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minikit.errors import GitError, SSHError
from minikit.source.gitauth import auth_header_for
from minikit.source.gitenv import scrub_git_environment  # noqa: F401 (re-exported)
from minikit.source.gitref import GitRef
from minikit.util.redact import redact_url

log = logging.getLogger(__name__)

_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_SHM = "/dev/shm"
# Seconds one git command may take.
GIT_TIMEOUT = 600


@dataclass(frozen=True)
class PinnedGit:
    """A Git source with its commit resolved."""

    ref: GitRef
    commit: str


class GitSource:
    """Resolves and fetches Git sources with the build's secrets and SSH agents."""

    def __init__(self, secrets: Any, ssh: Any, scratch: Path) -> None:
        self.secrets = secrets
        self.ssh = ssh
        self.scratch = scratch
        self._pinned: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def pin(self, ref: GitRef) -> PinnedGit:
        """Return the commit ``ref`` names on its remote (resolved once per build)."""
        key = (ref.remote, ref.ref)
        with self._lock:
            commit = self._pinned.get(key)
        if commit is None:
            commit = self._resolve(ref)
            with self._lock:
                self._pinned[key] = commit
        if ref.checksum and not commit.startswith(ref.checksum.lower()):
            raise GitError(
                f"expected checksum to match {ref.checksum}, got {commit} for "
                f"{redact_url(ref.remote)}",
                hint="update the --checksum value (or ?checksum=) to the commit you "
                "expect",
            )
        return PinnedGit(ref, commit)

    def fetch(self, pinned: PinnedGit, dest: Path, keep_git_dir: bool) -> None:
        """Check ``pinned`` out into the empty folder ``dest``."""
        ref = pinned.ref
        work = Path(tempfile.mkdtemp(prefix="git-", dir=self.scratch))
        try:
            with self._environment(ref) as env:
                checkout = work / "checkout"
                self._run(["init", "-q", str(checkout)], env, ref)
                self._run(
                    ["-C", str(checkout), "remote", "add", "origin", ref.remote],
                    env,
                    ref,
                )
                self._fetch_commit(checkout, pinned, env)
                self._run(
                    ["-C", str(checkout), "checkout", "-q", "--detach", pinned.commit],
                    env,
                    ref,
                )
                if ref.submodules:
                    self._submodules(checkout, env, ref)
            self._place(checkout, dest, ref, keep_git_dir)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    # -- resolving ---------------------------------------------------------

    def _resolve(self, ref: GitRef) -> str:
        wanted = ref.ref
        if _FULL_SHA.fullmatch(wanted.lower()):
            return wanted.lower()
        with self._environment(ref) as env:
            if not wanted:
                output = self._run(
                    ["ls-remote", "--symref", ref.remote, "HEAD"], env, ref
                )
                for line in output.splitlines():
                    sha, _, name = line.partition("\t")
                    if name == "HEAD" and _FULL_SHA.fullmatch(sha):
                        return sha
                raise GitError(
                    f"repository {redact_url(ref.remote)} has no default branch (HEAD)"
                )
            output = self._run(
                ["ls-remote", ref.remote, wanted, f"{wanted}^{{}}"], env, ref
            )
        refs = {}
        for line in output.splitlines():
            sha, _, name = line.partition("\t")
            refs[name] = sha
        for name in (
            f"{wanted}^{{}}",
            wanted,
            f"refs/heads/{wanted}",
            f"refs/tags/{wanted}^{{}}",
            f"refs/tags/{wanted}",
        ):
            if name in refs:
                return refs[name]
        raise GitError(
            f"repository {redact_url(ref.remote)} does not contain ref {wanted}",
            hint="check the branch, tag or full commit SHA after # (a short SHA "
            "cannot be fetched)",
        )

    # -- fetching ------------------------------------------------------------

    def _fetch_commit(
        self, checkout: Path, pinned: PinnedGit, env: dict[str, str]
    ) -> None:
        ref = pinned.ref
        base = ["-C", str(checkout), "fetch", "-q", "--depth=1", "--no-tags", "origin"]
        try:
            self._run([*base, pinned.commit], env, ref)
        except GitError:
            if not ref.ref or _FULL_SHA.fullmatch(ref.ref.lower()):
                raise
            # Some servers refuse fetching by commit; fetch the ref and check it.
            self._run([*base, ref.ref], env, ref)

    def _submodules(self, checkout: Path, env: dict[str, str], ref: GitRef) -> None:
        if not (checkout / ".gitmodules").exists():
            return
        try:
            self._run(
                [
                    "-C",
                    str(checkout),
                    "submodule",
                    "update",
                    "--init",
                    "--recursive",
                    "--depth=1",
                ],
                env,
                ref,
            )
        except GitError as exc:
            raise GitError(
                f"failed to update submodules for {redact_url(ref.remote)}: "
                f"{exc.message}",
                hint="credentials apply to the main remote only; make the submodules "
                "public, or add "
                "?submodules=false to skip them",
            ) from None

    def _place(
        self, checkout: Path, dest: Path, ref: GitRef, keep_git_dir: bool
    ) -> None:
        source = checkout
        if ref.subdir:
            source = (checkout / ref.subdir).resolve()
            if (
                not str(source).startswith(str(checkout.resolve()) + os.sep)
                or not source.is_dir()
                or (checkout / ref.subdir).is_symlink()
            ):
                raise GitError(
                    f"subdir {ref.subdir!r} is not a folder in {redact_url(ref.remote)}"
                )
            keep_git_dir = False
        if not keep_git_dir:
            shutil.rmtree(checkout / ".git", ignore_errors=True)
        _normalize_modes(source)
        for entry in sorted(os.listdir(source)):
            os.rename(source / entry, dest / entry)
        os.chmod(dest, 0o755)

    # -- running git -----------------------------------------------------------

    def _environment(self, ref: GitRef) -> _GitEnvironment:
        return _GitEnvironment(self, ref)

    def _run(self, args: list[str], env: dict[str, str], ref: GitRef) -> str:
        import git

        command = git.cmd.Git()
        try:
            return command.execute(
                ["git", *args],
                env=env,
                with_extended_output=False,
                kill_after_timeout=GIT_TIMEOUT,
                stdout_as_string=True,
            )
        except git.exc.GitCommandError as exc:
            raise _git_error(exc, ref) from None
        except git.exc.GitCommandNotFound:
            raise GitError(
                "git is not installed", hint="install the git package"
            ) from None


class _GitEnvironment:
    """The environment one Git operation runs with, and the SSH socket it may need."""

    def __init__(self, source: GitSource, ref: GitRef) -> None:
        self.source = source
        self.ref = ref
        self._stack = ExitStack()

    def __enter__(self) -> dict[str, str]:
        try:
            return self._prepare()
        except BaseException:
            self._stack.close()
            raise

    def _prepare(self) -> dict[str, str]:
        home = Path(tempfile.mkdtemp(prefix="git-home-", dir=self.source.scratch))
        self._stack.callback(shutil.rmtree, home, True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_ASKPASS": "",
            "SSH_ASKPASS": "",
            "LC_ALL": "C",
        }
        settings = [
            ("credential.helper", ""),
            ("protocol.file.allow", "never"),
            ("core.askPass", ""),
        ]
        if self.ref.scheme in ("http", "https"):
            header = auth_header_for(self.source.secrets, self.ref.host)
            if header is not None:
                settings.append(("include.path", self._auth_config(header.value)))
                settings.append(("http.followRedirects", "false"))
        if self.ref.is_ssh:
            env.update(self._ssh_env())
        env["GIT_CONFIG_COUNT"] = str(len(settings))
        for index, (key, value) in enumerate(settings):
            env[f"GIT_CONFIG_KEY_{index}"] = key
            env[f"GIT_CONFIG_VALUE_{index}"] = value
        return env

    def _auth_config(self, header: str) -> str:
        """Write the Authorization header into a private config file; return its path.

        Git reads the file through ``include.path``, so the header reaches no
        process's argv or environment. The file sits on a tmpfs when
        ``/dev/shm`` is usable, in a folder only this user can enter, and is
        deleted when the Git operation ends.
        """
        if "\n" in header or "\r" in header:
            raise GitError(
                f"the Git credentials for {self.ref.host} contain a line break",
                hint="remove the trailing newline from the GIT_AUTH_TOKEN or "
                "GIT_AUTH_HEADER secret",
            )
        parent = _SHM if os.access(_SHM, os.W_OK | os.X_OK) else self.source.scratch
        folder = Path(tempfile.mkdtemp(prefix="minikit-git-auth-", dir=parent))
        self._stack.callback(shutil.rmtree, folder, True)
        path = folder / "auth.config"
        value = _config_quote("Authorization: " + header)
        text = f"[http {_config_quote(self.ref.remote)}]\n\textraheader = {value}\n"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        return str(path)

    def _ssh_env(self) -> dict[str, str]:
        forwarder = self.source.ssh
        if forwarder is None or not forwarder.has("default"):
            raise SSHError(
                'no SSH key "default" forwarded from the client',
                hint=f"fetching {redact_url(self.ref.remote)} over SSH needs --ssh "
                "default",
            )
        socket_path = self._stack.enter_context(
            forwarder.socket("default", os.getuid(), os.getgid(), 0o600)
        )
        command = (
            "ssh -F /dev/null -o StrictHostKeyChecking=no"
            " -o UserKnownHostsFile=/dev/null -o BatchMode=yes"
        )
        return {"SSH_AUTH_SOCK": str(socket_path), "GIT_SSH_COMMAND": command}

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()


def _normalize_modes(root: Path) -> None:
    """Give files 0644 or 0755 and folders 0755, as Git records only the x bit.

    The checkout ran with this process's umask; the image must not depend
    on it.
    """
    for folder, dirs, files in os.walk(root):
        os.chmod(folder, 0o755)
        for name in files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode):
                os.chmod(path, 0o755 if info.st_mode & 0o111 else 0o644)


def _config_quote(value: str) -> str:
    """Quote ``value`` for a Git config file (a subsection name or a value)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _git_error(exc: Any, ref: GitRef) -> GitError:
    stderr = _stderr_text(exc)
    remote = redact_url(ref.remote)
    lowered = stderr.lower()
    if any(text in lowered for text in _REFUSED):
        return GitError(
            f"failed to fetch {remote}: authentication was refused",
            hint="pass a token with --secret id=GIT_AUTH_TOKEN,env=VARIABLE "
            f"(or GIT_AUTH_TOKEN.{ref.host} for this host alone)",
        )
    return GitError(
        f"failed to fetch {remote}: {_detail(stderr, exc)}",
        hint="check the repository URL and that the server is reachable",
    )


# Phrases in git's output that mean the server wants credentials it did not get.
_REFUSED = (
    "authentication failed",
    "could not read username",
    "terminal prompts disabled",
    "the requested url returned error: 401",
    "the requested url returned error: 403",
    "http basic: access denied",
    "permission denied (publickey",
)


def _stderr_text(exc: Any) -> str:
    """Return git's stderr from a GitCommandError, without GitPython's framing."""
    text = str(getattr(exc, "stderr", "") or "").strip()
    if text.startswith("stderr:"):
        text = text[len("stderr:") :].strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1]
    return text


def _detail(stderr: str, exc: Any) -> str:
    """Return the line of git's output that names the failure."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.lower().startswith(("fatal:", "error:")):
            return redact_url_text(line.split(":", 1)[1].strip())
    if lines:
        return redact_url_text(lines[-1])
    return f"git exited with status {getattr(exc, 'status', '?')}"


def redact_url_text(text: str) -> str:
    """Drop user info from every URL in ``text`` (git prints the URLs it fetched)."""
    return _URL_USERINFO.sub(r"\1", text)


_URL_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s']*@")
