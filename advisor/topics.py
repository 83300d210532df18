"""Which topic of the catalogue a consultation is about.

The slugs are those of the one topic catalogue (`signaling/topics.py`; a test keeps the two in
step, since the advisor sits below signaling and does not import it). Evidence: what the
villager said (keywords from legal knowledge), which laws and chapters the retrieved articles
come from, and the topic chosen at the terminal, which is a prior and not the truth.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from advisor.corpus import Article
from advisor.segment import normalize


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@dataclass(frozen=True, slots=True)
class TopicProfile:
    slug: str
    zh: str
    keywords: tuple[str, ...]
    laws: tuple[str, ...] = ()
    chapters: tuple[tuple[str, str], ...] = ()  # (law short, heading prefix)


PROFILES: tuple[TopicProfile, ...] = (
    TopicProfile(
        "marriage_family",
        "婚姻家庭",
        _words(
            "离婚 结婚 彩礼 婚约 夫妻 老婆 老公 媳妇 丈夫 妻子 抚养 抚养费 孩子归 探望 "
            "家暴 家庭暴力 打老婆 出轨 重婚 同居 共同财产 遗产 继承 遗嘱 分家 收养 领证 "
            "婚姻 亲子鉴定 继父 继母 后妈"
        ),
        ("婚姻家庭编解释一", "婚姻家庭编解释二", "婚姻登记条例", "反家庭暴力法", "继承编解释一"),
        (("民法典", "第五编 婚姻家庭"), ("民法典", "第六编 继承")),
    ),
    TopicProfile(
        "labour",
        "劳动争议",
        _words(
            "工资 工钱 欠薪 讨薪 拖欠工资 老板 包工头 工地 打工 上班 加班 辞退 开除 辞职 "
            "劳动合同 试用期 工伤 受伤 经济补偿 用人单位 劳动仲裁 年假 产假 农民工 单位"
        ),
        (
            "劳动法",
            "劳动合同法",
            "劳动合同法实施条例",
            "劳动争议调解仲裁法",
            "劳动争议解释一",
            "保障农民工工资支付条例",
            "职工带薪年休假条例",
            "工伤保险条例",
        ),
    ),
    TopicProfile(
        "traffic",
        "交通事故",
        _words(
            "车祸 交通事故 撞 开车 司机 电动车 摩托 三轮 逃逸 肇事 交强险 酒驾 交警 机动车 驾驶"
        ),
        ("道路交通安全法", "道路交通安全法实施条例", "道路交通事故损害赔偿解释"),
        (("民法典", "第七编 侵权责任 / 第五章 机动车交通事故责任"),),
    ),
    TopicProfile(
        "consumer",
        "消费者权益",
        _words(
            "买 假货 假冒 退货 退款 商家 商店 网购 质量问题 过期 变质 三包 消费者 "
            "经营者 售后 农药 种子 化肥 虚假宣传 欺诈"
        ),
        ("消费者权益保护法", "产品质量法", "食品安全法"),
    ),
    TopicProfile(
        "neighbour",
        "邻里纠纷",
        _words(
            "邻居 隔壁 挡光 采光 滴水 排水 过道 通行 走路 围墙 地界 噪音 吵 狗咬 打架 "
            "骂人 堆放 漏水 树 相邻"
        ),
        ("治安管理处罚法",),
        (
            ("民法典", "第二编 物权 / 第二分编 所有权 / 第七章 相邻关系"),
            ("民法典", "第七编 侵权责任 / 第九章 饲养动物损害责任"),
            ("民法典", "第七编 侵权责任 / 第十章 建筑物和物件损害责任"),
        ),
    ),
    TopicProfile(
        "social_security",
        "社会保障",
        _words("社保 社会保险 养老保险 医保 医疗保险 低保 失业 退休 养老金 五险 新农合 报销"),
        ("社会保险法",),
    ),
    TopicProfile(
        "demolition",
        "房屋拆迁",
        _words("拆 拆迁 强拆 拆房 征收 征地 补偿款 补偿 安置 搬迁 违建 违章建筑 拆除"),
        ("国有土地上房屋征收与补偿条例", "城市房地产管理法"),
    ),
    TopicProfile(
        "tourism",
        "旅游纠纷",
        _words("旅游 旅行社 跟团 导游 景区 游客 购物店 农家乐 行程 旅行"),
        ("旅游法", "旅游纠纷规定"),
    ),
    TopicProfile(
        "private_lending",
        "民间借贷",
        _words(
            "借钱 欠钱 借款 借条 欠条 还钱 不还 利息 高利贷 担保人 作保 借给 欠账 要账 "
            "催债 赖账 老赖"
        ),
        ("民间借贷规定", "担保制度解释"),
        (
            ("民法典", "第三编 合同 / 第二分编 典型合同 / 第十二章 借款合同"),
            ("民法典", "第三编 合同 / 第二分编 典型合同 / 第十三章 保证合同"),
        ),
    ),
    TopicProfile(
        "elderly",
        "老年人权益",
        _words("养老 赡养 老人 老年人 父母 赡养费 不管老人 养老院 老父亲 老母亲 五保"),
        ("老年人权益保障法",),
    ),
    TopicProfile(
        "minors",
        "未成年人保护",
        _words("未成年 小孩 孩子 学生 学校 辍学 童工 留守 校园 欺凌 监护"),
        ("未成年人保护法", "家庭教育促进法"),
    ),
    TopicProfile(
        "women",
        "妇女权益",
        _words("妇女 女性 外嫁女 出嫁女 怀孕 孕期 性骚扰 男女平等 女职工"),
        ("妇女权益保障法", "女职工劳动保护特别规定"),
    ),
    TopicProfile(
        "disabled",
        "残疾人权益",
        _words("残疾 残疾人 残疾证 盲人 聋哑 智力障碍 轮椅"),
        ("残疾人保障法",),
    ),
    TopicProfile(
        "land",
        "土地纠纷",
        _words(
            "土地 承包地 责任田 种地 承包 流转 宅基地 房基地 草场 草原 牧场 林地 确权 "
            "收地 调地 村委会 集体 土地证"
        ),
        (
            "农村土地承包法",
            "农村土地承包经营纠纷调解仲裁法",
            "农村土地承包纠纷解释",
            "土地管理法",
            "土地管理法实施条例",
            "农村集体经济组织法",
            "村民委员会组织法",
        ),
        (
            ("民法典", "第二编 物权 / 第三分编 用益物权 / 第十一章 土地承包经营权"),
            ("民法典", "第二编 物权 / 第三分编 用益物权 / 第十三章 宅基地使用权"),
        ),
    ),
    TopicProfile("other", "其他问题", ()),
)

TOPIC_SLUGS: tuple[str, ...] = tuple(p.slug for p in PROFILES)
PROFILE_BY_SLUG: Mapping[str, TopicProfile] = MappingProxyType({p.slug: p for p in PROFILES})


@dataclass(frozen=True, slots=True)
class TopicWeights:
    """Weights of the kinds of evidence, in log-odds."""

    keyword: float = 1.8  # for one keyword of the topic in the text
    article: float = 1.0  # per retrieved article of the topic, discounted by rank
    choice: float = 1.6  # the topic picked at the terminal
    other: float = 1.5  # "other" before any evidence: one clear keyword outweighs it
    # ...and less so when the villager picked a topic: a vague text then keeps the choice.
    other_when_chosen: float = 1.2


@dataclass(frozen=True, slots=True)
class TopicGuess:
    slug: str
    zh: str
    confidence: float
    chosen: str | None
    scores: Mapping[str, float]


def article_topic(article: Article) -> str | None:
    """The topic an article belongs to, from its law or its chapter, if any."""
    # Expropriation articles live in land and property laws, but to a villager whose house is
    # to be pulled down they are about demolition.
    if "征收" in article.text and "补偿" in article.text:
        return "demolition"
    for p in PROFILES:
        if article.law.short in p.laws:
            return p.slug
        for short, prefix in p.chapters:
            if article.law.short == short and article.part.startswith(prefix):
                return p.slug
    return None


def classify(
    text: str,
    articles: Sequence[Article] = (),
    chosen: str | None = None,
    weights: TopicWeights = TopicWeights(),
) -> TopicGuess:
    """The most likely topic. `articles` are the retrieved ones, best first; `chosen` is the
    slug picked at the terminal (None or "other" when the villager did not know)."""
    normal = normalize(text)
    logits = {p.slug: 0.0 for p in PROFILES}
    picked = chosen is not None and chosen in logits and chosen != "other"
    logits["other"] = weights.other_when_chosen if picked else weights.other
    for p in PROFILES:
        hits = sum(1 for k in p.keywords if k in normal)
        # One clear keyword is full evidence; more add less and less (1, 1.5, 1.75, ... times).
        logits[p.slug] += weights.keyword * 2.0 * (1.0 - 0.5**hits)
    for rank, article in enumerate(articles[:10]):
        slug = article_topic(article)
        if slug is not None:
            logits[slug] += weights.article / (1.0 + rank) ** 0.5
    if picked and chosen is not None:
        logits[chosen] += weights.choice
    top = max(logits.values())
    exp = {s: math.exp(v - top) for s, v in logits.items()}
    total = sum(exp.values())
    probs = {s: v / total for s, v in exp.items()}
    best = max(TOPIC_SLUGS, key=lambda s: (probs[s], -TOPIC_SLUGS.index(s)))
    return TopicGuess(
        slug=best,
        zh=PROFILE_BY_SLUG[best].zh,
        confidence=probs[best],
        chosen=chosen,
        scores=MappingProxyType(probs),
    )
