"""Every message type with random fields, from signed-in and anonymous connections: a clear
error each time, no crash, nothing changed, the connection still usable."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from signaling import messages as m
from signaling.errors import ErrorCode, ProtocolError
from tests.conftest import RunningServer
from tests.wire import Wire, snapshot


def field_names(kind: str) -> list[str]:
    schema = m.CLIENT_ADAPTER.json_schema()
    ref = schema["discriminator"]["mapping"][kind].rsplit("/", 1)[-1]
    return sorted(schema["$defs"][ref]["properties"])


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def client_messages(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(m.CLIENT_TYPES)))
    names = [n for n in field_names(kind) if n != "type"]
    chosen = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    message: dict[str, Any] = {"type": kind}
    for name in chosen:
        message[name] = draw(json_values)
    if draw(st.booleans()):
        message[draw(st.text(min_size=1, max_size=8))] = draw(json_values)
    return message


def is_valid(message: dict[str, Any]) -> bool:
    try:
        m.parse_client(json.dumps(message))
    except ProtocolError:
        return False
    return True


@pytest.fixture
async def fuzzed(start_server: Callable[..., Any]) -> RunningServer:
    # A flood is not what is tested here: no rate limit to hit.
    server: RunningServer = await start_server(rate_burst=10**6)
    return server


@pytest.mark.timeout(180)
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(message=client_messages(), who=st.sampled_from([None, "village-1", "lawyer-1"]))
async def test_random_messages_are_refused_cleanly(
    fuzzed: RunningServer, message: dict[str, Any], who: str | None
) -> None:
    lawroom = fuzzed
    assume(not is_valid(message))
    # One connection per identity for the whole run: closing one per example would change the
    # state (a disconnected session) while the next example looks.
    wires: dict[str | None, Wire] = lawroom.__dict__.setdefault("fuzz_wires", {})
    if who not in wires:
        wires[who] = await (Wire.signed_in(lawroom, who) if who else Wire.open(lawroom))
    wire = wires[who]
    before = await snapshot(lawroom)
    await wire.send(message)
    reply = await wire.next()
    assert reply["type"] == "error", reply
    assert reply["code"] in {c.value for c in ErrorCode}
    assert reply["code"] != "internal_error", reply
    assert reply["message"]
    assert await snapshot(lawroom) == before
    assert (await wire.ask({"type": "ping", "id": 1}))["type"] == "pong"
