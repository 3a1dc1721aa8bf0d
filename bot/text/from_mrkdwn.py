"""The bot's own answers, read back from Slack, turned from mrkdwn into the Markdown it wrote.

Answers are recorded as Markdown when they finish streaming; only a thread backfilled from Slack
brings them back as posted mrkdwn (`*bold*`, `<url|label>`, `&lt;`). Given to the model as its own
earlier turns, that markup gets copied into new answers, so it is undone here. Code is left as is.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"(```.*?```)", re.DOTALL)
_CODE = re.compile(r"(`[^`\n]+`)")
_LINK = re.compile(r"<((?:https?|mailto):[^|>\s]+)(?:\|([^>]*))?>")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")
_BULLET = re.compile(r"^(\s*)• ", re.MULTILINE)


def mrkdwn_to_markdown(text: str) -> str:
    out: list[str] = []
    for i, fenced in enumerate(_FENCE.split(text)):
        if i % 2:
            out.append(_unescape(fenced))
            continue
        for j, part in enumerate(_CODE.split(fenced)):
            out.append(_unescape(part) if j % 2 else _prose(part))
    return "".join(out)


def _prose(text: str) -> str:
    text = _LINK.sub(lambda m: f"[{m.group(2)}]({m.group(1)})" if m.group(2) else m.group(1), text)
    text = _BOLD.sub(r"**\1**", text)
    text = _ITALIC.sub(r"*\1*", text)
    text = _STRIKE.sub(r"~~\1~~", text)
    text = _BULLET.sub(r"\1- ", text)
    return _unescape(text)


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
