"""Chinese text to search terms: normalisation, jieba words, character bigrams.

Statutes and villagers' questions go through the same functions, so a term means the same on
both sides. jieba is held in a `Segmenter` instance (never jieba's module-level default
tokenizer), initialised quietly once.
"""

from __future__ import annotations

import importlib
import logging
import re
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from typing import Protocol, cast

# Punctuation, particles and question words that carry no legal meaning. IDF would push most of
# them down anyway; dropping them keeps query vectors short, which keeps queries fast.
_STOPWORDS_TEXT = """
    的 了 是 在 和 与 或 及 等 把 被 对 给 向 从 以 为 于 之 其 这 那 此 该 有 无 不 没 没有
    也 都 就 还 又 再 才 只 很 太 更 最 吗 呢 吧 啊 呀 哦 嘛 么 啥 咋 怎 怎么 怎么办 怎样 怎么样
    如何 什么 哪些 哪个 哪里 多少 几 是否 能否 可否 会不会 能不能 可不可以 是不是 有没有 要不要
    我 我们 你 你们 他 他们 她 她们 它 自己 人家 别人 咱 咱们 俺 请问 问 问题 想 想问 知道 一下
    一个 一些 这个 那个 这样 那样 这种 那种 如果 假如 但是 可是 因为 所以 而且 然后 已经 现在
    可以 应该 应当 需要 要 会 能 能够 得 着 过 个 吧 么 呗 啦 嘞
"""
STOPWORDS: frozenset[str] = frozenset(_STOPWORDS_TEXT.split())

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORDISH = re.compile(r"[\w\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Control and format characters (zero-width joiners, bidi marks) and unassigned code points;
# surrogates and private use too, since they cannot be legal text.
_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


class _JiebaTokenizer(Protocol):
    def initialize(self) -> None: ...
    def cut(self, sentence: str, cut_all: bool = ..., HMM: bool = ...) -> Iterable[str]: ...
    def cut_for_search(self, sentence: str, HMM: bool = ...) -> Iterable[str]: ...
    def add_word(self, word: str, freq: int | None = ..., tag: str | None = ...) -> None: ...


def normalize(text: str) -> str:
    """NFKC (full-width digits and letters to ASCII), lower case, control characters dropped,
    whitespace runs collapsed. For matching only: what is shown is always the original text."""
    text = unicodedata.normalize("NFKC", text)
    kept = (
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch) not in _DROP_CATEGORIES
    )
    return " ".join("".join(kept).split()).lower()


def cjk_count(text: str) -> int:
    return sum(len(run) for run in _CJK.findall(text))


def bigrams(text: str) -> list[str]:
    """Overlapping character bigrams inside each run of Chinese characters: they match phrases
    and survive the segmentation differences between a statute and a question."""
    out: list[str] = []
    for run in _CJK.findall(text):
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


class Segmenter:
    """A private jieba tokenizer with the legal vocabulary added as words."""

    def __init__(self, extra_words: Sequence[str] = ()) -> None:
        with warnings.catch_warnings():
            # jieba 0.42 imports pkg_resources, which newer setuptools deprecates; nothing we
            # can fix from here, and the fallback it uses when the import fails is equivalent.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            # jieba ships no type information: reach it through the Protocol above.
            jieba = importlib.import_module("jieba")

        # jieba logs its dictionary loading at DEBUG to stderr through its own handler.
        logging.getLogger("jieba").setLevel(logging.WARNING)
        tokenizer = cast(_JiebaTokenizer, jieba.Tokenizer())
        tokenizer.initialize()
        for word in extra_words:
            # A frequency high enough that jieba keeps the term whole rather than splitting it.
            tokenizer.add_word(word, freq=20000)
        self._tokenizer = tokenizer

    def words(self, text: str) -> list[str]:
        """Search-mode jieba words of normalised text, stopwords and punctuation dropped. Search
        mode also yields the shorter words inside long ones (宅基地 -> 宅基, 基地, 宅基地)."""
        return [
            w
            for w in self._tokenizer.cut_for_search(normalize(text), HMM=True)
            if w.strip() and w not in STOPWORDS and _WORDISH.search(w)
        ]

    def plain_words(self, text: str) -> list[str]:
        """Ordinary jieba words (no search-mode sub-words): for the baseline and for phrases."""
        return [
            w
            for w in self._tokenizer.cut(normalize(text), HMM=True)
            if w.strip() and w not in STOPWORDS and _WORDISH.search(w)
        ]
