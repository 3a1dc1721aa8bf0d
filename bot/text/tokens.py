"""How many tokens a text costs a model, estimated from its scripts: a pure function, no tokenizer.

The model behind RelayDance is configurable and no tokenizer of its family ships offline (OpenAI's
`tiktoken` downloads its BPE tables on first use; Grok's tokenizers are published only as model
files), so the count is estimated from what byte-pair tokenizers do with each kind of text:

- English-like words (Latin letters, accents too) are about one token each, longer ones one
  more per six letters; digits go in groups of three; ASCII punctuation in pairs; a line break
  or a run of indentation is a token of its own. So prose comes out near 5 characters a token
  and code, JSON, logs and tables denser, 2-4.
- Han ideographs, kana and hangul cost most of a token each.
- Words in other alphabets (Cyrillic, Greek, Arabic, Hebrew, Armenian, Georgian) cost about a
  token per four letters; scripts without spaces or with many marks (Thai, Devanagari and the
  other Brahmic scripts) one per two to three characters.
- Emoji and other characters beyond the first Unicode plane cost two tokens each; joiners and
  variation selectors inside an emoji sequence one more.

Calibrated against OpenAI's `o200k_base` (GPT-4o and later) on the samples in
tests/bot/text/token_samples/ (references and how they were made: references.json there);
every sample is within 25 % of it and none more than 10 % under. It runs on every message of a
conversation, so it is a few regular-expression scans in C and no Python loop over characters
(bench/tokens.py measures it).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["text_tokens"]

# Character ranges, by how a tokenizer treats them.
_LATIN: Final = "A-Za-z\u00c0-\u024f\u1e00-\u1eff"  # ASCII, Latin-1, Extended-A/B, Additional
_ALPHABETS: Final = (  # Greek, Cyrillic, Armenian, Hebrew, Arabic (and its supplement), Georgian
    "\u0370-\u03ff\u0400-\u052f\u0530-\u058f\u0590-\u05ff\u0600-\u06ff\u0750-\u077f\u10a0-\u10ff"
)
_CJK: Final = (  # hangul jamo, CJK punctuation, kana, compatibility jamo, Han, hangul, full-width
    "\u1100-\u11ff\u3000-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
)
_BRAHMIC: Final = "\u0900-\u0dff\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff"  # to Khmer
_EMOJI_PARTS: Final = "\u200d\ufe0e\ufe0f\u2190-\u2bff"  # joiner, selectors, arrows to dingbats
_ASTRAL: Final = "\U00010000-\U0010ffff"  # beyond the first plane: emoji, rarer ideographs

# Each match is one token.
_ONE_TOKEN: Final = re.compile(
    rf"[{_LATIN}]{{1,7}}"  # a word, or seven letters of a longer one
    r"|[0-9]{1,3}"  # digits, three at a time
    r"|[!-/:-@\[-`{-~]{1,2}"  # ASCII punctuation and symbols, two at a time
    r"|[\r\n]+[ \t]*"  # a line break with the next line's indentation
    r"|[ \t]{2,}"  # indentation or alignment
    rf"|[{_ALPHABETS}]{{1,4}}"  # four letters of another alphabet
    rf"|[^\x00-\x7f{_LATIN}{_ALPHABETS}{_CJK}{_BRAHMIC}{_EMOJI_PARTS}{_ASTRAL}]"  # any other character
)
# Random-looking strings (base64, keys, ids in mixed case) split into many short tokens.
_BLOB: Final = re.compile(r"[A-Za-z0-9+/=_-]{24,}")
_BLOB_CHARS_PER_TOKEN: Final = 1.4

# Only in non-ASCII text: tokens per character, by script.
_PER_CHARACTER: Final = (
    (re.compile("[\u00c0-\u024f\u1e00-\u1eff]"), 0.5),  # accented Latin letters split words more often
    (re.compile(f"[{_CJK}]"), 0.75),  # Han, kana, hangul, CJK punctuation, full-width forms
    (re.compile(f"[{_BRAHMIC}]"), 0.4),  # Devanagari to Sinhala, Thai, Lao, Tibetan, Myanmar, Khmer
    (re.compile(f"[{_ASTRAL}]"), 2.0),  # beyond the first plane: emoji, rarer ideographs
    (re.compile(f"[{_EMOJI_PARTS}]"), 1.0),  # joiners, variation selectors, arrows and dingbats
)


def text_tokens(text: str) -> int:
    """Estimated tokens of `text` alone (no chat-message overhead); 0 for an empty text."""
    if not text:
        return 0
    count = float(len(_ONE_TOKEN.findall(text)))
    for blob in _BLOB.findall(text):
        if _looks_random(blob):
            count += len(blob) / _BLOB_CHARS_PER_TOKEN - len(_ONE_TOKEN.findall(blob))
    if not text.isascii():
        for pattern, weight in _PER_CHARACTER:
            count += weight * len(pattern.findall(text))
    return max(1, -int(-count // 1))


def _looks_random(run: str) -> bool:
    """Digits and both cases in one long run: base64 or a key, not a word or an identifier."""
    return any(c.isdigit() for c in run) and not run.islower() and not run.isupper() and not run.isdigit()
