"""Shared text files and snippets read into the messages that carry them, for the prompt.

The history keeps a message's text with each file's line ("[attached file: app.py (Python)]")
and the file's reference; the contents are fetched when a conversation is read for an answer,
kept in Redis for a while by file id (re-reading a thread does not download again), and put
after the file's line. Slack Connect files (`file_access: check_file_info`) are looked up with
files.info first: some are open to the bot after all; the others are named as files the bot
cannot open.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import replace

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.model import FileRef, StoredMessage
from bot.slack.files import Fetched, FileFetcher, Outcome
from bot.stores.cache import ValueCache
from bot.text.file_text import contents_block, decode_prefix, is_text_like, with_contents
from bot.text.images import SUPPORTED_IMAGE_TYPES, image_part
from bot.text.slack_content import CANNOT_OPEN, cannot_open_line, file_line

log = logging.getLogger(__name__)

MAX_FILES_READ = 10  # per conversation read: the newest messages' files first
MAX_IMAGES = 4  # of one question, when the model is given images
IMAGE_MAX_BYTES = 5 * 1024 * 1024  # a larger image is named only (inline, it is a third larger)
CACHE_SECONDS = 6 * 3600
PARALLEL_FETCHES = 4


class FileContents:
    def __init__(
        self,
        *,
        fetcher: FileFetcher,
        cache: ValueCache,
        slack: AsyncWebClient,
        max_files: int = MAX_FILES_READ,
        cache_seconds: int = CACHE_SECONDS,
        image_fetcher: FileFetcher | None = None,
    ) -> None:
        """`image_fetcher`: given, `images` downloads a question's images (IMAGE_INPUT)."""
        self._fetcher = fetcher
        self._cache = cache
        self._slack = slack
        self._max_files = max_files
        self._cache_seconds = cache_seconds
        self._parallel = asyncio.Semaphore(PARALLEL_FETCHES)
        self._image_fetcher = image_fetcher

    async def expand(self, team: str, messages: Sequence[StoredMessage]) -> list[StoredMessage]:
        """`messages` with their readable files' contents in their text (order kept)."""
        chosen: list[tuple[int, FileRef]] = []
        for index in range(len(messages) - 1, -1, -1):
            for ref in messages[index].files:
                if len(chosen) < self._max_files and (is_text_like(ref) or _ask_slack(ref)):
                    chosen.append((index, ref))
        if not chosen:
            return list(messages)
        blocks = await asyncio.gather(*(self._read(team, ref) for _, ref in chosen))
        found: dict[int, list[tuple[str, str]]] = {}
        for (index, _), block in zip(chosen, blocks, strict=True):
            if block is not None:
                found.setdefault(index, []).append(block)
        out = list(messages)
        for index, replacements in found.items():
            out[index] = replace(out[index], text=with_contents(out[index].text, replacements))
        return out

    async def images(self, refs: Sequence[FileRef]) -> list[dict[str, object]]:
        """`image_url` parts for the images among `refs` (none without an image fetcher). Not
        cached: images are large, and only the question's own are sent, once."""
        fetcher = self._image_fetcher
        wanted = [r for r in refs if r.mimetype in SUPPORTED_IMAGE_TYPES and r.id and r.url][:MAX_IMAGES]
        if fetcher is None or not wanted:
            return []
        fetched = await asyncio.gather(*(fetcher.fetch(r) for r in wanted))
        return [
            image_part(ref.mimetype, got.data)
            for ref, got in zip(wanted, fetched, strict=True)
            if got.outcome is Outcome.TEXT and not got.truncated and got.data
        ]

    async def _read(self, team: str, ref: FileRef) -> tuple[str, str] | None:
        """(the file's line in the text, what replaces it) or None to leave the message as it is."""
        line = file_line(ref)
        if _ask_slack(ref):
            info = await self._known_file_info(team, ref)
            if info is None or not is_text_like(info):
                return (line, cannot_open_line(ref)) if info is None else (line, file_line(info))
            ref = info
        text = await self._text(team, ref)
        if text is None:
            return None
        if text is _CANNOT_OPEN:
            return line, cannot_open_line(ref)
        return line, file_line(ref) + "\n" + text

    async def _text(self, team: str, ref: FileRef) -> str | None:
        key = f"file:{team}:{ref.id}:{self._fetcher.max_bytes}"
        kept = await self._cache.get(key)
        if kept is not None:
            return _from_cache(kept)
        async with self._parallel:
            fetched = await self._fetcher.fetch(ref)
        if fetched.outcome is Outcome.FAILED:
            return None  # not kept: the next read tries again
        value = _to_cache(ref, fetched, cap=self._fetcher.max_bytes)
        await self._cache.put(key, value, ttl=self._cache_seconds)
        return _from_cache(value)

    async def _known_file_info(self, team: str, ref: FileRef) -> FileRef | None:
        """files.info's answer for a Slack Connect file, kept like the contents (a refusal too)."""
        key = f"fileinfo:{team}:{ref.id}"
        kept = await self._cache.get(key)
        if kept is not None:
            try:
                data = json.loads(kept)
            except ValueError:
                data = None
            return FileRef.of(data) if isinstance(data, dict) and data.get("id") else None
        info, final = await self._file_info(ref)
        if final:
            await self._cache.put(key, json.dumps(info.dump() if info else {}), ttl=self._cache_seconds)
        return info

    async def _file_info(self, ref: FileRef) -> tuple[FileRef | None, bool]:
        """(the file as files.info describes it, or None; whether that answer is worth keeping)."""
        try:
            response = await self._slack.files_info(file=ref.id)
        except SlackApiError as exc:
            error = exc.response.get("error")
            log.info("files.info for %s failed: %s", ref.id, error)
            return None, error not in ("ratelimited", "internal_error", "fatal_error")
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("files.info for %s failed: %s", ref.id, type(exc).__name__)
            return None, False
        data = response.get("file")
        info = FileRef.of(data) if isinstance(data, dict) else None
        if info is None or not info.id or info.access in CANNOT_OPEN or not info.url:
            return None, True
        return info, True


_CANNOT_OPEN = "\x00cannot-open"  # never a file's text: clean_text removes NULs from every text


def _ask_slack(ref: FileRef) -> bool:
    return ref.access == "check_file_info" and bool(ref.id)


def _to_cache(ref: FileRef, fetched: Fetched, *, cap: int) -> str:
    if fetched.outcome is Outcome.CANNOT_OPEN:
        return json.dumps({"cannot_open": True})
    text = decode_prefix(fetched.data, complete=not fetched.truncated).replace("\x00", "")
    return json.dumps({"block": contents_block(ref, text, truncated=fetched.truncated, cap=cap)})


def _from_cache(value: str) -> str | None:
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if data.get("cannot_open"):
        return _CANNOT_OPEN
    block = data.get("block")
    return block if isinstance(block, str) else None
