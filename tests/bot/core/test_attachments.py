"""Shared files read into a conversation: against the fake Slack's file downloads and a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import httpx
import pytest
import redis.asyncio as aioredis
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.attachments import FileContents
from bot.core.context import ConversationReader
from bot.model import Conversation, FileRef, StoredMessage
from bot.slack.files import FileFetcher, Outcome
from bot.slack.identity import BotIdentity
from bot.slack.messages import stored_from_slack
from bot.slack.users import UserDirectory
from bot.stores import Stores
from bot.text.slack_markup import slack_to_plain
from tests.e2e_harness import make_settings
from tests.fakes.relaydance import FakeRelayDance
from tests.fakes.slack import FakeSlack

BOT = BotIdentity(team_id="T1", user_id="UBOT", bot_id="BBOT")
CONV = Conversation("T1", "C1", None)


@dataclass
class Parts:
    slack: FakeSlack
    stores: Stores
    web: AsyncWebClient
    http: httpx.AsyncClient

    def fetcher(self, *, max_bytes: int = 65_536, token: str | None = None) -> FileFetcher:
        return FileFetcher(
            http=self.http,
            token=lambda: token or self.slack.bot_token,
            max_bytes=max_bytes,
            extra_hosts=[urlsplit(self.slack.base_url).netloc],
        )

    def contents(self, *, max_bytes: int = 65_536, token: str | None = None) -> FileContents:
        fetcher = self.fetcher(max_bytes=max_bytes, token=token)
        return FileContents(fetcher=fetcher, cache=self.stores.cache, slack=self.web)

    def message(
        self, *files: dict[str, object], text: str = "see attached", ts: str = "1700000001.000100"
    ) -> StoredMessage:
        stored = stored_from_slack(
            {"type": "message", "user": "U1", "text": text, "ts": ts, "files": list(files)}, BOT
        )
        assert stored is not None
        return stored


@pytest.fixture
async def parts(redis_url: str, redis_prefix: str, redis_client: aioredis.Redis) -> AsyncIterator[Parts]:
    async with (
        FakeSlack() as slack,
        FakeRelayDance() as relay,
        aiohttp.ClientSession() as session,
        httpx.AsyncClient(timeout=5) as http,
    ):
        slack.add_user("U1", "ada")
        slack.add_channel("C1", name="general")
        stores = Stores.open(
            redis_client, make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix)
        )
        web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, session=session)
        yield Parts(slack, stores, web, http)


def plain(message: StoredMessage) -> str:
    return slack_to_plain(message.text, names={}, bot_user_id="UBOT")


async def test_a_snippet_is_read_with_the_bot_token_and_kept_for_the_next_read(parts: Parts) -> None:
    snippet = parts.slack.add_file(
        "F1",
        "deploy.py",
        "if a < b and c > d:\n    run('&')\n",
        filetype="python",
        pretty_type="Python",
        mode="snippet",
    )
    contents = parts.contents()
    message = parts.message(snippet)

    first = await contents.expand("T1", [message])
    again = await parts.contents().expand("T1", [message])  # another reader: from Redis

    assert plain(first[0]) == (
        "see attached\n[attached file: deploy.py (Python)]\n[contents of deploy.py (Python)]\n"
        "if a < b and c > d:\n    run('&')\n[end of deploy.py]"
    )
    assert again == first
    assert [(d.path, d.authorized, d.status) for d in parts.slack.files.downloads] == [
        ("/files-pri/T1-F1/download/deploy.py", True, 200)
    ]
    assert message.text == "see attached\n[attached file: deploy.py (Python)]"  # the input is untouched


async def test_a_long_file_is_cut_at_the_cap_with_a_note_and_no_broken_character(parts: Parts) -> None:
    csv = parts.slack.add_file(
        "F2", "rows.csv", "id,name\n1,café\n" * 10, filetype="csv", mimetype="text/csv", pretty_type="CSV"
    )

    [read] = await parts.contents(max_bytes=20).expand("T1", [parts.message(csv)])

    assert plain(read).endswith(
        "[contents of rows.csv (CSV)]\nid,name\n1,café\nid,n\n"
        "[end of rows.csv: cut after the first 20 of 160 bytes]"
    )
    cut = parts.slack.add_file("F3", "accent.txt", "abcdefghijklmnopqrsé and more")
    [read] = await parts.contents(max_bytes=20).expand("T1", [parts.message(cut)])  # é split
    assert "\nabcdefghijklmnopqrs\n[end of accent.txt: cut after the first 20 of 30 bytes]" in plain(read)


@pytest.mark.parametrize(
    ("options", "token"),
    [({"denied": True}, None), ({}, "xoxb-someone-elses")],
    ids=["403", "sign-in page"],
)
async def test_a_file_the_bot_may_not_open_is_named_so(
    parts: Parts, options: dict[str, bool], token: str | None
) -> None:
    shared = parts.slack.add_file("F4", "plan.txt", "secret plan", **options)

    [read] = await parts.contents(token=token).expand("T1", [parts.message(shared)])

    assert (
        plain(read)
        == "see attached\n[file shared from another organization; the bot cannot open it: plan.txt]"
    )
    assert "secret plan" not in read.text


async def test_an_unknown_file_is_named_as_one_the_bot_cannot_open(parts: Parts) -> None:
    gone = parts.slack.add_file("F5", "old.txt", "x")
    del parts.slack.files.stored["F5"]

    [read] = await parts.contents().expand("T1", [parts.message(gone)])

    assert "[file shared from another organization; the bot cannot open it: old.txt]" in read.text
    assert parts.slack.files.downloads[-1].status == 404


async def test_slack_connect_files_are_looked_up_with_files_info(parts: Parts) -> None:
    parts.slack.add_file(
        "F6", "notes.md", "# Notes\nship it", filetype="markdown", pretty_type="Markdown", connect=True
    )
    parts.slack.add_file("F7", "theirs.txt", "not ours", connect=True, hidden=True)
    message = parts.message(parts.slack.files.in_message("F6"), parts.slack.files.in_message("F7"))
    assert plain(message).count("the bot cannot open it") == 2

    [read] = await parts.contents().expand("T1", [message])

    assert plain(read) == (
        "see attached\n[attached file: notes.md (Markdown)]\n"
        "[contents of notes.md (Markdown)]\n# Notes\nship it\n"
        "[end of notes.md]\n[file shared from another organization; the bot cannot open it]"
    )
    assert sorted(c.params["file"] for c in parts.slack.calls_to("files.info")) == ["F6", "F7"]
    assert await parts.contents().expand("T1", [message]) == [read]  # files.info's answers kept
    assert len(parts.slack.calls_to("files.info")) == 2


async def test_redirects_are_followed_only_to_slack_hosts(parts: Parts) -> None:
    here = parts.slack.add_file("F8", "real.txt", "the real text")
    moved = parts.slack.add_file("F9", "moved.txt", "-", redirect_to=here["url_private_download"])
    async with FakeSlack() as elsewhere:  # another host, one the token must never reach
        bait = elsewhere.add_file("F99", "bait.txt", "collected")
        away = parts.slack.add_file("F10", "away.txt", "-", redirect_to=bait["url_private_download"])
        read = await parts.contents().expand(
            "T1", [parts.message(moved), parts.message(away, ts="1700000002.000100")]
        )
        assert elsewhere.files.downloads == []

    assert "[contents of moved.txt (Plain Text)]\nthe real text\n" in read[0].text
    assert read[1].text == "see attached\n[attached file: away.txt (Plain Text)]"  # left as it was
    assert sorted(d.path for d in parts.slack.files.downloads) == [
        "/files-pri/T1-F10/download/away.txt",
        "/files-pri/T1-F8/download/real.txt",
        "/files-pri/T1-F9/download/moved.txt",
    ]


async def test_the_token_goes_to_slack_hosts_only(parts: Parts) -> None:
    fetcher = FileFetcher(http=parts.http, token=lambda: "xoxb-t", max_bytes=10, extra_hosts=["127.0.0.1:1"])
    assert fetcher.allowed("https://files.slack.com/files-pri/T1-F1/a.txt")
    assert fetcher.allowed("https://files-edge.slack-edge.com/x")
    assert fetcher.allowed("http://127.0.0.1:1/files-pri/x")
    for url in (
        "http://files.slack.com/x",
        "https://slack.com.evil.example/x",
        "https://evilslack.com/x",
        "http://127.0.0.1:2/x",
    ):
        assert not fetcher.allowed(url), url
    fetched = await fetcher.fetch(FileRef(id="F1", url="https://evilslack.com/x"))
    assert fetched.outcome is Outcome.FAILED


async def test_a_download_that_fails_is_not_kept_and_is_tried_again(parts: Parts) -> None:
    text = parts.slack.add_file("F11", "a.txt", "hello")
    fetcher = FileFetcher(
        http=parts.http, token=lambda: parts.slack.bot_token, max_bytes=100, extra_hosts=["127.0.0.1:9"]
    )
    broken = FileContents(
        fetcher=fetcher, cache=parts.stores.cache, slack=parts.web
    )  # the fake's host is not allowed
    message = parts.message(text)

    assert (await broken.expand("T1", [message]))[0] == message
    [read] = await parts.contents().expand("T1", [message])

    assert "\nhello\n[end of a.txt]" in read.text


async def test_images_and_binary_files_are_named_but_not_downloaded(parts: Parts) -> None:
    image = parts.slack.add_file(
        "F12",
        "chart.png",
        b"\x89PNG",
        filetype="png",
        mimetype="image/png",
        pretty_type="PNG",
        alt_txt="Q3 revenue by region",
    )
    pdf = parts.slack.add_file(
        "F13", "report.pdf", b"%PDF", filetype="pdf", mimetype="application/pdf", pretty_type="PDF"
    )

    [read] = await parts.contents().expand("T1", [parts.message(image, pdf)])

    assert plain(read) == (
        "see attached\n[attached image: chart.png (PNG); alt text: Q3 revenue by region]\n"
        "[attached file: report.pdf (PDF)]"
    )
    assert parts.slack.files.downloads == []


async def test_the_reader_adds_contents_for_the_model_but_records_only_the_reference(parts: Parts) -> None:
    log = parts.slack.add_file("F14", "crash.log", "Traceback: boom")
    root = parts.slack.seed_message("C1", "it crashed", "U1")
    parts.slack.messages["C1"][root]["files"] = [log]
    conv = Conversation("T1", "C1", root)
    reader = ConversationReader(
        slack=parts.web,
        history=parts.stores.history,
        users=UserDirectory(slack=parts.web, cache=parts.stores.names),
        identity=BOT,
        locks=parts.stores.locks,
        max_messages=50,
        files=parts.contents(),
    )
    asked = StoredMessage(ts="9999999999.000001", text="why?", user="U1", thread_ts=root)

    history = await reader.read(conv, asked)

    assert "[contents of crash.log (Plain Text)]\nTraceback: boom\n[end of crash.log]" in history[0].text
    snapshot = await parts.stores.history.load(conv)
    assert snapshot is not None
    [recorded] = [m for m in snapshot.messages if m.ts == root]
    assert recorded.text == "it crashed\n[attached file: crash.log (Plain Text)]"
    assert [f.id for f in recorded.files] == ["F14"]


async def test_at_most_the_newest_files_are_read(parts: Parts) -> None:
    messages = [
        parts.message(
            parts.slack.add_file(f"F{20 + i}", f"f{i}.txt", f"text {i}"), ts=f"17000000{10 + i}.000100"
        )
        for i in range(12)
    ]

    read = await parts.contents().expand("T1", messages)

    assert ["[contents of" in m.text for m in read] == [False, False] + [True] * 10


async def test_a_files_info_that_fails_for_a_moment_is_asked_again(parts: Parts) -> None:
    parts.slack.add_file("F30", "notes.txt", "later", connect=True)
    message = parts.message(parts.slack.files.in_message("F30"))
    parts.slack.fail_next("files.info", status=500)

    assert (await parts.contents().expand("T1", [message]))[0] == message
    [read] = await parts.contents().expand("T1", [message])

    assert "\nlater\n[end of notes.txt]" in read.text


async def test_the_token_is_asked_at_each_download(parts: Parts) -> None:
    text = parts.slack.add_file("F31", "b.txt", "per workspace")
    tokens: list[str | None] = [None, parts.slack.bot_token]
    fetcher = FileFetcher(
        http=parts.http,
        token=lambda: tokens.pop(0),
        max_bytes=100,
        extra_hosts=[urlsplit(parts.slack.base_url).netloc],
    )

    assert (await fetcher.fetch(FileRef.of(text))).outcome is Outcome.FAILED  # no workspace bound: no call
    assert parts.slack.files.downloads == []
    fetched = await fetcher.fetch(FileRef.of(text))
    assert (fetched.outcome, fetched.data) == (Outcome.TEXT, b"per workspace")


async def test_images_are_read_only_whole_supported_and_with_an_image_fetcher(parts: Parts) -> None:
    png = FileRef.of(parts.slack.add_file("F40", "a.png", b"\x89PNG", filetype="png", mimetype="image/png"))
    big = FileRef.of(
        parts.slack.add_file("F41", "b.jpg", b"\xff" * 50, filetype="jpg", mimetype="image/jpeg")
    )
    svg = FileRef.of(parts.slack.add_file("F42", "c.svg", "<svg/>", filetype="svg", mimetype="image/svg+xml"))
    denied = FileRef.of(parts.slack.add_file("F43", "d.png", b"x", mimetype="image/png", denied=True))
    fetcher = FileFetcher(
        http=parts.http,
        token=lambda: parts.slack.bot_token,
        max_bytes=10,
        extra_hosts=[urlsplit(parts.slack.base_url).netloc],
    )
    contents = FileContents(fetcher=fetcher, cache=parts.stores.cache, slack=parts.web, image_fetcher=fetcher)

    assert await contents.images([png, big, svg, denied]) == [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}}
    ]
    assert await parts.contents().images([png]) == []  # no image fetcher: IMAGE_INPUT is off
    assert sorted(d.path.split("/")[2] for d in parts.slack.files.downloads) == ["T1-F40", "T1-F41", "T1-F43"]


async def test_a_download_that_cannot_connect_or_redirects_in_circles_fails(parts: Parts) -> None:
    loop = parts.slack.add_file("F50", "loop.txt", "-")
    parts.slack.files.stored["F50"].redirect_to = loop["url_private_download"]
    fetcher = FileFetcher(
        http=parts.http,
        token=lambda: parts.slack.bot_token,
        max_bytes=10,
        extra_hosts=[urlsplit(parts.slack.base_url).netloc, "127.0.0.1:1"],
    )

    assert (await fetcher.fetch(FileRef.of(loop))).outcome is Outcome.FAILED
    assert len(parts.slack.files.downloads) == 4  # the first request and three redirects
    refused = FileRef(id="F51", url="http://127.0.0.1:1/files-pri/T1-F51/x.txt")
    assert (await fetcher.fetch(refused)).outcome is Outcome.FAILED


async def test_unreadable_cache_entries_and_odd_files_info_answers_leave_the_file_named(parts: Parts) -> None:
    text = parts.slack.add_file("F52", "a.txt", "hello")
    parts.slack.add_file("F53", "b.txt", "other org", connect=True)
    for key in ("url_private", "url_private_download"):
        del parts.slack.files.stored["F53"].info[key]  # described, but with nothing to download
    message = parts.message(text, parts.slack.files.in_message("F53"))
    await parts.stores.cache.put("file:T1:F52:65536", "not json", ttl=60)

    [read] = await parts.contents().expand("T1", [message])

    assert read.text == message.text
    await parts.stores.cache.put("file:T1:F52:65536", "[1]", ttl=60)
    await parts.stores.cache.put("fileinfo:T1:F53", "{broken", ttl=60)
    assert (await parts.contents().expand("T1", [message]))[0].text == message.text
    assert len(parts.slack.calls_to("files.info")) == 1


async def test_files_info_unreachable_is_not_kept(parts: Parts) -> None:
    parts.slack.add_file("F54", "c.txt", "later", connect=True)
    async with aiohttp.ClientSession() as session:
        down = AsyncWebClient(token="xoxb-1", base_url="http://127.0.0.1:1/api/", session=session)
        contents = FileContents(fetcher=parts.fetcher(), cache=parts.stores.cache, slack=down)
        message = parts.message(parts.slack.files.in_message("F54"))
        assert (await contents.expand("T1", [message]))[0] == message
    assert await parts.stores.cache.get("fileinfo:T1:F54") is None
