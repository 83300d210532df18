"""Tamper evidence and durability: recordings made from pre-encoded media (real PyAV files,
no network), then altered, truncated, or cut short by killing the recording process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import sys
from pathlib import Path

import av
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from room.recording.cli import verify_main
from room.recording.feed import EncodedStream, encode_audio, encode_video, feed
from room.recording.manifest import MANIFEST
from room.recording.pipeline import RecordingOptions
from room.recording.recorder import Recorder
from room.recording.segment_log import JsonSegmentLog
from room.recording.signing import KEY_FILE, SigningKeyError, load_or_create_key
from room.recording.store import RecordingStore

RECORDING = "consultation-7"


@pytest.fixture(scope="module")
def media() -> list[EncodedStream]:
    # Keyframes every second: with 1 s segments the recording has several files.
    return [encode_video("VP8", 160, 120, 120, keyframe_every=30), encode_audio(200)]


async def record(data_dir: Path, media: list[EncodedStream], seconds: float = 3.0) -> Recorder:
    store = await RecordingStore.open(data_dir)
    recorder = Recorder(store, RECORDING, options=RecordingOptions(segment_seconds=1.0))
    await recorder.start()
    # Fed as the network would feed a participant's connection.
    pipeline = recorder.open_pipeline(
        "village-1", RecordingOptions(segment_seconds=1.0, sync_wait=0)
    )
    await feed(pipeline, media, seconds, realtime=False)
    await pipeline.close()
    await recorder.close()
    return recorder


async def cli(data_dir: Path, *args: str) -> int:
    """`lawroom recording verify` (it runs its own event loop: in a thread here)."""
    return await asyncio.to_thread(verify_main, [RECORDING, "--data-dir", str(data_dir), *args])


@pytest.mark.timeout(30)
async def test_intact_recording_verifies(tmp_path: Path, media: list[EncodedStream]) -> None:
    recorder = await record(tmp_path, media)
    assert len(recorder.segments) == 3
    report = await recorder.store.verify(RECORDING)
    assert report.ok and report.finished
    assert [c.file for c in report.segments] == [f"village-1/seg-00000{i}.webm" for i in (1, 2, 3)]
    lines = (recorder.directory / MANIFEST).read_text().splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["start"] + ["segment"] * 3 + ["end"]
    assert await cli(tmp_path) == 0
    # Every segment is a playable file on its own.
    for check in report.segments:
        with av.open(str(recorder.directory / check.file)) as container:
            assert len(list(container.decode(video=0))) == 30


@pytest.mark.timeout(30)
async def test_flipped_byte_names_the_segment(
    tmp_path: Path, media: list[EncodedStream], capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = await record(tmp_path, media)
    target = recorder.directory / "village-1/seg-000002.webm"
    data = bytearray(target.read_bytes())
    data[100] ^= 0x80
    target.write_bytes(bytes(data))
    report = await recorder.store.verify(RECORDING)
    assert [(p.code, p.file) for p in report.problems] == [
        ("segment_altered", "village-1/seg-000002.webm")
    ]
    assert [c.ok for c in report.segments] == [True, False, True]
    capsys.readouterr()
    assert await cli(tmp_path) == 1
    out = capsys.readouterr().out
    assert "FAILED village-1/seg-000002.webm" in out
    assert "segment_altered: village-1/seg-000002.webm" in out
    assert "FAILED village-1/seg-000001.webm" not in out


@pytest.mark.timeout(30)
async def test_deleted_segment_is_named_missing(tmp_path: Path, media: list[EncodedStream]) -> None:
    recorder = await record(tmp_path, media)
    (recorder.directory / "village-1/seg-000003.webm").unlink()
    report = await recorder.store.verify(RECORDING)
    assert [(p.code, p.file) for p in report.problems] == [
        ("segment_missing", "village-1/seg-000003.webm")
    ]


@pytest.mark.timeout(30)
async def test_manifest_tampering_is_detected(tmp_path: Path, media: list[EncodedStream]) -> None:
    recorder = await record(tmp_path, media)
    path = recorder.directory / MANIFEST
    original = path.read_text()
    lines = original.splitlines()

    # A segment swapped for another file, its manifest line edited to match.
    entry = json.loads(lines[2])
    entry["sha256"] = "0" * 64
    path.write_text("\n".join([*lines[:2], json.dumps(entry), *lines[3:]]) + "\n")
    report = await recorder.store.verify(RECORDING)
    codes = {(p.code, p.file) for p in report.problems}
    assert ("manifest_entry_altered", "village-1/seg-000002.webm") in codes

    # The same with the line's hash recomputed: only the signature can tell.
    from room.recording.manifest import entry_hash

    body = {k: v for k, v in entry.items() if k not in ("hash", "sig")}
    entry["hash"] = entry_hash(body)
    path.write_text("\n".join([*lines[:2], json.dumps(entry), *lines[3:]]) + "\n")
    report = await recorder.store.verify(RECORDING)
    codes = {(p.code, p.file) for p in report.problems}
    assert ("signature_invalid", "village-1/seg-000002.webm") in codes
    assert ("database_mismatch", "village-1/seg-000002.webm") in codes

    # Re-signed with another key: the server's key does not accept it.
    other = Ed25519PrivateKey.generate()
    entry["sig"] = other.sign(bytes.fromhex(entry["hash"])).hex()
    path.write_text("\n".join([*lines[:2], json.dumps(entry), *lines[3:]]) + "\n")
    report = await recorder.store.verify(RECORDING)
    assert ("signature_invalid", "village-1/seg-000002.webm") in {
        (p.code, p.file) for p in report.problems
    }

    # A line removed from the middle breaks the chain; the tail removed, the database tells.
    path.write_text("\n".join([*lines[:2], *lines[3:]]) + "\n")
    report = await recorder.store.verify(RECORDING)
    assert "chain_broken" in {p.code for p in report.problems}
    path.write_text("\n".join(lines[:3]) + "\n")
    report = await recorder.store.verify(RECORDING)
    assert not report.finished
    assert {(p.code, p.file) for p in report.problems} >= {
        ("not_in_manifest", "village-1/seg-000003.webm"),
        ("segment_unlisted", "village-1/seg-000003.webm"),
    }


@pytest.mark.timeout(30)
async def test_signing_key_is_private_and_kept(tmp_path: Path) -> None:
    key = await asyncio.to_thread(load_or_create_key, tmp_path)
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = await asyncio.to_thread(load_or_create_key, tmp_path)
    message = b"segment"
    again.public_key().verify(key.sign(message), message)
    path.chmod(0o644)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        load_or_create_key(tmp_path)


# -- a crash in the middle of a segment -----------------------------------------------------

_CHILD = """
import asyncio, sys
from pathlib import Path
from room.recording.feed import encode_audio, encode_video, feed
from room.recording.pipeline import RecordingOptions
from room.recording.recorder import Recorder
from room.recording.store import RecordingStore

async def main() -> None:
    store = await RecordingStore.open(Path(sys.argv[1]))
    recorder = Recorder(store, "consultation-7", options=RecordingOptions(segment_seconds=1.0))
    await recorder.start()
    pipeline = recorder.open_pipeline(
        "village-1", RecordingOptions(segment_seconds=1.0, sync_wait=0)
    )
    media = [encode_video("VP8", 160, 120, 60, keyframe_every=30), encode_audio(100)]
    print("recording", flush=True)
    await feed(pipeline, media, 60.0, realtime=True)

asyncio.run(main())
"""


@pytest.mark.timeout(60)
async def test_segment_cut_short_by_a_crash_is_closed_and_marked(tmp_path: Path) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, str(tmp_path), cwd=Path(__file__).parents[2]
    )
    try:
        log = JsonSegmentLog(tmp_path / "segment-log.json")
        partial = tmp_path / "recordings" / RECORDING / "village-1" / "seg-000003.webm.partial"

        def ready() -> bool:
            # Two segments finished and recorded, the third half written.
            done = log.segments_sync(RECORDING) if log.path.exists() else []
            return len(done) >= 2 and partial.exists() and partial.stat().st_size > 2000

        async with asyncio.timeout(40):
            while not ready():  # noqa: ASYNC110 - another process: no event to wait on
                await asyncio.sleep(0.05)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        await child.wait()

    store = await RecordingStore.open(tmp_path)  # the restart
    assert not partial.exists()
    recovered = [r for r in await store.log.segments(RECORDING) if r.status == "interrupted"]
    assert [r.file for r in recovered] == ["village-1/seg-000003.webm"]
    report = await store.verify(RECORDING)
    assert report.ok and report.finished, report.problems
    assert [c.status for c in report.segments][-1] == "interrupted"
    ends = [json.loads(line) for line in (store.recording_dir(RECORDING) / MANIFEST).open()]
    assert ends[-1]["type"] == "end" and ends[-1]["reason"] == "interrupted"
    # What was written before the crash still plays.
    with av.open(str(store.recording_dir(RECORDING) / recovered[0].file)) as container:
        assert len(list(container.decode(video=0))) > 0
    # A second restart has nothing left to do.
    assert await (await RecordingStore.open(tmp_path)).recover() == []
