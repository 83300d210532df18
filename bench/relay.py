"""Signaling relay throughput: `ice_candidate` messages through Lawroom (the real `lawroom serve`
process: validation, authorization, the room check, seq and replay outbox, delivery) against a
bare aiohttp relay written for the benchmark (`bench.relay_bare`), in one run, with 1,000
websockets (500 rooms), on one process and on two processes through Redis. The goal: Lawroom's
maximum at least 0.7x the bare relay's in each setting.

Per setting and relay: the maximum delivered messages/s (closed loop, the window per direction
doubled until the rate stops rising), p99 latency with both relays offered half the bare
relay's maximum (open loop), and the server's RSS at 1,000 connected websockets. The load
generator (`bench.relay_load`) runs in a process of its own. Lawroom's rooms are real
consultations between 500 terminals and 500 lawyers, made once in the benchmark's data
directory through `server.db.accounts`, each signed in with its token.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import argon2

from bench.relay_bare import READY_LINE as BARE_READY
from bench.relay_procs import Child, Children, Generator, free_port, quiet_moment, rss_mb
from server.db import accounts
from server.db.audit import Actor
from server.db.engine import open_database
from server.db.models import AccountRole, utcnow
from server.db.passwords import Passwords

GOAL_RATIO: Final = 0.7
# WEBRTC_NOTES.md, "Signaling": the bare relay as measured on a machine of this kind, and how
# far this run's bare relay may be from it to count as reproducing it.
NOTES_RATE: Final = {"one": (10_000.0, 11_000.0), "two": (3_000.0, 4_000.0)}
NOTES_P99_MS: Final = {"one": (8.0, 10.0), "two": (11.0, 17.0)}
TOLERANCE: Final = 0.2
SETTINGS: Final = {"one": "one process", "two": "two processes + Redis"}
# Closed-loop windows tried in turn; the ramp stops once a doubling gains less than this.
WINDOWS: Final = (1, 2, 4, 8, 16)
MIN_GAIN: Final = 0.03
# A process using this share of a core or more at the maximum is what capped the rate.
BOUND: Final = 0.9
# Open loop: below this share of the offered rate delivered, the relay was overloaded.
KEEPS_UP: Final = 0.95
# ... or it ended the window with more than this many seconds of its load still in flight: a
# queue that its p99 then only measures.
MAX_BACKLOG_SECONDS: Final = 0.25
# A p99 of which the generator's own send lag is more than this share is partly the generator's.
GENERATOR_LAG: Final = 0.5
# Lawroom's per-connection rate limit (default 20/s, burst 40) protects against one flooding
# client; the closed loop's first burst and up to 8 in flight per socket would trip it. Raised
# well above the load so that it is not what is measured. So is the 10 s allowed for a hello:
# signing in 500 sessions at a time on a loaded machine has taken longer (sign-in is not what is
# measured either).
SERVER_LIMITS: Final = (
    "--rate-per-second",
    "1000",
    "--rate-burst",
    "1000",
    "--hello-timeout",
    "60",
)
# The machine may be shared with other work. Before each attempt at a step, wait (up to
# QUIET_WAIT s) for a second in which it idles below DISTURBED of a core; a step during which
# other processes took more than that is measured again, up to ATTEMPTS times in all, and the
# least disturbed attempt is kept.
DISTURBED: Final = 0.25
ATTEMPTS: Final = 3
QUIET_WAIT: Final = 20.0
# A cheap argon2id profile for the benchmark's accounts: their passwords are never used (sign-in
# is by token), and RFC 9106's profile would take about a minute for 500 accounts here.
CHEAP_ARGON2: Final = argon2.Parameters(
    type=argon2.Type.ID,
    version=19,
    salt_len=16,
    hash_len=32,
    time_cost=1,
    memory_cost=8,
    parallelism=1,
)
ACCOUNTS_FILE: Final = "relay-accounts.json"
# What Lawroom logs when its advisor index is built (or could not be).
ADVISOR_LINES: Final = ("advisor: index ready", "advisor: building the index failed")
ADVISOR_WAIT: Final = 180.0

# (terminal, device token, lawyer, account token): the two members of one room.
Pair = tuple[str, str, str, str]


# -- accounts ----------------------------------------------------------------------------------


async def create_accounts(data_dir: Path, first: int, last: int) -> list[Pair]:
    """Terminals and lawyers numbered `first`..`last`, with tokens, through the database API
    the CLI uses."""
    db = await open_database("", data_dir, passwords=Passwords(CHEAP_ARGON2))
    at, actor = utcnow(), Actor.system()
    pairs: list[Pair] = []
    try:
        for i in range(first, last + 1):
            terminal, lawyer = f"bench-village-{i:04d}", f"bench-lawyer-{i:04d}"
            await accounts.add_terminal(db, terminal, f"Bench village {i}", actor=actor, at=at)
            device = await accounts.issue_device_token(db, terminal, actor=actor, at=at)
            await accounts.create_account(
                db,
                username=lawyer,
                role=AccountRole.LAWYER,
                display_name=f"Bench lawyer {i}",
                password=secrets.token_urlsafe(16),
                languages=("zh", "mn"),
                actor=actor,
                at=at,
            )
            token = await accounts.issue_token(db, lawyer, label="bench", actor=actor, at=at)
            pairs.append((terminal, device, lawyer, token))
    finally:
        await db.close()
    return pairs


async def accounts_for(data_dir: Path, rooms: int) -> list[Pair]:
    """The benchmark's accounts in `data_dir`: made once and reused by later runs. The database
    keeps only token hashes, so the tokens are kept beside it, readable by the owner only."""
    saved_file = data_dir / ACCOUNTS_FILE
    saved: list[Pair] = []
    if saved_file.exists():
        saved = [(a, b, c, d) for a, b, c, d in json.loads(saved_file.read_text())]
    if len(saved) < rooms:
        saved += await create_accounts(data_dir, len(saved) + 1, rooms)
        fd = os.open(saved_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(saved, f)
    return saved[:rooms]


# -- figures -----------------------------------------------------------------------------------


@dataclass
class Step:
    """One measured step of the closed or open loop."""

    offered: float  # msg/s sent during the window
    delivered: float  # msg/s received during the window
    p50_ms: float
    p99_ms: float
    server_cpu: list[float]  # share of one core, per server process
    redis_cpu: float | None
    generator_cpu: float
    others_cpu: float  # everything else on the machine, in cores
    machine_cpu: float  # the whole machine, in cores
    stolen_cpu: float  # taken by the hypervisor, in cores
    send_lag_p99_ms: float
    errors: int
    error_samples: list[str]
    undelivered: int
    closed_sockets: int  # websockets the server closed during the step
    open_sockets: int
    backlog: int  # messages in flight as the window closed

    @property
    def disturbed(self) -> bool:
        return self.others_cpu > DISTURBED

    @property
    def generator_bound(self) -> bool:
        """The generator itself was the bottleneck: at a whole core, or sending so late that
        its own delay is much of the latency measured."""
        return self.generator_cpu >= BOUND or self.send_lag_p99_ms > GENERATOR_LAG * self.p99_ms

    @property
    def cpu_us_per_message(self) -> float:
        """The relay servers' CPU per delivered message: what the machine's other load does
        not change much, unlike the rates."""
        return sum(self.server_cpu) / self.delivered * 1e6 if self.delivered else float("nan")

    def bound_by(self) -> str:
        """The processes that used (nearly) a whole core: what capped the rate. A bare relay
        capped by the generator is faster than measured, so its ratio flatters Lawroom."""
        names = ["server"] if len(self.server_cpu) == 1 else ["server a", "server b"]
        busy = [n for n, c in zip(names, self.server_cpu, strict=True) if c >= BOUND]
        if self.redis_cpu is not None and self.redis_cpu >= BOUND:
            busy.append("Redis")
        if self.generator_cpu >= BOUND:
            busy.append("generator")
        if not busy and self.machine_cpu >= BOUND * (os.cpu_count() or 1):
            # Every core busy, none of ours at a whole one: the other processes took the rest.
            return f"all CPUs (others {self.others_cpu * 100:.0f}%)"
        return "+".join(busy) or "none (latency)"

    def cpu(self) -> str:
        text = "CPU % server " + "+".join(f"{c * 100:.0f}" for c in self.server_cpu)
        if self.redis_cpu is not None:
            text += f", Redis {self.redis_cpu * 100:.0f}"
        text += f", generator {self.generator_cpu * 100:.0f}"
        text += f", other processes {self.others_cpu * 100:.0f}"
        if self.stolen_cpu >= 0.01:
            text += f", stolen {self.stolen_cpu * 100:.0f}"
        return text + f"; server CPU {self.cpu_us_per_message:.0f} us/msg"

    def problems(self) -> str:
        out = ""
        if self.errors:
            out += f"; {self.errors} error replies, e.g. {self.error_samples[0]}"
        if self.closed_sockets:
            out += (
                f"; the server closed {self.closed_sockets} websockets "
                f"({self.open_sockets} still open)"
            )
        if self.undelivered:
            out += f"; {self.undelivered} never delivered"
        return out


def percentile(sorted_values: Sequence[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return float(sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))])


def to_step(reply: dict[str, Any], servers: int) -> Step:
    """A generator's reply to a measuring command, as figures."""
    latencies = sorted(reply["latencies_us"])
    lags = sorted(reply["send_lags_us"])
    seconds = reply["seconds"]
    watched = reply["server_cpu"]  # the servers, then Redis
    return Step(
        offered=reply["sent"] / seconds,
        delivered=reply["received"] / seconds,
        p50_ms=percentile(latencies, 0.50) / 1000,
        p99_ms=percentile(latencies, 0.99) / 1000,
        server_cpu=watched[:servers],
        redis_cpu=watched[servers] if len(watched) > servers else None,
        generator_cpu=reply["generator_cpu"],
        others_cpu=max(0.0, reply["machine_cpu"] - sum(watched) - reply["generator_cpu"]),
        machine_cpu=reply["machine_cpu"],
        stolen_cpu=reply["stolen_cpu"],
        send_lag_p99_ms=percentile(lags, 0.99) / 1000 if lags else 0.0,
        errors=reply["errors"],
        error_samples=reply["error_samples"],
        undelivered=reply["undelivered"],
        closed_sockets=reply["closed_by_server"],
        open_sockets=reply["open_sockets"],
        backlog=reply["backlog"],
    )


def keeps_up(s: Step, rate: float) -> bool:
    """Whether a relay offered `rate` in the open loop carried it: nearly all delivered, no
    websocket cut loose, no standing queue."""
    return (
        s.delivered >= KEEPS_UP * rate
        and not s.closed_sockets
        and s.backlog <= rate * MAX_BACKLOG_SECONDS
    )


@dataclass
class Outcome:
    setting: str
    relay: str
    connect_seconds: float = 0.0
    max_rate: float = 0.0
    max_window: int = 0
    # The rate still rose at the largest window: the true maximum may be higher.
    still_rising: bool = False
    max_step: Step | None = None
    half_rate: float = 0.0  # half the bare relay's maximum: what both relays are offered
    half: Step | None = None
    # Only when the relay cannot carry `half_rate`: half its own maximum, for a latency figure
    # that is not just a growing queue.
    own_half_rate: float = 0.0
    own_half: Step | None = None
    rss_empty_mb: float = 0.0  # started, no websocket yet
    rss_idle_mb: float = 0.0  # every websocket connected, before any load
    rss_loaded_mb: float = 0.0  # every websocket connected, after the closed loop
    redis_rss_mb: float | None = None

    @property
    def keeps_up(self) -> bool:
        return self.half is not None and keeps_up(self.half, self.half_rate)

    @property
    def disturbed(self) -> bool:
        steps = (self.max_step, self.half, self.own_half)
        return any(s is not None and s.disturbed for s in steps)


# -- one setting, one relay --------------------------------------------------------------------


@dataclass
class Patience:
    """Seconds the whole run may spend waiting for other processes to quieten and repeating
    steps they disturbed: on a machine that never quietens, the run still ends in time (its
    figures then marked ~)."""

    left: float

    def spend(self, seconds: float) -> None:
        self.left = max(0.0, self.left - seconds)


@dataclass(frozen=True)
class Plan:
    connections: int
    seconds: float
    warmup: float
    attempts: int  # per step, while other processes disturb it
    quiet_wait: float  # seconds to wait for a quiet machine before each attempt
    patience: Patience
    work: Path
    data_dir: Path  # Lawroom's, with the benchmark's accounts
    pairs: list[Pair]


@dataclass
class Rig:
    """The processes of one setting and relay."""

    label: str
    redis: Child | None = None
    servers: list[Child] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    generator: Generator | None = None
    started: list[Child] = field(default_factory=list)

    @property
    def watched_pids(self) -> list[int]:
        """Servers, then Redis: their CPU is sampled over each measured window."""
        return [s.pid for s in self.servers] + ([self.redis.pid] if self.redis else [])

    def server_rss_mb(self) -> float:
        return sum(rss_mb(s.pid) for s in self.servers)

    def say(self, text: str) -> None:
        print(f"{self.label}: {text}", flush=True)


async def start_redis(rig: Rig, plan: Plan, children: Children, relay: str) -> str:
    """A throwaway Redis in the run's own directory, nothing saved; its URL."""
    port = free_port()
    redis_dir = plan.work / f"redis-{relay}"
    redis_dir.mkdir()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--appendonly", "no", "--dir", str(redis_dir)]
    rig.redis = await children.start("redis-server", argv, "Ready to accept connections")
    rig.started.append(rig.redis)
    return f"redis://127.0.0.1:{port}/0"


async def start_server(
    rig: Rig, plan: Plan, children: Children, relay: str, name: str, redis_url: str
) -> None:
    port = free_port()
    if relay == "bare":
        argv = [sys.executable, "-m", "bench.relay_bare", "--port", str(port)]
        argv += ["--redis", redis_url, "--name", name] if redis_url else []
        server = await children.start(f"bare-{name}", argv, BARE_READY)
    else:
        argv = [sys.executable, "-m", "server.cli", "serve", "--port", str(port)]
        argv += ["--data-dir", str(plan.data_dir), *SERVER_LIMITS]
        argv += ["--redis", redis_url] if redis_url else []
        server = await children.start(f"lawroom-{name}", argv, "Lawroom on", watch=ADVISOR_LINES)
        # Lawroom builds its legal advisor's index (jieba's dictionary, the statutes) in a
        # thread after start-up: a few hundred MB and CPU seconds that would otherwise land in
        # the first figures. Wait for it, so the figures are of a server in its steady state.
        if await server.any_mark(ADVISOR_WAIT) is None:
            rig.say(f"no 'advisor index built' within {ADVISOR_WAIT:.0f} s; measuring anyway")
    rig.servers.append(server)
    rig.started.append(server)
    rig.urls.append(f"ws://127.0.0.1:{port}/ws")


async def start_rig(rig: Rig, plan: Plan, children: Children, setting: str, relay: str) -> None:
    """Redis (for two instances), the relay's server(s), the generator: each recorded in `rig`
    as it starts, so a failure part-way still shows their logs."""
    redis_url = await start_redis(rig, plan, children, relay) if setting == "two" else ""
    for name in ("a", "b") if setting == "two" else ("a",):
        await start_server(rig, plan, children, relay, name, redis_url)
    child = await children.start(
        "generator", [sys.executable, "-m", "bench.relay_load"], None, commands=True
    )
    rig.started.append(child)
    rig.generator = Generator(child)


async def connect(rig: Rig, plan: Plan, relay: str) -> int:
    """Open every websocket: terminals on the first instance, professionals on the last, so
    with two instances every message crosses Redis. Returns how many sign-ins the server failed
    (internal_error) and the generator repeated."""
    assert rig.generator is not None
    village_url, pro_url = rig.urls[0], rig.urls[-1]
    if relay == "bare":
        rooms = [f"c_{secrets.token_urlsafe(12)}" for _ in range(plan.connections // 2)]
        await rig.generator.command(
            cmd="connect_bare", village_url=village_url, pro_url=pro_url, rooms=rooms
        )
        return 0
    reply = await rig.generator.command(
        cmd="connect_lawroom", village_url=village_url, pro_url=pro_url, pairs=plan.pairs
    )
    retries: int = reply["sign_in_retries"]
    return retries


async def step(rig: Rig, plan: Plan, **command: Any) -> Step:
    """One measured step, again while other processes disturbed it (see DISTURBED): the
    machine may be shared with other work, which would take the cores the figures are of."""
    assert rig.generator is not None
    best: Step | None = None
    for attempt in range(1, plan.attempts + 1):
        # One second of sampling is always spent; only waiting beyond it draws on patience.
        waited, busy = await quiet_moment(DISTURBED, min(plan.quiet_wait, 1.0 + plan.patience.left))
        plan.patience.spend(waited - 1.0)
        if waited > 1.5:
            rig.say(
                f"waited {waited:.0f} s for other processes to quieten (now "
                f"{busy * 100:.0f} % of a core)"
            )
        reply = await rig.generator.command(
            warmup=plan.warmup, seconds=plan.seconds, pids=rig.watched_pids, **command
        )
        s = to_step(reply, len(rig.servers))
        if attempt > 1:
            plan.patience.spend(reply["took"])
        if best is None or s.others_cpu < best.others_cpu:
            best = s
        # A step that closed websockets cannot be repeated on the same footing.
        if not s.disturbed or s.closed_sockets or plan.patience.left <= 0:
            break
        if attempt < plan.attempts:
            rig.say(
                f"other processes took {s.others_cpu * 100:.0f} % of a core meanwhile "
                f"({s.delivered:,.0f} msg/s); measuring again"
            )
    assert best is not None
    return best


async def ramp(rig: Rig, plan: Plan, outcome: Outcome) -> None:
    """The closed loop, window doubled until the delivered rate stops rising: the maximum."""
    for window in WINDOWS:
        s = await step(rig, plan, cmd="closed", window=window)
        rig.say(
            f"closed loop, {window} in flight per direction: {s.delivered:,.0f} msg/s "
            f"delivered (p50 {s.p50_ms:.1f} ms, p99 {s.p99_ms:.1f} ms); {s.cpu()}{s.problems()}"
        )
        gained = s.delivered > outcome.max_rate * (1 + MIN_GAIN)
        if s.delivered > outcome.max_rate:
            outcome.max_rate, outcome.max_window, outcome.max_step = s.delivered, window, s
        if not gained:
            return
    outcome.still_rising = True


async def open_loop(rig: Rig, plan: Plan, rate: float, why: str) -> Step:
    s = await step(rig, plan, cmd="open", rate=rate)
    rig.say(
        f"open loop at {rate:,.0f} msg/s ({why}): {s.delivered:,.0f} msg/s delivered, p50 "
        f"{s.p50_ms:.1f} ms, p99 {s.p99_ms:.1f} ms, {s.backlog:,} in flight at the end "
        f"(generator's send lag p99 {s.send_lag_p99_ms:.1f} ms); {s.cpu()}{s.problems()}"
        + ("" if keeps_up(s, rate) else " -- OVERLOADED: it cannot keep up")
    )
    return s


async def measure_rig(
    rig: Rig, plan: Plan, outcome: Outcome, relay: str, half_rate: float | None
) -> None:
    outcome.rss_empty_mb = rig.server_rss_mb()
    t0 = time.perf_counter()
    retries = await connect(rig, plan, relay)
    outcome.connect_seconds = time.perf_counter() - t0
    if retries:
        rig.say(
            f"the server failed {retries} sign-ins (internal_error; its log says why, e.g. "
            "SQLite's 'database is locked'); they were repeated"
        )
    await asyncio.sleep(1.0)  # let the set-up's stragglers (records, logs) settle
    outcome.rss_idle_mb = rig.server_rss_mb()
    rig.say(
        f"{plan.connections} websockets {'paired into' if relay == 'Lawroom' else 'joined'} "
        f"{plan.connections // 2} rooms in {outcome.connect_seconds:.1f} s; server RSS "
        f"{outcome.rss_idle_mb:.0f} MB ({outcome.rss_empty_mb:.0f} MB before the first one)"
    )
    await ramp(rig, plan, outcome)
    # Measured here, not after the open loop: an overloaded relay may have closed websockets
    # there, and the figure is of every websocket connected.
    outcome.rss_loaded_mb = rig.server_rss_mb()
    if rig.redis is not None:
        outcome.redis_rss_mb = rss_mb(rig.redis.pid)
    rig.say(f"server RSS after the closed loop: {outcome.rss_loaded_mb:.0f} MB")
    outcome.half_rate = half_rate if half_rate is not None else outcome.max_rate / 2
    # A relay that cannot carry half the bare relay's maximum only shows a growing queue (and
    # Lawroom closes websockets whose queue fills): first measure it at half its own maximum,
    # while every websocket is still open.
    own_half = outcome.max_rate / 2
    if own_half < outcome.half_rate / (1 + MIN_GAIN):
        outcome.own_half_rate = own_half
        outcome.own_half = await open_loop(rig, plan, own_half, "half its own maximum")
    outcome.half = await open_loop(rig, plan, outcome.half_rate, "half the bare maximum")


async def run_relay(
    plan: Plan, children: Children, setting: str, relay: str, half_rate: float | None
) -> Outcome:
    """Start the relay's processes, connect, measure, stop them again. `half_rate`: the open
    loop's rate (None: half of this relay's own maximum, for the bare relay)."""
    outcome = Outcome(SETTINGS[setting], relay)
    rig = Rig(f"{SETTINGS[setting]} / {relay}")
    try:
        await start_rig(rig, plan, children, setting, relay)
        await measure_rig(rig, plan, outcome, relay, half_rate)
        return outcome
    except BaseException:
        for child in rig.started:
            if child.proc.returncode is not None or not child.name.startswith("generator"):
                print(f"--- last lines of {child.name}:\n{child.tail(15)}", file=sys.stderr)
        raise
    finally:
        if rig.generator is not None:
            await rig.generator.quit()
        for child in reversed(rig.started):
            await children.stop(child)


# -- the report --------------------------------------------------------------------------------


def measured(outcomes: dict[tuple[str, str], Outcome]) -> list[tuple[str, str]]:
    """(setting, its name) of the settings in `outcomes` (all, unless --only)."""
    return [(k, name) for k, name in SETTINGS.items() if (k, "bare") in outcomes]


def _within(value: float, band: tuple[float, float]) -> bool:
    return band[0] * (1 - TOLERANCE) <= value <= band[1] * (1 + TOLERANCE)


def _p99(s: Step | None, rate: float) -> str:
    """A p99 figure, or why there is none: an overloaded relay's p99 is only its queue."""
    if s is None:
        return "-"
    if not keeps_up(s, rate):
        return f"overload ({s.p99_ms:,.0f})"
    return f"{s.p99_ms:.1f}" + ("g" if s.generator_bound else "")


TABLE: Final = "{:<22} {:<13} {:>10} {:>19} {:>7} {:>10} {:>17} {:>17} {:>13} {:>6}"


def table_rows(outcomes: dict[tuple[str, str], Outcome]) -> list[str]:
    rows = [
        TABLE.format(
            "setting",
            "relay",
            "max msg/s",
            "capped by",
            "us/msg",
            "half msg/s",
            "p99 ms at half",
            "p99 at own half",
            "RSS MB idle/ld",
            "Redis",
        )
    ]
    rows.append("-" * len(rows[0]))
    for setting, name in measured(outcomes):
        bare, lawroom = outcomes[(setting, "bare")], outcomes[(setting, "Lawroom")]
        for o, label in ((bare, name), (lawroom, "")):
            assert o.max_step is not None
            own = "-"
            if o.own_half is not None:
                own = f"{_p99(o.own_half, o.own_half_rate)} @{o.own_half_rate / 1000:.1f}k"
            rows.append(
                TABLE.format(
                    label,
                    o.relay + ("~" if o.disturbed else ""),
                    f"{o.max_rate:,.0f}" + ("+" if o.still_rising else ""),
                    o.max_step.bound_by(),
                    f"{o.max_step.cpu_us_per_message:.0f}",
                    f"{o.half_rate:,.0f}",
                    _p99(o.half, o.half_rate),
                    own,
                    f"{o.rss_idle_mb:.0f}/{o.rss_loaded_mb:.0f}",
                    "-" if o.redis_rss_mb is None else f"{o.redis_rss_mb:.0f}",
                )
            )
        assert bare.max_step is not None and lawroom.max_step is not None
        ratio = lawroom.max_rate / bare.max_rate
        cpu_ratio = lawroom.max_step.cpu_us_per_message / bare.max_step.cpu_us_per_message
        verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
        rows.append(
            TABLE.format(
                "",
                "Lawroom/bare",
                f"{ratio:.2f}x",
                f"goal {GOAL_RATIO}x: {verdict}",
                f"{cpu_ratio:.1f}x",
                "",
                "",
                "",
                f"{lawroom.rss_loaded_mb / bare.rss_loaded_mb:.1f}x",
                "",
            )
        )
    return rows


def report(plan: Plan, outcomes: dict[tuple[str, str], Outcome]) -> bool:
    """Print the table; True if the goal is met in every setting."""
    print()
    print(
        f"Signaling relay: {plan.connections} websockets ({plan.connections // 2} rooms), "
        f"187-byte ice_candidate messages, {plan.seconds:g} s per measured step; relays, Redis "
        f"and the load generator share {os.cpu_count()} CPUs: whole-system figures."
    )
    print("\n".join(table_rows(outcomes)))
    print(
        "max msg/s: closed loop, delivered. capped by: the processes at a whole core there. "
        "us/msg: the relay servers' CPU per message.\np99 at half: both relays offered half "
        "the bare maximum (open loop); overload (p99): the relay delivered under "
        f"{KEEPS_UP:.0%}, closed websockets or ended with over {MAX_BACKLOG_SECONDS:g} s of "
        "load queued,\nso p99 is its queue; p99 at own half: "
        "then at half its own maximum. RSS: the server(s) with every websocket open, before "
        "and after the closed loop."
    )
    if any(s.generator_bound for o in outcomes.values() for s in (o.half, o.own_half) if s):
        print(
            "g: the load generator was at a whole core or sending late (its send lag over "
            f"{GENERATOR_LAG:.0%} of the p99): the p99 is partly its own"
        )
    if any(o.still_rising for o in outcomes.values()):
        print(f"+ still rising at {WINDOWS[-1]} in flight per direction: a lower bound")
    if any(o.disturbed for o in outcomes.values()):
        print(f"~ measured while other processes took over {DISTURBED:.0%} of a core")
    print()
    met_all = True
    for setting, name in measured(outcomes):
        ratio = outcomes[(setting, "Lawroom")].max_rate / outcomes[(setting, "bare")].max_rate
        met_all = met_all and ratio >= GOAL_RATIO
        print(
            f"goal, {name}: Lawroom at least {GOAL_RATIO}x the bare relay's max msg/s -- "
            f"{ratio:.2f}x, {'met' if ratio >= GOAL_RATIO else 'NOT met'}"
        )
    for setting, name in measured(outcomes):
        bare = outcomes[(setting, "bare")]
        assert bare.half is not None
        (low, high), (p_low, p_high) = NOTES_RATE[setting], NOTES_P99_MS[setting]
        rate_ok = "within" if _within(bare.max_rate, NOTES_RATE[setting]) else "OUTSIDE"
        p99_ok = "within" if _within(bare.half.p99_ms, NOTES_P99_MS[setting]) else "OUTSIDE"
        print(
            f"bare relay against WEBRTC_NOTES.md, {name}: {bare.max_rate:,.0f} msg/s "
            f"(notes {low / 1000:g}-{high / 1000:g} k: {rate_ok} {TOLERANCE:.0%}), p99 at half "
            f"load {bare.half.p99_ms:.1f} ms (notes {p_low:g}-{p_high:g} ms: {p99_ok} "
            f"{TOLERANCE:.0%})"
        )
    return met_all


# -- entry -------------------------------------------------------------------------------------


async def measure(args: argparse.Namespace) -> tuple[Plan, dict[tuple[str, str], Outcome]]:
    if args.logs is not None:
        args.logs.mkdir(parents=True, exist_ok=True)
    children = Children(args.logs)
    outcomes: dict[tuple[str, str], Outcome] = {}
    # SIGTERM (a CI timeout, `kill`) stops the run as Ctrl-C does: generators first, then the
    # servers, Redis last, and the temporary directory removed.
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    with tempfile.TemporaryDirectory(prefix="lawroom-relay-") as tmp:
        work = Path(tmp)
        data_dir = args.data_dir or work / "lawroom-data"
        rooms = args.connections // 2
        print(
            f"accounts: {rooms} terminals and {rooms} lawyers with tokens in {data_dir}, made "
            "once through server.db.accounts (a cheap argon2id profile: nobody signs in with a "
            "password here)...",
            flush=True,
        )
        t0 = time.perf_counter()
        pairs = await accounts_for(data_dir, rooms)
        print(f"accounts ready in {time.perf_counter() - t0:.1f} s", flush=True)
        plan = Plan(
            args.connections,
            args.seconds,
            args.warmup,
            args.attempts,
            args.quiet_wait,
            Patience(args.patience),
            work,
            data_dir,
            pairs,
        )
        print(
            f"{os.cpu_count()} CPUs shared by the relay process(es), Redis, the load generator "
            f"process and anything else running here (load average now "
            f"{os.getloadavg()[0]:.1f}); Lawroom runs with {' '.join(SERVER_LIMITS)} "
            "(its per-connection flood protection and sign-in deadline, not what is measured)",
            flush=True,
        )
        try:
            for setting in [args.only] if args.only else list(SETTINGS):
                bare = await run_relay(plan, children, setting, "bare", None)
                outcomes[(setting, "bare")] = bare
                outcomes[(setting, "Lawroom")] = await run_relay(
                    plan, children, setting, "Lawroom", bare.half_rate
                )
        finally:
            await children.stop_all()
    return plan, outcomes


# --quick: the same set-up (1,000 websockets, both settings), shorter steps, no repeats.
PROFILES: Final = {
    "full": {"seconds": 5.0, "warmup": 1.0, "attempts": 3, "quiet_wait": 20.0, "patience": 45.0},
    "quick": {"seconds": 2.0, "warmup": 0.5, "attempts": 1, "quiet_wait": 5.0, "patience": 15.0},
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.relay",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"Exits 1 if Lawroom is below {GOAL_RATIO}x the bare relay in either setting.",
    )
    p.add_argument("--connections", type=int, default=1000, help="websockets (2 per room)")
    p.add_argument(
        "--quick", action="store_true", help="shorter steps, none repeated: about half the time"
    )
    full = PROFILES["full"]
    p.add_argument(
        "--seconds", type=float, help=f"length of each measured step ({full['seconds']:g})"
    )
    p.add_argument(
        "--warmup", type=float, help=f"unmeasured start of each step ({full['warmup']:g})"
    )
    p.add_argument(
        "--attempts",
        type=int,
        help=f"tries per step while other processes disturb it ({full['attempts']:g})",
    )
    p.add_argument(
        "--quiet-wait",
        type=float,
        help=f"seconds to wait for a quiet machine before each step ({full['quiet_wait']:g})",
    )
    p.add_argument(
        "--only", choices=list(SETTINGS), help="measure one setting only (default: both)"
    )
    p.add_argument(
        "--patience",
        type=float,
        help="seconds the whole run may spend on waiting for a quiet machine and on repeated "
        f"steps ({full['patience']:g})",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        help="Lawroom data directory keeping the benchmark's accounts between runs "
        "(default: a temporary one, made afresh)",
    )
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    p.add_argument("--logs", type=Path, help="write every child process's output here")
    args = p.parse_args(argv)
    for name, default in PROFILES["quick" if args.quick else "full"].items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    if args.connections < 2 or args.connections % 2:
        p.error("--connections: an even number, at least 2 (two per room)")
    if min(args.warmup, args.quiet_wait, args.patience) < 0:
        p.error("--warmup, --quiet-wait and --patience must not be negative")
    if args.seconds <= 0 or args.attempts < 1:
        p.error("--seconds must be positive and --attempts at least 1")
    return args


def write_json(path: Path, plan: Plan, outcomes: dict[tuple[str, str], Outcome], met: bool) -> None:
    figures = {
        "connections": plan.connections,
        "seconds": plan.seconds,
        "outcomes": [
            {**asdict(o), "keeps_up": o.keeps_up, "disturbed": o.disturbed}
            for o in outcomes.values()
        ],
        "goal_ratio": GOAL_RATIO,
        "goal_met": met,
    }
    path.write_text(json.dumps(figures, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"signaling relay: {args.connections} websockets, Lawroom against a bare aiohttp relay, "
        "on one process and on two through Redis",
        flush=True,
    )
    started = time.perf_counter()
    try:
        plan, outcomes = asyncio.run(measure(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; the processes the benchmark started have been stopped")
        return 130
    met = report(plan, outcomes)
    print(f"run time {time.perf_counter() - started:.0f} s")
    if args.json is not None:
        write_json(args.json, plan, outcomes, met)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
