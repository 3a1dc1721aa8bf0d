"""What a person sees in a Slack message, as one text in Slack markup: its text, its blocks, its
attachments (app posts, link unfurls, shared and forwarded messages) and the files it carries.

Apps (GitHub, CI, trackers) and Slack itself (shares, forwards, unfurls) put a message's content
in `blocks` or `attachments` with a short or empty `text`; reading `text` alone hands the model an
empty message. The result keeps Slack's markup (`<@U1>`, `<url|label>`, entities) so
`slack_markup.slack_to_plain` turns it into plain text with names, as for any message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from bot.model import FileRef

__all__ = ["cannot_open_line", "file_line", "file_refs", "visible_text"]

MAX_FILES_LISTED = 20
# file_access values of a file the bot may not open: shared over Slack Connect by another
# organization ("check_file_info": ask files.info, which may still refuse).
CANNOT_OPEN: Final = frozenset({"check_file_info", "access_denied"})


def visible_text(message: Mapping[str, Any]) -> str:
    """The message's content, top to bottom, as Slack shows it (blank parts left out)."""
    text = _str(message.get("text"))
    blocks = _dicts(message.get("blocks"))
    parts: list[str] = []
    # A person's message carries its words twice, in `text` and as `rich_text` blocks: `text` is
    # enough. Apps send `text` as a short notification and the content in other blocks: add those
    # unless `text` already says the same.
    if text:
        parts.append(text)
    else:
        parts.extend(p for p in (_block(b) for b in blocks if b.get("type") == "rich_text") if p)
    extra = "\n".join(p for p in (_block(b) for b in blocks if b.get("type") != "rich_text") if p)
    if extra and not (text and _contains_words(text, extra)):
        parts.append(extra)
    parts.extend(p for p in (_attachment(a) for a in _dicts(message.get("attachments"))) if p)
    parts.extend(_files(_dicts(message.get("files"))))
    return "\n".join(parts)


# -- blocks ---------------------------------------------------------------------------------------


def _block(block: Mapping[str, Any]) -> str:
    kind = block.get("type")
    if kind == "rich_text":
        return "\n".join(p for p in (_rich(e) for e in _dicts(block.get("elements"))) if p)
    if kind in ("section", "header"):
        lines = [_text_object(block.get("text"))]
        lines.extend(_text_object(f) for f in _dicts(block.get("fields")))
        return "\n".join(line for line in lines if line)
    if kind == "context":
        return " ".join(p for p in (_text_object(e) for e in _dicts(block.get("elements"))) if p)
    if kind == "image":
        alt = _str(block.get("alt_text")) or _text_object(block.get("title"))
        return f"[image: {alt}]" if alt else "[image]"
    if kind == "markdown":
        return _str(block.get("text"))
    return ""


def _text_object(value: object) -> str:
    if isinstance(value, Mapping):
        if value.get("type") == "image":
            return ""
        return _str(value.get("text"))
    return ""


def _rich(element: Mapping[str, Any]) -> str:
    kind = element.get("type")
    inner = _dicts(element.get("elements"))
    if kind == "rich_text_section":
        return _inline(inner)
    if kind == "rich_text_preformatted":
        return "```\n" + _inline(inner) + "\n```"
    if kind == "rich_text_quote":
        return "\n".join("> " + line for line in _inline(inner).split("\n"))
    if kind == "rich_text_list":
        ordered = element.get("style") == "ordered"
        depth = "  " * _int(element.get("indent"))
        items = [_rich(item) for item in inner]
        return "\n".join(
            f"{depth}{i}. {item}" if ordered else f"{depth}• {item}" for i, item in enumerate(items, 1)
        )
    return _inline(inner)


def _inline(elements: Iterable[Mapping[str, Any]]) -> str:
    out: list[str] = []
    for e in elements:
        kind = e.get("type")
        if kind == "text":
            out.append(_escape(_str(e.get("text"))))
        elif kind == "link":
            url, label = _str(e.get("url")), _str(e.get("text"))
            out.append(f"<{url}|{_escape(label)}>" if label else f"<{url}>")
        elif kind == "user":
            out.append(f"<@{_str(e.get('user_id'))}>")
        elif kind == "channel":
            out.append(f"<#{_str(e.get('channel_id'))}>")
        elif kind == "usergroup":
            out.append(f"<!subteam^{_str(e.get('usergroup_id'))}>")
        elif kind == "broadcast":
            out.append(f"<!{_str(e.get('range'))}>")
        elif kind == "emoji":
            out.append(f":{_str(e.get('name'))}:")
        elif kind == "date":
            out.append(_escape(_str(e.get("fallback"))))
        elif kind in ("rich_text_section", "rich_text_list", "rich_text_quote", "rich_text_preformatted"):
            out.append(_rich(e))
    return "".join(out)


# -- attachments ----------------------------------------------------------------------------------


def _attachment(a: Mapping[str, Any]) -> str:
    """An app post, an unfurl, or a shared/forwarded message, as a quoted block with its source."""
    lines: list[str] = []
    shared = bool(a.get("is_share") or a.get("is_msg_unfurl"))
    if shared:
        author = _str(a.get("author_name")) or _str(a.get("author_subname"))
        where = _str(a.get("channel_name"))
        source = "Shared message" + (f" from {author}" if author else "") + (f" in #{where}" if where else "")
        lines.append(f"[{source}]")
    elif a.get("pretext"):
        lines.append(_str(a.get("pretext")))
    if not shared and a.get("author_name"):
        lines.append(_str(a.get("author_name")))
    title, link = _str(a.get("title")), _str(a.get("title_link"))
    if title:
        lines.append(f"<{link}|{title}>" if link else title)
    body = _str(a.get("text"))
    nested = [b for b in _dicts(a.get("message_blocks")) if isinstance(b.get("message"), Mapping)]
    if not body and nested:
        body = "\n".join(visible_text(b["message"]) for b in nested)
    if not body:
        body = "\n".join(p for p in (_block(b) for b in _dicts(a.get("blocks"))) if p)
    if body:
        lines.append(body)
    for field in _dicts(a.get("fields")):
        name, value = _str(field.get("title")), _str(field.get("value"))
        if name or value:
            lines.append(f"{name}: {value}" if name and value else name or value)
    if not (title or body) and a.get("fallback"):
        lines.append(_str(a.get("fallback")))
    footer = _str(a.get("footer")) or _str(a.get("service_name"))
    if footer:
        lines.append(f"— {footer}")
    if not lines:
        return ""
    return "\n".join("> " + line for line in "\n".join(lines).split("\n"))


# -- files -----------------------------------------------------------------------------------------


def file_refs(message: Mapping[str, Any]) -> tuple[FileRef, ...]:
    """The files a message carries (at most `MAX_FILES_LISTED`), as the history keeps them."""
    return tuple(FileRef.of(f) for f in _dicts(message.get("files"))[:MAX_FILES_LISTED])


def file_line(ref: FileRef) -> str:
    """How a file shows in the message's text: its name and type always, an image's alt text.

    The conversation reader finds this line again to put a text file's contents after it.
    """
    if ref.mode == "tombstone" or ref.access == "file_not_found":
        return "[a file that was deleted]"
    if ref.access in CANNOT_OPEN or ref.mode == "file_access":
        return cannot_open_line(ref)
    name = ref.name or "file"
    kind = ref.pretty_type or ref.filetype
    described = name + (f" ({kind})" if kind else "")
    if ref.mimetype.startswith("image/"):
        alt = f"; alt text: {ref.alt}" if ref.alt else ""
        return f"[attached image: {described}{alt}]"
    return f"[attached file: {described}]"


def cannot_open_line(ref: FileRef) -> str:
    """A file the bot may not read (Slack Connect: shared from another organization)."""
    name = f": {ref.name}" if ref.name else ""
    return f"[file shared from another organization; the bot cannot open it{name}]"


def _files(files: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = [file_line(FileRef.of(f)) for f in files[:MAX_FILES_LISTED]]
    if len(files) > MAX_FILES_LISTED:
        lines.append(f"[and {len(files) - MAX_FILES_LISTED} more files]")
    return lines


# -- helpers ----------------------------------------------------------------------------------------


def _contains_words(haystack: str, needle: str) -> bool:
    return " ".join(_words(needle)) in " ".join(_words(haystack))


def _words(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in text.lower()).split()


def _escape(text: str) -> str:
    """Rich-text `text` elements are plain; escape them as Slack escapes `text`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10 else 0


def _dicts(value: object) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []
