"""The advisor's HTTP surface: the JSON API and the statute browser pages.

`setup_advisor(app)` registers the routes and builds the advisor once, in the background, when
the application starts (until then requests get `not_ready`). Queries run in the default
executor, off the event loop. Public statute text needs no sign-in; a token bucket per client
address limits how much of the advisor's CPU one client can take.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import jinja2
from aiohttp import web

from advisor import topics
from advisor.advice import Advisor, article_url, clean_text, law_url
from advisor.corpus import Article, Law
from advisor.errors import AdvisorError, from_exception
from advisor.ratelimit import RateLimit, TokenBuckets

log = logging.getLogger(__name__)

# A 2,000-character question is at most ~12 KB of JSON even with every character escaped.
MAX_BODY_BYTES = 64 * 1024
SEARCH_RESULTS = 20
# What a request costs from the client's bucket: a question runs the ranker, a page does not.
COST_ADVICE = 1.0
COST_SEARCH = 1.0
COST_READ = 0.2


@dataclass
class AdvisorState:
    """Everything the advisor's handlers share, owned by the application."""

    buckets: TokenBuckets
    templates: jinja2.Environment
    advisor: Advisor | None = None
    failed: bool = False
    build: Callable[[], Advisor] = field(default=Advisor.build)
    # Set once the background build has finished, whether it worked or not.
    built: asyncio.Event = field(default_factory=asyncio.Event)


ADVISOR_KEY = web.AppKey("advisor", AdvisorState)


def setup_advisor(
    app: web.Application,
    *,
    advisor: Advisor | None = None,
    rate_limit: RateLimit | None = None,
    clock: Callable[[], float] = time.monotonic,
    build: Callable[[], Advisor] = Advisor.build,
) -> None:
    """Register the advisor's routes on `app`. Pass a built `advisor` to share one (tests);
    otherwise `build` runs off the event loop when the application starts."""
    templates = jinja2.Environment(
        loader=jinja2.PackageLoader("advisor", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    templates.globals["article_url"] = article_url
    templates.globals["law_url"] = law_url
    buckets = TokenBuckets(rate_limit or RateLimit(), clock)
    app[ADVISOR_KEY] = AdvisorState(buckets, templates, advisor, build=build)
    app.router.add_post("/api/advice", advice)
    app.router.add_get("/api/laws", laws_json)
    app.router.add_get("/api/laws/{short}", law_json)
    app.router.add_get("/api/laws/{short}/{article}", article_json)
    app.router.add_get("/laws", laws_page)
    app.router.add_get("/laws/{short}", law_page)
    app.router.add_get("/laws/{short}/{article}", article_page)
    if advisor is None:
        app.cleanup_ctx.append(build_advisor)


async def build_advisor(app: web.Application) -> AsyncIterator[None]:
    """Build the index in the background: the rest of the server starts at once."""
    state = app[ADVISOR_KEY]

    async def build() -> None:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        try:
            state.advisor = await _in_daemon_thread(loop, state.build)
        except Exception:
            state.failed = True
            log.exception("advisor: building the index failed")
        else:
            log.info("advisor: index ready in %.1f s", time.monotonic() - started)
        finally:
            state.built.set()

    task = asyncio.create_task(build(), name="advisor-build")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _in_daemon_thread(loop: asyncio.AbstractEventLoop, work: Callable[[], Advisor]) -> Any:
    """Run `work` in a daemon thread: a server stopped while the index is still being built
    exits at once instead of waiting seconds for a thread it no longer needs."""
    done: asyncio.Future[Advisor] = loop.create_future()

    def run() -> None:
        result: Advisor | None = None
        error: BaseException | None = None
        try:
            result = work()
        except BaseException as exc:  # handed to the awaiting task, not lost in the thread
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
            loop.call_soon_threadsafe(_settle, done, result, error)

    threading.Thread(target=run, name="advisor-build", daemon=True).start()
    return done


def _settle(
    future: asyncio.Future[Advisor], result: Advisor | None, error: BaseException | None
) -> None:
    if future.done():
        return  # the server stopped meanwhile
    if error is not None:
        future.set_exception(error)
    else:
        assert result is not None
        future.set_result(result)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def json_error(exc: BaseException) -> web.Response:
    status, body = from_exception(exc)
    headers = {}
    if isinstance(exc, AdvisorError) and exc.code == "rate_limited":
        headers["Retry-After"] = "1"
    if isinstance(exc, AdvisorError) and exc.code == "not_ready":
        headers["Retry-After"] = "5"
    return web.json_response(body, status=status, dumps=_dumps, headers=headers)


def _ready(request: web.Request, cost: float) -> Advisor:
    """The advisor, after charging the client; AdvisorError when limited or not built yet."""
    state = request.app[ADVISOR_KEY]
    wait = state.buckets.take(request.remote or "unknown", cost)
    if wait > 0:
        raise AdvisorError("rate_limited")
    if state.advisor is None:
        if state.failed:
            raise AdvisorError("internal_error")
        raise AdvisorError("not_ready")
    return state.advisor


def _find_article(advisor: Advisor, short: str, number: str) -> Article:
    if not advisor.corpus.has_law(short):
        raise AdvisorError("law_not_found")
    if not number.isdigit() or len(number) > 6:
        raise AdvisorError("article_not_found")
    article = advisor.corpus.get(short, int(number))
    if article is None:
        raise AdvisorError("article_not_found")
    return article


async def _read_json(request: web.Request) -> Any:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise AdvisorError("text_too_long")
    body = await request.content.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise AdvisorError("text_too_long")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AdvisorError("invalid_json") from exc


async def advice(request: web.Request) -> web.Response:
    """POST /api/advice {text, topic?} -> topic, ranked citations and the outline."""
    try:
        advisor = _ready(request, COST_ADVICE)
        payload = await _read_json(request)
        if not isinstance(payload, dict):
            raise AdvisorError("invalid_format", "请求体必须是 JSON 对象。")
        if "text" not in payload:
            raise AdvisorError("invalid_format", "缺少 text 字段。")
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(
            None, advisor.advise, payload["text"], payload.get("topic")
        )
        return web.json_response(result.to_json(advisor.corpus), dumps=_dumps)
    except Exception as exc:
        return json_error(exc)


async def laws_json(request: web.Request) -> web.Response:
    try:
        advisor = _ready(request, COST_READ)
        return web.json_response(
            {"laws": [law.to_json() for law in advisor.corpus.laws]}, dumps=_dumps
        )
    except Exception as exc:
        return json_error(exc)


async def law_json(request: web.Request) -> web.Response:
    try:
        advisor = _ready(request, COST_READ)
        short = request.match_info["short"]
        if not advisor.corpus.has_law(short):
            raise AdvisorError("law_not_found")
        law = advisor.corpus.law(short)
        articles = [
            {"article": a.number, "label": a.label, "part": a.part}
            for a in advisor.corpus.articles_of(short)
        ]
        return web.json_response({"law": law.to_json(), "articles": articles}, dumps=_dumps)
    except Exception as exc:
        return json_error(exc)


async def article_json(request: web.Request) -> web.Response:
    """GET /api/laws/{short}/{article}: one article, verbatim, with its law's version."""
    try:
        advisor = _ready(request, COST_READ)
        article = _find_article(advisor, request.match_info["short"], request.match_info["article"])
        return web.json_response({**article.to_json(), "url": article_url(article)}, dumps=_dumps)
    except Exception as exc:
        return json_error(exc)


def _page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    html = request.app[ADVISOR_KEY].templates.get_template(template).render(**context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def _error_page(request: web.Request, exc: BaseException) -> web.Response:
    status, body = from_exception(exc)
    return _page(request, "error.html", status=status, message=body["error"]["message"])


def _group(laws: tuple[Law, ...]) -> list[tuple[str, list[Law]]]:
    """Laws by kind, in the order a lawyer looks for them."""
    groups: dict[str, list[Law]] = {"法律": [], "行政法规": [], "司法解释": []}
    for law in laws:
        if law.name.startswith("最高人民法院"):
            groups["司法解释"].append(law)
        elif law.name.endswith(("条例", "规定", "办法")):
            groups["行政法规"].append(law)
        else:
            groups["法律"].append(law)
    return [(k, v) for k, v in groups.items() if v]


async def laws_page(request: web.Request) -> web.Response:
    """GET /laws[?q=...]: every law, or the articles that answer a question."""
    query = request.query.get("q", "")
    try:
        advisor = _ready(request, COST_SEARCH if query else COST_READ)
        results = []
        error = None
        if query:
            try:
                text = clean_text(query)
                loop = asyncio.get_running_loop()
                results = await loop.run_in_executor(None, advisor.search, text, SEARCH_RESULTS)
            except AdvisorError as exc:
                error = exc.message
        return _page(
            request,
            "laws.html",
            query=query,
            results=results,
            error=error,
            groups=_group(advisor.corpus.laws),
            topics=topics.PROFILES,
        )
    except Exception as exc:
        return _error_page(request, exc)


async def law_page(request: web.Request) -> web.Response:
    try:
        advisor = _ready(request, COST_READ)
        short = request.match_info["short"]
        if not advisor.corpus.has_law(short):
            raise AdvisorError("law_not_found")
        law = advisor.corpus.law(short)
        sections: list[tuple[str, list[Article]]] = []
        for a in advisor.corpus.articles_of(short):
            if not sections or sections[-1][0] != a.part:
                sections.append((a.part, []))
            sections[-1][1].append(a)
        return _page(request, "law.html", law=law, sections=sections)
    except Exception as exc:
        return _error_page(request, exc)


async def article_page(request: web.Request) -> web.Response:
    try:
        advisor = _ready(request, COST_READ)
        article = _find_article(advisor, request.match_info["short"], request.match_info["article"])
        corpus = advisor.corpus
        return _page(
            request,
            "article.html",
            article=article,
            law=article.law,
            previous=corpus.get(article.law.short, article.number - 1),
            following=corpus.get(article.law.short, article.number + 1),
        )
    except Exception as exc:
        return _error_page(request, exc)
