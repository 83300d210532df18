"""Dispatch latency and throughput (issue 5), in process, on each shared-state backend: 1,000
requests wait with no one on duty; 200 professionals come on duty and work through them,
accepting after random delays and hanging up after calls; then 100 more requests arrive one at
a time.

Two loads, each run on every backend:
- steady: people as people are, time compressed about 30x (accept after 1-5 s, calls of 2-10 s,
  about 22 offers a second for the 200): latency per offer, p50 and p99. The goal: p99 under
  20 ms with Redis.
- saturated: accept after 0.02-0.2 s, calls of 0.05-0.3 s, so that the professionals would take
  ~700 offers a second, more than a backend makes: the offers per second it sustains (its
  ceiling). Latency here is the queue in front of the dispatcher, shown but not the goal.

Measured per offer: from "a request arrives or a professional becomes free" (whichever came
later for the pair offered) to "the offer reached the professional's connection" (for Redis,
through the instance's pub/sub, as a websocket would get it); offers per second while the
backlog drains. A run whose measured part passes `--max-seconds` is stopped and reported over
the offers made so far.

A real `Hub` with the system clock and its timer loop, wrap-up 0 (a professional is free again
as they hang up), offer timeouts and escalation out of reach. Sign-ins go through a static
directory: no argon2, and nothing of signing in is timed. The consultation record is off
(`NoJournal`) in the two backend settings: its SQLite writes are storage, not dispatch, and cost
the same behind either backend; a third setting (MemoryState with the SQLite journal) shows what
they add.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import redis

from server.authz import message_permissions
from server.db.engine import open_database
from server.journal import DbJournal
from signaling.clock import SystemClock
from signaling.errors import ProtocolError
from signaling.hub import Hub, HubSettings, handle
from signaling.identity import DemoAccount, Identity, StaticDirectory
from signaling.journal import Journal, NoJournal
from signaling.messages import (
    Accept,
    HangUp,
    Hello,
    Language,
    Priority,
    RequestConsultation,
    Role,
    ServerMessage,
    SetDuty,
)
from signaling.state import MemoryState, SessionRecord, SharedState, Sink
from signaling.state.redis import RedisState

GOAL_P99_MS = 20.0
GOAL_SETTING = "redis"
GOAL_LOAD = "steady"
# (accept after, call length) in seconds, uniform; and the paced arrivals' interval.
LOADS: dict[str, tuple[tuple[float, float], tuple[float, float], float]] = {
    "steady": ((1.0, 5.0), (2.0, 10.0), 0.5),
    "saturated": ((0.02, 0.2), (0.05, 0.3), 0.05),
}
SETTINGS = ("memory", "redis", "memory+sqlite")
TOPICS = ("labour", "traffic", "consumer", "marriage_family")
# Bounds, so a stuck or hopelessly slow run fails instead of hanging: building the backlog, and
# then the measured part (the backlog draining, the arrivals). A run stopped at the second bound
# is reported over the offers made so far, marked as not finished.
SETUP_TIMEOUT = 900.0
MEASURE_SECONDS = 120.0
REDIS_READY_TIMEOUT = 10.0
PROGRESS_EVERY = 100
# Only offers are read; every other message (waiting updates mostly) is counted, not parsed.
OFFER_MARK = '"type":"consultation_offer"'


@dataclass(frozen=True, slots=True)
class Plan:
    load: str  # of LOADS
    backlog: int  # requests waiting before anyone is on duty
    arrivals: int  # then, one at a time, to professionals with nothing to do
    arrival_interval: float
    professionals: int
    accept_after: tuple[float, float]  # seconds, uniform
    call_length: tuple[float, float]
    seed: int

    @property
    def requests(self) -> int:
        return self.backlog + self.arrivals


Trigger = str  # "free": a professional came on duty or hung up; "arrival": a request came


@dataclass
class Result:
    setting: str
    load: str
    latencies: list[tuple[float, Trigger]] = field(default_factory=list)  # (ms, trigger)
    # Handling one request of the backlog (no one on duty: no offer), ms, in arrival order.
    enqueue_ms: list[float] = field(default_factory=list)
    drain_seconds: float = 0.0
    finished: bool = False
    stopped_after: float | None = None  # seconds, if the measured part was cut short
    messages: int = 0

    def percentile(self, q: float, trigger: Trigger | None = None) -> float | None:
        values = sorted(ms for ms, t in self.latencies if trigger in (None, t))
        return _percentile(values, q)

    @property
    def offers_per_second(self) -> float:
        """While the backlog drains: every professional busy, offers as fast as they free up
        and the dispatcher keeps up."""
        backlog = sum(1 for _, t in self.latencies if t == "free")
        seconds = self.drain_seconds or self.stopped_after
        return backlog / seconds if seconds else 0.0

    @property
    def judged(self) -> bool:
        return (self.setting, self.load) == (GOAL_SETTING, GOAL_LOAD)

    @property
    def met(self) -> bool:
        p99 = self.percentile(99)
        return self.finished and p99 is not None and p99 < GOAL_P99_MS


def _percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not values:
        return None
    rank = -(-len(values) * q // 100)  # ceil(n * q / 100)
    return values[min(len(values), max(1, int(rank))) - 1]


class Terminal:
    """A connection as the hub sees it (its `Peer`); a village terminal's only needs to exist
    and take its messages."""

    def __init__(self, run: Run, account: DemoAccount) -> None:
        self.connection_id = f"w_{account.identity.identity}"
        self.finished = asyncio.Event()
        self.account = account
        self._run = run
        self._sink: Sink = self._deliver

    def reply(self, message: ServerMessage) -> None:
        return None

    @property
    def sink(self) -> Sink:
        return self._sink

    async def close(self, code: int, reason: str) -> None:
        self.finished.set()

    def close_after_flush(self, code: int, reason: str) -> None:
        self.finished.set()

    async def _deliver(self, seq: int, text: str) -> None:
        self._run.result.messages += 1


class Desk(Terminal):
    """A professional's connection: times each offer as it arrives, then answers it like a
    person would, after a while."""

    def __init__(self, run: Run, account: DemoAccount) -> None:
        super().__init__(run, account)
        self.session: SessionRecord | None = None
        self.free_at = 0.0  # perf_counter() when they last became free

    async def _deliver(self, seq: int, text: str) -> None:
        await super()._deliver(seq, text)
        if OFFER_MARK in text:
            # Timed before anything else: this is the offer reaching the connection.
            self._run.offered(self, json.loads(text), time.perf_counter())


def _accounts(plan: Plan) -> tuple[list[DemoAccount], list[DemoAccount]]:
    villages = [
        DemoAccount(Identity(Role.VILLAGE, f"village-{i}", f"village-{i}"), f"t-village-{i}")
        for i in range(plan.requests)
    ]
    lawyers = [
        DemoAccount(Identity(Role.LAWYER, f"lawyer-{i}", f"lawyer-{i}"), f"t-lawyer-{i}")
        for i in range(plan.professionals)
    ]
    return villages, lawyers


class Run:
    """One setting: everyone signs in; the backlog arrives with no one on duty; the
    professionals come on duty and work through it; then requests arrive one at a time."""

    def __init__(self, setting: str, hub: Hub, plan: Plan, measure_seconds: float) -> None:
        self.setting = setting
        self.measure_seconds = measure_seconds
        self.hub = hub
        self.plan = plan
        self.result = Result(setting, plan.load)
        self.rng = random.Random(plan.seed)
        self.arrived: dict[str, float] = {}  # village name -> perf_counter() of its request
        self.ended = 0
        self.target = 0
        self.reached = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        self.errors: list[BaseException] = []

    def offered(self, desk: Desk, offer: dict[str, object], at: float) -> None:
        arrived = self.arrived[str(offer["village"])]
        trigger = "arrival" if arrived >= desk.free_at else "free"
        self.result.latencies.append(((at - max(arrived, desk.free_at)) * 1000, trigger))
        n = len(self.result.latencies)
        if n % PROGRESS_EVERY == 0:
            print(f"  {self.setting}: {n}/{self.plan.requests} offered", flush=True)
        # The desk answers later, on its own: never from inside the hub's delivery.
        task = asyncio.create_task(self._answer(desk, str(offer["consultation_id"])))
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            self.errors.append(exc)
            self.reached.set()

    async def _answer(self, desk: Desk, consultation_id: str) -> None:
        assert desk.session is not None
        # The person at the desk reads the offer, then talks: simulated time, not
        # synchronisation.
        await asyncio.sleep(self.rng.uniform(*self.plan.accept_after))
        await handle(self.hub, desk, desk.session, Accept(consultation_id=consultation_id))
        await asyncio.sleep(self.rng.uniform(*self.plan.call_length))
        # Free from the moment they hang up (wrap-up 0): the hang-up itself is in the latency.
        desk.free_at = time.perf_counter()
        await handle(self.hub, desk, desk.session, HangUp(consultation_id=consultation_id))
        self.ended += 1
        if self.ended >= self.target:
            self.reached.set()

    async def _until_ended(self, count: int) -> None:
        self.target = count
        if self.ended < count:
            self.reached.clear()
            await self.reached.wait()
        if self.errors:
            raise self.errors[0]

    async def _sign_in(self, peer: Desk | Terminal) -> SessionRecord:
        who = peer.account.identity
        return await self.hub.hello(
            peer, Hello(role=who.role, identity=who.identity, token=peer.account.token)
        )

    async def _request(self, terminal: Terminal, session: SessionRecord) -> None:
        request = RequestConsultation(
            topic=self.rng.choice(TOPICS), language=Language.ZH, priority=Priority.NORMAL
        )
        self.arrived[terminal.account.identity.display_name] = time.perf_counter()
        try:
            await handle(self.hub, terminal, session, request)
        except ProtocolError as exc:
            raise RuntimeError(f"request refused: {exc.message}") from exc

    async def go(self) -> Result:
        villages, lawyers = _accounts(self.plan)
        desks = [Desk(self, a) for a in lawyers]
        terminals = [Terminal(self, a) for a in villages]
        for desk in desks:
            desk.session = await self._sign_in(desk)
        sessions = [await self._sign_in(t) for t in terminals]
        print(f"  {self.setting}: {len(desks)} professionals, {len(terminals)} terminals in")
        loop = asyncio.get_running_loop()
        pairs = list(zip(terminals, sessions, strict=True))
        async with asyncio.timeout(SETUP_TIMEOUT):
            for i, (terminal, session) in enumerate(pairs[: self.plan.backlog], start=1):
                started = time.perf_counter()
                await self._request(terminal, session)
                self.result.enqueue_ms.append((time.perf_counter() - started) * 1000)
                if i % (PROGRESS_EVERY * 2) == 0:
                    print(f"  {self.setting}: {i}/{self.plan.backlog} waiting", flush=True)
        print(f"  {self.setting}: {self.plan.backlog} requests waiting", flush=True)
        started = time.perf_counter()
        try:
            async with asyncio.timeout_at(loop.time() + self.measure_seconds):
                for desk in desks:
                    assert desk.session is not None
                    desk.free_at = time.perf_counter()
                    await handle(self.hub, desk, desk.session, SetDuty(on_duty=True))
                await self._until_ended(self.plan.backlog)
                self.result.drain_seconds = time.perf_counter() - started
                print(f"  {self.setting}: backlog done; {self.plan.arrivals} arrive", flush=True)
                for terminal, session in pairs[self.plan.backlog :]:
                    # Paced arrivals (simulated time between villagers), to idle professionals.
                    await asyncio.sleep(self.plan.arrival_interval)
                    await self._request(terminal, session)
                await self._until_ended(self.plan.requests)
            self.result.finished = True
        except TimeoutError:
            self.result.stopped_after = time.perf_counter() - started
            print(f"  {self.setting}: stopped after {self.measure_seconds:.0f} s", flush=True)
        finally:
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        return self.result


# -- the backends ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """A redis-server of the benchmark's own on a free loopback port, nothing saved; stopped
    on the way out."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError("redis-server is not installed (scripts/install.sh --test)")
    port = _free_port()
    process = subprocess.Popen(
        [
            *(executable, "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(directory)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + REDIS_READY_TIMEOUT
        while True:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {port}") from None
                time.sleep(0.05)  # polling for readiness, bounded above
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.asynccontextmanager
async def backend(setting: str, directory: Path) -> AsyncIterator[tuple[SharedState, Journal]]:
    """The shared state (and record) of one setting, closed afterwards."""
    if setting == "redis":
        with redis_server(directory) as url:
            state = RedisState.from_url(url, prefix="bench:")
            try:
                yield state, NoJournal()
            finally:
                await state.close()
        return
    memory = MemoryState()
    if setting == "memory":
        yield memory, NoJournal()
        return
    db = await open_database("", directory / "data")
    try:
        yield memory, DbJournal(db)
    finally:
        await db.close()


async def measure(setting: str, plan: Plan, measure_seconds: float) -> Result:
    with tempfile.TemporaryDirectory(prefix="lawroom-bench-dispatch-") as tmp:
        async with backend(setting, Path(tmp)) as (state, journal):
            accounts = [*_accounts(plan)[0], *_accounts(plan)[1]]
            hub = Hub(
                state,
                SystemClock(),
                StaticDirectory(tuple(accounts)),
                # Nothing times out or escalates within a run; no wrap-up between calls.
                HubSettings(
                    grace_seconds=3600.0,
                    offer_timeout=3600.0,
                    wrap_up_seconds=0.0,
                    escalate_after=3600.0,
                ),
                message_permissions(),
                journal,
            )
            timers = asyncio.create_task(hub.timers.run())
            try:
                return await Run(setting, hub, plan, measure_seconds).go()
            finally:
                timers.cancel()
                await asyncio.gather(timers, return_exceptions=True)
                await hub.drain()


# -- the report -----------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def report(results: Sequence[Result], plan: Plan) -> None:
    ceiling = plan.professionals / (
        statistics.fmean(plan.accept_after) + statistics.fmean(plan.call_length)
    )
    print()
    print(
        f"Dispatch, {plan.load} load: {plan.backlog} requests waiting, then {plan.arrivals} "
        "arriving every "
        f"{plan.arrival_interval * 1000:g} ms; {plan.professionals} professionals accepting after "
        f"{plan.accept_after[0]:g}-{plan.accept_after[1]:g} s, calls "
        f"{plan.call_length[0]:g}-{plan.call_length[1]:g} s, wrap-up 0, seed {plan.seed}"
    )
    print("latency, ms: request arrives or professional becomes free -> offer sent")
    header = (
        f"{'setting':<14}{'offers':>7}{'p50':>8}{'p99':>8}{'max':>8}"
        f"{'p99 free':>10}{'p99 arrival':>13}{'offers/s':>10}{'enqueue p50/p99':>17}  goal"
    )
    print(header)
    for r in results:
        goal = ("met" if r.met else "NOT met") if r.judged else "(no goal)"
        if r.stopped_after is not None:
            unsent = plan.requests - len(r.latencies)
            goal += f", stopped after {r.stopped_after:.0f} s with {unsent} not yet offered"
        enqueue = f"{_ms(_percentile(sorted(r.enqueue_ms), 50))}/"
        enqueue += _ms(_percentile(sorted(r.enqueue_ms), 99))
        print(
            f"{r.setting:<14}{len(r.latencies):>7}{_ms(r.percentile(50)):>8}"
            f"{_ms(r.percentile(99)):>8}{_ms(r.percentile(100)):>8}"
            f"{_ms(r.percentile(99, 'free')):>10}{_ms(r.percentile(99, 'arrival')):>13}"
            f"{r.offers_per_second:>10.1f}{enqueue:>17}  {goal}"
        )
    print(
        f"goal: p99 under {GOAL_P99_MS:g} ms with Redis at the {GOAL_LOAD} load. offers/s: while "
        f"the backlog drains (the simulated professionals allow ~{ceiling:.0f}/s: below that, "
        "the backend's ceiling). enqueue: handling one request of the backlog, with no one on "
        "duty."
    )
    print(
        "The record (SQLite journal) is off in memory and redis: its writes are storage, the "
        "same behind either backend; memory+sqlite shows what they add."
    )
    if any(r.stopped_after is not None for r in results):
        print(
            "A stopped run's figures cover the offers made before it stopped: the requests "
            "still waiting would only add to them."
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.dispatch",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"Exits 1 if the Redis p99 is not under {GOAL_P99_MS:g} ms.",
    )
    p.add_argument("--backlog", type=int, default=1000, help="requests waiting (1000)")
    p.add_argument("--arrivals", type=int, default=100, help="then arriving one by one (100)")
    p.add_argument("--professionals", type=int, default=200, help="(200)")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument(
        "--max-seconds",
        type=float,
        default=MEASURE_SECONDS,
        help=f"stop a setting's measured part after this long ({MEASURE_SECONDS:g})",
    )
    p.add_argument(
        "--settings",
        default=",".join(SETTINGS),
        help=f"comma-separated, of {', '.join(SETTINGS)} (default: all)",
    )
    p.add_argument(
        "--loads",
        default=",".join(LOADS),
        help=f"comma-separated, of {', '.join(LOADS)} (default: both)",
    )
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    args = p.parse_args(argv)
    args.settings = [s for s in args.settings.split(",") if s]
    args.loads = [s for s in args.loads.split(",") if s]
    if not args.loads or set(args.loads) - set(LOADS):
        p.error(f"--loads: of {', '.join(LOADS)}")
    unknown = set(args.settings) - set(SETTINGS)
    if unknown or not args.settings:
        p.error(f"--settings: of {', '.join(SETTINGS)}")
    if args.backlog < 1 or args.arrivals < 0 or args.professionals < 1:
        p.error("--backlog and --professionals: at least 1; --arrivals: at least 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plans = [
        Plan(
            load=load,
            backlog=args.backlog,
            arrivals=args.arrivals,
            arrival_interval=interval,
            professionals=args.professionals,
            accept_after=accept_after,
            call_length=call_length,
            seed=args.seed,
        )
        for load, (accept_after, call_length, interval) in LOADS.items()
        if load in args.loads
    ]
    results: list[Result] = []
    for plan in plans:
        for setting in args.settings:
            print(f"dispatch: {setting}, {plan.load}", flush=True)
            # A collection now rather than a pause in the middle of the measured run.
            gc.collect()
            results.append(asyncio.run(measure(setting, plan, args.max_seconds)))
    for plan in plans:
        report([r for r in results if r.load == plan.load], plan)
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "plans": [asdict(plan) for plan in plans],
                    "goal_p99_ms": GOAL_P99_MS,
                    "results": [
                        {
                            "setting": r.setting,
                            "load": r.load,
                            "offers": len(r.latencies),
                            "finished": r.finished,
                            "stopped_after_s": r.stopped_after,
                            "p50_ms": r.percentile(50),
                            "p99_ms": r.percentile(99),
                            "p99_free_ms": r.percentile(99, "free"),
                            "p99_arrival_ms": r.percentile(99, "arrival"),
                            "offers_per_second": r.offers_per_second,
                            "enqueue_p99_ms": _percentile(sorted(r.enqueue_ms), 99),
                            "goal_met": r.met if r.judged else None,
                        }
                        for r in results
                    ],
                },
                indent=2,
            )
            + "\n"
        )
    return 0 if all(r.met for r in results if r.judged) else 1


if __name__ == "__main__":
    sys.exit(main())
