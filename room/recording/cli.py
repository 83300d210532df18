"""`lawroom recording verify ID`: check a recording's segments against its signed manifest and
the segment log, naming each segment that was altered, is missing or is unlisted."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from room.recording.manifest import VerifyReport, verify
from room.recording.segment_log import JsonSegmentLog, SegmentLog
from room.recording.signing import SigningKeyError, load_public_key
from room.recording.store import RECORDINGS, SEGMENT_LOG, check_id

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


def verify_main(argv: Sequence[str] | None = None, segment_log: SegmentLog | None = None) -> int:
    """Arguments: ID [--data-dir DIR] [--json]. Exit 0: intact; 1: problems; 2: cannot check."""
    parser = argparse.ArgumentParser(
        prog="lawroom recording verify",
        description="Check a recording's files against its signed manifest and the database.",
    )
    parser.add_argument("recording_id", metavar="ID")
    parser.add_argument("--data-dir", type=Path, default=Path("lawroom-data"))
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        recording_id = check_id(args.recording_id, "recording id")
        public_key = load_public_key(args.data_dir)
    except (ValueError, OSError, SigningKeyError) as exc:
        print(f"lawroom recording verify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    directory = args.data_dir / RECORDINGS / recording_id
    if not directory.is_dir():
        print(f"lawroom recording verify: no recording {recording_id} in {args.data_dir}")
        return EXIT_USAGE
    log = segment_log or JsonSegmentLog(args.data_dir / SEGMENT_LOG)
    records = asyncio.run(log.segments(recording_id))
    report = verify(directory, recording_id, public_key, records)
    print(json.dumps(asdict(report), indent=1) if args.json else render(report))
    return EXIT_OK if report.ok else EXIT_PROBLEMS


def render(report: VerifyReport) -> str:
    lines = [f"recording {report.recording_id}"]
    bad = {p.file for p in report.problems if p.file is not None}
    for check in report.segments:
        mark = "ok" if check.ok and check.file not in bad else "FAILED"
        note = " (interrupted, closed on restart)" if check.status == "interrupted" else ""
        lines.append(f"  {mark:6} {check.file}{note}")
    for problem in report.problems:
        lines.append(f"  {problem}")
    if not report.finished:
        lines.append("  note: the manifest has no end line (still recording, or not recovered)")
    verdict = "intact" if report.ok else f"{len(report.problems)} problem(s)"
    lines.append(f"{len(report.segments)} segment(s): {verdict}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(verify_main())
