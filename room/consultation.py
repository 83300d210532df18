"""The consultation record as shared state holds it: who, what, and where the call stands."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict

from room.call import Event, transition
from signaling.messages import CallState, Kind, Language, Priority, Role

# What a request forgets of its professional when it goes back to waiting.
NO_PROFESSIONAL: Mapping[str, object] = MappingProxyType(
    {
        "professional_session": None,
        "also_ringing": (),
        "professional_identity": None,
        "professional_role": None,
        "professional_name": None,
    }
)


class Consultation(BaseModel):
    """Created when a terminal asks; everything later (offers, room, record) hangs from its id."""

    model_config = ConfigDict(frozen=True)

    consultation_id: str
    village_session: str
    village_identity: str
    village_name: str
    topic: str
    language: Language
    kind: Kind
    requested_at: float
    priority: Priority = Priority.NORMAL
    # Widened to professionals of any language (an interpreter is needed).
    any_language: bool = False
    # Arrival number (shared by all instances): orders requests of the same instant.
    sequence: int = 0
    # Left as a callback: no terminal session waits with it (`village_session` is empty until
    # the ring-back finds the terminal); how many ring-backs found it away.
    callback: bool = False
    callback_phone: str | None = None
    callback_tries: int = 0
    # Off the queue until then: its terminal was away at the last ring-back.
    ring_back_at: float | None = None
    # Put back at the front of the queue after its professional dropped out of the call.
    front: bool = False
    state: CallState = CallState.WAITING
    # While ringing: the person's first desk; once accepted, the desk that answered.
    professional_session: str | None = None
    # The person's other desks (tabs, devices) ringing too: the first to accept wins.
    also_ringing: tuple[str, ...] = ()
    professional_identity: str | None = None
    professional_role: Role | None = None
    professional_name: str | None = None
    answered_at: float | None = None
    # Identities that declined or let the offer lapse: not offered this request again.
    passed_by: tuple[str, ...] = ()

    def moved(self, event: Event, **changes: object) -> Consultation:
        """A copy in the state after `event` (IllegalTransition if not allowed)."""
        state = transition(self.consultation_id, self.state, event)
        return self.model_copy(update={"state": state, **changes})

    def ringing_desks(self) -> tuple[str, ...]:
        """The sessions this request rings at (none unless ringing)."""
        if self.state is not CallState.RINGING or self.professional_session is None:
            return ()
        return (self.professional_session, *self.also_ringing)

    def members(self) -> tuple[str, ...]:
        """Session ids in the room (the professional only once accepted); none for the terminal
        of a callback not yet rung back."""
        village = (self.village_session,) if self.village_session else ()
        if self.professional_session and self.state not in (CallState.WAITING,):
            return (*village, self.professional_session)
        return village

    def other(self, session_id: str) -> str | None:
        """The other participant's session, if there is one."""
        if session_id == self.village_session:
            return self.professional_session
        if session_id == self.professional_session:
            return self.village_session
        return None
