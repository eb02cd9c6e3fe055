"""recorder/serve/quota.py: the call quota and the rate limit, with a real clock."""

from recorder.serve.quota import Quota


def quota(limit: int = 0, rate: int = 0) -> Quota:
    q = Quota()
    q.configure(limit, rate)
    return q


def test_no_limits_never_answers():
    q = quota()
    assert all(q.check() is None for _ in range(1000))


def test_the_quota_answers_429_after_its_calls():
    q = quota(limit=3)
    assert [q.check() is None for _ in range(3)] == [True, True, True]
    limited = q.check()
    assert limited.name == "usageLimitError" and limited.retry_after is None


def test_the_rate_limit_says_when_to_retry():
    q = quota(rate=2)
    assert q.check() is None and q.check() is None
    limited = q.check()
    assert limited.name == "rateLimitError"
    assert 1 <= limited.retry_after <= 60


def test_a_new_configuration_keeps_the_count():
    q = quota(limit=2)
    q.check(), q.check()
    q.configure(3, 0)
    assert q.check() is None and q.check() is not None


def test_reset_fills_the_quota_and_the_rate_limit_again():
    q = quota(limit=1, rate=1)
    assert q.check() is None and q.check() is not None
    q.reset()  # `mockrec reset`
    assert q.check() is None
