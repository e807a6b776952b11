"""Tests of capability masks."""

from __future__ import annotations

from minikit.executor.capabilities import (
    DEFAULT_CAPABILITIES,
    all_capabilities,
    mask_of,
)


def test_default_capability_mask() -> None:
    # The CapEff value Docker and BuildKit show for root in a container.
    assert mask_of(DEFAULT_CAPABILITIES) == 0xA80425FB


def test_default_capabilities_exclude_sys_admin() -> None:
    assert "CAP_SYS_ADMIN" not in DEFAULT_CAPABILITIES
    assert len(DEFAULT_CAPABILITIES) == 14


def test_all_capabilities_up_to_last() -> None:
    assert mask_of(all_capabilities(40)) == (1 << 41) - 1
    assert "CAP_BPF" not in all_capabilities(38)
