"""SSEDecoder follows the WHATWG event-stream rules, whatever way the bytes are chunked."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import UpstreamStreamError
from bot.llm.sse import MAX_EVENT_SIZE, ServerSentEvent, SSEDecoder


def decode(chunks: Sequence[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    return events + decoder.flush()


def ev(data: str, event: str = "message", id: str | None = None, retry: int | None = None) -> ServerSentEvent:
    return ServerSentEvent(event=event, data=data, id=id, retry=retry)


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        pytest.param(b"data: hello\n\n", [ev("hello")], id="lf"),
        pytest.param(b"data: hello\r\n\r\n", [ev("hello")], id="crlf"),
        pytest.param(b"data: hello\r\r", [ev("hello")], id="cr"),
        pytest.param(b"data: a\r\ndata: b\rdata: c\n\n", [ev("a\nb\nc")], id="mixed-endings"),
        pytest.param(b"data:hello\n\n", [ev("hello")], id="no-space"),
        pytest.param(b"data:  hello \n\n", [ev(" hello ")], id="only-one-space-removed"),
        pytest.param(b"data: a:b: c\n\n", [ev("a:b: c")], id="colon-in-value"),
        pytest.param(b"data: a\ndata: b\n\n", [ev("a\nb")], id="multi-line"),
        pytest.param(b"data\n\n", [ev("")], id="field-without-value"),
        pytest.param(b"data\ndata\n\n", [ev("\n")], id="two-empty-data-lines"),
        pytest.param(b"data:\n\n", [ev("")], id="empty-value"),
        pytest.param(b": ping\n\n", [], id="comment-only"),
        pytest.param(b": ping\r\ndata: x\r\n: pong\r\n\r\n", [ev("x")], id="comments-around-data"),
        pytest.param(b":\n\n", [], id="bare-colon-comment"),
        pytest.param(b"\n\n\n", [], id="blank-lines"),
        pytest.param(
            b"event: add\ndata: 1\n\ndata: 2\n\n", [ev("1", "add"), ev("2")], id="event-type-resets"
        ),
        pytest.param(b"event: add\n\ndata: 2\n\n", [ev("2")], id="event-without-data-not-dispatched"),
        pytest.param(b"event\ndata: 1\n\n", [ev("1")], id="empty-event-type-is-message"),
        pytest.param(b"id: 7\ndata: a\n\ndata: b\n\n", [ev("a", id="7"), ev("b", id="7")], id="id-persists"),
        pytest.param(b"id: 7\n\ndata: a\n\n", [ev("a", id="7")], id="id-set-without-dispatch"),
        pytest.param(b"id: 7\ndata: a\n\nid\ndata: b\n\n", [ev("a", id="7"), ev("b", id="")], id="id-reset"),
        pytest.param(
            b"id: 7\ndata: a\n\nid: x\x00y\ndata: b\n\n", [ev("a", id="7"), ev("b", id="7")], id="id-nul"
        ),
        pytest.param(b"retry: 1500\ndata: a\n\ndata: b\n\n", [ev("a", retry=1500), ev("b")], id="retry"),
        pytest.param(b"retry: 15s\ndata: a\n\n", [ev("a")], id="retry-not-digits"),
        pytest.param(b"retry: \xc2\xb2\ndata: a\n\n", [ev("a")], id="retry-non-ascii-digit"),
        pytest.param(b"foo: bar\ndata: a\n\n", [ev("a")], id="unknown-field"),
        pytest.param(b"Data: a\n\n", [], id="field-names-are-case-sensitive"),
        pytest.param(b" data: a\n\n", [], id="leading-space-is-part-of-name"),
        pytest.param(b"\xef\xbb\xbfdata: a\n\n", [ev("a")], id="bom"),
        pytest.param(b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n", [], id="only-first-bom-stripped"),
        pytest.param(b"data: caf\xc3\xa9 \xf0\x9f\x91\x8b\n\n", [ev("café 👋")], id="utf8"),
        pytest.param(b"data: a\xffb\n\n", [ev("a\ufffdb")], id="invalid-utf8-replaced"),
        pytest.param(b'data: {"a": 1}\n\ndata: [DONE]\n\n', [ev('{"a": 1}'), ev("[DONE]")], id="openai"),
        # Deliberate deviation (see SSEDecoder.flush): an unterminated last event is delivered.
        pytest.param(b"data: [DONE]\n", [ev("[DONE]")], id="flush-without-blank-line"),
        pytest.param(b"data: [DONE]", [ev("[DONE]")], id="flush-partial-line"),
        pytest.param(b"event: x", [], id="flush-without-data"),
    ],
)
def test_decodes(stream: bytes, expected: list[ServerSentEvent]) -> None:
    assert decode([stream]) == expected
    assert decode([bytes([b]) for b in stream]) == expected


def test_event_is_returned_by_the_feed_that_completes_it() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\n") == [ev("a")]
    # A CR ends its line at once: the event is not held back waiting for a possible LF.
    assert decoder.feed(b"data: b\r\r") == [ev("b")]
    assert decoder.feed(b"\ndata: c\r\n\r\n") == [ev("c")]


def test_cr_and_lf_in_separate_chunks_are_one_line_ending() -> None:
    # Were the LF after a chunk-final CR read as an empty line, "a" and "b" would be two events.
    assert decode([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]) == [ev("a\nb")]


def test_bom_split_across_chunks() -> None:
    assert decode([b"\xef", b"\xbb", b"\xbfdata: a\n\n"]) == [ev("a")]


def test_utf8_character_split_across_chunks() -> None:
    snowman = "☃".encode()
    assert decode([b"data: " + snowman[:1], snowman[1:2], snowman[2:] + b"\n\n"]) == [ev("☃")]


def test_flush_resets_for_a_new_stream() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"\xef\xbb\xbfid: 1\ndata: a\n\n") == [ev("a", id="1")]
    assert decoder.flush() == []
    assert decoder.feed(b"\xef\xbb\xbfdata: b\n\n") == [ev("b")]


# -- properties -------------------------------------------------------------------------------

_line_text = st.text(st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]), max_size=12)
_newline = st.sampled_from(["\n", "\r", "\r\n"])


@st.composite
def _streams(draw: st.DrawFn) -> tuple[bytes, list[ServerSentEvent]]:
    """A well-formed stream (random endings, comments, BOM) and the events it must decode to."""
    parts = ["\ufeff"] if draw(st.booleans()) else []
    expected: list[ServerSentEvent] = []
    last_id: str | None = None
    for _ in range(draw(st.integers(0, 5))):
        lines: list[str] = []
        if draw(st.booleans()):
            lines.append(": " + draw(_line_text))
        event = draw(st.one_of(st.just(""), _line_text))
        if event:
            lines.append("event: " + event)
        if draw(st.booleans()):
            last_id = draw(_line_text.filter(lambda s: "\0" not in s))
            lines.append("id: " + last_id)
        data = draw(st.lists(_line_text, min_size=1, max_size=3))
        lines += ["data: " + value for value in data]
        for line in [*lines, ""]:
            newline = draw(_newline)
            if not line and parts and parts[-1] == "\r" and newline == "\n":
                newline = "\r"  # CR then an empty line ended by LF would be one CRLF, not two endings
            parts += [line, newline]
        expected.append(ServerSentEvent(event or "message", "\n".join(data), last_id, None))
    return "".join(parts).encode(), expected


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    return [data[start:end] for start, end in zip([0, *points], [*points, len(data)], strict=True)]


@given(_streams(), st.lists(st.integers(0, 400), max_size=30))
def test_well_formed_streams_decode_to_their_events(
    stream: tuple[bytes, list[ServerSentEvent]], cuts: list[int]
) -> None:
    data, expected = stream
    assert decode([data]) == expected
    assert decode(_split(data, cuts)) == expected


@given(
    st.lists(
        st.sampled_from(
            [b"data", b"event", b"id", b"retry", b":", b" ", b"\r", b"\n", b"\xc3", b"\xa9", b"x"]
        )
    ),
    st.lists(st.integers(0, 60), max_size=20),
)
def test_any_bytes_decode_the_same_however_chunked(tokens: list[bytes], cuts: list[int]) -> None:
    data = b"".join(tokens)
    assert decode(_split(data, cuts)) == decode([data])


# -- the size cap: a runaway line or event ends the stream instead of growing without bound --------

LIMIT_TEST = 1 << 20  # MAX_EVENT_SIZE


@pytest.mark.parametrize("piece", [1000, 64 * 1024, 3 * 1024 * 1024])
def test_a_line_that_never_ends_is_refused_past_the_cap(piece: int) -> None:
    assert MAX_EVENT_SIZE == LIMIT_TEST
    decoder = SSEDecoder()
    decoder.feed(b"data: ")
    fed = 6
    with pytest.raises(UpstreamStreamError, match="larger than 1 MiB"):
        while fed <= 2 * MAX_EVENT_SIZE:
            fed += piece
            decoder.feed(b"x" * piece)
    assert fed > MAX_EVENT_SIZE  # not refused early


def test_an_event_of_many_data_lines_is_refused_past_the_cap() -> None:
    decoder = SSEDecoder()
    line = b"data: " + b"y" * 1000 + b"\n"
    with pytest.raises(UpstreamStreamError, match="larger than 1 MiB"):
        for _ in range(2000):  # 2 MB in one event, each line small
            decoder.feed(line)


def test_events_just_under_the_cap_pass_and_the_count_restarts_with_each_event() -> None:
    decoder = SSEDecoder()
    payload = "z" * (MAX_EVENT_SIZE - 100)
    events: list[ServerSentEvent] = []
    for _ in range(3):  # three big events in a row: each is measured on its own
        raw = f"data: {payload}\n\n".encode()
        for i in range(0, len(raw), 50_000):
            events += decoder.feed(raw[i : i + 50_000])
    assert [len(e.data) for e in events] == [len(payload)] * 3
