"""Images for a model that reads them: OpenAI's `image_url` content parts, as `data:` URLs.

Slack's `url_private` needs the bot token, so a model cannot fetch it: the bytes go inline,
base64-encoded. Only the question's own images go, in the question's turn, after its text
(content parts: `{"type": "text"}` then `{"type": "image_url"}`), as OpenAI's chat format has it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Final

__all__ = ["SUPPORTED_IMAGE_TYPES", "image_part", "with_images"]

# What OpenAI-style vision models accept (PNG, JPEG, WEBP, non-animated GIF).
SUPPORTED_IMAGE_TYPES: Final = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})


def image_part(mimetype: str, data: bytes) -> dict[str, object]:
    url = f"data:{mimetype};base64,{base64.b64encode(data).decode('ascii')}"
    return {"type": "image_url", "image_url": {"url": url}}


def with_images(
    messages: Sequence[Mapping[str, str]], images: Sequence[Mapping[str, object]]
) -> list[dict[str, object]]:
    """`messages` with `images` after the text of the last user turn (the question)."""
    out: list[dict[str, object]] = [dict(m) for m in messages]
    if not images:
        return out
    for message in reversed(out):
        if message.get("role") == "user":
            text = message.get("content")
            message["content"] = [{"type": "text", "text": text if isinstance(text, str) else ""}, *images]
            break
    return out
