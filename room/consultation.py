"""The consultation record as shared state holds it: who, what, and where the call stands."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from room.call import Event, transition
from signaling.messages import CallState, Kind, Language, Priority, Role


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
    # The last `waiting` update sent, to send only changes and at most one a second.
    last_update: tuple[int, int, int, int | None] | None = None
    last_update_at: float = 0.0
    state: CallState = CallState.WAITING
    professional_session: str | None = None
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

    def members(self) -> tuple[str, ...]:
        """Session ids in the room (the professional only once accepted)."""
        if self.professional_session and self.state not in (CallState.WAITING,):
            return (self.village_session, self.professional_session)
        return (self.village_session,)

    def other(self, session_id: str) -> str | None:
        """The other participant's session, if there is one."""
        if session_id == self.village_session:
            return self.professional_session
        if session_id == self.professional_session:
            return self.village_session
        return None
