"""Recording consultations as part of the case record: every participant's audio and video
kept as received (no decoding), in fsynced WebM/Matroska segments whose SHA-256 hashes go to
the segment log and to a hash-chained manifest signed with the server's Ed25519 key.

`Recorder` (recorder.py) is the entry point; `RecordingStore` (store.py) owns the data
directory; `verify_main` (cli.py) is `lawroom recording verify ID`.
"""
