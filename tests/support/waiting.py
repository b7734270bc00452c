"""Waiting on a condition with a deadline, instead of sleeping for a time and hoping."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_S = 0.02


def wait_until(predicate: Callable[[], T | None], timeout_s: float, what: str, poll_s: float = POLL_S) -> T:
    """The first truthy value of `predicate()`, polled until `timeout_s` have passed; then an
    AssertionError that says `what` was awaited (and the last value seen), never a hang."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout_s} s for {what}; last seen: {value!r}")
        time.sleep(poll_s)
