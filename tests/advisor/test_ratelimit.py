"""The token bucket, on a hand-driven clock."""

from __future__ import annotations

import pytest

from advisor.ratelimit import RateLimit, TokenBuckets

from .conftest import ManualClock


@pytest.mark.timeout(10)
def test_bucket_refills_at_its_rate() -> None:
    clock = ManualClock()
    buckets = TokenBuckets(RateLimit(rate=2.0, burst=2.0), clock)
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0.0  # another client has its own bucket
    clock.advance(0.5)
    assert buckets.take("a") == 0.0
    clock.advance(100)
    assert buckets.take("a", cost=2.0) == 0.0  # never more than the burst
    assert buckets.take("a", cost=0.1) > 0


@pytest.mark.timeout(10)
def test_forgets_the_least_recent_clients() -> None:
    clock = ManualClock()
    buckets = TokenBuckets(RateLimit(rate=1.0, burst=1.0, max_clients=2), clock)
    buckets.take("a")
    buckets.take("b")
    buckets.take("c")  # "a" is forgotten and starts again with a full bucket
    assert buckets.take("a") == 0.0
    assert buckets.take("c") > 0
