"""`python -m village_client --server URL --topic labour [--camera N | --synthetic 1280x720]`"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from room.ice import use_host_addresses
from room.synthetic import SIDE_VILLAGE
from room.tracks import media_source, ws_url
from signaling.messages import Kind, Language
from signaling.topics import TOPIC_SLUGS
from village_client.terminal import request, start_village


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m village_client", description=__doc__)
    p.add_argument("--server", required=True, help="the Lawroom server, e.g. http://127.0.0.1:8080")
    p.add_argument("--topic", required=True, choices=TOPIC_SLUGS)
    p.add_argument("--language", default="zh", choices=[lang.value for lang in Language])
    p.add_argument(
        "--mediation", action="store_true", help="both parties are here: ask for a mediator"
    )
    p.add_argument("--identity", default="village-1")
    p.add_argument("--token", default="demo-village-1")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--camera", type=int, help="OpenCV camera index")
    source.add_argument("--synthetic", default="1280x720", help="synthetic video size")
    p.add_argument("--seconds", type=float, default=0, help="hang up after this long (0: stay)")
    p.add_argument(
        "--ice-host-address",
        action="append",
        default=[],
        help="offer only this host address (repeatable; 127.0.0.1 keeps media on loopback)",
    )
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    if args.ice_host_address:
        use_host_addresses(args.ice_host_address)
    tracks = media_source(SIDE_VILLAGE, camera=args.camera, synthetic=args.synthetic)
    village = await start_village(ws_url(args.server), args.identity, args.token, tracks)
    kind = Kind.MEDIATION if args.mediation else None
    await request(village, args.topic, Language(args.language), kind)
    print("等待律师接听…", flush=True)
    try:
        await village.joined.wait()
        print("已接通", flush=True)
        if args.seconds:
            try:
                await asyncio.wait_for(village.ended.wait(), args.seconds)
            except TimeoutError:
                await village.hang_up()
        await village.ended.wait()
        print("通话结束", flush=True)
    finally:
        await village.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    try:
        return asyncio.run(run(parse_args(argv)))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
