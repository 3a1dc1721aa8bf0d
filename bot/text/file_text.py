"""Which shared files are text the model can read, and how their contents sit in a message.

People share logs, code and notes as files and snippets and then ask about them; a model that
only sees "[attached file: error.log]" guesses. A text file's contents go right after the
file's line in the message, between markers that name it, escaped as Slack escapes message
text, so that `slack_markup.slack_to_plain` gives the model the bytes as they were (a `<div>`
in an HTML file stays a `<div>`, never a Slack link).
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from typing import Final

from bot.model import FileRef

__all__ = ["contents_block", "decode_prefix", "is_image", "is_text_like", "with_contents"]

# Slack's filetype values for text (https://api.slack.com/types/file#types), beyond text/* MIME types.
TEXT_FILETYPES: Final = frozenset(
    {
        "text", "markdown", "post", "csv", "tsv", "json", "yaml", "xml", "html", "css", "javascript",
        "typescript", "python", "ruby", "go", "rust", "java", "kotlin", "scala", "swift", "c", "cpp",
        "csharp", "objc", "php", "perl", "shell", "bash", "powershell", "sql", "diff", "dockerfile",
        "toml", "ini", "properties", "lua", "r", "haskell", "erlang", "elixir", "clojure", "groovy",
        "matlab", "ocaml", "fsharp", "vb", "vbscript", "latex", "apache", "nginx", "puppet",
        "terraform", "protobuf", "graphql", "log", "jsx", "tsx", "vue", "dart", "julia", "zig",
    }
)  # fmt: skip
TEXT_MIMETYPES: Final = frozenset(
    {
        "application/json", "application/xml", "application/x-yaml", "application/yaml",
        "application/javascript", "application/x-sh", "application/sql", "application/toml",
        "application/x-ndjson",
    }
)  # fmt: skip


def is_text_like(ref: FileRef) -> bool:
    """A snippet, a text/* file or one of Slack's text filetypes (and not one we may not open)."""
    if not ref.id or ref.mode in ("tombstone", "file_access", "external"):
        return False
    mimetype = ref.mimetype.partition(";")[0].strip().lower()
    return (
        ref.mode == "snippet"
        or mimetype.startswith("text/")
        or mimetype in TEXT_MIMETYPES
        or ref.filetype.lower() in TEXT_FILETYPES
    )


def is_image(ref: FileRef) -> bool:
    return ref.mimetype.startswith("image/")


def decode_prefix(data: bytes, *, complete: bool) -> str:
    """UTF-8 text of `data` (bad bytes replaced); a character the cut split is left out."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = decoder.decode(data, final=complete)
    return text.removeprefix("\ufeff")


def contents_block(ref: FileRef, text: str, *, truncated: bool, cap: int) -> str:
    """The file's contents between markers that name it, in Slack markup (escaped)."""
    name = ref.name or ref.id
    kind = ref.pretty_type or ref.filetype or ref.mimetype
    opening = f"[contents of {name}" + (f" ({kind})" if kind else "") + "]"
    if truncated:
        whole = f" of {ref.size:,}" if ref.size > cap else ""
        closing = f"[end of {name}: cut after the first {cap:,}{whole} bytes]"
    else:
        closing = f"[end of {name}]"
    body = text.rstrip("\n")
    return "\n".join((opening, _escape(body), closing))


def with_contents(text: str, replacements: Sequence[tuple[str, str]]) -> str:
    """`text` with each file's line replaced, in the order of the files (two files of one name
    each take their own line); a replacement whose line is not there is added at the end."""
    cursor = 0
    for line, replacement in replacements:
        at = text.find(line, cursor)
        if at < 0:
            text = f"{text}\n{replacement}" if text else replacement
            cursor = len(text)
            continue
        text = text[:at] + replacement + text[at + len(line) :]
        cursor = at + len(replacement)
    return text


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
