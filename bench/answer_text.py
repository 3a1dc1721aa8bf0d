"""The answer the fake RelayDance streams: a Markdown reply cut into token-sized pieces.

Models answer in Markdown (paragraphs, bullet lists, bold, inline code), and the bot converts it
to Slack mrkdwn on every edit, so the benchmark streams text of that shape rather than plain words:
the conversion is part of the CPU cost being measured. The text is deterministic, so every run
and both systems get exactly the same answer.
"""

from __future__ import annotations

import random

_WORDS = (
    "rotate", "the", "key", "before", "it", "expires", "and", "update", "every", "service",
    "that", "reads", "it", "from", "vault", "then", "check", "logs", "for", "errors", "after",
    "deploy", "token", "secret", "config", "restart", "workers", "safely", "with", "zero", "downtime",
)  # fmt: skip


def answer_pieces(count: int, *, seed: int = 42) -> list[str]:
    """`count` pieces (one stands for one token) that join into a Markdown answer."""
    rng = random.Random(seed)
    pieces: list[str] = []
    for i in range(count):
        word = rng.choice(_WORDS)
        if i == 0:
            piece = "Here"
        elif i % 40 == 0:
            piece = ".\n\n"  # a new paragraph
        elif i % 40 in (24, 30):
            piece = "\n- "  # a bullet list inside the paragraph
        elif i % 13 == 0:
            piece = f" **{word}**"
        elif i % 17 == 0:
            piece = f" `{word}.yaml`"
        elif i % 11 == 0:
            piece = f" {word},"
        else:
            piece = f" {word}"
        if pieces and pieces[-1].endswith(("\n", " ")):
            piece = piece.lstrip(" ")
        if pieces and pieces[-1] == ".\n\n":
            piece = piece[:1].upper() + piece[1:]
        pieces.append(piece)
    if count:
        pieces[-1] += "."
    return pieces
