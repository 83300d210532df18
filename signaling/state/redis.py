"""Shared state in Redis, for several server instances: the same contract as `MemoryState`.

Records are JSON under one key prefix; every read-modify-write that must not interleave with
another instance is one Lua script (Redis runs a script alone), and time is always an argument,
never Redis's clock. Messages for a session are routed to the instance holding its websocket
through that instance's own pub/sub channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import TracebackType

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from room.consultation import Consultation
from signaling.cancellation import raise_if_cancelled
from signaling.matching import Free, Want
from signaling.messages import Role
from signaling.state.base import SessionRecord, Sink
from signaling.state.memory import OUTBOX_LIMIT
from signaling.state.redis_index import RedisDispatchIndex

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "lawroom:"

# A lock outlives a dead holder by at most this long; a live holder extends it every third of
# it, so a slow critical section is never cut short while its event loop still runs.
LOCK_TTL_SECONDS = 5.0
# Waiting longer than this for a lock means something is stuck: fail the request, loudly.
LOCK_TIMEOUT_SECONDS = 30.0
# Polling backoff while a lock is taken: short, because the dispatch lock is held for
# milliseconds and every message that changes pairing waits on it.
LOCK_RETRY_FIRST = 0.002
LOCK_RETRY_MAX = 0.02

# The pool waits (up to POOL_TIMEOUT_SECONDS) for a free connection rather than raising, as
# redis-py's default asyncio pool does past its cap under a burst.
MAX_CONNECTIONS = 32
# Sessions whose last seq this instance remembers (a hint; least recently used forgotten).
SEQ_HINTS = 10_000
POOL_TIMEOUT_SECONDS = 10.0
# Bound on waiting for the subscription to this instance's channel to be confirmed.
SUBSCRIBE_TIMEOUT_SECONDS = 5.0
# Pause after the pub/sub connection fails before reading again (it reconnects on read).
READER_RETRY_SECONDS = 0.5

# -- Lua: each runs atomically in Redis --------------------------------------------------------

# KEYS sessions, tokens, the identity's sessions; ARGV session_id, json, token_hash. The token
# index moves with the record; the identity's set gains it.
_PUT_SESSION = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local old_hash = cjson.decode(old)['resume_token_hash']
  if old_hash ~= ARGV[3] and redis.call('HGET', KEYS[2], old_hash) == ARGV[1] then
    redis.call('HDEL', KEYS[2], old_hash)
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"""

# KEYS sessions, tokens; ARGV token_hash.
_SESSION_BY_TOKEN = """
local sid = redis.call('HGET', KEYS[2], ARGV[1])
if not sid then return false end
return redis.call('HGET', KEYS[1], sid)
"""

# KEYS the identity's sessions, sessions. Their records, in one round trip.
_SESSIONS_OF = """
local out = {}
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local raw = redis.call('HGET', KEYS[2], sid)
  if raw then out[#out + 1] = raw end
end
return out
"""

# KEYS sessions, tokens, seq, outbox, owner, the identity's sessions; ARGV session_id.
_DELETE_SESSION = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local h = cjson.decode(old)['resume_token_hash']
  if redis.call('HGET', KEYS[2], h) == ARGV[1] then redis.call('HDEL', KEYS[2], h) end
  redis.call('HDEL', KEYS[1], ARGV[1])
end
redis.call('SREM', KEYS[6], ARGV[1])
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
return 1
"""

# KEYS seq, outbox, owner; ARGV expected_previous_seq, text, outbox_limit, session_id.
# Commits the message only if nobody took the seq it was built with (compare-and-set); the
# PUBLISH is inside the same script, so messages leave in seq order. Returns {committed, seq}.
_DELIVER = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current ~= tonumber(ARGV[1]) then return {0, current} end
local seq = current + 1
redis.call('SET', KEYS[1], seq)
redis.call('ZADD', KEYS[2], seq, seq .. ':' .. ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[3]) + 1))
local owner = redis.call('GET', KEYS[3])
if owner then
  local channel = string.match(owner, '^[^@]*@(.*)$')
  redis.call('PUBLISH', channel, cjson.encode({ARGV[4], seq, ARGV[2]}))
end
return {1, seq}
"""

# KEYS owner, seq, outbox; ARGV owner_value, after_seq. Ownership and the replay snapshot are
# taken in one step: seq <= current is in the replay, seq > current will be published to us.
_ATTACH = """
redis.call('SET', KEYS[1], ARGV[1])
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
return {current, redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. ARGV[2], '+inf')}
"""

# KEYS owner, outbox; ARGV owner_value, after_seq. What an attachment may have missed while the
# pub/sub connection was down, if the session is still attached here.
_CATCH_UP = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {} end
return redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[2], '+inf')
"""

# KEYS key; ARGV value. Delete only what we set (a lock token, an ownership).
_DELETE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS lock; ARGV token, ttl_ms.
_EXTEND_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

# KEYS timers, payloads; ARGV now. Pops every due timer, earliest first: exactly one caller
# gets each. Returns {key1, payload1, key2, payload2, ...}.
_CLAIM_DUE_TIMERS = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local out = {}
for _, key in ipairs(due) do
  out[#out + 1] = key
  out[#out + 1] = redis.call('HGET', KEYS[2], key) or ''
  redis.call('ZREM', KEYS[1], key)
  redis.call('HDEL', KEYS[2], key)
end
return out
"""

# KEYS: counter hash. ARGV: now, window. The window starts at the first count; the caller's
# time decides when it has passed, so a test's clock works here as in memory.
_COUNT = """
local start = tonumber(redis.call('HGET', KEYS[1], 'start'))
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
if start == nil or now - start >= window then
  redis.call('HSET', KEYS[1], 'start', ARGV[1], 'n', 0)
end
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 60000)
return redis.call('HINCRBY', KEYS[1], 'n', 1)
"""


class LockTimeout(TimeoutError):
    """A Redis lock could not be taken in time."""


@dataclass(frozen=True, slots=True)
class _Keys:
    prefix: str

    @property
    def sessions(self) -> str:
        return f"{self.prefix}sessions"

    @property
    def tokens(self) -> str:
        return f"{self.prefix}tokens"

    @property
    def consultations(self) -> str:
        return f"{self.prefix}consultations"

    @property
    def arrivals(self) -> str:
        return f"{self.prefix}arrivals"

    def on_duty(self, role: Role) -> str:
        return f"{self.prefix}on_duty:{role.value}"

    def identity_sessions(self, identity: str) -> str:
        return f"{self.prefix}identity:{identity}"

    def counter(self, key: str) -> str:
        return f"{self.prefix}count:{key}"

    @property
    def timers(self) -> str:
        return f"{self.prefix}timers"

    @property
    def timer_payloads(self) -> str:
        return f"{self.prefix}timers:payload"

    def seq(self, session_id: str) -> str:
        return f"{self.prefix}seq:{session_id}"

    def outbox(self, session_id: str) -> str:
        return f"{self.prefix}outbox:{session_id}"

    def owner(self, session_id: str) -> str:
        return f"{self.prefix}owner:{session_id}"

    def lock(self, name: str) -> str:
        return f"{self.prefix}lock:{name}"

    def channel(self, instance_id: str) -> str:
        return f"{self.prefix}instance:{instance_id}"


@dataclass(eq=False, slots=True)
class _Attachment:
    """A session's sink on this instance and how far it has been fed."""

    sink: Sink
    # Written to the session's owner key: "<attachment id>@<this instance's channel>".
    owner: str
    # The highest seq handed to the sink (or known to be covered): later copies are dropped.
    floor: int
    # While true, the reader queues live messages in `pending` instead of feeding the sink, so
    # they cannot overtake the replay.
    replaying: bool = True
    # The pub/sub connection was re-established during the replay: read the outbox again.
    stale: bool = False
    pending: list[tuple[int, str]] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class _Gate:
    """This instance's deliveries to one session, in line; dropped when nobody waits."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class _Scripts:
    def __init__(self, client: Redis) -> None:
        self.put_session = client.register_script(_PUT_SESSION)
        self.session_by_token = client.register_script(_SESSION_BY_TOKEN)
        self.sessions_of = client.register_script(_SESSIONS_OF)
        self.delete_session = client.register_script(_DELETE_SESSION)
        self.deliver = client.register_script(_DELIVER)
        self.attach = client.register_script(_ATTACH)
        self.catch_up = client.register_script(_CATCH_UP)
        self.delete_if_equal = client.register_script(_DELETE_IF_EQUAL)
        self.extend_lock = client.register_script(_EXTEND_LOCK)
        self.claim_due_timers = client.register_script(_CLAIM_DUE_TIMERS)
        self.count = client.register_script(_COUNT)


def _parse_outbox(items: list[str]) -> list[tuple[int, str]]:
    out = []
    for item in items:
        seq, _, text = item.partition(":")
        out.append((int(seq), text))
    return out


class RedisState:
    """`SharedState` in Redis; one per server instance, all sharing one Redis and prefix."""

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        lock_ttl: float = LOCK_TTL_SECONDS,
        lock_timeout: float = LOCK_TIMEOUT_SECONDS,
        owns_client: bool = False,
    ) -> None:
        if not client.connection_pool.connection_kwargs.get("decode_responses", False):
            raise ValueError("RedisState needs a client made with decode_responses=True")
        self._redis = client
        self._owns_client = owns_client
        self._keys = _Keys(prefix)
        self._scripts = _Scripts(client)
        self._lock_ttl = lock_ttl
        self._lock_timeout = lock_timeout
        self.instance_id = secrets.token_hex(8)
        self._channel = self._keys.channel(self.instance_id)
        self._attached: dict[str, _Attachment] = {}
        self._attachments_made = 0
        self._pubsub = client.pubsub()
        self._start_lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        # Coroutines of this instance queue here first, so only one of them polls Redis.
        self._local_locks: dict[str, asyncio.Lock] = {}
        self._lock_keepers: set[asyncio.Task[None]] = set()
        self._gates: dict[str, _Gate] = {}
        # The last seq this instance committed per session: the compare-and-set's first guess,
        # right unless another instance delivered meanwhile (saves a GET per message).
        self._seq_hints: OrderedDict[str, int] = OrderedDict()
        self._index = RedisDispatchIndex(client, prefix)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        max_connections: int = MAX_CONNECTIONS,
        pool_timeout: float = POOL_TIMEOUT_SECONDS,
        lock_ttl: float = LOCK_TTL_SECONDS,
        lock_timeout: float = LOCK_TIMEOUT_SECONDS,
    ) -> RedisState:
        """A RedisState with its own bounded, blocking connection pool (closed by `close`).

        The pub/sub reader holds one connection of the pool for as long as the state lives.
        """
        if max_connections < 2:
            raise ValueError("max_connections: the pub/sub reader needs one, commands another")
        pool = BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=pool_timeout, decode_responses=True
        )
        return cls(
            Redis.from_pool(pool),
            prefix=prefix,
            lock_ttl=lock_ttl,
            lock_timeout=lock_timeout,
            owns_client=True,
        )

    async def start(self) -> None:
        """Subscribe to this instance's channel and start the reader (once; `attach` calls it).

        Returns only after Redis confirmed the subscription: an ownership recorded before that
        could route a message to a channel nobody listens to yet.
        """
        async with self._start_lock:
            if self._closed:
                raise RuntimeError("this RedisState is closed")
            if self._reader is not None:
                return
            await self._pubsub.subscribe(self._channel)
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT_SECONDS):
                while True:
                    message = await self._pubsub.get_message(timeout=SUBSCRIBE_TIMEOUT_SECONDS)
                    if message is not None and message["type"] == "subscribe":
                        break
            self._reader = asyncio.create_task(self._read(), name=f"redis-reader-{self._channel}")

    # -- mutual exclusion ----------------------------------------------------------------------

    def lock(self, name: str) -> _RedisLock:
        return _RedisLock(self, name)

    # -- sessions and presence -----------------------------------------------------------------

    async def put_session(self, session: SessionRecord) -> None:
        await self._scripts.put_session(
            keys=[
                self._keys.sessions,
                self._keys.tokens,
                self._keys.identity_sessions(session.identity),
            ],
            args=[session.session_id, session.model_dump_json(), session.resume_token_hash],
        )

    async def get_session(self, session_id: str) -> SessionRecord | None:
        raw = await self._redis.hget(self._keys.sessions, session_id)
        return None if raw is None else SessionRecord.model_validate_json(raw)

    async def session_by_resume_token(self, token_hash: str) -> SessionRecord | None:
        raw = await self._scripts.session_by_token(
            keys=[self._keys.sessions, self._keys.tokens], args=[token_hash]
        )
        return None if raw is None else SessionRecord.model_validate_json(raw)

    async def delete_session(self, session_id: str) -> None:
        self._attached.pop(session_id, None)
        self._seq_hints.pop(session_id, None)
        k = self._keys
        # Read first to name the identity's key (a script names every key it touches).
        old = await self.get_session(session_id)
        await self._scripts.delete_session(
            keys=[
                k.sessions,
                k.tokens,
                k.seq(session_id),
                k.outbox(session_id),
                k.owner(session_id),
                k.identity_sessions(old.identity if old else ""),
            ],
            args=[session_id],
        )

    async def sessions_of(self, identity: str) -> list[SessionRecord]:
        raws = await self._scripts.sessions_of(
            keys=[self._keys.identity_sessions(identity), self._keys.sessions]
        )
        found = [SessionRecord.model_validate_json(raw) for raw in raws]
        return sorted(found, key=lambda s: s.session_id)

    async def sessions(self) -> AsyncIterator[SessionRecord]:
        # One HVALS is a consistent snapshot (HSCAN could repeat a record that moves meanwhile,
        # and dispatch counts them); sessions are hundreds, not millions.
        for raw in await self._redis.hvals(self._keys.sessions):
            yield SessionRecord.model_validate_json(raw)

    # -- consultations and the waiting queue ---------------------------------------------------

    async def put_consultation(self, consultation: Consultation) -> None:
        await self._redis.hset(
            self._keys.consultations,
            consultation.consultation_id,
            consultation.model_dump_json(),
        )

    async def get_consultation(self, consultation_id: str) -> Consultation | None:
        raw = await self._redis.hget(self._keys.consultations, consultation_id)
        return None if raw is None else Consultation.model_validate_json(raw)

    async def delete_consultation(self, consultation_id: str) -> None:
        await self._redis.hdel(self._keys.consultations, consultation_id)
        await self.remove_want(consultation_id)

    async def set_on_duty(self, role: Role, identity: str, on_duty: bool) -> None:
        if on_duty:
            await self._redis.sadd(self._keys.on_duty(role), identity)
        else:
            await self._redis.srem(self._keys.on_duty(role), identity)

    async def on_duty_counts(self) -> dict[Role, int]:
        roles = [r for r in Role if r is not Role.VILLAGE]
        async with self._redis.pipeline(transaction=False) as pipe:
            for role in roles:
                pipe.scard(self._keys.on_duty(role))
            counts = await pipe.execute()
        return {role: int(n) for role, n in zip(roles, counts, strict=True) if n}

    async def waiting(self) -> list[str]:
        return [w.request_id for w in await self.wants()]

    async def next_sequence(self) -> int:
        return int(await self._redis.incr(self._keys.arrivals))

    # -- the dispatch index (signaling/state/redis_index.py) -----------------------------------

    async def put_want(self, want: Want) -> None:
        await self._index.put_want(want)

    async def remove_want(self, request_id: str) -> None:
        await self._index.remove_want(request_id)

    async def wants(self) -> list[Want]:
        return await self._index.wants()

    async def first_want_for(self, pro: Free) -> Want | None:
        return await self._index.first_want_for(pro)

    async def put_free(self, pro: Free) -> None:
        await self._index.put_free(pro)

    async def remove_free(self, identity: str) -> None:
        await self._index.remove_free(identity)

    async def free_professionals(self) -> list[Free]:
        return await self._index.free_professionals()

    async def first_free_for(self, want: Want) -> Free | None:
        return await self._index.first_free_for(want)

    # -- delivery ------------------------------------------------------------------------------

    async def deliver(self, session_id: str, build: Callable[[int], str]) -> None:
        """Commit the message under the session's next seq, keep it for replay, publish it.

        The seq is taken by compare-and-set rather than INCR: with INCR, two instances could
        publish seq 6 before seq 5, and a client dropping seq <= last_seq would lose 5. `build`
        may therefore run more than once (when another instance took the seq first).
        """
        # Deliveries from this instance to one session go one at a time, so only instances
        # compete for a seq (a local burst of n would otherwise retry n^2 / 2 times).
        gate = self._gates.setdefault(session_id, _Gate())
        gate.users += 1
        try:
            async with gate.lock:
                await self._commit(session_id, build)
        finally:
            gate.users -= 1
            if gate.users == 0:
                del self._gates[session_id]

    async def _commit(self, session_id: str, build: Callable[[int], str]) -> None:
        k = self._keys
        keys = [k.seq(session_id), k.outbox(session_id), k.owner(session_id)]
        expected = self._seq_hints.get(session_id)
        if expected is None:
            expected = int(await self._redis.get(keys[0]) or 0)
        while True:
            text = build(expected + 1)
            committed, current = await self._scripts.deliver(
                keys=keys, args=[expected, text, OUTBOX_LIMIT, session_id]
            )
            if committed:
                self._seq_hints[session_id] = int(current)
                self._seq_hints.move_to_end(session_id)
                if len(self._seq_hints) > SEQ_HINTS:
                    self._seq_hints.popitem(last=False)
                return
            expected = int(current)

    async def attach(self, session_id: str, sink: Sink, after_seq: int) -> int:
        """Route the session's messages to `sink` here, first replaying those after `after_seq`.

        Ownership is recorded and the outbox read in one script, so each message is either in
        the replay (seq <= the seq at that moment) or published to this instance afterwards:
        none falls between. Live messages arriving during the replay wait in `pending` and are
        fed after it, in seq order; copies of replayed ones are dropped by `floor`.
        """
        await self.start()
        self._attachments_made += 1
        att = _Attachment(
            sink=sink,
            owner=f"{self.instance_id}.{self._attachments_made}@{self._channel}",
            floor=after_seq,
        )
        self._attached[session_id] = att
        k = self._keys
        try:
            current, items = await self._scripts.attach(
                keys=[k.owner(session_id), k.seq(session_id), k.outbox(session_id)],
                args=[att.owner, after_seq],
            )
        except BaseException:
            if self._attached.get(session_id) is att:
                del self._attached[session_id]
            raise
        replay = _parse_outbox(items)
        for seq, text in replay:
            await self._feed(session_id, att, seq, text)
        # Everything up to `current` was in the replay or was not wanted (<= after_seq); later
        # seqs come live. (Not max(after_seq, ...): a client ahead of a reset seq still gets
        # new messages, as in memory.)
        att.floor = int(current)
        await self._drain(session_id, att)
        return len(replay)

    async def detach(self, session_id: str, sink: Sink) -> None:
        att = self._attached.get(session_id)
        if att is None or att.sink is not sink:
            return
        del self._attached[session_id]
        # Only our own ownership: the session may meanwhile be attached on another instance.
        await self._scripts.delete_if_equal(keys=[self._keys.owner(session_id)], args=[att.owner])

    async def drop_outbox(self, session_id: str) -> None:
        self._attached.pop(session_id, None)
        self._seq_hints.pop(session_id, None)
        k = self._keys
        await self._redis.delete(k.seq(session_id), k.outbox(session_id), k.owner(session_id))

    async def _feed(self, session_id: str, att: _Attachment, seq: int, text: str) -> None:
        """Hand one message to a sink; a failing sink is logged, never propagated."""
        if seq <= att.floor:
            return
        att.floor = seq
        try:
            await att.sink(seq, text)
        except Exception:
            # One closing websocket must not stop delivery to everyone else on this instance;
            # its client resumes and gets this message replayed.
            log.exception("session=%s sink failed on seq %d", session_id, seq)

    async def _drain(self, session_id: str, att: _Attachment) -> None:
        """Feed what arrived live during a replay, then let live messages through directly."""
        while att.pending or att.stale:
            if att.stale:
                att.stale = False
                await self._catch_up(session_id, att)
            pending, att.pending = att.pending, []
            for seq, text in pending:
                await self._feed(session_id, att, seq, text)
        # No await between the check above and this: nothing can slip into `pending` unfed.
        att.replaying = False

    async def _catch_up(self, session_id: str, att: _Attachment) -> None:
        items = await self._scripts.catch_up(
            keys=[self._keys.owner(session_id), self._keys.outbox(session_id)],
            args=[att.owner, att.floor],
        )
        for seq, text in _parse_outbox(items):
            await self._feed(session_id, att, seq, text)

    # -- the pub/sub reader --------------------------------------------------------------------

    async def _read(self) -> None:
        """Feed sinks from this instance's channel until cancelled; never dies of an error."""
        while True:
            # `close` cancels this task and waits for it; a cancel lost in a call made below (a
            # catch-up's script, a sink; see signaling.cancellation) would keep it reading, and
            # `close` waiting, for ever.
            raise_if_cancelled()
            try:
                message = await self._pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except RedisConnectionError as e:
                # The next read reconnects and re-subscribes; `_resync` then catches up.
                log.warning("pub/sub connection lost (%s); reconnecting", e)
                await asyncio.sleep(READER_RETRY_SECONDS)  # backoff, not synchronisation
                continue
            except Exception:
                log.exception("pub/sub read failed; reading again")
                await asyncio.sleep(READER_RETRY_SECONDS)
                continue
            if message is None:
                continue
            try:
                if message["type"] == "message":
                    await self._on_message(message["data"])
                elif message["type"] == "subscribe":
                    # redis-py re-subscribes after a reconnect; what was published meanwhile
                    # reached nobody, but it is in the outboxes.
                    await self._resync()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pub/sub message not delivered: %r", message)

    async def _on_message(self, data: str) -> None:
        session_id, seq, text = json.loads(data)
        att = self._attached.get(session_id)
        if att is None:
            return  # detached meanwhile: it waits in the outbox
        if att.replaying:
            att.pending.append((int(seq), text))
            return
        await self._feed(session_id, att, int(seq), text)

    async def _resync(self) -> None:
        log.warning("pub/sub reconnected; catching up %d sessions", len(self._attached))
        for session_id, att in list(self._attached.items()):
            if self._attached.get(session_id) is not att:
                continue
            if att.replaying:
                att.stale = True  # its attach reads the outbox once more before going live
                continue
            att.replaying = True
            try:
                await self._catch_up(session_id, att)
            except Exception:
                log.exception("session=%s catch-up failed", session_id)
            await self._drain(session_id, att)

    # -- timers --------------------------------------------------------------------------------

    async def set_timer(
        self, key: str, due: float, payload: str, earlier_only: bool = False
    ) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            # LT: a new key is added; an existing one moves only to an earlier time.
            pipe.zadd(self._keys.timers, {key: due}, lt=earlier_only)
            pipe.hset(self._keys.timer_payloads, key, payload)
            await pipe.execute()

    async def cancel_timer(self, *keys: str) -> None:
        if not keys:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self._keys.timers, *keys)
            pipe.hdel(self._keys.timer_payloads, *keys)
            await pipe.execute()

    async def claim_due_timers(self, now: float) -> list[tuple[str, str]]:
        flat = await self._scripts.claim_due_timers(
            keys=[self._keys.timers, self._keys.timer_payloads], args=[repr(now)]
        )
        return list(zip(flat[::2], flat[1::2], strict=True))

    async def next_timer_due(self) -> float | None:
        first = await self._redis.zrange(self._keys.timers, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    # -- counters -----------------------------------------------------------------------------

    async def count(self, key: str, window: float, now: float) -> int:
        n = await self._scripts.count(
            keys=[self._keys.counter(key)], args=[repr(now), repr(window)]
        )
        return int(n)

    async def reset_count(self, key: str) -> None:
        await self._redis.delete(self._keys.counter(key))

    # -- shutdown ------------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop the reader and lock keepers and close connections.

        Leaves Redis as it is, like an instance that died: held locks expire, ownerships are
        replaced on the next attach, timers wait for any instance.
        """
        self._closed = True
        tasks = [*self._lock_keepers, *([self._reader] if self._reader else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._lock_keepers.clear()
        self._reader = None
        self._attached.clear()
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
        if self._owns_client:
            await self._redis.aclose()


class _RedisLock(contextlib.AbstractAsyncContextManager[None]):
    """SET NX PX with a random token, extended while held, released only by its holder."""

    def __init__(self, state: RedisState, name: str) -> None:
        self._state = state
        self._name = name
        self._key = state._keys.lock(name)
        self._token = secrets.token_hex(16)
        self._local = state._local_locks.setdefault(name, asyncio.Lock())
        self._keeper: asyncio.Task[None] | None = None

    async def __aenter__(self) -> None:
        await self._local.acquire()
        try:
            await self._acquire()
        except BaseException:
            self._local.release()
            raise
        keeper = asyncio.create_task(self._keep(), name=f"lock-keeper-{self._key}")
        self._state._lock_keepers.add(keeper)
        keeper.add_done_callback(self._state._lock_keepers.discard)
        self._keeper = keeper

    async def _acquire(self) -> None:
        state = self._state
        ttl_ms = max(1, int(state._lock_ttl * 1000))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + state._lock_timeout
        delay = LOCK_RETRY_FIRST
        while not await state._redis.set(self._key, self._token, nx=True, px=ttl_ms):
            if loop.time() >= deadline:
                raise LockTimeout(f"lock {self._name!r} not free after {state._lock_timeout} s")
            # Backoff with jitter so instances that lost together do not retry together.
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, LOCK_RETRY_MAX)

    async def _keep(self) -> None:
        """Extend the lock while its holder runs; a dead instance stops extending it."""
        state = self._state
        ttl_ms = max(1, int(state._lock_ttl * 1000))
        while True:
            # The release cancels this task and waits for it: a cancel lost in the call below
            # (signaling.cancellation) would keep extending the lock, and the release waiting,
            # for ever, while every instance waits for the lock in vain.
            raise_if_cancelled()
            await asyncio.sleep(state._lock_ttl / 3)  # a renewal period, not synchronisation
            try:
                extended = await state._scripts.extend_lock(
                    keys=[self._key], args=[self._token, ttl_ms]
                )
            except Exception:
                log.exception("lock %s: could not extend; retrying", self._name)
                continue
            if not extended:
                log.error("lock %s expired while held: another instance may hold it", self._name)
                return

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._keeper is not None:
                self._keeper.cancel()
                await asyncio.gather(self._keeper, return_exceptions=True)
            released = await self._state._scripts.delete_if_equal(
                keys=[self._key], args=[self._token]
            )
            if not released:
                log.error("lock %s had expired before its release", self._name)
        finally:
            self._local.release()
