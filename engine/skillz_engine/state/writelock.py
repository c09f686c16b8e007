"""The writers' lock: one writer built-in at a time, in this process and across the cluster.

Writers replace entry directories, record versions and reload; two at once could interleave a
version's history with another's files, or have one roll back what the other just served. Every
writer built-in runs inside :meth:`WriterLock.hold` (see ``builtins.writers.attributed``).

* Always: an in-process lock (one replica's concurrent writers queue up).
* In a cluster, also a Redis lock, ``<prefix>:writer``: ``SET NX PX`` of a random token, released
  only by its holder (compare-and-delete in one script) and renewed while held, so a replica that
  dies holding it frees it within :data:`LEASE` seconds while a slow writer keeps it as long as it
  runs. A writer that cannot get it within ``wait`` seconds is refused with :class:`WriterBusy`;
  with Redis down it is refused at once with
  :class:`~skillz_engine.state.redislink.ClusterUnavailable` (a writer never writes unlocked).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator

import anyio

from skillz_engine.errors import RuntimeFailure
from skillz_engine.state.redislink import RedisLink

WAIT = 30.0  # seconds a writer waits for the lock before it is refused
LEASE = 15.0  # seconds the Redis lock outlives a holder that stops renewing it (a dead replica)
POLL = 0.05  # seconds between attempts while another replica holds it

_MINE = "if redis.call('get', KEYS[1]) == ARGV[1] then return "  # only the holder's token may ...
_RELEASE = _MINE + "redis.call('del', KEYS[1]) end return 0"  # ... release the lock
_RENEW = _MINE + "redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"  # ... or extend its lease


class WriterBusy(RuntimeFailure):
    """Another writer held the writers' lock for longer than this writer may wait."""


class WriterLock:
    """The lock of one engine; ``link`` set: the cluster's too."""

    def __init__(self, link: RedisLink | None = None, wait: float = WAIT, lease: float = LEASE) -> None:
        self.link = link
        self.wait = wait
        self.lease = lease  # renewed every third of it while held
        self._local = anyio.Lock()
        self.holder: str | None = None  # the token of the Redis lock while held

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Hold the lock for the block; raises :class:`WriterBusy` after ``wait`` seconds."""
        with anyio.move_on_after(self.wait) as scope:
            await self._local.acquire()
        if scope.cancelled_caught:
            raise WriterBusy(f"another writer is still writing after {self.wait:g}s; try again later")
        try:
            if self.link is None:
                yield
                return
            async with self._cluster():
                yield
        finally:
            self._local.release()

    @contextlib.asynccontextmanager
    async def _cluster(self) -> AsyncIterator[None]:
        import redis

        assert self.link is not None
        link = self.link
        name = link.cluster.key("writer")
        token = f"{link.cluster.replica}:{secrets.token_hex(8)}"
        client = link.aclient()
        lease_ms = max(1, int(self.lease * 1000))
        try:
            with anyio.move_on_after(self.wait):
                while not await client.set(name, token, nx=True, px=lease_ms):
                    await anyio.sleep(POLL)
                self.holder = token
        except (redis.RedisError, OSError) as exc:
            link.mark_down(exc)
            raise link.unavailable("the writers' lock") from exc
        if self.holder is None:
            held_by = None
            with contextlib.suppress(redis.RedisError, OSError):  # only for the message
                held_by = await client.get(name)
            who = held_by.decode().rsplit(":", 1)[0] if isinstance(held_by, bytes) else "another replica"
            raise WriterBusy(
                f"replica {who} has held the cluster's writers' lock for over {self.wait:g}s; try again later"
            )
        link.mark_up()
        failure: BaseException | None = None  # the writer's own, re-raised unwrapped by the task group
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._renew, client, name, token, lease_ms, self.lease / 3)
                try:
                    yield
                except anyio.get_cancelled_exc_class():
                    raise
                except BaseException as exc:
                    failure = exc
                finally:
                    tg.cancel_scope.cancel()
            if failure is not None:
                raise failure
        finally:
            self.holder = None
            with anyio.CancelScope(shield=True), contextlib.suppress(redis.RedisError, OSError):
                await client.eval(_RELEASE, 1, name, token)

    @staticmethod
    async def _renew(client: object, name: str, token: str, lease_ms: int, every: float) -> None:
        import redis

        while True:
            await anyio.sleep(every)
            with contextlib.suppress(redis.RedisError, OSError):  # the lease still runs for a while
                await client.eval(_RENEW, 1, name, token, lease_ms)  # type: ignore[attr-defined]
