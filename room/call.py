"""The call state machine: one consultation from request to hang-up.

The states are `signaling.messages.CallState`; the table below is the whole machine. An illegal
move raises `IllegalTransition` and leaves the consultation as it was.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from types import MappingProxyType

from signaling.errors import ErrorCode, ProtocolError
from signaling.messages import CallState

log = logging.getLogger(__name__)


class Event(enum.StrEnum):
    OFFER = "offer"  # offered to a professional, who is ringing
    DECLINE = "decline"  # declined, unanswered, or the professional left while ringing
    ACCEPT = "accept"
    SDP_OFFER = "sdp_offer"
    SDP_ANSWER = "sdp_answer"
    HANG_UP = "hang_up"
    CANCEL = "cancel"  # the villager gave up waiting
    PEER_GONE = "peer_gone"  # a participant did not come back within the grace period
    # The professional did not come back within the grace period: the request goes back to
    # the front of the queue for the next one.
    REQUEUE = "requeue"


S, E = CallState, Event
TRANSITIONS: Mapping[CallState, Mapping[Event, CallState]] = MappingProxyType(
    {
        S.WAITING: {E.OFFER: S.RINGING, E.CANCEL: S.ENDED, E.PEER_GONE: S.ENDED},
        S.RINGING: {
            E.DECLINE: S.WAITING,
            E.ACCEPT: S.JOINED,
            E.CANCEL: S.ENDED,
            E.PEER_GONE: S.ENDED,
        },
        S.JOINED: {
            E.SDP_OFFER: S.NEGOTIATING,
            E.HANG_UP: S.ENDED,
            E.PEER_GONE: S.ENDED,
            E.REQUEUE: S.WAITING,
        },
        S.NEGOTIATING: {
            # A second offer before the answer: the offerer restarted (a reloaded page).
            E.SDP_OFFER: S.NEGOTIATING,
            E.SDP_ANSWER: S.CONNECTED,
            E.HANG_UP: S.ENDED,
            E.PEER_GONE: S.ENDED,
            E.REQUEUE: S.WAITING,
        },
        # A new offer in a connected call renegotiates (a page that resumed after a reload).
        S.CONNECTED: {
            E.SDP_OFFER: S.NEGOTIATING,
            E.HANG_UP: S.ENDED,
            E.PEER_GONE: S.ENDED,
            E.REQUEUE: S.WAITING,
        },
        S.ENDED: {},
    }
)
del S, E


class IllegalTransition(ProtocolError):
    """The peer asked for a move the call's state does not allow."""

    def __init__(self, state: CallState, event: Event) -> None:
        super().__init__(
            ErrorCode.INVALID_STATE,
            f'cannot "{event.value}" a consultation in state "{state.value}"',
        )
        self.state = state
        self.event = event


def next_state(state: CallState, event: Event) -> CallState:
    """The state after `event`, or IllegalTransition."""
    try:
        return TRANSITIONS[state][event]
    except KeyError:
        raise IllegalTransition(state, event) from None


def transition(consultation_id: str, state: CallState, event: Event) -> CallState:
    """`next_state`, logged as `old -> new` with the consultation id."""
    new = next_state(state, event)
    log.info("consultation=%s call %s -> %s on %s", consultation_id, state, new, event)
    return new
