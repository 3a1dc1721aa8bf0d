"""Which files are text, and how their contents sit in a message."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.model import FileRef
from bot.text.file_text import contents_block, decode_prefix, is_text_like, with_contents
from bot.text.slack_markup import slack_to_plain


@pytest.mark.parametrize(
    ("ref", "text"),
    [
        (FileRef(id="F1", mimetype="text/plain"), True),
        (FileRef(id="F1", mimetype="text/x-python; charset=utf-8"), True),
        (FileRef(id="F1", mimetype="application/json"), True),
        (FileRef(id="F1", filetype="yaml", mimetype="application/octet-stream"), True),
        (FileRef(id="F1", filetype="javascript"), True),
        (FileRef(id="F1", mode="snippet", filetype="auto"), True),
        (FileRef(id="F1", mimetype="image/png", filetype="png"), False),
        (FileRef(id="F1", mimetype="application/pdf", filetype="pdf"), False),
        (FileRef(id="F1", filetype="gdoc", mode="external"), False),
        (FileRef(id="F1", mimetype="text/plain", mode="tombstone"), False),
        (FileRef(id="F1", mode="file_access", access="check_file_info"), False),
        (FileRef(id="", mimetype="text/plain"), False),
    ],
)
def test_text_like_files(ref: FileRef, text: bool) -> None:
    assert is_text_like(ref) is text


def test_a_block_names_the_file_and_survives_slack_markup_unchanged() -> None:
    ref = FileRef(id="F1", name="page.html", filetype="html", pretty_type="HTML", size=500)
    block = contents_block(ref, "<a href='x'>&amp; <@U1> <!here></a>\n", truncated=False, cap=100)
    assert slack_to_plain(block, names={"U1": "ada"}, bot_user_id=None) == (
        "[contents of page.html (HTML)]\n<a href='x'>&amp; <@U1> <!here></a>\n[end of page.html]"
    )
    cut = contents_block(ref, "abc", truncated=True, cap=100)
    assert cut.endswith("[end of page.html: cut after the first 100 of 500 bytes]")


def test_contents_replace_the_files_line_or_follow_the_text() -> None:
    assert with_contents("a\n[f]\nb", [("[f]", "[f]\nX")]) == "a\n[f]\nX\nb"
    assert with_contents("a", [("[f]", "[f]\nX")]) == "a\n[f]\nX"
    assert with_contents("", [("[f]", "[f]\nX")]) == "[f]\nX"
    # Two files of one name: each block follows its own line.
    assert with_contents("[f]\n[f]", [("[f]", "[f]\n1"), ("[f]", "[f]\n2")]) == "[f]\n1\n[f]\n2"


@given(st.text().filter(lambda t: not t.startswith("\ufeff")), st.integers(min_value=0, max_value=64))
def test_a_cut_keeps_a_whole_character_prefix(text: str, at: int) -> None:
    data = text.encode()[:at]
    decoded = decode_prefix(data, complete=False)
    assert text.startswith(decoded)
    assert 0 <= len(data) - len(decoded.encode()) < 4  # only a split character's bytes are left out


def test_bad_bytes_are_replaced_and_a_bom_dropped() -> None:
    assert decode_prefix(b"\xef\xbb\xbfok \xff", complete=True) == "ok \ufffd"
