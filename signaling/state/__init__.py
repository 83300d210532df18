"""State shared between server instances, behind one interface (`SharedState`)."""

from signaling.state.base import SessionRecord, SharedState, Sink
from signaling.state.memory import MemoryState

__all__ = ["MemoryState", "SessionRecord", "SharedState", "Sink"]
