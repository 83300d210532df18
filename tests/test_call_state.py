"""The call state machine: whole sequences, and every illegal move refused without change."""

from __future__ import annotations

import pytest

from room.call import TRANSITIONS, Event, IllegalTransition, next_state
from room.consultation import Consultation
from signaling.messages import CallState, Kind, Language

S, E = CallState, Event


def run(events: list[Event]) -> list[CallState]:
    state, seen = S.WAITING, [S.WAITING]
    for event in events:
        state = next_state(state, event)
        seen.append(state)
    return seen


def test_a_whole_call() -> None:
    assert run([E.OFFER, E.ACCEPT, E.SDP_OFFER, E.SDP_ANSWER, E.HANG_UP]) == [
        S.WAITING,
        S.RINGING,
        S.JOINED,
        S.NEGOTIATING,
        S.CONNECTED,
        S.ENDED,
    ]


def test_declined_then_taken_by_the_next() -> None:
    assert run([E.OFFER, E.DECLINE, E.OFFER, E.ACCEPT]) == [
        S.WAITING,
        S.RINGING,
        S.WAITING,
        S.RINGING,
        S.JOINED,
    ]


def test_renegotiation_after_a_reload() -> None:
    assert run([E.OFFER, E.ACCEPT, E.SDP_OFFER, E.SDP_ANSWER, E.SDP_OFFER, E.SDP_ANSWER])[-2:] == [
        S.NEGOTIATING,
        S.CONNECTED,
    ]


def test_abandoned_while_waiting_and_gone_mid_call() -> None:
    assert run([E.PEER_GONE]) == [S.WAITING, S.ENDED]
    assert run([E.OFFER, E.ACCEPT, E.SDP_OFFER, E.PEER_GONE])[-1] is S.ENDED


ILLEGAL = [
    (state, event) for state in CallState for event in Event if event not in TRANSITIONS[state]
]


@pytest.mark.parametrize(("state", "event"), ILLEGAL, ids=lambda v: str(v))
def test_every_illegal_move_raises_and_changes_nothing(state: CallState, event: Event) -> None:
    c = Consultation(
        consultation_id="c_1",
        village_session="s_v",
        village_identity="v",
        village_name="村",
        topic="labour",
        language=Language.ZH,
        kind=Kind.CONSULTATION,
        requested_at=0.0,
        state=state,
    )
    with pytest.raises(IllegalTransition) as info:
        c.moved(event)
    assert c.state is state
    assert info.value.code == "invalid_state"


def test_ended_is_final() -> None:
    assert TRANSITIONS[S.ENDED] == {}
    assert len(ILLEGAL) > 30
