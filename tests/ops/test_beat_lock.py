"""The one-beat lock (tasks/beat_lock.py): taken once, renewed only by its holder, released
only by it, and a beat that finds it taken refuses to start."""

from __future__ import annotations

import pytest
import redis

from core.settings import get_settings
from tasks.beat_lock import EXIT_CODE, LOCK_KEY, BeatLock, take_beat_lock


@pytest.fixture
def client():
    made = redis.Redis.from_url(get_settings().redis_url)
    made.delete(LOCK_KEY)
    yield made
    made.delete(LOCK_KEY)
    made.close()


def test_a_second_lock_is_refused_while_the_first_holds(client):
    first, second = BeatLock(client, 5), BeatLock(client, 5)
    assert first.acquire()
    assert not second.acquire()
    assert first.holder() == first.token


def test_renewal_keeps_the_lock_and_takes_it_again_once_it_expired(client):
    lock = BeatLock(client, 5)
    assert lock.acquire()
    client.pexpire(LOCK_KEY, 50)
    assert lock.renew() == 1
    assert client.pttl(LOCK_KEY) > 1000  # pushed back to the TTL
    client.delete(LOCK_KEY)  # expired while Redis was out of reach
    assert lock.renew() == 0  # taken again: nobody else had it
    assert lock.holder() == lock.token


def test_a_lock_lost_to_another_beat_is_not_renewed_nor_released(client):
    mine, theirs = BeatLock(client, 5), BeatLock(client, 5)
    assert mine.acquire()
    client.delete(LOCK_KEY)
    assert theirs.acquire()
    assert mine.renew() == -1
    mine.release()
    assert theirs.holder() == theirs.token


def test_a_beat_that_finds_the_lock_taken_exits_with_its_code(client):
    assert BeatLock(client, 5).acquire()
    with pytest.raises(SystemExit) as exit_:
        take_beat_lock()
    assert exit_.value.code == EXIT_CODE
