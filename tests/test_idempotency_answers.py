"""The answers idempotency keys keep (hub.db.idempotency): every operation's answer type is
stored as the same JSON `dataclasses.asdict` gave when the first answers were stored, so
those still read back, and each reads back to what was stored."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from hub.cashdesk.service import ClosedRecord, RegisteredRecord, VoidedRecord
from hub.coupons.service import CancelledRecord, IssuedRecord, RedeemedRecord, ReversedRecord
from hub.db.idempotency import decode, encode

AT = datetime(2026, 12, 5, 7, 30, 1, 123456, tzinfo=UTC)
ANSWERS = [
    IssuedRecord("b-1", ("C1", "C2", "Zażółć"), 161_50, "REJ_NEW", AT),
    RedeemedRecord("r-1", 161_50, 0, AT),
    ReversedRecord("C1", AT),
    CancelledRecord(161_50),
    RegisteredRecord("p-1", "KP/1465/01/2026/000123", 161_50, 2_00, AT),
    VoidedRecord(AT),
    ClosedRecord(7),
]


def as_first_stored(answer) -> str:
    return json.dumps(
        dataclasses.asdict(answer), sort_keys=True, default=lambda value: value.isoformat()
    )  # the format since the first version


@pytest.mark.parametrize("answer", ANSWERS, ids=[type(a).__name__ for a in ANSWERS])
def test_an_answer_is_stored_as_it_always_was_and_reads_back(answer):
    assert encode(answer) == as_first_stored(answer)
    assert decode(type(answer), encode(answer)) == answer
    assert decode(type(answer), as_first_stored(answer)) == answer
