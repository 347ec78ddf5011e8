"""The Redis backend's Lua, read from queuelab/backends/redis_queue/scripts.lua."""

from __future__ import annotations

import pytest

from queuelab.backends.redis_queue import scripts


def test_every_script_binds_its_keys_and_arguments_and_carries_its_parts() -> None:
    claim = scripts.CLAIM
    assert claim.source.startswith("local tasks, attempts, prio, ready, delayed, leased, "
                                   "tokens, seq, lanes = KEYS[1], KEYS[2]")
    assert "local function reap(now)" in claim.source and "BATCH" not in claim.source
    assert f"'LIMIT', 0, {scripts.REAP_BATCH})" in claim.source
    assert {s.name for s in scripts.ALL} >= {"claim", "ack", "nack", "dead_letter", "purge"}
    assert len({s.sha for s in scripts.ALL}) == len(scripts.ALL)


def test_a_malformed_file_is_refused_by_name() -> None:
    ok = scripts.parse("-- part: p\nlocal x = 1\n-- script: s\n-- keys: a\n-- uses: p\nreturn x\n")
    assert ok["s"].source == "local a = KEYS[1]\nlocal x = 1\nreturn x\n"
    with pytest.raises(ValueError, match="script 's': unknown parts"):
        scripts.parse("-- script: s\n-- uses: nowhere\nreturn 1\n")
    with pytest.raises(ValueError, match="defined twice"):
        scripts.parse("-- script: s\nreturn 1\n-- script: s\nreturn 2\n")
