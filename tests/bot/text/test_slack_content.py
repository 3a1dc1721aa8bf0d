"""Messages in the shapes Slack documents and sends: the model gets what a person sees."""

from __future__ import annotations

from typing import Any

from bot.text.slack_content import file_refs, visible_text
from bot.text.slack_markup import slack_to_plain


def plain(message: dict[str, Any]) -> str:
    return slack_to_plain(visible_text(message), names={"U1": "ada"}, bot_user_id="UBOT")


def test_a_persons_message_is_its_text_once() -> None:
    message = {
        "type": "message",
        "text": "Deploy <@U1> at 5 :rocket:",
        "blocks": [
            {
                "type": "rich_text",
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [
                            {"type": "text", "text": "Deploy "},
                            {"type": "user", "user_id": "U1"},
                            {"type": "text", "text": " at 5 "},
                            {"type": "emoji", "name": "rocket", "unicode": "1f680"},
                        ],
                    }
                ],
            }
        ],
    }
    assert plain(message) == "Deploy @ada at 5 :rocket:"


def test_rich_text_without_text_is_rendered() -> None:
    message = {
        "text": "",
        "blocks": [
            {
                "type": "rich_text",
                "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": "Steps:"}]},
                    {
                        "type": "rich_text_list",
                        "style": "ordered",
                        "elements": [
                            {"type": "rich_text_section", "elements": [{"type": "text", "text": "build"}]},
                            {"type": "rich_text_section", "elements": [{"type": "text", "text": "ship"}]},
                        ],
                    },
                    {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "a < b"}]},
                    {"type": "rich_text_quote", "elements": [{"type": "text", "text": "quoted"}]},
                    {
                        "type": "rich_text_section",
                        "elements": [{"type": "link", "url": "https://x.example", "text": "docs"}],
                    },
                ],
            }
        ],
    }
    assert plain(message) == "Steps:\n1. build\n2. ship\n```\na < b\n```\n> quoted\ndocs (https://x.example)"


def test_a_forwarded_message_keeps_its_author_channel_and_text() -> None:
    message = {
        "text": "",
        "attachments": [
            {
                "is_share": True,
                "is_msg_unfurl": True,
                "author_name": "Grace",
                "channel_name": "ops",
                "text": "The staging DB password rotates every 90 days.",
                "from_url": "https://acme.slack.com/archives/C9/p1700000000000100",
                "footer": "Posted in #ops",
            }
        ],
    }
    assert plain(message) == (
        "> [Shared message from Grace in #ops]\n"
        "> The staging DB password rotates every 90 days.\n"
        "> — Posted in #ops"
    )


def test_a_shared_message_with_a_comment_has_both() -> None:
    message = {
        "text": "see this <@U1>",
        "attachments": [{"is_share": True, "author_name": "Grace", "text": "original words"}],
    }
    assert plain(message) == "see this @ada\n> [Shared message from Grace]\n> original words"


def test_an_app_post_with_attachment_fields() -> None:
    message = {
        "text": "",
        "bot_id": "B1",
        "attachments": [
            {
                "pretext": "New pull request",
                "author_name": "octocat",
                "title": "#42 Fix the login race",
                "title_link": "https://github.example/acme/app/pull/42",
                "text": "Closes &lt;issue 41&gt;",
                "fields": [{"title": "Reviewers", "value": "ada", "short": True}],
                "footer": "GitHub",
            }
        ],
    }
    assert plain(message) == (
        "> New pull request\n> octocat\n"
        "> #42 Fix the login race (https://github.example/acme/app/pull/42)\n"
        "> Closes <issue 41>\n> Reviewers: ada\n> — GitHub"
    )


def test_block_kit_sections_contexts_and_fields_from_an_app() -> None:
    message = {
        "text": "Build failed",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Build #981 failed"}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*main* broke in `test_login`"},
                "fields": [{"type": "mrkdwn", "text": "*Author:* ada"}],
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "CI"}, {"type": "image", "image_url": "x"}],
            },
            {"type": "actions", "elements": []},
        ],
    }
    assert (
        plain(message) == "Build failed\nBuild #981 failed\n*main* broke in `test_login`\n*Author:* ada\nCI"
    )


def test_an_unfurl_keeps_its_title_and_text() -> None:
    message = {
        "text": "<https://blog.example/post>",
        "attachments": [
            {
                "service_name": "Example Blog",
                "title": "How we rotate keys",
                "title_link": "https://blog.example/post",
                "text": "Every 90 days, with two keys live.",
                "from_url": "https://blog.example/post",
            }
        ],
    }
    assert plain(message) == (
        "https://blog.example/post\n> How we rotate keys (https://blog.example/post)\n"
        "> Every 90 days, with two keys live.\n> — Example Blog"
    )


def test_files_are_named_with_their_type_and_access() -> None:
    message = {
        "text": "logs attached",
        "files": [
            {"name": "error.log", "pretty_type": "Plain Text"},
            {"mode": "tombstone"},
            {"id": "F9", "mode": "file_access", "file_access": "check_file_info"},
            {"id": "F8", "name": "plan.pdf", "file_access": "access_denied"},
            {
                "id": "F7",
                "name": "chart.png",
                "mimetype": "image/png",
                "pretty_type": "PNG",
                "alt_txt": "Q3 sales",
            },
            {"id": "F6", "name": "photo.jpg", "mimetype": "image/jpeg", "filetype": "jpg"},
        ],
    }
    assert plain(message) == (
        "logs attached\n[attached file: error.log (Plain Text)]\n[a file that was deleted]\n"
        "[file shared from another organization; the bot cannot open it]\n"
        "[file shared from another organization; the bot cannot open it: plan.pdf]\n"
        "[attached image: chart.png (PNG); alt text: Q3 sales]\n"
        "[attached image: photo.jpg (jpg)]"
    )


def test_file_refs_keep_what_reading_a_file_needs() -> None:
    message = {
        "files": [
            {
                "id": "F1",
                "name": "a.py",
                "filetype": "python",
                "mimetype": "text/plain",
                "size": 120,
                "url_private": "https://files.slack.com/files-pri/T1-F1/a.py",
                "url_private_download": "https://files.slack.com/files-pri/T1-F1/download/a.py",
                "mode": "snippet",
            },
            "not a file",
        ]
        * 30
    }
    refs = file_refs(message)
    assert len(refs) == 20
    assert refs[0].url.endswith("/download/a.py")
    assert (refs[0].filetype, refs[0].size, refs[0].mode) == ("python", 120, "snippet")


def test_odd_shapes_never_raise() -> None:
    for message in (
        {},
        {"text": None, "blocks": "x", "attachments": [None, 3], "files": {}},
        {"blocks": [{"type": "rich_text", "elements": [{"type": "rich_text_list", "indent": "deep"}]}]},
    ):
        assert isinstance(visible_text(message), str)
