"""A question's images as OpenAI content parts."""

from __future__ import annotations

from bot.text.images import image_part, with_images


def test_images_follow_the_questions_text_in_the_last_user_turn() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "earlier"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "what is in this chart?"},
    ]
    part = image_part("image/png", b"\x89PNG")

    sent = with_images(messages, [part])

    assert part == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}}
    assert sent[:3] == messages[:3]
    assert sent[3] == {
        "role": "user",
        "content": [{"type": "text", "text": "what is in this chart?"}, part],
    }
    assert messages[3]["content"] == "what is in this chart?"  # the input is untouched
    assert with_images(messages, []) == messages
