"""`python -m bench.tokens`: how close and how fast the prompt's token estimate is.

For every sample in tests/bot/text/token_samples/ it prints the estimate
(`bot.text.tokens.text_tokens`) beside the reference counts recorded in references.json there,
then times the estimate over all samples and over a short chat message.

`--recompute GROK1_TOKENIZER_MODEL` rewrites references.json from real tokenizers. That needs
two packages the project does not depend on, installed by hand in a scratch environment:
`bpe-openai` (OpenAI's cl100k_base and o200k_base tables, bundled, no download) and
`sentencepiece`, plus the `tokenizer.model` file of xai-org/grok-1 (Grok-1's tokenizer, the only
Grok tokenizer published as a plain file). The bot itself never needs them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bot.text.tokens import text_tokens

SAMPLES = Path(__file__).resolve().parent.parent / "tests" / "bot" / "text" / "token_samples"
REFERENCES = SAMPLES / "references.json"
SHORT = "hey @maria, did the invoices job run last night? the export for 2024-11-30 is empty"


def samples() -> dict[str, str]:
    """Sample name → text, every file of the samples folder but the references."""
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(SAMPLES.iterdir()) if p != REFERENCES}


def recompute(grok_model: Path) -> dict[str, Any]:  # pragma: no cover - needs hand-installed tokenizers
    import bpe_openai  # type: ignore[import-not-found]
    import sentencepiece  # type: ignore[import-not-found]

    encodings = {name: bpe_openai.get_encoding(name) for name in ("o200k_base", "cl100k_base")}
    grok = sentencepiece.SentencePieceProcessor(model_file=str(grok_model))
    counts = {}
    for name, text in samples().items():
        row = {enc: len(encoding.encode(text)) for enc, encoding in encodings.items()}
        row["grok-1"] = len(grok.encode(text))
        row["chars"] = len(text)
        counts[name] = row
    return {
        "how": "token counts of each sample file, made by `python -m bench.tokens --recompute`: "
        "o200k_base and cl100k_base with the bpe-openai package, grok-1 with sentencepiece and "
        "xai-org/grok-1's tokenizer.model",
        "samples": counts,
    }


def timed(texts: list[str], rounds: int) -> float:
    """Seconds one round of estimating every text takes, best of `rounds`."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for text in texts:
            text_tokens(text)
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tokens", description=__doc__.splitlines()[0])
    parser.add_argument("--recompute", type=Path, metavar="GROK1_TOKENIZER_MODEL")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    if args.recompute is not None:
        REFERENCES.write_text(json.dumps(recompute(args.recompute), indent=2, ensure_ascii=False) + "\n")
    references = json.loads(REFERENCES.read_text(encoding="utf-8"))["samples"]
    texts = samples()
    print(f"{'sample':<22} {'chars':>6} {'estimate':>8} {'o200k':>6} {'ratio':>6} {'grok-1':>7} {'ratio':>6}")
    for name, text in texts.items():
        ref = references[name]
        estimate = text_tokens(text)
        print(
            f"{name:<22} {len(text):>6} {estimate:>8} {ref['o200k_base']:>6} "
            f"{estimate / ref['o200k_base']:>6.2f} {ref['grok-1']:>7} {estimate / ref['grok-1']:>6.2f}"
        )
    chars = sum(len(t) for t in texts.values())
    whole = timed(list(texts.values()), args.rounds)
    short = timed([SHORT] * 100, args.rounds) / 100
    rate = chars / whole / 1e6
    print(f"\nall {len(texts)} samples ({chars} characters): {whole * 1e3:.2f} ms, {rate:.1f} M chars/s")
    print(f"one short chat message ({len(SHORT)} characters): {short * 1e6:.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
