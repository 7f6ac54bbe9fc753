"""portal.redis_cache: Django's Redis cache against the machine's Redis, with one redis-py
client per connection pool kept for every operation instead of one built per operation."""

from __future__ import annotations

import os
import uuid

import pytest
import redis as redis_lib

from portal.redis_cache import RedisCache, ReusingRedisCacheClient

# A database number of its own (bench/api_load.py uses 13).
LOCATION = "redis://127.0.0.1:6379/12"


@pytest.fixture
def cache():
    backend = RedisCache(LOCATION, {"KEY_PREFIX": f"test-{uuid.uuid4().hex}"})
    yield backend
    backend.clear()


def test_it_caches_as_djangos_does(cache):
    assert cache.get("missing") is None
    cache.set("job", {"id": 7, "rtts": [0.5, None]}, 30)
    assert cache.get("job") == {"id": 7, "rtts": [0.5, None]}
    assert cache.add("job", "other") is False and cache.add("new", 1) is True
    cache.delete("job")
    assert cache.get("job", "gone") == "gone"
    assert cache.get_many(["new", "job"]) == {"new": 1}
    assert cache.incr("new") == 2


def test_one_client_serves_every_operation(cache, monkeypatch):
    built = []
    real = redis_lib.Redis.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        real(self, *args, **kwargs)

    monkeypatch.setattr(redis_lib.Redis, "__init__", counting)
    for i in range(20):
        cache.set(f"k{i}", i)
        assert cache.get(f"k{i}") == i
    assert isinstance(cache._cache, ReusingRedisCacheClient)
    assert len(built) == 1
    client = cache._cache.get_client(write=True)
    assert client is cache._cache.get_client() is built[0]


def test_a_forked_child_uses_its_own_connections(cache):
    """redis-py's pool notices the fork: the child's commands go over new connections."""
    cache.set("before", "fork")
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the kept client works here too
        try:
            ok = cache.get("before") == "fork" and cache.set("child", "yes") is None
        except Exception:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert cache.get("child") == "yes" and cache.get("before") == "fork"
