"""The rate limits' shared store in tests: the real Redis on 127.0.0.1:6379 (database 15, the
tests' own), each test under a key prefix of its own, since tests run in parallel."""

from __future__ import annotations

import os
import secrets

import pytest

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_or_skip():
    """A client for the tests' Redis database. Where no server answers, the test is skipped
    with the reason on a newcomer's laptop, and fails in CI, which must run it."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the limits against Redis at {REDIS_URL}: {error}")
        pytest.skip(f"no Redis at {REDIS_URL} ({error}); CI runs this test")
    return client


def shared_limits() -> dict[str, str]:
    """Settings that count the limits in the tests' Redis, under a prefix of their own."""
    return {
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": "test-" + secrets.token_hex(6),
    }
