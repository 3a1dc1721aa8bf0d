"""The bot's exceptions, one hierarchy so callers can catch at the level they care about.

    BotError
    ├── ConfigError                 a setting is missing or malformed (start-up stops)
    ├── RenderError                 Slack refused to show (part of) an answer
    └── UpstreamError               RelayDance did not give a usable answer
        ├── UpstreamAuthError       401/403: the API key is wrong or lacks access
        ├── UpstreamModelNotFound   404: the model name is unknown to this key
        ├── UpstreamRateLimited     429, with the server's Retry-After when it sent one
        ├── UpstreamServerError     5xx
        ├── UpstreamBadRequest      any other 4xx (e.g. a parameter out of range)
        │   └── UpstreamContextTooLong  the prompt is longer than the model's context window
        ├── UpstreamConnectError    the connection could not be made or broke
        ├── UpstreamTimeout         connect / first token / idle between chunks / thinking ran out
        └── UpstreamStreamError     the stream broke mid-answer or carried an `error` object

Every UpstreamError has `user_message`: one plain sentence safe to show in Slack (it never
contains the key, the URL's credentials or a raw traceback).
"""

from __future__ import annotations


class BotError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(BotError):
    """A setting is missing or malformed; the message names the setting, never its secret value."""

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        self.problem = problem
        super().__init__(f"{name}: {problem}")


class RenderError(BotError):
    """Slack refused a post or edit of a streamed answer for good (not a rate limit)."""

    def __init__(self, error: str) -> None:
        self.error = error  # Slack's error code, or the exception's type for a network failure
        super().__init__(error)

    @property
    def user_message(self) -> str:
        return f"Slack refused the rest of this answer ({self.error})."


class UpstreamError(BotError):
    """RelayDance failed; `user_message` is what the user reads in the thread."""

    user_message = "The model service failed to answer."

    def __init__(self, detail: str = "", *, status: int | None = None) -> None:
        self.detail = detail
        self.status = status
        super().__init__(detail or self.user_message)


class UpstreamAuthError(UpstreamError):
    user_message = "RelayDance refused the bot's API key (an admin needs to check RELAYDANCE_API_KEY)."


class UpstreamModelNotFound(UpstreamError):
    def __init__(self, detail: str = "", *, status: int | None = 404, model: str = "") -> None:
        super().__init__(detail, status=status)
        self.model = model
        self.user_message = (
            f"RelayDance does not know the model `{model}`."
            if model
            else ("RelayDance does not know the configured model.")
        )


class UpstreamRateLimited(UpstreamError):
    def __init__(
        self, detail: str = "", *, status: int | None = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(detail, status=status)
        self.retry_after = retry_after
        if retry_after is not None:
            self.user_message = (
                f"RelayDance is rate limiting the bot; try again in {max(1, round(retry_after))} s."
            )
        else:
            self.user_message = "RelayDance is rate limiting the bot; try again in a minute."


class UpstreamServerError(UpstreamError):
    user_message = "RelayDance had a service error; try again shortly."


class UpstreamBadRequest(UpstreamError):
    user_message = "RelayDance rejected the request (check the bot's model settings)."


class UpstreamContextTooLong(UpstreamBadRequest):
    """The model refused the prompt as longer than its context window (OpenAI's
    `context_length_exceeded` and other providers' wordings).

    `limit` is the window the provider named and `prompt_tokens` what it counted the request as,
    each None when its message did not say. `sent_estimate` is set by whoever sent the request:
    our own estimate of it, so a retry can scale the provider's count to ours.
    """

    user_message = (
        "This is too long for the model's context window, even with older messages left out and "
        "read in smaller parts. Try a new thread or a shorter question."
    )

    def __init__(
        self,
        detail: str = "",
        *,
        status: int | None = 400,
        limit: int | None = None,
        prompt_tokens: int | None = None,
    ) -> None:
        super().__init__(detail, status=status)
        self.limit = limit
        self.prompt_tokens = prompt_tokens
        self.sent_estimate: int | None = None


class UpstreamConnectError(UpstreamError):
    user_message = "The bot could not reach RelayDance; try again shortly."


class UpstreamTimeout(UpstreamError):
    def __init__(self, detail: str = "", *, phase: str = "response", seconds: float | None = None) -> None:
        super().__init__(detail)
        self.phase = phase
        self.seconds = seconds
        waited = f" after {seconds:g} s" if seconds is not None else ""
        self.user_message = {
            "connect": f"The bot could not connect to RelayDance{waited}.",
            "first_token": f"RelayDance did not start answering{waited}.",
            "idle": f"RelayDance stopped sending{waited}.",
            "thinking": (
                f"The model was still thinking{waited} without starting its answer; "
                "try a narrower question, or ask again."
            ),
        }.get(phase, f"RelayDance timed out{waited}.")


class UpstreamStreamError(UpstreamError):
    user_message = "The connection to RelayDance broke mid-answer."
