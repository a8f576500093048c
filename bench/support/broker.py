"""The Redis a bench's Celery workers (and cache) use, left as it was found.

    redis_url = bench_redis(stack, db=13)  # None: no Redis to be had, the bench says what then

Which Redis, the first that can be had:
1. BENCH_REDIS_URL, when set (None when it does not answer: the bench falls back as it says);
2. database `db` of the machine's server at 127.0.0.1:6379, when it answers (each bench has
   its own database number, so that nothing else is in it);
3. a private redis-server (Debian's package) started on a free loopback port for this run,
   keeping nothing on disk, stopped with the stack's other processes.

On a server the bench did not start, every key the run added is deleted at the end.
"""

from __future__ import annotations

import os
import shutil
import sys

import redis

from bench.support.stack import Stack, free_port


def bench_redis(stack: Stack, *, db: int) -> str | None:
    """A Redis URL for this run (see the module doc), cleaned up when the stack stops."""
    explicit = os.environ.get("BENCH_REDIS_URL")
    url = explicit or f"redis://127.0.0.1:6379/{db}"
    if _answers(url):
        before = _keys(url)
        stack.at_stop(lambda: _forget(url, before))
        return url
    if explicit or shutil.which("redis-server") is None:
        why = "BENCH_REDIS_URL" if explicit else "no redis-server installed"
        print(f"note: no Redis at {url} ({why})", file=sys.stderr)
        return None
    port = free_port()
    stack.start(
        "redis",
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(stack.tmp)]
        + ["--save", "", "--appendonly", "no"],
    )
    url = f"redis://127.0.0.1:{port}/{db}"
    stack.wait_for(lambda: _answers(url), "starting redis-server", 30)
    print(f"redis: a private redis-server on port {port} (nothing answered at 6379)")
    return url


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _keys(url: str) -> set[bytes]:
    return set(redis.Redis.from_url(url).scan_iter())


def _forget(url: str, before: set[bytes]) -> None:
    """Delete what the run left in the bench's Redis database (queues, bindings, cache)."""
    try:
        client = redis.Redis.from_url(url)
        keys = [key for key in client.scan_iter() if key not in before]
        if keys:
            client.delete(*keys)
    except Exception as exc:  # cleanup must go on
        print(f"note: could not clean Redis ({url}): {exc}", file=sys.stderr)
