"""Coupon ids, NIP and NRB check digits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.ids import (
    ALPHABET,
    MalformedId,
    format_coupon_id,
    new_coupon_id,
    nip_valid,
    normalize_coupon_id,
    nrb_valid,
    nrb_with_check,
    virtual_account,
)


@pytest.fixture(scope="module")
def issued_ids() -> list[str]:
    return [new_coupon_id() for _ in range(300)]


def test_ids_are_16_symbols_of_crockford_base32(issued_ids):
    assert len(set(issued_ids)) == len(issued_ids)
    for cid in issued_ids:
        assert len(cid) == 16 and set(cid) <= set(ALPHABET)
        assert normalize_coupon_id(cid) == cid


def test_every_single_symbol_substitution_is_caught(issued_ids):
    for cid in issued_ids:
        for i, original in enumerate(cid):
            for symbol in ALPHABET:
                if symbol != original:
                    with pytest.raises(MalformedId):
                        normalize_coupon_id(cid[:i] + symbol + cid[i + 1 :])


def test_every_adjacent_transposition_is_caught(issued_ids):
    for cid in issued_ids:
        for i in range(15):
            if cid[i] != cid[i + 1]:
                swapped = cid[:i] + cid[i + 1] + cid[i] + cid[i + 2 :]
                with pytest.raises(MalformedId):
                    normalize_coupon_id(swapped)


def test_the_one_pair_luhn_mod_32_misses_is_never_issued():
    # 0 and Z (values 0 and 31) fold to the same doubled value, so "0Z" <-> "Z0"
    # would pass the check; the generator redraws any id containing them side by side.
    for _ in range(3000):
        cid = new_coupon_id()
        assert "0Z" not in cid and "Z0" not in cid


def _luhn_mod_32_check_symbol(payload: str) -> str:
    """Luhn mod N as it is written out: from the right, every other value doubled (the
    rightmost first), its base-N digits added."""
    total, factor = 0, 2
    for symbol in reversed(payload):
        addend = factor * ALPHABET.index(symbol)
        total += addend // 32 + addend % 32
        factor = 3 - factor
    return ALPHABET[-total % 32]


@given(st.text(alphabet=ALPHABET, min_size=15, max_size=15), st.sampled_from(ALPHABET))
def test_the_check_symbol_is_luhn_mod_32s_and_no_other(payload: str, check: str) -> None:
    right = _luhn_mod_32_check_symbol(payload)
    assert normalize_coupon_id(payload + right) == payload + right
    if check != right:
        with pytest.raises(MalformedId, match="check symbol"):
            normalize_coupon_id(payload + check)


def test_input_is_forgiving_and_output_canonical():
    cid = new_coupon_id()
    printed = format_coupon_id(cid)
    assert printed == "-".join([cid[0:4], cid[4:8], cid[8:12], cid[12:16]])
    typed = " " + printed.lower().replace("-", " - ") + " "
    assert normalize_coupon_id(typed) == cid
    lookalike = cid.replace("0", "O").replace("1", "I")
    assert normalize_coupon_id(lookalike) == cid
    assert normalize_coupon_id(cid.replace("1", "l")) == cid


@pytest.mark.parametrize("text,why", [("ABCD", "has 4"), ("ABCD-EFGH-JKMN-PQRU", "no symbol 'U'"), ("", "has 0")])
def test_malformed_ids_say_why(text, why):
    with pytest.raises(MalformedId, match=why):
        normalize_coupon_id(text)


def test_nip():
    assert nip_valid("5260250274")  # a real NIP (Ministerstwo Finansów)
    assert not nip_valid("5260250275")
    assert not nip_valid("526025027")
    assert not nip_valid("52602502a4")


def test_nrb_and_virtual_accounts():
    assert nrb_valid("61109010140000071219812874")
    assert not nrb_valid("61109010140000071219812875")
    built = nrb_with_check("10901014" + "0000071219812874")
    assert built == "61109010140000071219812874"
    v1 = virtual_account("61109010140000071219812874", "5260250274")
    v2 = virtual_account("61109010140000071219812874", "7740001454")
    assert nrb_valid(v1) and nrb_valid(v2) and v1 != v2
    assert v1[2:10] == "10901014" and v1.endswith("5260250274")
