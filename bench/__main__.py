"""`python -m bench`: every benchmark with its default arguments."""

from __future__ import annotations

import sys

from bench import advisor_quality, call_setup, dispatch, recording, relay


def main() -> int:
    # A failed goal in any benchmark fails the whole run, so CI can gate on it.
    return max(
        [
            call_setup.main([]),
            recording.main([]),
            advisor_quality.main([]),
            relay.main([]),
            dispatch.main([]),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
