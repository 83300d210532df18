"""The HTTP API and pages on an application with only the advisor's routes."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import quote

import pytest

from advisor.advice import Advisor
from advisor.errors import ERRORS
from advisor.ratelimit import RateLimit
from advisor.web import ADVISOR_KEY

from .conftest import BUILD_TIMEOUT, ClientFactory, ManualClock

CITATION_FIELDS = {
    "law",
    "law_name",
    "article",
    "label",
    "part",
    "text",
    "score",
    "version",
    "version_note",
    "source",
    "superseded_warning",
    "citation",
    "url",
}


def assert_error(body: Any, code: str) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


@pytest.mark.timeout(BUILD_TIMEOUT)
async def test_advice_shape(make_client: ClientFactory) -> None:
    client = await make_client()
    resp = await client.post(
        "/api/advice", json={"text": "我借给邻居两万块钱，他打了借条，到期了一直不还怎么办？"}
    )
    assert resp.status == 200
    body = await resp.json()
    assert set(body) == {"topic", "citations", "outline", "notices"}
    assert body["topic"]["slug"] == "private_lending"
    assert body["topic"]["zh"] == "民间借贷"
    assert 0 < body["topic"]["confidence"] <= 1
    assert len(body["citations"]) == 10
    first = body["citations"][0]
    assert set(first) == CITATION_FIELDS
    scores = [c["score"] for c in body["citations"]]
    assert scores == sorted(scores, reverse=True)
    outline = body["outline"]
    assert outline["slug"] == "private_lending"
    assert outline["review_status"] == "未经法律审核"
    assert outline["options"][0]["basis"][0]["quote"]
    assert {"law", "article", "text", "version", "why"} <= set(outline["articles"][0])


@pytest.mark.timeout(BUILD_TIMEOUT)
async def test_citations_quote_the_statute_exactly(make_client: ClientFactory) -> None:
    client = await make_client()
    resp = await client.post(
        "/api/advice", json={"text": "离婚后孩子的抚养费怎么算", "topic": "marriage_family"}
    )
    body = await resp.json()
    for c in body["citations"]:
        one = await client.get(f"/api/laws/{quote(c['law'])}/{c['article']}")
        assert one.status == 200
        article = await one.json()
        assert article["text"] == c["text"]
        assert article["version"] == c["version"]


@pytest.mark.timeout(BUILD_TIMEOUT)
async def test_article_lookup(make_client: ClientFactory) -> None:
    client = await make_client()
    resp = await client.get(f"/api/laws/{quote('民法典')}/1079")
    assert resp.status == 200
    body = await resp.json()
    assert body["label"] == "第一千零七十九条"
    assert body["law_name"] == "中华人民共和国民法典"
    assert body["part"] == "第五编 婚姻家庭 / 第四章 离婚"
    assert body["text"].startswith("夫妻一方要求离婚的")
    assert body["superseded_warning"] is None
    resp = await client.get(f"/api/laws/{quote('治安管理处罚法')}/1")
    assert (await resp.json())["superseded_warning"]
    resp = await client.get("/api/laws")
    assert len((await resp.json())["laws"]) == 62
    resp = await client.get(f"/api/laws/{quote('劳动合同法')}")
    body = await resp.json()
    assert body["law"]["short"] == "劳动合同法" and len(body["articles"]) == 98


@pytest.mark.timeout(BUILD_TIMEOUT)
@pytest.mark.parametrize(
    ("path", "code"),
    [
        (f"/api/laws/{quote('不存在法')}/1", "law_not_found"),
        (f"/api/laws/{quote('民法典')}/0", "article_not_found"),
        (f"/api/laws/{quote('民法典')}/1261", "article_not_found"),
        (f"/api/laws/{quote('民法典')}/abc", "article_not_found"),
        (f"/api/laws/{quote('民法典')}/99999999999", "article_not_found"),
        (f"/api/laws/{quote('不存在法')}", "law_not_found"),
    ],
)
async def test_lookup_errors(make_client: ClientFactory, path: str, code: str) -> None:
    client = await make_client()
    resp = await client.get(path)
    assert resp.status == ERRORS[code].status
    assert_error(await resp.json(), code)


BAD_INPUT: list[tuple[Any, int, str | None]] = [
    # (request body, expected status, expected error code or None for a 200 answer)
    ({"text": ""}, 400, "empty_text"),
    ({"text": "   \n\t "}, 400, "empty_text"),
    ({"text": "\x00\x01\x02"}, 400, "empty_text"),
    ({"text": "\u200b\u200d\u202e"}, 400, "empty_text"),
    ({"text": "借" * 2001}, 413, "text_too_long"),
    ({"text": "My neighbour will not pay me back."}, 422, "no_chinese_text"),
    ({"text": "ᠮᠢᠨᠤ ᠬᠥᠷᠰᠢ"}, 422, "no_chinese_text"),
    ({"text": "12345 !!! ???"}, 422, "no_chinese_text"),
    ({"text": "😡😡😡"}, 422, "no_chinese_text"),
    ({"text": 42}, 400, "invalid_format"),
    ({"text": None}, 400, "invalid_format"),
    ({"text": ["欠钱"]}, 400, "invalid_format"),
    ({"topic": "labour"}, 400, "invalid_format"),
    (["欠钱不还"], 400, "invalid_format"),
    ({"text": "欠钱不还", "topic": "astrology"}, 400, "unknown_topic"),
    ({"text": "欠钱不还", "topic": 3}, 400, "unknown_topic"),
    ({"text": "邻居欠钱不还😡😡，怎么办？？"}, 200, None),
    ({"text": "my boss 拖欠工资 three months"}, 200, None),
    ({"text": "ᠮᠢᠨᠤ 宅基地被占了"}, 200, None),
    ({"text": "工伤\x00赔偿\u202e怎么算"}, 200, None),
    ({"text": "借" * 2000}, 200, None),
    ({"text": "啊"}, 200, None),
]


@pytest.mark.timeout(BUILD_TIMEOUT)
@pytest.mark.parametrize(("payload", "status", "code"), BAD_INPUT)
async def test_bad_input(
    make_client: ClientFactory, payload: Any, status: int, code: str | None
) -> None:
    client = await make_client()
    resp = await client.post("/api/advice", json=payload)
    assert resp.status == status
    body = await resp.json()
    if code is None:
        assert isinstance(body["citations"], list)
        if not body["citations"]:
            assert body["notices"]
    else:
        assert_error(body, code)


@pytest.mark.timeout(BUILD_TIMEOUT)
@pytest.mark.parametrize(
    ("data", "headers", "status", "code"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400, "invalid_json"),
        (b"\xff\xfe", {"Content-Type": "application/json"}, 400, "invalid_json"),
        (b"", {"Content-Type": "application/json"}, 400, "invalid_json"),
        (b"x" * (64 * 1024 + 1), {"Content-Type": "application/json"}, 413, "text_too_long"),
    ],
)
async def test_bad_bodies(
    make_client: ClientFactory, data: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    client = await make_client()
    resp = await client.post("/api/advice", data=data, headers=headers)
    assert resp.status == status
    assert_error(await resp.json(), code)


@pytest.mark.timeout(BUILD_TIMEOUT)
async def test_rate_limit_per_client(make_client: ClientFactory, clock: ManualClock) -> None:
    client = await make_client(rate_limit=RateLimit(rate=1.0, burst=3.0))
    for _ in range(3):
        resp = await client.post("/api/advice", json={"text": "欠钱不还"})
        assert resp.status == 200
    resp = await client.post("/api/advice", json={"text": "欠钱不还"})
    assert resp.status == 429
    assert resp.headers["Retry-After"] == "1"
    assert_error(await resp.json(), "rate_limited")
    clock.advance(1.0)
    resp = await client.post("/api/advice", json={"text": "欠钱不还"})
    assert resp.status == 200


@pytest.mark.timeout(BUILD_TIMEOUT)
async def test_not_ready_until_built(make_client: ClientFactory, advisor: Advisor) -> None:
    release = threading.Event()

    def build() -> Advisor:
        release.wait()  # in the executor: holds the build until the test has looked
        return advisor

    client = await make_client(build=build)
    try:
        resp = await client.get(f"/api/laws/{quote('民法典')}/1")
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "5"
        assert_error(await resp.json(), "not_ready")
    finally:
        release.set()  # never leave the executor thread waiting
    await client.app[ADVISOR_KEY].built.wait()
    resp = await client.get(f"/api/laws/{quote('民法典')}/1")
    assert resp.status == 200


@pytest.mark.timeout(BUILD_TIMEOUT)
async def test_failed_build_is_an_internal_error(make_client: ClientFactory) -> None:
    def build() -> Advisor:
        raise RuntimeError("no corpus")

    client = await make_client(build=build)
    await client.app[ADVISOR_KEY].built.wait()
    resp = await client.post("/api/advice", json={"text": "欠钱不还"})
    assert resp.status == 500
    assert_error(await resp.json(), "internal_error")


@pytest.mark.timeout(BUILD_TIMEOUT)
async def test_statute_browser_pages(make_client: ClientFactory) -> None:
    client = await make_client()
    resp = await client.get("/laws")
    assert resp.status == 200
    html = await resp.text()
    assert '<html lang="zh-CN">' in html
    assert "中华人民共和国民法典" in html and "司法解释" in html
    resp = await client.get(f"/laws/{quote('民法典')}")
    html = await resp.text()
    assert 'id="a1079"' in html and "第一千零七十九条" in html
    resp = await client.get(f"/laws/{quote('民法典')}/1079")
    html = await resp.text()
    assert "《民法典》第一千零七十九条" in html
    assert "感情确已破裂" in html
    assert "第一千零七十八条" in html and "第一千零八十条" in html  # previous and next
    resp = await client.get(f"/laws/{quote('婚姻登记条例')}/1")
    assert "2025年修订" in await resp.text()
    resp = await client.get("/laws", params={"q": "宅基地被邻居占了"})
    html = await resp.text()
    assert resp.status == 200 and "宅基地" in html and '<ol class="results">' in html
    resp = await client.get("/laws", params={"q": "hello"})
    assert "没有识别到中文内容" in await resp.text()
    resp = await client.get(f"/laws/{quote('民法典')}/99999")
    assert resp.status == 404 and "没有找到这一条" in await resp.text()
    resp = await client.get("/laws", params={"q": "<script>alert(1)</script>借钱"})
    assert "<script>alert(1)</script>" not in await resp.text()
