"""The one topic catalogue: what a villager can ask about, and who answers it.

Used by the protocol (topic slugs), pairing, the advisor and the pages. The Mongolian names are in
traditional script (Inner Mongolia) and await review by a native speaker.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Professional(enum.StrEnum):
    LAWYER = "lawyer"
    MEDIATOR = "mediator"


@dataclass(frozen=True, slots=True)
class Topic:
    slug: str
    zh: str
    mn: str
    professional: Professional


TOPICS: tuple[Topic, ...] = (
    Topic("marriage_family", "婚姻家庭", "ᠭᠡᠷᠯᠡᠯᠲᠡ ᠭᠡᠷ ᠪᠦᠯᠢ", Professional.LAWYER),
    Topic("labour", "劳动争议", "ᠬᠥᠳᠡᠯᠮᠦᠷᠢ ᠶᠢᠨ ᠮᠠᠷᠭᠠᠭᠠᠨ", Professional.LAWYER),
    Topic("traffic", "交通事故", "ᠵᠠᠮ ᠤᠨ ᠠᠶᠤᠯ", Professional.LAWYER),
    Topic("consumer", "消费者权益", "ᠬᠡᠷᠡᠭᠯᠡᠭᠴᠢ ᠶᠢᠨ ᠡᠷᠬᠡ ᠠᠰᠢᠭ", Professional.LAWYER),
    Topic("neighbour", "邻里纠纷", "ᠬᠥᠷᠰᠢ ᠶᠢᠨ ᠮᠠᠷᠭᠠᠭᠠᠨ", Professional.MEDIATOR),
    Topic("social_security", "社会保障", "ᠨᠡᠶᠢᠭᠡᠮ ᠦᠨ ᠬᠠᠮᠠᠭᠠᠯᠠᠯᠲᠠ", Professional.LAWYER),
    Topic("demolition", "房屋拆迁", "ᠪᠠᠶᠢᠰᠢᠩ ᠨᠡᠭᠦᠯᠭᠡᠯᠲᠡ", Professional.LAWYER),
    Topic("tourism", "旅游纠纷", "ᠠᠶᠠᠯᠠᠯ ᠵᠢᠭᠤᠯᠠᠯ", Professional.LAWYER),
    Topic("private_lending", "民间借贷", "ᠢᠷᠭᠡᠨ ᠦ ᠵᠡᠭᠡᠯᠢ", Professional.LAWYER),
    Topic("elderly", "老年人权益", "ᠥᠨᠳᠥᠷ ᠨᠠᠰᠤᠲᠠᠨ ᠤ ᠡᠷᠬᠡ ᠠᠰᠢᠭ", Professional.LAWYER),
    Topic("minors", "未成年人保护", "ᠨᠠᠰᠤᠨ ᠳᠤ ᠦᠯᠦ ᠬᠦᠷᠦᠭᠰᠡᠳ", Professional.LAWYER),
    Topic("women", "妇女权益", "ᠡᠮᠡᠭᠴᠢᠭᠦᠳ ᠦᠨ ᠡᠷᠬᠡ ᠠᠰᠢᠭ", Professional.LAWYER),
    Topic("disabled", "残疾人权益", "ᠬᠥᠭᠵᠢᠯ ᠳᠤᠲᠠᠭᠤ ᠬᠦᠮᠦᠨ ᠦ ᠡᠷᠬᠡ ᠠᠰᠢᠭ", Professional.LAWYER),
    Topic("land", "土地纠纷", "ᠭᠠᠵᠠᠷ ᠤᠨ ᠮᠠᠷᠭᠠᠭᠠᠨ", Professional.MEDIATOR),
    Topic("other", "其他问题", "ᠪᠤᠰᠤᠳ", Professional.LAWYER),
)

TOPIC_SLUGS: tuple[str, ...] = tuple(t.slug for t in TOPICS)


def topic(slug: str) -> Topic:
    """The topic with this slug; KeyError names the slugs that exist."""
    for t in TOPICS:
        if t.slug == slug:
            return t
    raise KeyError(f"unknown topic {slug!r}; known: {', '.join(TOPIC_SLUGS)}")
