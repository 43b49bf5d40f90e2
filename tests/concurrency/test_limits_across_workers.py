"""The limits hold across gunicorn's workers: production counts them in Redis, so a visitor
whose requests land on different workers gets the configured number, not one per worker."""

from __future__ import annotations

import pytest

from tests.support import live
from tests.support.shared_store import redis_or_skip, shared_limits

pytestmark = pytest.mark.slow

WORKERS = 3
LIMIT = 4


def test_booking_requests_from_one_address_stop_at_the_limit_whatever_the_worker(live_db, tmp_path):
    redis = redis_or_skip()
    limits = shared_limits()
    server = live.Server(
        live_db,
        tmp_path,
        workers=WORKERS,
        RATELIMIT_ENABLED="1",
        BOOKING_LIMIT_PER_ADDRESS=f"{LIMIT} per hour",
        **limits,
    ).start()
    try:
        day, starts = live.bookable_slots(server)
        statuses = []
        # One after another, each on a new connection: gunicorn hands them to any worker.
        for n in range(LIMIT * WORKERS):
            youth = live.open_intake(server, day, starts[n % len(starts)], n)
            statuses.append(youth.submit().status)
        assert statuses[:LIMIT] == [303] * LIMIT, statuses
        assert statuses[LIMIT:] == [429] * (len(statuses) - LIMIT), statuses
        assert redis.keys(f"*/{limits['RATELIMIT_KEY_PREFIX']}/booking-address:*"), "in Redis"
    finally:
        server.stop()
    live.assert_clean_log(server)
