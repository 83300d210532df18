"""Call setup time: the lawyer's accept to the first remote video frame at both ends, through
Lawroom and with the same two aiortc peers connected directly; the goal is at most 1.5x direct."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from aiohttp import web

from lawyer_client.desk import start_desk
from room.ice import use_host_addresses
from room.participant import Participant
from room.peer import MediaPeer
from room.synthetic import SIDE_LAWYER, SIDE_VILLAGE, parse_size
from room.tracks import media_source
from server.demo import start_server
from signaling.messages import SetDuty
from village_client.terminal import request, start_village

GOAL_RATIO = 1.5
RUN_TIMEOUT = 30.0
# The demo accounts; every run signs in afresh with them.
LAWYER = ("lawyer-1", "demo-lawyer-1")
VILLAGE = ("village-1", "demo-village-1")


@dataclass(frozen=True, slots=True)
class Run:
    """One call's setup, in milliseconds from the accept. `offerer` is the village's end (it
    makes the offer in Lawroom), `answerer` the lawyer's; `both` is the later of the two."""

    offerer_ms: float
    answerer_ms: float
    # Intermediate marks, for finding where the time goes (None if not recorded).
    offerer_connected_ms: float | None = None
    answerer_connected_ms: float | None = None
    paired_ms: float | None = None

    @property
    def both_ms(self) -> float:
        return max(self.offerer_ms, self.answerer_ms)

    def as_json(self) -> dict[str, float | None]:
        return {**asdict(self), "both_ms": self.both_ms}


def _ms(at: float | None, since: float) -> float | None:
    return None if at is None else (at - since) * 1000


def _first_video_at(peer: MediaPeer | None) -> float:
    assert peer is not None and peer.received.first_video_at is not None
    return peer.received.first_video_at


async def _when(event: asyncio.Event) -> float:
    await event.wait()
    return time.monotonic()


async def _wait_duty(desk: Participant, on_duty: bool) -> None:
    # Participant keeps only a flag for duty_state, no event, and owns the inbox: poll the flag.
    while desk.on_duty is not on_duty:  # noqa: ASYNC110
        await asyncio.sleep(0.002)


async def lawroom_run(url: str, size: str) -> Run:
    """One consultation through the server: request, auto-accept, both first frames, hang up."""
    desk = await start_desk(url, *LAWYER, media_source(SIDE_LAWYER, synthetic=size))
    village = await start_village(url, *VILLAGE, media_source(SIDE_VILLAGE, synthetic=size))
    try:
        async with asyncio.timeout(RUN_TIMEOUT):
            # On duty before the request, so every run is offered at once rather than
            # sometimes waiting in the queue first (the wait is before the accept anyway).
            await _wait_duty(desk, True)
            await request(village, "labour")
            await village.joined.wait()
            await desk.joined.wait()
            assert village.peer is not None and desk.peer is not None
            await village.peer.received.first_video.wait()
            await desk.peer.received.first_video.wait()
            accepted = desk.timeline["accepted"]
            run = Run(
                offerer_ms=(_first_video_at(village.peer) - accepted) * 1000,
                answerer_ms=(_first_video_at(desk.peer) - accepted) * 1000,
                offerer_connected_ms=_ms(village.timeline.get("connected"), accepted),
                answerer_connected_ms=_ms(desk.timeline.get("connected"), accepted),
                paired_ms=_ms(village.timeline.get("paired"), accepted),
            )
            await village.hang_up()
            await desk.ended.wait()
            await village.ended.wait()
            # Off duty before leaving: a closed socket is noticed by the server a little later,
            # and until then it could offer the next run's request to this stale session.
            await desk.client.send(SetDuty(on_duty=False))
            await _wait_duty(desk, False)
        return run
    finally:
        await village.close()
        await desk.close()


async def direct_run(size: str) -> Run:
    """The same peers and tracks, the offer and answer handed over in-process: no server."""
    # The clock starts before the peers and tracks are built, because in Lawroom they are
    # built after the accept too (on room_joined).
    start = time.monotonic()
    offerer = MediaPeer([], media_source(SIDE_VILLAGE, synthetic=size)())
    answerer = MediaPeer([], media_source(SIDE_LAWYER, synthetic=size)())
    try:
        async with asyncio.timeout(RUN_TIMEOUT):
            offer = await offerer.create_offer()
            answer = await answerer.accept_offer(offer)
            await offerer.accept_answer(answer)
            # Both ends at once, so neither mark waits behind the other.
            connected_offerer, connected_answerer = await asyncio.gather(
                _when(offerer.connected), _when(answerer.connected)
            )
            await offerer.received.first_video.wait()
            await answerer.received.first_video.wait()
        return Run(
            offerer_ms=(_first_video_at(offerer) - start) * 1000,
            answerer_ms=(_first_video_at(answerer) - start) * 1000,
            # Seen by a waiting task, so up to a loop turn late: a guide, not a figure.
            offerer_connected_ms=(connected_offerer - start) * 1000,
            answerer_connected_ms=(connected_answerer - start) * 1000,
        )
    finally:
        await offerer.close()
        await answerer.close()


def _line(kind: str, label: str, run: Run) -> str:
    return (
        f"{label:>7} {kind:<7}  village {run.offerer_ms:7.1f} ms  lawyer {run.answerer_ms:7.1f} ms"
        f"  both {run.both_ms:7.1f} ms"
    )


async def measure(runs: int, size: str) -> tuple[list[Run], list[Run]]:
    """Warm up once each, then alternate Lawroom and direct runs."""
    # aioice never offers loopback on its own; this keeps all media on 127.0.0.1.
    use_host_addresses(["127.0.0.1"])
    runner: web.AppRunner
    runner, url = await start_server()
    lawroom: list[Run] = []
    direct: list[Run] = []
    try:
        # Uncounted: the first call pays for imports, codec set-up and the server's first
        # requests, which would otherwise land on whichever side runs first.
        print(_line("lawroom", "warm-up", await lawroom_run(url, size)), flush=True)
        print(_line("direct", "warm-up", await direct_run(size)), flush=True)
        for i in range(1, runs + 1):
            # Interleaved, so a drift in machine load weighs on both sides alike. A full
            # collection before each run: otherwise a ~40 ms gen-2 pause lands inside the
            # same run every time (allocations are deterministic), always a Lawroom one.
            gc.collect()
            lawroom.append(await lawroom_run(url, size))
            print(_line("lawroom", f"{i}/{runs}", lawroom[-1]), flush=True)
            gc.collect()
            direct.append(await direct_run(size))
            print(_line("direct", f"{i}/{runs}", direct[-1]), flush=True)
    finally:
        await runner.cleanup()
    return lawroom, direct


@dataclass(frozen=True, slots=True)
class Summary:
    lawroom_ms: float
    direct_ms: float

    @property
    def ratio(self) -> float:
        return self.lawroom_ms / self.direct_ms

    @property
    def met(self) -> bool:
        return self.ratio <= GOAL_RATIO


def summarize(lawroom: Sequence[Run], direct: Sequence[Run]) -> Summary:
    return Summary(
        statistics.median(r.both_ms for r in lawroom),
        statistics.median(r.both_ms for r in direct),
    )


def report(lawroom: Sequence[Run], direct: Sequence[Run], summary: Summary) -> None:
    print()
    print("Accept to first remote video frame, ms (village = offerer, lawyer = answerer)")
    print(f"{'run':>6} | {'Lawroom':^26} | {'direct':^26}")
    print(
        f"{'':>6} | {'village':>8}{'lawyer':>9}{'both':>9} | {'village':>8}{'lawyer':>9}{'both':>9}"
    )
    for i, (lr, dr) in enumerate(zip(lawroom, direct, strict=True), start=1):
        print(
            f"{i:>6} | {lr.offerer_ms:8.1f}{lr.answerer_ms:9.1f}{lr.both_ms:9.1f}"
            f" | {dr.offerer_ms:8.1f}{dr.answerer_ms:9.1f}{dr.both_ms:9.1f}"
        )

    def med(runs: Sequence[Run], attr: str) -> float:
        return statistics.median(float(getattr(r, attr)) for r in runs)

    print(
        f"{'median':>6} | {med(lawroom, 'offerer_ms'):8.1f}{med(lawroom, 'answerer_ms'):9.1f}"
        f"{summary.lawroom_ms:9.1f} | {med(direct, 'offerer_ms'):8.1f}"
        f"{med(direct, 'answerer_ms'):9.1f}{summary.direct_ms:9.1f}"
    )
    print()
    print(
        f"both ends: Lawroom {summary.lawroom_ms:.1f} ms, direct {summary.direct_ms:.1f} ms, "
        f"ratio {summary.ratio:.2f}x"
    )
    verdict = "met" if summary.met else "NOT met"
    print(f"goal: at most {GOAL_RATIO}x direct -- {verdict}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.call_setup",
        description=__doc__,
        epilog=f"Exits 1 if the median ratio is above {GOAL_RATIO}x.",
    )
    p.add_argument("--runs", type=int, default=7, help="counted runs of each (at least 5)")
    p.add_argument("--size", default="640x480", help="synthetic video size (default 640x480)")
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    args = p.parse_args(argv)
    if args.runs < 5:
        p.error("--runs: the issue asks for a median of at least 5 runs")
    try:
        parse_size(args.size)
    except ValueError as exc:
        p.error(f"--size: {exc}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"call setup: {args.runs} runs each, synthetic video {args.size}", flush=True)
    lawroom, direct = asyncio.run(measure(args.runs, args.size))
    summary = summarize(lawroom, direct)
    report(lawroom, direct, summary)
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "size": args.size,
                    "runs": args.runs,
                    "lawroom": [r.as_json() for r in lawroom],
                    "direct": [r.as_json() for r in direct],
                    "median_lawroom_ms": summary.lawroom_ms,
                    "median_direct_ms": summary.direct_ms,
                    "ratio": summary.ratio,
                    "goal_ratio": GOAL_RATIO,
                    "goal_met": summary.met,
                },
                indent=2,
            )
            + "\n"
        )
    return 0 if summary.met else 1


if __name__ == "__main__":
    sys.exit(main())
