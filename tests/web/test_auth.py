"""Signing in: cookie flags, CSRF on every form, session fixation, lockout (per account and per
address, lifted by the clock), sign-out, expiry, and the page's websocket signed in by its
cookie."""

from __future__ import annotations

import json
from typing import Any

import pytest
from yarl import URL

from server.auth import AUTH_KEY, PRE_SESSION_PREFIX, SESSION_COOKIE, SESSION_TTL, LockoutPolicy
from server.db import accounts, audit
from server.db.models import AuditAction
from tests.conftest import RunningServer
from tests.web.conftest import MakeClient, db_of

PROXY = {"trusted_proxy": ("127.0.0.1",)}


def _set_cookie(headers: Any) -> str:
    cookies = [v for v in headers.getall("Set-Cookie", []) if v.startswith(SESSION_COOKIE + "=")]
    assert len(cookies) == 1, cookies
    return str(cookies[0])


@pytest.mark.timeout(30)
async def test_session_cookie_is_httponly_lax_and_secure_under_tls(
    start_server: Any, web: MakeClient
) -> None:
    server: RunningServer = await start_server(**PROXY)
    plain = web(server)
    signed_in = await plain.sign_in("lawyer-1", next="/lawyer")
    assert (signed_in.status, signed_in.location) == (303, "/lawyer")
    cookie = _set_cookie(signed_in.headers)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie
    assert f"Max-Age={int(SESSION_TTL.total_seconds())}" in cookie
    # Behind a TLS-terminating proxy the scheme is https: the cookie is Secure.
    tls = web(server, {"X-Forwarded-Proto": "https"})
    cookie = _set_cookie((await tls.sign_in("lawyer-1")).headers)
    assert "Secure" in cookie and "HttpOnly" in cookie
    # The pre-session cookie a first visit gets is HttpOnly too.
    first = await web(server).get("/login")
    assert "HttpOnly" in _set_cookie(first.headers)


@pytest.mark.timeout(60)
async def test_form_posts_without_the_right_csrf_token_are_refused_and_change_nothing(
    start_server: Any, web: MakeClient
) -> None:
    server: RunningServer = await start_server()
    db = db_of(server)
    supervisor = web(server)
    await supervisor.sign_in("supervisor")
    good = await supervisor.csrf()
    other = web(server)
    await other.sign_in("lawyer-1")
    somebody_elses = await other.csrf()
    forms = [
        (
            "/supervisor/accounts",
            {
                "username": "eve",
                "display_name": "Eve",
                "role": "supervisor",
                "password": "a-long-password",
            },
        ),
        ("/supervisor/accounts/lawyer-2/disable", {}),
        ("/supervisor/terminals", {"identity": "village-9", "village": "某村"}),
        ("/supervisor/terminals/village-2/revoke", {}),
        ("/logout", {}),
    ]
    before = await audit.entries(db)
    for path, form in forms:
        for token in ("", "0" * 64, good[:-1] + ("0" if good[-1] != "0" else "1"), somebody_elses):
            reply = await supervisor.post(path, form, csrf=token)
            assert reply.status == 403, (path, token, reply.status)
            assert "页面已过期" in reply.text
        # The token in a header counts as well as in the form (the pages' JSON calls use it).
        reply = await supervisor.request("POST", path, data=form, headers={"X-CSRF-Token": "wrong"})
        assert reply.status == 403
    assert await accounts.get_account(db, "eve") is None
    assert not (await accounts.get_account(db, "lawyer-2")).disabled  # type: ignore[union-attr]
    assert await accounts.get_terminal(db, "village-9") is None
    assert (await accounts.get_terminal(db, "village-2")).active  # type: ignore[union-attr]
    assert await audit.entries(db) == before
    assert (await supervisor.get("/supervisor/accounts")).status == 200  # still signed in
    # The sign-in form is protected too; the kiosk's JSON calls take the header.
    anonymous = web(server)
    await anonymous.get("/login")
    refused = await anonymous.post(
        "/login", {"username": "lawyer-1", "password": "lawyer-1-password"}, csrf=""
    )
    assert refused.status == 403 and anonymous.cookie is not None
    assert anonymous.cookie.startswith(PRE_SESSION_PREFIX)
    assert (await anonymous.post_json("/api/enrol/start", {})).status == 403
    # With the right token, the same form works.
    done = await supervisor.post("/supervisor/terminals", forms[2][1], csrf=good)
    assert done.status == 303 and await accounts.get_terminal(db, "village-9") is not None


@pytest.mark.timeout(30)
async def test_the_session_id_changes_at_sign_in_and_an_old_cookie_is_useless(
    start_server: Any, web: MakeClient
) -> None:
    server: RunningServer = await start_server()
    browser = web(server)
    await browser.get("/login")
    before = browser.cookie
    assert before is not None and before.startswith(PRE_SESSION_PREFIX)
    await browser.sign_in("supervisor")
    after = browser.cookie
    assert after is not None and after != before and not after.startswith(PRE_SESSION_PREFIX)
    assert (await browser.get("/supervisor/accounts")).status == 200

    # An attacker who planted (or kept) the pre-sign-in cookie holds nothing.
    attacker = web(server)
    attacker.http.cookie_jar.update_cookies({SESSION_COOKIE: before}, response_url=_url(server))
    refused = await attacker.get("/supervisor/accounts")
    assert refused.status == 303 and refused.location.startswith("/login?next=")
    # ...and signing in again from the same browser makes yet another session.
    await browser.sign_in("supervisor")
    assert browser.cookie not in (before, after)


def _url(server: RunningServer) -> URL:
    return URL(server.http_url)


@pytest.mark.timeout(30)
async def test_sign_out_ends_the_session_everywhere(start_server: Any, web: MakeClient) -> None:
    server: RunningServer = await start_server()
    browser = web(server)
    await browser.sign_in("lawyer-1")
    session = browser.cookie
    assert session is not None
    assert (await browser.get("/lawyer")).status == 200
    out = await browser.post("/logout", {}, csrf=await browser.csrf())
    assert (out.status, out.location) == (303, "/login")
    assert (await browser.get("/lawyer")).status == 303
    # A copy of the cookie taken before is dead too.
    copy = web(server)
    copy.http.cookie_jar.update_cookies({SESSION_COOKIE: session}, response_url=_url(server))
    assert (await copy.get("/lawyer")).status == 303


@pytest.mark.timeout(30)
async def test_a_session_expires(start_server: Any, web: MakeClient) -> None:
    server: RunningServer = await start_server()
    browser = web(server)
    await browser.sign_in("lawyer-1")
    server.clock.advance(SESSION_TTL.total_seconds() - 60)
    assert (await browser.get("/lawyer")).status == 200
    server.clock.advance(120)
    reply = await browser.get("/lawyer")
    assert (reply.status, reply.location) == (303, "/login?next=%2Flawyer")


@pytest.mark.timeout(30)
async def test_only_local_pages_are_gone_to_after_sign_in(
    start_server: Any, web: MakeClient
) -> None:
    server: RunningServer = await start_server()
    for bad in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        reply = await web(server).sign_in("supervisor", next=bad)
        assert (reply.status, reply.location) == (303, "/supervisor"), bad
    reply = await web(server).sign_in("mediator-1", next="")
    assert reply.location == "/lawyer"
    page = await web(server).get("/login?next=%22%3E%3Cscript%3Ex%3C/script%3E")
    assert "<script>x" not in page.text


async def _try(client: Any, username: str, password: str) -> int:
    status: int = (await client.sign_in(username, password)).status
    return status


@pytest.mark.timeout(60)
async def test_wrong_passwords_lock_the_account_until_the_window_passes(
    start_server: Any, web: MakeClient
) -> None:
    server: RunningServer = await start_server(**PROXY)
    policy: LockoutPolicy = server.server.app[AUTH_KEY].guard.policy
    # Each attempt from another address: the account's own count locks it.
    addresses = iter(f"198.51.100.{n}" for n in range(1, 100))

    def browser() -> Any:
        return web(server, {"X-Forwarded-For": next(addresses)})

    for _ in range(policy.account_failures):
        assert await _try(browser(), "lawyer-1", "wrong-password") == 401
    locked = await browser().sign_in("lawyer-1")
    assert locked.status == 429 and "尝试次数太多" in locked.text
    assert (await browser().get("/lawyer")).status == 303  # and no session came of it
    # Other accounts are not locked by it.
    assert await _try(browser(), "lawyer-2", "lawyer-2-password") == 303
    server.clock.advance(policy.lock_seconds - 1)
    assert await _try(browser(), "lawyer-1", "lawyer-1-password") == 429
    server.clock.advance(2)
    assert await _try(browser(), "lawyer-1", "lawyer-1-password") == 303
    # A success clears the count: the next wrong password is the first again.
    assert await _try(browser(), "lawyer-1", "wrong-password") == 401
    assert await _try(browser(), "lawyer-1", "lawyer-1-password") == 303


@pytest.mark.timeout(60)
async def test_wrong_passwords_from_one_address_lock_that_address(
    start_server: Any, web: MakeClient
) -> None:
    server: RunningServer = await start_server(**PROXY)
    auth = server.server.app[AUTH_KEY]
    auth.guard.policy = LockoutPolicy(account_failures=50, address_failures=4)
    attacker = {"X-Forwarded-For": "203.0.113.7"}
    # Spread over accounts (and names that do not exist): the address is what is counted.
    for username in ("lawyer-1", "lawyer-2", "mediator-1", "nobody"):
        assert await _try(web(server, attacker), username, "guess-guess-guess") == 401
    assert await _try(web(server, attacker), "supervisor", "supervisor-password") == 429
    # From another address the same account signs in.
    assert (
        await _try(
            web(server, {"X-Forwarded-For": "203.0.113.8"}), "supervisor", "supervisor-password"
        )
        == 303
    )
    server.clock.advance(auth.guard.policy.lock_seconds + 1)
    assert await _try(web(server, attacker), "supervisor", "supervisor-password") == 303


@pytest.mark.timeout(30)
async def test_the_desk_websocket_is_signed_in_by_the_session_cookie(
    start_server: Any, web: MakeClient
) -> None:
    server: RunningServer = await start_server()
    browser = web(server)
    await browser.sign_in("mediator-1")
    ws = await browser.http.ws_connect(server.url, headers={"Origin": server.http_url})
    try:
        # Another identity than the cookie's is refused; its own is welcome without a token.
        await ws.send_str(json.dumps({"type": "hello", "role": "lawyer", "identity": "lawyer-1"}))
        assert json.loads((await ws.receive(timeout=5)).data)["code"] == "bad_credentials"
        await ws.send_str(
            json.dumps({"type": "hello", "role": "mediator", "identity": "mediator-1"})
        )
        welcome = json.loads((await ws.receive(timeout=5)).data)
        assert (welcome["type"], welcome["identity"]) == ("welcome", "mediator-1")
    finally:
        await ws.close()
    # A page of another site may not use the cookie (the Origin check).
    foreign = await browser.http.get(
        server.url.replace("ws://", "http://"),
        headers={
            "Origin": "http://evil.example",
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert foreign.status == 403
    foreign.release()
    # Without a cookie, no token: refused.
    anonymous = web(server)
    ws = await anonymous.http.ws_connect(server.url)
    try:
        await ws.send_str(
            json.dumps({"type": "hello", "role": "mediator", "identity": "mediator-1"})
        )
        assert json.loads((await ws.receive(timeout=5)).data)["code"] == "bad_credentials"
    finally:
        await ws.close()


@pytest.mark.timeout(30)
async def test_sign_in_writes_no_audit_entry_but_account_changes_do(
    start_server: Any, web: MakeClient
) -> None:
    server: RunningServer = await start_server()
    db = db_of(server)
    before = len(await audit.entries(db))
    await web(server).sign_in("lawyer-1")
    assert len(await audit.entries(db)) == before
    supervisor = web(server)
    await supervisor.sign_in("supervisor")
    await supervisor.post("/supervisor/accounts/lawyer-2/disable", {}, csrf=await supervisor.csrf())
    (entry,) = await audit.entries(db, action=AuditAction.ACCOUNT_DISABLE)
    assert (entry.actor, entry.target) == ("supervisor", "lawyer-2")
