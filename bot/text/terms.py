"""Words to index and search by: lower-cased, Slack markup and links dropped, stop words left out,
and a light suffix-stripping stem so "rotating", "rotated" and "rotates" meet "rotate".

The same function runs on messages and on questions, so whatever it does it does to both; it
does not need to be linguistically right, only consistent and cheap (it runs on every message
before the ack).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Final

_MARKUP = re.compile(r"<[^>]*>|https?://\S+|```.*?```", re.DOTALL)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
MAX_TERM_CHARS: Final = 32
MAX_TERMS_PER_MESSAGE: Final = 400  # a pasted log indexes by its first words, not all of them

STOP_WORDS: Final = frozenset(
    """
    a about above after again against all am an and any are aren as at be because been before being
    below between both but by can cannot could couldn did didn do does doesn doing don down during each
    few for from further had hadn has hasn have haven having he her here hers herself him himself his how
    i if in into is isn it its itself just let me more most mustn my myself no nor not now of off on once
    only or other ought our ours ourselves out over own same shan she should shouldn so some such than
    that the their theirs them themselves then there these they this those through to too under until up
    very was wasn we were weren what when where which while who whom why will with won would wouldn you
    your yours yourself yourselves also anyone anybody anything someone something thing things get got
    gets know knows knew does hey hi hello thanks thank please ok okay yes yeah oh like still again ever
    one us re ve ll d s t m y
    """.split()
)

# Longest first: the first suffix that leaves a stem of three or more letters is stripped.
_SUFFIXES: Final = (
    ("ational", "ate"),
    ("ization", "ize"),
    ("fulness", "ful"),
    ("ousness", "ous"),
    ("iveness", "ive"),
    ("ations", "ate"),
    ("ation", "ate"),
    ("ments", ""),
    ("ment", ""),
    ("ings", ""),
    ("ing", ""),
    ("ies", "y"),
    ("ied", "y"),
    ("edly", ""),
    ("ed", ""),
    ("ly", ""),
    ("es", ""),
    ("s", ""),
    ("e", ""),
)


def stem(word: str) -> str:
    """A crude, consistent stem: "passwords" → "password", "rotating"/"rotated"/"rotate" → "rotat"."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ss"):
        return word
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: len(word) - len(suffix)] + replacement
            break
    # Doubled final consonants left by -ing/-ed ("stopped" → "stopp" → "stop").
    if len(word) > 4 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]
    return word


def terms(text: str) -> list[str]:
    """The index terms of `text`, in order, repeats kept (term frequency counts them)."""
    plain = _MARKUP.sub(" ", text.lower())
    out: list[str] = []
    for match in _WORD.finditer(plain):
        word = match.group().replace("’", "'").split("'")[0]
        if len(word) < 2 and not word.isdigit():
            continue
        if word in STOP_WORDS or len(word) > MAX_TERM_CHARS:
            continue
        out.append(stem(word))
        if len(out) >= MAX_TERMS_PER_MESSAGE:
            break
    return out


def term_counts(text: str) -> Counter[str]:
    return Counter(terms(text))


def query_terms(text: str, *, limit: int = 12) -> list[str]:
    """The distinct terms of a question, first ones first (a long question searches by its start)."""
    return list(dict.fromkeys(terms(text)))[:limit]
