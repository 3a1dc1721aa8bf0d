"""Read Slack message markup: plain text for the model, and who a message mentions.

Slack stores messages with control sequences in angle brackets (`<@U123>`, `<#C1|general>`,
`<https://x|label>`, `<!here>`) and `&`, `<`, `>` escaped as entities. A model reading that raw
sees user IDs instead of names and `&lt;` instead of `<`, so questions about "what Alice said"
or code with comparisons come out wrong. `slack_to_plain` rewrites it into what a person sees.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

__all__ = ["mentioned_user_ids", "mentions_user", "referenced_ids", "slack_to_plain"]

# One pass over the text finds control sequences and entities together, so text that was never
# escaped (a name inserted for a mention) is never unescaped twice.
_MARKUP = re.compile(r"<([^<>\n]*)>|&(amp|lt|gt);")
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")
# A channel or user group named by ID alone (no label): its name has to be looked up.
_UNLABELLED_REFERENCE = re.compile(r"<#([CG][A-Z0-9]+)>|<!subteam\^(S[A-Z0-9]+)>")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_ENTITIES: Final = {"amp": "&", "lt": "<", "gt": ">"}
_SPECIAL_MENTIONS: Final = frozenset({"here", "channel", "everyone"})
_NO_SPACE_BEFORE: Final = frozenset(",.;:!?)]}")


def slack_to_plain(text: str, *, names: Mapping[str, str], bot_user_id: str | None) -> str:
    """Rewrite Slack markup as a person reads it, and drop mentions of the bot itself.

    A mention of a user becomes `@` and their name from `names` (the same display names the
    prompt uses for authors), else the label Slack put in the token, else the user ID. A channel
    or user group without a label shows as `names` has it by ID ("#general", "@oncall", or a
    neutral "a user group"), else as its ID. The bot's
    own mention is how people address it, not content, so it is removed together with the space
    it leaves. The result is stripped of leading and trailing whitespace.
    """
    parts: list[str] = []
    position = 0
    for match in _MARKUP.finditer(text):
        parts.append(text[position : match.start()])
        position = match.end()
        entity = match.group(2)
        if entity is not None:
            parts.append(_ENTITIES[entity])
            continue
        body = match.group(1)
        if bot_user_id is not None and _mention_id(body) == bot_user_id:
            position = _drop_mention(parts, text, position)
            continue
        parts.append(_token(body, names))
    parts.append(text[position:])
    return "".join(parts).strip()


def mentioned_user_ids(text: str) -> list[str]:
    """IDs of users mentioned in raw Slack text, first mention first, each once."""
    return list(dict.fromkeys(_USER_MENTION.findall(text)))


def referenced_ids(text: str) -> list[str]:
    """IDs of channels and user groups referenced without a label in raw Slack text, each once."""
    return list(dict.fromkeys(channel or group for channel, group in _UNLABELLED_REFERENCE.findall(text)))


def mentions_user(text: str, user_id: str) -> bool:
    """Whether raw Slack text mentions `user_id` (with or without a label in the token)."""
    return user_id in _USER_MENTION.findall(text)


def _mention_id(body: str) -> str | None:
    if not body.startswith("@"):
        return None
    return body[1:].partition("|")[0]


def _drop_mention(parts: list[str], text: str, after: int) -> int:
    """Close the gap a removed mention leaves; return where the text continues.

    "hey <@BOT> there" keeps one space, "thanks <@BOT>!" keeps none, and a mention that starts
    a line takes the space and a "," or ":" after it along ("<@BOT>: summarise" → "summarise").
    """
    if not _line_open(parts):
        if after < len(text) and text[after] in ",:":
            after += 1
        while after < len(text) and text[after] in " \t":
            after += 1
        return after
    spaced = False
    while parts and parts[-1] and parts[-1][-1] in " \t":
        parts[-1] = parts[-1][:-1]
        spaced = True
    while after < len(text) and text[after] in " \t":
        after += 1
        spaced = True
    following = text[after] if after < len(text) else "\n"
    if spaced and following != "\n" and following not in _NO_SPACE_BEFORE:
        parts.append(" ")
    return after


def _line_open(parts: list[str]) -> bool:
    """Whether the output so far ends in the middle of a line (not at its start)."""
    for part in reversed(parts):
        if part:
            return part[-1] != "\n"
    return False


def _token(body: str, names: Mapping[str, str]) -> str:
    target, _, label = body.partition("|")
    label = _unescape(label)
    if target.startswith("@"):
        user = target[1:]
        return "@" + (names.get(user) or label or user)
    if target.startswith("#"):
        return "#" + label if label else names.get(target[1:]) or target
    if target.startswith("!"):
        return _command(target[1:], label, names)
    if _SCHEME.match(target):
        return _link(_unescape(target), label)
    return label or _unescape(target)


def _command(command: str, label: str, names: Mapping[str, str]) -> str:
    """`<!here>`, `<!subteam^S1|@team>`, `<!date^…|fallback>` and the like."""
    name, _, argument = command.partition("^")
    if name in _SPECIAL_MENTIONS:
        return "@" + name
    if name == "subteam":
        if not label:
            return names.get(argument) or "@" + argument
        return label if label.startswith("@") else "@" + label
    if name == "date":
        return label or _date(argument)
    return label or "@" + name


def _date(argument: str) -> str:
    """A date token without fallback text: show its timestamp as a UTC date and time."""
    timestamp = argument.partition("^")[0]
    if not timestamp.isdigit() or len(timestamp) > 11:
        return ""
    return datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d %H:%M UTC")


def _link(url: str, label: str) -> str:
    address = url[len("mailto:") :] if url.startswith("mailto:") else url
    if not label or label in (url, address):
        return address
    return f"{label} ({address})"


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
