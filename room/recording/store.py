"""Where recordings live in the data directory, and what happens to them at start-up.

DATA_DIR/recording-signing-key.pem            the server's Ed25519 key (0600)
DATA_DIR/segment-log.json                     the stand-in database (JsonSegmentLog)
DATA_DIR/recordings/ID/manifest.jsonl         chained, signed manifest
DATA_DIR/recordings/ID/PARTICIPANT/seg-000001.webm
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import re
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from room.recording.manifest import MANIFEST, Manifest, VerifyReport, verify
from room.recording.segment_log import JsonSegmentLog, SegmentLog, SegmentRecord
from room.recording.segments import PARTIAL, FinishedSegment, close_interrupted
from room.recording.signing import load_or_create_key

log = logging.getLogger(__name__)

RECORDINGS: Final = "recordings"
SEGMENT_LOG: Final = "segment-log.json"
# Recording and participant ids become directory names: nothing that could climb out.
_SAFE_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_id(value: str, what: str) -> str:
    if not _SAFE_ID.match(value):
        raise ValueError(f"invalid {what} {value!r}: letters, digits, '.', '_', '-' only")
    return value


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def segment_record(
    recording_id: str, participant: str, directory: Path, segment: FinishedSegment
) -> SegmentRecord:
    return SegmentRecord(
        recording_id=recording_id,
        participant=participant,
        file=segment.path.relative_to(directory).as_posix(),
        sha256=segment.sha256,
        size=segment.size,
        status=segment.status,
        start_ms=segment.start_ms,
        end_ms=segment.end_ms,
        finished_at=utc_now(),
    )


class RecordingStore:
    """The data directory's recordings, its signing key and its segment log."""

    def __init__(self, data_dir: Path, key: Ed25519PrivateKey, segment_log: SegmentLog) -> None:
        self.data_dir = data_dir
        self.key = key
        self.log = segment_log

    @classmethod
    async def open(cls, data_dir: Path, segment_log: SegmentLog | None = None) -> RecordingStore:
        """Load (or create) the key, then close and mark what a crash left unfinished."""
        key = await asyncio.to_thread(load_or_create_key, data_dir)
        store = cls(data_dir, key, segment_log or JsonSegmentLog(data_dir / SEGMENT_LOG))
        await store.recover()
        return store

    def recording_dir(self, recording_id: str) -> Path:
        return self.data_dir / RECORDINGS / check_id(recording_id, "recording id")

    def manifest(self, recording_id: str) -> Manifest:
        return Manifest(self.recording_dir(recording_id), recording_id, self.key)

    async def add_segment(self, manifest: Manifest, record: SegmentRecord) -> None:
        """Database first, then the manifest; a crash between them is repaired by `recover`."""
        await self.log.add(record)
        await asyncio.to_thread(manifest.segment, record)

    async def recover(self) -> list[SegmentRecord]:
        """Close segments a crash left unfinished, list them as interrupted and end their
        recordings. Call at start-up, before any recording starts."""
        root = self.data_dir / RECORDINGS
        recovered: list[SegmentRecord] = []
        if not root.is_dir():
            return recovered
        for directory in sorted(p for p in root.iterdir() if p.is_dir()):
            recording_id = directory.name
            if not _SAFE_ID.match(recording_id) or not (directory / MANIFEST).exists():
                continue
            manifest = self.manifest(recording_id)
            if manifest.finished:
                continue
            recovered += await self._recover_recording(directory, recording_id, manifest)
            await asyncio.to_thread(manifest.end, "interrupted", utc_now())
            log.warning("recording %s was interrupted: closed on restart", recording_id)
        return recovered

    async def _recover_recording(
        self, directory: Path, recording_id: str, manifest: Manifest
    ) -> list[SegmentRecord]:
        report = await asyncio.to_thread(verify, directory, recording_id, self.key.public_key(), [])
        listed = {check.file for check in report.segments}
        in_db = {r.file: r for r in await self.log.segments(recording_id)}
        recovered = []
        paths = await asyncio.to_thread(lambda: sorted(directory.glob("*/seg-*")))
        for path in paths:
            participant = path.parent.name
            name = path.relative_to(directory).as_posix()
            # A `.partial` file, or one renamed as complete when the crash came before its
            # manifest line: either way unfinished business.
            if not path.name.endswith(PARTIAL) and name in listed:
                continue
            finished = await asyncio.to_thread(close_interrupted, path)
            record = segment_record(recording_id, participant, directory, finished)
            if record.file not in in_db:
                await self.log.add(record)
            await asyncio.to_thread(manifest.segment, record)
            recovered.append(record)
        return recovered

    async def verify(self, recording_id: str) -> VerifyReport:
        directory = self.recording_dir(recording_id)
        records = await self.log.segments(recording_id)
        return await asyncio.to_thread(
            verify, directory, recording_id, self.key.public_key(), records
        )
