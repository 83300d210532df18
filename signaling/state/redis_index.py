"""The dispatch index in Redis (for `RedisState`): waiting requests in one sorted set per queue,
free professionals in one per role, so the next match is one script over the queue heads.

Requests are JSON in a hash by request id; each also sits in the sorted set of its queue (kind ×
topic × language, or × "any" once any language will do), scored by arrived_at - head start
(`matching.rank`: the same order at any time). Equal scores order by member, and a member is
the arrival time and sequence encoded to sort bytewise, then the id: so the whole order is
(rank, request_id), as in `MemoryState`. Professionals: JSON in a hash by identity, and a sorted
set per role scored by free_since with the identity as member: (free_since, identity).
"""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from signaling.matching import KIND_ROLE, Free, Want, queue_of, queues_for, rank
from signaling.messages import Kind, Language, Priority, Role
from signaling.state.base import check_indexable
from signaling.topics import TOPIC_SLUGS

# Requests read per ZRANGE while skipping those the professional passed on.
WALK_PAGE = 16
# Requests parsed between two turns of the event loop when all are listed.
PARSE_SLICE = 100

# -- Lua: each runs atomically in Redis --------------------------------------------------------

# Byte order, not Lua's `<` on strings: that one collates by the server's locale.
_BEFORE = """
local function before(s1, m1, s2, m2)
  if s1 ~= s2 then return s1 < s2 end
  for k = 1, math.min(#m1, #m2) do
    local a, b = string.byte(m1, k), string.byte(m2, k)
    if a ~= b then return a < b end
  end
  return #m1 < #m2
end
"""

# KEYS records, old sorted set, new sorted set; ARGV id, expected old json ('' if none), json,
# score, member, old member. Compare-and-set: the caller read the old record to name its sorted
# set (a script must be given every key it touches); 0 if it changed meanwhile.
_PUT = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if (old or '') ~= ARGV[2] then return 0 end
if old then redis.call('ZREM', KEYS[2], ARGV[6]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
return 1
"""

# KEYS records, sorted set; ARGV id, expected json, member. Compare-and-set as above.
_REMOVE = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[3])
return 1
"""

# KEYS wants, then the candidate queues; ARGV identity, page. Walks each queue from its head to
# the first request not passed by the identity, stopping early once past the best found so far.
# A member is 16 hex digits of arrived_at, ':', 16 of the sequence, ':', then the request id
# (from its 35th byte; see `_want_position`).
_FIRST_WANT = (
    _BEFORE
    + """
local best_score, best_member, best_json
local page = tonumber(ARGV[2])
for i = 2, #KEYS do
  local start, done = 0, false
  while not done do
    local items = redis.call('ZRANGE', KEYS[i], start, start + page - 1, 'WITHSCORES')
    done = #items < 2 * page
    for j = 1, #items, 2 do
      local member, score = items[j], tonumber(items[j + 1])
      if best_member and not before(score, member, best_score, best_member) then
        done = true
        break
      end
      local raw = redis.call('HGET', KEYS[1], string.sub(member, 35))
      local passed = false
      for _, who in ipairs(cjson.decode(raw)['x']) do
        if who == ARGV[1] then passed = true break end
      end
      if not passed then
        best_score, best_member, best_json = score, member, raw
        done = true
        break
      end
    end
    start = start + page
  end
end
return best_json or false
"""
)

# KEYS free, the role's sorted set; ARGV topic, language, any_language ('1' or '0'), then the
# identities that passed. The longest idle who takes the topic and language and did not pass.
_FIRST_FREE = """
local passed = {}
for i = 4, #ARGV do passed[ARGV[i]] = true end
local function has(list, value)
  for _, v in ipairs(list) do if v == value then return true end end
  return false
end
for _, identity in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if not passed[identity] then
    local raw = redis.call('HGET', KEYS[1], identity)
    local pro = cjson.decode(raw)
    if (#pro['t'] == 0 or has(pro['t'], ARGV[1]))
        and (ARGV[3] == '1' or has(pro['l'], ARGV[2])) then
      return raw
    end
  end
end
return false
"""


@dataclass(frozen=True, slots=True)
class _IndexKeys:
    prefix: str

    @property
    def wants(self) -> str:
        return f"{self.prefix}wants"

    def want_queue(self, queue: tuple[Kind, str, Language | None]) -> str:
        kind, topic, language = queue
        return f"{self.prefix}wants:{kind}:{topic}:{language or 'any'}"

    @property
    def free(self) -> str:
        return f"{self.prefix}free"

    def free_queue(self, role: Role) -> str:
        return f"{self.prefix}free:{role}"


# KEYS free hash, then every role's sorted set; ARGV identity, json ('' to remove), score,
# the index in KEYS of the sorted set to join. One round trip: the person leaves whichever
# role's set they were in (every one is named, so no read first).
_SET_FREE = """
for k = 2, #KEYS do redis.call('ZREM', KEYS[k], ARGV[1]) end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[tonumber(ARGV[4])], ARGV[3], ARGV[1])
end
return 1
"""

# Every role has its set (matching only ever asks for professionals).
ROLES = tuple(Role)


class _IndexScripts:
    def __init__(self, client: Redis) -> None:
        self.put = client.register_script(_PUT)
        self.remove = client.register_script(_REMOVE)
        self.set_free = client.register_script(_SET_FREE)
        self.first_want = client.register_script(_FIRST_WANT)
        self.first_free = client.register_script(_FIRST_FREE)


class RedisDispatchIndex:
    """The dispatch half of `SharedState`, over the client and key prefix of a `RedisState`."""

    def __init__(self, client: Redis, prefix: str) -> None:
        self._redis = client
        self._keys = _IndexKeys(prefix)
        self._scripts = _IndexScripts(client)
        self._free_keys = [
            self._keys.free,
            *(self._keys.free_queue(role) for role in ROLES),
        ]

    async def put_want(self, want: Want) -> None:
        check_indexable(want)
        raw = want_to_json(want)
        new_queue = self._keys.want_queue(queue_of(want))
        score, member = _want_position(want)
        while True:
            old = await self._redis.hget(self._keys.wants, want.request_id)
            old_queue, old_member = new_queue, ""
            if old is not None:
                previous = want_from_json(old)
                old_queue = self._keys.want_queue(queue_of(previous))
                old_member = _want_position(previous)[1]
            if await self._scripts.put(
                keys=[self._keys.wants, old_queue, new_queue],
                args=[want.request_id, old or "", raw, score, member, old_member],
            ):
                return

    async def remove_want(self, request_id: str) -> None:
        while True:
            old = await self._redis.hget(self._keys.wants, request_id)
            if old is None:
                return
            previous = want_from_json(old)
            if await self._scripts.remove(
                keys=[self._keys.wants, self._keys.want_queue(queue_of(previous))],
                args=[request_id, old, _want_position(previous)[1]],
            ):
                return

    async def wants(self) -> list[Want]:
        # One HVALS is a consistent snapshot; listing them all is O(n) anyway. Parsed a slice
        # at a time, letting other work in between: a thousand at once would hold up the offers
        # in flight (this is the once-a-second `waiting` update's read).
        raws = await self._redis.hvals(self._keys.wants)
        wants: list[Want] = []
        for start in range(0, len(raws), PARSE_SLICE):
            if start:
                await asyncio.sleep(0)
            wants.extend(want_from_json(raw) for raw in raws[start : start + PARSE_SLICE])
        return sorted(wants, key=lambda w: (rank(w), w.request_id))

    async def first_want_for(self, pro: Free) -> Want | None:
        queues = [self._keys.want_queue(q) for q in queues_for(pro, TOPIC_SLUGS)]
        if not queues:
            return None
        raw = await self._scripts.first_want(
            keys=[self._keys.wants, *queues], args=[pro.identity, WALK_PAGE]
        )
        return None if raw is None else want_from_json(raw)

    async def put_free(self, pro: Free) -> None:
        await self._scripts.set_free(
            keys=self._free_keys,
            args=[
                pro.identity,
                free_to_json(pro),
                repr(pro.free_since + 0.0),
                ROLES.index(pro.role) + 2,
            ],
        )

    async def remove_free(self, identity: str) -> None:
        await self._scripts.set_free(keys=self._free_keys, args=[identity, "", 0, 0])

    async def free_professionals(self) -> list[Free]:
        pros = [free_from_json(raw) for raw in await self._redis.hvals(self._keys.free)]
        return sorted(pros, key=lambda p: (p.free_since, p.identity))

    async def first_free_for(self, want: Want) -> Free | None:
        raw = await self._scripts.first_free(
            keys=[self._keys.free, self._keys.free_queue(KIND_ROLE[want.kind])],
            args=[
                want.topic,
                want.language,
                "1" if want.any_language else "0",
                *sorted(want.passed_by),
            ],
        )
        return None if raw is None else free_from_json(raw)


def _want_position(want: Want) -> tuple[str, str]:
    """The score and member of a request in its queue's sorted set."""
    score, arrived_at, sequence = rank(want)
    member = f"{_sortable(arrived_at)}:{(sequence + (1 << 63)) & ((1 << 64) - 1):016x}:"
    return repr(score + 0.0), member + want.request_id


def _sortable(x: float) -> str:
    """16 hex digits that sort bytewise as the floats do (sign flipped, negatives inverted)."""
    (bits,) = struct.unpack(">Q", struct.pack(">d", x + 0.0))  # + 0.0: -0.0 sorts as 0.0
    return f"{bits ^ ((1 << 64) - 1) if bits >> 63 else bits | (1 << 63):016x}"


# Compact JSON of the matching records: short keys, sets as sorted lists, floats by repr (json
# writes the shortest text that reads back to the same double).


def want_to_json(want: Want) -> str:
    return json.dumps(
        {
            "i": want.request_id,
            "k": want.kind,
            "t": want.topic,
            "l": want.language,
            "p": want.priority,
            "a": want.arrived_at,
            "x": sorted(want.passed_by),
            "y": want.any_language,
            "s": want.sequence,
            "f": want.front,
        },
        separators=(",", ":"),
    )


def want_from_json(raw: str | bytes) -> Want:
    d: dict[str, Any] = json.loads(raw)
    return Want(
        request_id=d["i"],
        kind=Kind(d["k"]),
        topic=d["t"],
        language=Language(d["l"]),
        priority=Priority(d["p"]),
        arrived_at=float(d["a"]),
        passed_by=frozenset(d["x"]),
        any_language=bool(d["y"]),
        sequence=int(d["s"]),
        front=bool(d.get("f", False)),
    )


def free_to_json(pro: Free) -> str:
    return json.dumps(
        {
            "i": pro.identity,
            "r": pro.role,
            "t": sorted(pro.topics),
            "l": sorted(pro.languages),
            "f": pro.free_since,
        },
        separators=(",", ":"),
    )


def free_from_json(raw: str | bytes) -> Free:
    d: dict[str, Any] = json.loads(raw)
    return Free(
        identity=d["i"],
        role=Role(d["r"]),
        topics=frozenset(d["t"]),
        languages=frozenset(Language(x) for x in d["l"]),
        free_since=float(d["f"]),
    )
