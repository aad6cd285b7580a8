"""Keyed digests and sealed values: what Redis keeps about callers, under the hotline's secret."""

from __future__ import annotations

import hashlib
import logging

import pytest

from queues import sealing
from queues.sealing import Sealer, is_sealed, unkeyed_digest

NUMBER = "+8613957402816"
WORDS = "公司拖欠我三个月工资，我的电话是13957402816"


def test_a_digest_is_keyed_stable_and_not_the_numbers_sha256():
    one, other = Sealer("first secret"), Sealer("second secret")
    digest = one.digest(NUMBER)
    assert digest == one.digest(NUMBER) == Sealer("first secret").digest(NUMBER)
    assert len(digest) == 24 and set(digest) <= set("0123456789abcdef")
    assert digest not in hashlib.sha256(NUMBER.encode()).hexdigest()
    assert digest != unkeyed_digest(NUMBER)
    assert other.digest(NUMBER) != digest
    assert one.digest("+8613957402817") != digest


def test_a_sealed_value_opens_only_with_its_key_and_where_it_was_kept(caplog):
    sealer = Sealer("secret")
    sealed = sealer.seal(WORDS, "call:CA1:speech")
    assert is_sealed(sealed) and "1395740" not in sealed and WORDS not in sealed
    # A fresh nonce each time: two seals of one value do not show they are the same.
    assert sealer.seal(WORDS, "call:CA1:speech") != sealed
    assert sealer.open(sealed, "call:CA1:speech") == WORDS
    assert sealer.opens(sealed, "call:CA1:speech")
    with caplog.at_level(logging.ERROR, logger="queues.sealing"):
        # Copied onto another call, or read under another secret: it does not open, loudly.
        assert sealer.open(sealed, "call:CA2:speech") == ""
        assert Sealer("another secret").open(sealed, "call:CA1:speech") == ""
        assert sealer.open(sealed[:-3] + "AAA", "call:CA1:speech") == ""
        assert sealer.open("hs1:!!", "call:CA1:speech") == ""
    assert len(caplog.records) == 4
    assert all("HOTLINE_SECRET_KEY" in record.getMessage() for record in caplog.records)
    assert WORDS not in caplog.text and "call:CA1:speech" in caplog.text


def test_plain_values_from_before_sealing_read_as_they_are_and_empty_stays_empty():
    sealer = Sealer("secret")
    assert sealer.open(NUMBER, "call:CA1:caller") == NUMBER
    assert not sealer.opens(NUMBER, "call:CA1:caller")
    assert sealer.seal("", "call:CA1:caller") == "" and sealer.open("", "call:CA1:caller") == ""


def test_no_sealer_is_made_before_a_process_installs_one():
    sealing.install(None)
    with pytest.raises(RuntimeError, match="install"):
        sealing.current()
    built: list[Sealer] = []
    sealing.install(lambda: built.append(Sealer("lazy")) or built[-1])
    assert built == []  # installing a factory reads no secret yet
    assert sealing.current() is sealing.current() is built[0]
    with pytest.raises(ValueError):
        Sealer("")
