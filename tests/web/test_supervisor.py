"""The bureau's pages: the consultation list's filters (injection attempts included), one
record's timeline (an audited read, times in Beijing time, everything escaped), accounts and
terminals (added, enrolled, disabled and revoked, with live connections closed at once)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from server.db import accounts, audit, records
from server.db.models import AuditAction, Outcome
from signaling.messages import EndReason, Kind, Language, Role
from tests.conftest import RunningServer
from tests.web.conftest import MakeClient, WebClient, db_of, in_call
from tests.wire import Wire

ROW = re.compile(r'<tr data-consultation-id="([^"]+)"')
INJECTION = "' OR 1=1 --"

# (id, village, topic, professional, outcome, terminal, requested at in UTC)
SEEDED = [
    ("c1", "巴彦村", "labour", "lawyer-1", Outcome.ADVICE_GIVEN, "village-1", "2026-03-01T15:30"),
    ("c2", "50%村", "land", "mediator-1", None, "village-2", "2026-03-01T16:30"),
    ("c3", "a_b村", "labour", "lawyer-2", Outcome.ADVICE_GIVEN, "village-1", "2026-03-02T02:00"),
    (
        "c4",
        "O'Brien村",
        "traffic",
        "lawyer-1",
        Outcome.REFERRED_COURT,
        "village-2",
        "2026-03-03T09:00",
    ),
    ("c5", 'Quote"村', "labour", None, None, "village-1", "2026-03-04T09:00"),
    (
        "c6",
        "ᠮᠣᠩᠭᠣᠯ村",
        "neighbour",
        "mediator-1",
        Outcome.MEDIATION_AGREEMENT,
        "village-2",
        "2026-03-05T09:00",
    ),
    ("c7", "<script>alert(1)</script>村", "other", None, None, "village-1", "2026-03-06T09:00"),
]
ALL = {row[0] for row in SEEDED}


async def _seed(server: RunningServer) -> None:
    db = db_of(server)
    for cid, village, topic, professional, outcome, terminal, at in SEEDED:
        requested = datetime.fromisoformat(at).replace(tzinfo=UTC)
        await records.create_consultation(
            db,
            consultation_id=cid,
            terminal_identity=terminal,
            village=village,
            topic=topic,
            language=Language.ZH,
            kind=Kind.CONSULTATION,
            requested_at=requested,
        )
        if professional is not None:
            role = Role.MEDIATOR if professional.startswith("mediator") else Role.LAWYER
            await records.mark_answered(
                db,
                cid,
                professional_identity=professional,
                professional_role=role,
                professional_name=professional.upper(),
                at=requested + timedelta(seconds=45),
            )
            await records.mark_ended(
                db, cid, reason=EndReason.HANG_UP, at=requested + timedelta(minutes=3, seconds=50)
            )
        if outcome is not None:
            await records.set_outcome(db, cid, outcome, by=professional or "", at=requested)


async def _supervisor(server: RunningServer, web: MakeClient) -> WebClient:
    client = web(server)
    assert (await client.sign_in("supervisor")).status == 303
    return client


async def _ids(client: WebClient, **query: str) -> set[str]:
    reply = await client.get("/supervisor/consultations?" + urlencode(query))
    assert reply.status == 200
    return set(ROW.findall(reply.text))


CASES: list[tuple[dict[str, str], set[str]]] = [
    ({}, ALL),
    ({"village": "%"}, {"c2"}),
    ({"village": "_"}, {"c3"}),
    ({"village": "'"}, {"c4"}),
    ({"village": '"'}, {"c5"}),
    ({"village": "ᠮᠣᠩ"}, {"c6"}),
    ({"village": "<script>"}, {"c7"}),
    ({"village": "巴彦"}, {"c1"}),
    ({"village": "o'brien"}, {"c4"}),
    ({"village": INJECTION}, set()),
    ({"village": "%' OR '1'='1"}, set()),
    ({"village": "村"}, ALL),
    ({"topic": "labour"}, {"c1", "c3", "c5"}),
    ({"topic": INJECTION}, set()),
    ({"topic": "%"}, set()),
    ({"professional": "lawyer-1"}, {"c1", "c4"}),
    ({"professional": INJECTION}, set()),
    ({"professional": "%"}, set()),
    ({"professional": "lawyer-_"}, set()),
    ({"outcome": "advice_given"}, {"c1", "c3"}),
    ({"outcome": INJECTION}, set()),
    ({"terminal": "village-2"}, {"c2", "c4", "c6"}),
    ({"terminal": INJECTION}, set()),
    ({"terminal": "village-%"}, set()),
    # Dates are days in Beijing time: 2026-03-01T16:30Z is already 2 March there.
    ({"date_from": "2026-03-02"}, ALL - {"c1"}),
    ({"date_to": "2026-03-01"}, {"c1"}),
    ({"date_from": "2026-03-02", "date_to": "2026-03-02"}, {"c2", "c3"}),
    ({"date_from": INJECTION}, set()),
    ({"date_to": "2026-02-30"}, set()),
    ({"topic": "labour", "outcome": "advice_given", "village": "村"}, {"c1", "c3"}),
    ({"professional": "mediator-1", "date_from": "2026-03-03"}, {"c6"}),
]


@pytest.mark.timeout(60)
async def test_filters_return_exactly_the_right_rows(start_server: Any, web: MakeClient) -> None:
    server: RunningServer = await start_server()
    await _seed(server)
    client = await _supervisor(server, web)
    for query, expected in CASES:
        assert await _ids(client, **query) == expected, query
    # A filter that cannot be right says so, rather than listing everything.
    for query in ({"topic": INJECTION}, {"outcome": "x"}, {"date_from": "03/02/2026"}):
        reply = await client.get("/supervisor/consultations?" + urlencode(query))
        assert 'class="form-error"' in reply.text
    page = await client.get("/supervisor/consultations")
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;村" in page.text
    # The typed filter comes back into the form escaped, too.
    echoed = await client.get("/supervisor/consultations?" + urlencode({"village": '"><b>x'}))
    assert '"><b>x' not in echoed.text and "&#34;&gt;&lt;b&gt;x" in echoed.text
    # The audit log's fields are filters as well.
    await client.get("/supervisor/consultations/c1")
    log = await client.get("/supervisor/audit?" + urlencode({"actor": INJECTION}))
    assert log.status == 200 and 'data-action="' not in log.text
    log = await client.get("/supervisor/audit?" + urlencode({"consultation": "c1"}))
    assert log.text.count('data-action="record.read"') == 1
    log = await client.get("/supervisor/audit?" + urlencode({"action": INJECTION}))
    assert 'class="form-error"' in log.text and 'data-action="' not in log.text


@pytest.mark.timeout(60)
async def test_a_record_is_shown_whole_in_beijing_time_and_its_reading_audited(
    start_server: Any, web: MakeClient
) -> None:
    server: RunningServer = await start_server()
    await _seed(server)
    db = db_of(server)
    await records.save_notes(
        db,
        "c1",
        author="lawyer-1",
        revision=1,
        text="<img src=x onerror=window.__pwned=1>\n第二行",
        at=datetime(2026, 3, 1, 15, 32, tzinfo=UTC),
    )
    client = await _supervisor(server, web)
    reply = await client.get("/supervisor/consultations/c1")
    assert reply.status == 200
    html = reply.text
    assert "2026-03-01 23:30:00" in html  # 15:30 UTC
    assert "45 秒" in html and "3 分 05 秒" in html  # waited; talked (45 s to 3 min 50 s)
    assert "&lt;img src=x onerror=window.__pwned=1&gt;\n第二行" in html
    assert "<img src=x" not in html
    for event in ("requested", "answered", "notes_saved", "outcome", "ended"):
        assert f'data-event="{event}"' in html
    (entry,) = await audit.entries(db, action=AuditAction.RECORD_READ)
    assert (entry.actor, entry.consultation_id) == ("supervisor", "c1")
    missing = await client.get("/supervisor/consultations/nope")
    assert missing.status == 404 and "找不到" in missing.text
    bad = await client.get("/supervisor/consultations/" + "x%20y")
    assert bad.status == 404
    assert len(await audit.entries(db, action=AuditAction.RECORD_READ)) == 1


@pytest.mark.timeout(60)
async def test_accounts_are_added_and_disabled_at_once(start_server: Any, web: MakeClient) -> None:
    server: RunningServer = await start_server()
    db = db_of(server)
    client = await _supervisor(server, web)
    form = {
        "username": "lawyer-3",
        "display_name": "赵律师",
        "role": "lawyer",
        "password": "zhao-password-1",
        "languages": "zh",
        "topics": "labour",
    }
    for broken, message in (
        ({"username": "bad name"}, "用户名只能用"),
        ({"password": "short"}, "密码至少要 10 个字符"),
        ({"role": "judge"}, "请选择角色"),
        ({"languages": ""}, "至少要选一种语言"),
        ({"username": "lawyer-1"}, "已经有人用了"),
        ({"display_name": "<b>x</b>", "username": "lawyer-1"}, "已经有人用了"),
    ):
        reply = await client.post("/supervisor/accounts", {**form, **broken})
        assert reply.status == 400 and message in reply.text, broken
        assert "<b>x</b>" not in reply.text
    created = await client.post("/supervisor/accounts", form)
    assert created.status == 303
    page = await client.get(created.location)
    assert "已新建账号 lawyer-3" in page.text
    account = await accounts.get_account(db, "lawyer-3")
    assert account is not None and account.topics == ("labour",)
    assert (await web(server).sign_in("lawyer-3", "zhao-password-1")).location == "/lawyer"

    # Disabling a professional in a call: their websocket closes, the call ends for the other
    # side, their page session and their API token are dead.
    desk = web(server)
    await desk.sign_in("lawyer-1")
    village, lawyer, cid = await in_call(server)
    try:
        reply = await client.post("/supervisor/accounts/lawyer-1/disable", {})
        assert reply.status == 303
        ended = await village.next_of("consultation_ended")
        assert (ended["consultation_id"], ended["reason"]) == (cid, "revoked")
        closing = await lawyer.ws.receive(timeout=5)
        while closing.type is aiohttp.WSMsgType.TEXT:
            closing = await lawyer.ws.receive(timeout=5)
        assert lawyer.ws.close_code == 4003
        assert (await desk.get("/lawyer")).status == 303
        again = await Wire.open(server)
        reply_msg = await again.ask(
            {"type": "hello", "role": "lawyer", "identity": "lawyer-1", "token": "demo-lawyer-1"}
        )
        assert reply_msg["code"] == "bad_credentials"
        await again.close()
    finally:
        await village.close()
        await lawyer.close()
    record = await records.list_consultations(db, records.ConsultationFilter(terminal="village-1"))
    assert record[0].end_reason is EndReason.REVOKED
    page = await client.get("/supervisor/accounts")
    assert 'data-username="lawyer-1" class="disabled"' in page.text
    # One cannot disable oneself.
    reply = await client.post("/supervisor/accounts/supervisor/disable", {})
    assert reply.status == 400 and "不能停用您自己" in reply.text
    assert (await client.post("/supervisor/accounts/lawyer-1/enable", {})).status == 303
    assert not (await accounts.get_account(db, "lawyer-1")).disabled  # type: ignore[union-attr]


@pytest.mark.timeout(60)
async def test_a_kiosk_is_enrolled_then_revoked_over_http(
    start_server: Any, web: MakeClient
) -> None:
    server: RunningServer = await start_server()
    db = db_of(server)
    client = await _supervisor(server, web)
    added = await client.post(
        "/supervisor/terminals", {"identity": "village-9", "village": "<i>新村</i>法律服务室"}
    )
    assert added.status == 303
    page = await client.get("/supervisor/terminals")
    assert "&lt;i&gt;新村&lt;/i&gt;法律服务室" in page.text and "<i>新村" not in page.text
    assert "未登记" in page.text

    kiosk = web(server)
    kiosk_page = await kiosk.get("/village")
    csrf = kiosk_page.config()["csrf_token"]
    started = await kiosk.post_json("/api/enrol/start", {}, csrf=csrf)
    assert started.status == 200
    code, secret = started.json()["code"], started.json()["claim_secret"]
    pending = await kiosk.post_json("/api/enrol/claim", {"claim_secret": secret}, csrf=csrf)
    assert pending.json() == {"status": "pending"}

    wrong = await client.post("/supervisor/terminals/village-9/enrol", {"code": "AAAA-AAAA"})
    assert wrong.status == 400 and "没有这个登记码" in wrong.text
    # Typed as a person reads it off the screen: lower case, no dash.
    done = await client.post(
        "/supervisor/terminals/village-9/enrol", {"code": code.lower().replace("-", "")}
    )
    assert done.status == 303
    again = await client.post("/supervisor/terminals/village-9/enrol", {"code": code})
    assert again.status == 400 and "已经用过了" in again.text

    claimed = await kiosk.post_json("/api/enrol/claim", {"claim_secret": secret}, csrf=csrf)
    body = claimed.json()
    assert (body["status"], body["identity"]) == ("enrolled", "village-9")
    assert claimed.headers["Cache-Control"] == "no-store"
    spent = await kiosk.post_json("/api/enrol/claim", {"claim_secret": secret}, csrf=csrf)
    assert spent.status == 410 and spent.json()["code"] == "enrolment_used"

    terminal = await Wire.open(server)
    welcome = await terminal.ask(
        {"type": "hello", "role": "village", "identity": "village-9", "token": body["token"]}
    )
    assert welcome["type"] == "welcome"
    await terminal.send({"type": "request_consultation", "topic": "land", "language": "mn"})
    assert (await terminal.next_of("waiting"))["position"] == 1
    presence = await client.get("/api/supervisor/presence")
    assert presence.json()["terminals"]["village-9"] == "waiting"
    assert "排队中" in (await client.get("/supervisor/terminals")).text

    revoked = await client.post("/supervisor/terminals/village-9/revoke", {})
    assert revoked.status == 303
    closing = await terminal.ws.receive(timeout=5)
    while closing.type is aiohttp.WSMsgType.TEXT:
        closing = await terminal.ws.receive(timeout=5)
    assert terminal.ws.close_code == 4003
    await terminal.close()
    assert await server.hub.state.waiting() == []
    view = await accounts.get_terminal(db, "village-9")
    assert view is not None and not view.active
    actions = [e.action for e in await audit.entries(db, actor="supervisor")]
    for action in (
        AuditAction.TERMINAL_ADD,
        AuditAction.TERMINAL_ENROL,
        AuditAction.TERMINAL_REVOKE,
    ):
        assert action in actions
    assert "village-9" not in (await client.get("/api/supervisor/presence")).json()["terminals"]
