"""addons/quota.py: the call quota and the rate limit, with a real clock."""

import json

import pytest

from addons.quota import Quota
from recorder.settings import ReplaySettings

pytestmark = pytest.mark.mitmproxy_api  # also run against mitmproxy 12 (.ci/run)


def quota(**settings) -> Quota:
    q = Quota()
    q.configure(ReplaySettings(**settings))
    return q


def test_no_limits_never_answers():
    q = quota()
    assert all(q.check() is None for _ in range(1000))


def test_the_quota_answers_429_after_its_calls():
    q = quota(max_calls=3)
    assert [q.check() is None for _ in range(3)] == [True, True, True]
    answer = q.check()
    assert answer.status_code == 429
    assert json.loads(answer.content)["error"]["name"] == "usageLimitError"


def test_the_rate_limit_says_when_to_retry():
    q = quota(rate_limit=2)
    assert q.check() is None and q.check() is None
    answer = q.check()
    assert answer.status_code == 429
    assert json.loads(answer.content)["error"]["name"] == "rateLimitError"
    assert 1 <= int(answer.headers["Retry-After"]) <= 60


def test_a_new_configuration_keeps_the_count():
    q = quota(max_calls=2)
    q.check(), q.check()
    q.configure(ReplaySettings(max_calls=3))
    assert q.check() is None and q.check() is not None


def test_reset_fills_the_quota_and_the_rate_limit_again():
    q = quota(max_calls=1, rate_limit=1)
    assert q.check() is None and q.check() is not None
    q.reset()  # `mockrec reset`
    assert q.check() is None
