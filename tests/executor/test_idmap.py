"""Tests of subordinate ranges and id map text."""

from __future__ import annotations

from minikit.executor.idmap import (
    format_id_map,
    identity_of,
    is_mapped,
    parse_id_map,
    parse_subordinate_ranges,
)
from minikit.executor.types import IdMapping

SUBUID = "alice:100000:65536\n# comment\nbob:200000:1000\n1001:300000:10\nalice:500000:5\nbad\n"


def test_subordinate_ranges_by_name() -> None:
    assert parse_subordinate_ranges(SUBUID, "alice", 1000) == [
        (100000, 65536),
        (500000, 5),
    ]


def test_subordinate_ranges_by_uid() -> None:
    assert parse_subordinate_ranges(SUBUID, "carol", 1001) == [(300000, 10)]


def test_subordinate_ranges_missing_user() -> None:
    assert parse_subordinate_ranges(SUBUID, "dave", 1002) == []


def test_id_map_round_trip() -> None:
    mappings = (IdMapping(0, 1000, 1), IdMapping(1, 100000, 65536))
    assert parse_id_map(format_id_map(mappings)) == mappings


def test_id_map_parses_kernel_spacing() -> None:
    text = "         0       1000          1\n         1     100000      65536\n"
    assert parse_id_map(text) == (IdMapping(0, 1000, 1), IdMapping(1, 100000, 65536))


def test_identity_of_build_map() -> None:
    mappings = (IdMapping(0, 1000, 1), IdMapping(1, 100000, 65536))
    assert identity_of(mappings) == (IdMapping(0, 0, 1), IdMapping(1, 1, 65536))


def test_is_mapped_bounds() -> None:
    mappings = (IdMapping(0, 1000, 1), IdMapping(1, 100000, 10))
    assert is_mapped(mappings, 0)
    assert is_mapped(mappings, 10)
    assert not is_mapped(mappings, 11)
