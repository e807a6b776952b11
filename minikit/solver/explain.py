"""Why a step missed the cache: compare what its key was made of, now and last time.

Op implementations describe their key as a dict of components (see
``OpImpl.explain``). The conventional keys are:

``command``  the instruction or command text
``env``      name -> digest of the value (values are never stored)
``files``    path -> digest of the content a COPY selected
``base``     the pinned base image reference
``mounts``   a text per mount (ids, targets, never secret values)
``inputs``   the keys and names of the input steps, and the identifier of
             input image sources (added by the solver)

Anything else is compared as a whole and reported by its name.
"""

from __future__ import annotations

from typing import Any

# How many changed paths to name before summarising the rest.
MAX_PATHS = 5


def explain_miss(
    previous: dict[str, Any] | None,
    current: dict[str, Any],
    *,
    ignore_cache: bool = False,
    same_key: bool = False,
) -> tuple[str, ...]:
    """Return one line per reason the step with ``current`` components missed."""
    if ignore_cache:
        return (
            "the cache is disabled for this step (--no-cache or --no-cache-filter)",
        )
    if previous is None:
        return ("no earlier build of this step is recorded in this cache",)
    if same_key:
        return ("the earlier result of this step is no longer in the cache (pruned)",)
    reasons = _base_changes(previous.get("inputs") or [], current.get("inputs") or [])
    if previous.get("base") != current.get("base") and "base" in current:
        reasons.append(
            f"base image changed: {previous.get('base')} -> {current.get('base')}"
        )
    if previous.get("command") != current.get("command") and "command" in current:
        reasons.append(f"command changed: was {_short(previous.get('command'))}")
    reasons.extend(_env_changes(previous.get("env") or {}, current.get("env") or {}))
    reasons.extend(
        _file_changes(previous.get("files") or {}, current.get("files") or {})
    )
    for key in sorted(set(previous) | set(current)):
        if key in ("base", "command", "env", "files", "inputs"):
            continue
        if previous.get(key) != current.get(key):
            reasons.append(f"{key} changed")
    if not reasons:
        reasons.extend(
            _input_changes(previous.get("inputs") or [], current.get("inputs") or [])
        )
    if not reasons:
        reasons.append("the cache key changed for a reason minikit does not track")
    return tuple(reasons)


def _short(text: Any, width: int = 60) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 3] + "..."


def _env_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    changed = sorted(
        name for name in set(before) & set(after) if before[name] != after[name]
    )
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    reasons = []
    if changed:
        reasons.append("build arg or env value changed: " + ", ".join(changed))
    if added:
        reasons.append("build arg or env added: " + ", ".join(added))
    if removed:
        reasons.append("build arg or env removed: " + ", ".join(removed))
    return reasons


def _file_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    paths = sorted(
        path for path in set(before) | set(after) if before.get(path) != after.get(path)
    )
    if not paths:
        return []
    shown = ", ".join(paths[:MAX_PATHS])
    more = len(paths) - MAX_PATHS
    suffix = f" and {more} more" if more > 0 else ""
    return [f"files changed: {shown}{suffix}"]


def _base_changes(before: list[dict], after: list[dict]) -> list[str]:
    reasons = []
    for index, item in enumerate(after):
        old = before[index] if index < len(before) else {}
        source, old_source = item.get("source"), old.get("source")
        if source and old_source and source != old_source:
            reasons.append(f"base image changed: {old_source} -> {source}")
    return reasons


def _input_changes(before: list[dict], after: list[dict]) -> list[str]:
    reasons = []
    for index, item in enumerate(after):
        old = before[index] if index < len(before) else None
        if old is None or old.get("key") != item.get("key"):
            reasons.append(
                f"an earlier step changed: {item.get('name') or 'input ' + str(index)}"
            )
    return reasons
