"""A loopback Slack for end-to-end tests and benchmarks: Web API over HTTP, Socket Mode over a websocket.

`FakeSlack` is a real aiohttp server on 127.0.0.1 (any free port). Point slack_sdk at it with
`AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)`; Socket Mode clients get their
websocket URL from its `apps.connections.open`, exactly as with Slack.

It follows Slack's Web API protocol as slack_sdk uses it:

- `GET` or `POST /api/<method>`; arguments as query parameters, a form body or a JSON body
  (chat.postMessage / chat.update send JSON; conversations.* and users.info are GETs).
- The token comes from `Authorization: Bearer …`, or a `token` query/form parameter (never from a
  JSON body). None → `not_authed`; unknown → `invalid_auth`; the app token (`xapp-…`) works only
  for `apps.connections.open` and the bot token everywhere else (`not_allowed_token_type`).
- Slack errors are HTTP 200 with `{"ok": false, "error": …}`; rate limits are HTTP 429 with
  `Retry-After: <seconds>` and `{"ok": false, "error": "ratelimited"}`.
- Channels exist only once added (`add_channel`, or implicitly by `seed_message`). Posting
  (chat.postMessage / update / postEphemeral) and reading (conversations.replies / history) need
  the bot in the channel, as on Slack: an unknown id or a private channel without the bot answers
  `channel_not_found`, a public channel without it `not_in_channel`. DMs are always the bot's.

- Other workspaces (`add_team`) install the app the way Slack's OAuth does: `grant(team)` is the
  admin approving on the authorize page (a one-time code), `oauth.v2.access` (client id and secret
  by Basic auth) exchanges it for that workspace's bot token, and every call then works on the
  workspace whose bot token it carries (`Call.token`, `Call.team`). `uninstall` revokes it
  (`token_revoked`).

Every call is recorded as a `Call`; `wait_for()` awaits calls without polling. Faults are injected
with `fail_next()` and `rate_limit()`, and `latency` delays every answer.

Modules, one job each: `workspace` (users, channels, messages and the seeding helpers),
`methods` (the Web API methods), `params` (reading and validating arguments), `faults`
(`fail_next` / `rate_limit`), `socket_mode` (the websocket), `installs` (other workspaces and
OAuth) and `server` (HTTP, tokens, waits).
"""

from tests.fakes.slack.methods import PERMALINK_BASE
from tests.fakes.slack.server import APP_TOKEN, BOT_TOKEN, GRANTED_SCOPES, Call, FakeSlack

__all__ = ["APP_TOKEN", "BOT_TOKEN", "GRANTED_SCOPES", "PERMALINK_BASE", "Call", "FakeSlack"]
