"""A synthetic Slack workspace for the team-knowledge evaluation, the same for the same seed.

Facts live in threads (a root and one to three replies): "how long do we keep billing api logs?"
answered in #sre three weeks ago. Questions ask for a fact the way people ask in chat — other
words around the same key terms, never the thread's own sentences. Filler threads (chatter over
the same vocabulary, service names included) bring the index to the size being measured.

Channels: public ones, private ones with a few members, and guests who are in two shared public
channels only. Every question says who asks and where the answer is posted; "trap" questions ask
for a fact from a private channel the asker is not in (or would read it in a public channel), so
any answer using that thread is a leak.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

PUBLIC = ["general", "eng", "sre", "ops", "data", "payments", "support", "frontend", "mobile", "infra"]
PRIVATE = ["secops", "leadership", "incident-review", "hr-ops"]
SHARED = ["support", "frontend"]  # the public channels guests are in

SERVICES = [
    "billing api", "search indexer", "payments gateway", "ledger service", "auth proxy",
    "notification worker", "image resizer", "pricing engine", "fraud scorer", "email relay",
    "session store", "feature flags", "audit trail", "report builder", "checkout flow",
    "inventory sync", "geo lookup", "webhook dispatcher", "metrics pipeline", "chat gateway",
    "identity broker", "export scheduler", "tax calculator", "shipping quotes",
]  # fmt: skip

# (root, replies, how people ask): {e} service, {n} number, {u}/{v} people, {d} weekday, {t} team.
ATTRIBUTES: list[tuple[str, list[str], list[str]]] = [
    (
        "Reminder: the {e} database password rotation happens every {n} days.",
        ["Vault does the rotation and posts when it is done; ping {u} if it fails."],
        ["how often does the {e} db password get changed?", "when do we rotate creds for the {e} database?"],
    ),
    (
        "What's the deploy window for {e}?",
        ["Deploys of {e} are allowed {d} to Thursday, 10:00 to 16:00 UTC.", "Outside that, ask {u} first."],
        ["when am I allowed to deploy {e} to prod?", "can I ship {e} on a friday? what's the deploy window"],
    ),
    (
        "Who carries the pager for {e} this quarter?",
        ["{u} is primary on call for {e}, {v} is the escalation."],
        ["who should I page when {e} breaks?", "who's on the pager for {e} right now"],
    ),
    (
        "{e} backups: nightly snapshot at 0{n}:00 UTC.",
        ["Snapshots are retained 14 days; restore drills run monthly, owned by {u}."],
        ["how long are {e} snapshots retained?", "is there a nightly snapshot of {e} and when does it run"],
    ),
    (
        "How long do we keep {e} logs?",
        ["{n} days hot, then they're archived to cold storage for a year."],
        ["what's our log retention for {e}", "are old {e} logs archived somewhere or deleted?"],
    ),
    (
        "{e} latency alert: fires when p99 is above {n}0 ms for 5 minutes.",
        ["We raised the threshold last sprint, {u} tuned it."],
        ["at what p99 latency does {e} alert?", "what threshold triggers the {e} latency alert"],
    ),
    (
        "Where's the runbook for {e} outages?",
        ["Wiki, SRE space, page '{e} runbook'. {u} rewrote it after the last incident."],
        ["is there a runbook if {e} goes down?", "{e} outage — what's the runbook link?"],
    ),
    (
        "What's the rate limit on the {e} endpoints?",
        ["{n}00 requests per minute per token, bursts of twice that for ten seconds."],
        ["how many requests a minute can I send to {e}?", "we keep hitting the {e} rate limit, why?"],
    ),
    (
        "Which team owns {e}?",
        ["{t} owns {e}; {u} is the tech lead."],
        ["who's the tech lead for {e}?", "which team do I ask about {e}?"],
    ),
    (
        "Heads up: {e} Postgres upgrade to version 1{n} is planned for {d}.",
        ["Expect about ten minutes of downtime; {u} is running it."],
        ["is there downtime for the {e} postgres upgrade?", "when is {e} getting the postgres upgrade"],
    ),
]  # fmt: skip

TEAMS = ["Platform", "Payments", "Growth", "Core Data", "Trust", "Infra"]
DAYS = ["Monday", "Tuesday", "Wednesday"]
FILLER_WORDS = (
    "the team meeting today tomorrow review ticket sprint standup coffee lunch office remote call "
    "update status blocked merged branch pull request build green red flaky test release notes "
    "customer question issue thanks sounds good agreed plan draft doc link shared slides demo "
    "friday weekend holiday calendar invite moved later earlier quick sync later please check "
    "numbers dashboard chart trend weekly monthly report budget hire onboarding laptop access "
    "password deploy logs alert backup runbook upgrade latency owner pager snapshot limit team "
    "postgres database window rotation retention threshold endpoint version downtime prod staging"
).split()
SERVICE_WORDS = " ".join(SERVICES).split()


@dataclass(frozen=True, slots=True)
class Message:
    ts: str
    user: str
    text: str
    thread_ts: str | None  # None: the root


@dataclass(frozen=True, slots=True)
class Thread:
    channel: str
    root_ts: str
    messages: list[Message]
    fact: int | None = None  # the fact this thread states (None: filler)


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    asker: str
    posted_in: str  # a channel ID, or the asker's DM
    source: Thread
    trap: bool  # the asker may not have the source here: using it is a leak


@dataclass
class Workspace:
    channels: dict[str, str] = field(default_factory=dict)  # id -> name
    private: set[str] = field(default_factory=set)
    members: dict[str, list[str]] = field(default_factory=dict)  # channel id -> user ids
    users: list[str] = field(default_factory=list)
    guests: set[str] = field(default_factory=set)
    dms: dict[str, str] = field(default_factory=dict)  # user -> DM channel id
    threads: list[Thread] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)

    @property
    def message_count(self) -> int:
        return sum(len(t.messages) for t in self.threads)

    def may_see(self, user: str, channel: str) -> bool:
        if channel in self.dms.values():
            return self.dms.get(user) == channel
        if channel in self.private or user in self.guests:
            return user in self.members[channel]
        return True

    def may_show(self, source_channel: str, *, asker: str, posted_in: str) -> bool:
        """The ground truth, independent of the bot's code: may this text appear in this answer?"""
        if not self.may_see(asker, source_channel):
            return False
        if source_channel == posted_in:
            return True
        if posted_in == self.dms.get(asker):
            return source_channel not in self.dms.values()
        if source_channel in self.private or source_channel in self.dms.values():
            return False
        return not any(m in self.guests for m in self.members[posted_in])


class _Clock:
    def __init__(self, start: int) -> None:
        self.now = start
        self.seq = 0

    def ts(self) -> str:
        self.seq += 1
        self.now += 7
        return f"{self.now}.{self.seq % 1_000_000:06d}"


def build(seed: int = 7, *, facts: int = 240, questions: int = 60, traps: int = 20) -> Workspace:
    rng = random.Random(seed)
    ws = Workspace()
    ws.users = [f"U{n:03d}" for n in range(1, 41)]
    ws.guests = set(ws.users[-4:])
    staff = [u for u in ws.users if u not in ws.guests]
    for n, name in enumerate(PUBLIC):
        cid = f"C{n:03d}"
        ws.channels[cid] = name
        ws.members[cid] = staff + (sorted(ws.guests) if name in SHARED else [])
    for n, name in enumerate(PRIVATE):
        cid = f"G{n:03d}"
        ws.channels[cid] = name
        ws.private.add(cid)
        ws.members[cid] = sorted(rng.sample(staff, 6))
    ws.dms = {u: f"D{u[1:]}" for u in ws.users}
    clock = _Clock(1_760_000_000)
    fact_channels = [c for c in ws.channels if ws.channels[c] not in SHARED]
    pairs = [(e, a) for e in range(len(SERVICES)) for a in range(len(ATTRIBUTES))]
    rng.shuffle(pairs)
    for fact, (e, a) in enumerate(pairs[:facts]):
        channel = rng.choice(fact_channels)
        fill = {
            "e": SERVICES[e],
            "n": str(rng.randint(2, 9)),
            "u": f"<@{rng.choice(staff)}>",
            "v": f"<@{rng.choice(staff)}>",
            "d": rng.choice(DAYS),
            "t": rng.choice(TEAMS),
        }
        root_text, replies, _ = ATTRIBUTES[a]
        people = ws.members[channel]
        root = Message(clock.ts(), rng.choice(people), root_text.format(**fill), None)
        messages = [root] + [
            Message(clock.ts(), rng.choice(people), r.format(**fill), root.ts) for r in replies
        ]
        if rng.random() < 0.5:
            messages.append(Message(clock.ts(), rng.choice(people), "thanks, that helps", root.ts))
        ws.threads.append(Thread(channel, root.ts, messages, fact=fact))
    for thread in rng.sample(ws.threads, 20):  # notes to self in DMs: never for anyone else
        user = rng.choice(ws.users)
        ts = clock.ts()
        note = Message(ts, user, "note to self: " + thread.messages[0].text, None)
        ws.threads.append(Thread(ws.dms[user], ts, [note]))
    _questions(ws, rng, pairs, questions=questions, traps=traps)
    return ws


def _questions(
    ws: Workspace, rng: random.Random, pairs: list[tuple[int, int]], *, questions: int, traps: int
) -> None:
    fact_threads = [t for t in ws.threads if t.fact is not None]
    rng.shuffle(fact_threads)
    public_posts = [c for c in ws.channels if c not in ws.private and ws.channels[c] not in SHARED]
    for thread in fact_threads:
        want_trap = len([q for q in ws.questions if q.trap]) < traps and thread.channel in ws.private
        if not want_trap and len([q for q in ws.questions if not q.trap]) >= questions:
            continue
        e, a = pairs[thread.fact or 0]
        text = rng.choice(ATTRIBUTES[a][2]).format(e=SERVICES[e])
        if want_trap:
            outsider = [u for u in ws.users if u not in ws.members[thread.channel]]
            if rng.random() < 0.5:  # not a member, asking in their own DM
                asker = rng.choice(outsider)
                posted = ws.dms[asker]
            else:  # a member, but asking in a public channel
                asker = rng.choice(ws.members[thread.channel])
                posted = rng.choice(public_posts)
            ws.questions.append(Question(text, asker, posted, thread, trap=True))
            continue
        if thread.channel in ws.private:
            asker = rng.choice(ws.members[thread.channel])
            posted = ws.dms[asker]
        else:
            asker = rng.choice([u for u in ws.users if u not in ws.guests])
            posted = ws.dms[asker] if rng.random() < 0.5 else rng.choice(public_posts)
        ws.questions.append(Question(text, asker, posted, thread, trap=False))


def add_filler(ws: Workspace, seed: int, *, total_messages: int) -> None:
    """Chatter threads until the workspace holds `total_messages` messages."""
    rng = random.Random(seed * 7919 + 1)
    clock = _Clock(1_750_000_000)
    channels = list(ws.channels)
    count = ws.message_count
    while count < total_messages:
        channel = rng.choice(channels)
        people = ws.members[channel]
        size = min(rng.choice((1, 1, 1, 2, 3, 4, 6)), total_messages - count)
        root_ts = clock.ts()
        messages = []
        for i in range(size):
            words = rng.choices(FILLER_WORDS, k=rng.randint(6, 18))
            if rng.random() < 0.3:
                words.insert(rng.randrange(len(words)), rng.choice(SERVICE_WORDS))
            messages.append(
                Message(
                    root_ts if i == 0 else clock.ts(),
                    rng.choice(people),
                    " ".join(words),
                    None if i == 0 else root_ts,
                )
            )
        ws.threads.append(Thread(channel, root_ts, messages))
        count += size
