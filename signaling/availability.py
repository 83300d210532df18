"""A professional's availability: one state machine, as a contact centre keeps it.

offline → available → reserved (ringing) → in_call → wrap_up → available, and break. An illegal
move raises `IllegalAvailability` and changes nothing.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from types import MappingProxyType

from signaling.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)


class Availability(enum.StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    RESERVED = "reserved"
    IN_CALL = "in_call"
    WRAP_UP = "wrap_up"
    BREAK = "break"


class AvailabilityEvent(enum.StrEnum):
    ON_DUTY = "on_duty"
    OFF_DUTY = "off_duty"
    RESERVE = "reserve"  # a request rings them
    RELEASE = "release"  # declined, or the request went away while ringing
    MISS = "miss"  # let an offer time out: paused until they come back (Asterisk's autopause)
    ACCEPT = "accept"
    END_CALL = "end_call"
    WRAP_UP_DONE = "wrap_up_done"  # note submitted, or the wrap-up time ran out
    TAKE_BREAK = "take_break"
    BACK = "back"


A, V = Availability, AvailabilityEvent
AVAILABILITY_TRANSITIONS: Mapping[Availability, Mapping[AvailabilityEvent, Availability]] = (
    MappingProxyType(
        {
            A.OFFLINE: {V.ON_DUTY: A.AVAILABLE},
            A.AVAILABLE: {
                V.RESERVE: A.RESERVED,
                V.TAKE_BREAK: A.BREAK,
                V.OFF_DUTY: A.OFFLINE,
            },
            A.RESERVED: {
                V.ACCEPT: A.IN_CALL,
                V.RELEASE: A.AVAILABLE,
                V.MISS: A.BREAK,
                V.OFF_DUTY: A.OFFLINE,
            },
            A.IN_CALL: {V.END_CALL: A.WRAP_UP},
            A.WRAP_UP: {V.WRAP_UP_DONE: A.AVAILABLE, V.OFF_DUTY: A.OFFLINE},
            A.BREAK: {V.BACK: A.AVAILABLE, V.OFF_DUTY: A.OFFLINE},
        }
    )
)
del A, V


class IllegalAvailability(ProtocolError):
    def __init__(self, state: Availability, event: AvailabilityEvent) -> None:
        super().__init__(ErrorCode.INVALID_STATE, f'cannot "{event.value}" while "{state.value}"')
        self.state = state
        self.event = event


def next_availability(state: Availability, event: AvailabilityEvent) -> Availability:
    try:
        return AVAILABILITY_TRANSITIONS[state][event]
    except KeyError:
        raise IllegalAvailability(state, event) from None


def move_availability(who: str, state: Availability, event: AvailabilityEvent) -> Availability:
    """`next_availability`, logged as `old -> new`."""
    new = next_availability(state, event)
    log.info("professional=%s availability %s -> %s on %s", who, state, new, event)
    return new
