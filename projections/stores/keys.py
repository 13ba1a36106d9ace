"""The Redis key layout: every key name chirp writes, in one place (with the Lua scripts in lua/, which spell
the same names). Everything outside projections/stores/ asks here, or asks a store, for a key; none spells one.

Under a version's prefix `p` (its timelines, trends and caches; see projections/versions.py):
`p hl:<user>` home timeline (a list, newest first) and `p hx:<user>` its inbox of late entries, `p hb:<user>`
the mark of a timeline being rebuilt in parts,
`p ur:<user>` an author's recent tweets (a sorted set, newest first), `p fo:<user>` followers, `p fg:<user>`
followees, `p t:<tweet>` the hydration cache, `p u:<user>` users, `p lk:<tweet>` likes, `p rp:<tweet>` replies,
`p pt:<tweet>` tweets the API accepted and the worker may not have projected yet, `p fs:<tweet>` the follower
list a fan-out in progress delivers from (chunk by chunk; gone when it ends), `p cb:<user>` a celebrity's mark and
`p fc:<user>` the celebrities a user follows,
`p tr:*` and `p trt:*` trends (redis_trends.py; all with the one hash tag `{tr}`) and `p trgen:{tr}` their
generation (bumped by every write, so readers know when a computed answer is still exact; `p trgen` before
2026-12-01), `p hk:<handle>` who holds a handle (lower-cased).
Under a version's own prefix: `progress` (the next offset per
`topic:partition`), `stats` and `stats:delays`. Under the base prefix: the version registry (`versions:{registry}`,
`live:{registry}`: one hash tag, since they change together in one transaction; `versions` and `live` before
2026-12-01),
presence and push channels (`online:<user>`, `online`, `push:<user>`), stream leases (`streams:<user>`), id-node
leases (`node:{n<node>}`, `nodehw:{n<node>}`), the
read pressure (`pressure`), read
markers (`nread:<user>`), uploads (`media:<id>`) and each user's last write positions (`lw:<user>`).
The timeline families were `tl:` and `ut:` (oldest first, sorted sets) before 2026-11-29; new names, so that a
deployment of older data reads empty timelines rather than failing until `chirp replay timelines` rebuilds them.
"""

from __future__ import annotations

Id = int | str  # user and tweet ids, as the API spells them or as integers

# "celebs": the celebrity set before 2026-11-30; "trgen": the trends' generation before 2026-12-01.
SINGLE_KEYS = ("celebs", "progress", "stats", "trgen")
OWN_KEYS = ("progress", "stats")  # a version's bookkeeping, apart from the data it may share
# "tl" and "ut": the timeline families of the older layout, so a promote or retire also removes them.
FAMILIES = (
    "hl",
    "hx",
    "hb",
    "cb",
    "fc",
    "dl",
    "ur",
    "fo",
    "fg",
    "uf",
    "t",
    "u",
    "hk",
    "lk",
    "rp",
    "pt",
    "fs",
    "stats",
    "tr",
    "trt",
    "trgen",
    "tl",
    "ut",
)
TREND_FAMILIES = ("tr", "trt")


class RedisKeys:
    """The key names under one prefix (a version's, or the base prefix)."""

    __slots__ = ("p",)

    def __init__(self, prefix: str) -> None:
        self.p = prefix

    def timeline(self, user_id: Id) -> str:
        """A home timeline (a list of 16-byte entries, newest first, and the horizon sentinel)."""
        return f"{self.p}hl:{{{user_id}}}"

    def inbox(self, user_id: Id) -> str:
        """Entries that reached a home timeline out of order, not folded into its list yet (a sorted set)."""
        return f"{self.p}hx:{{{user_id}}}"

    def building(self, user_id: Id) -> str:
        """Set while a home timeline is rebuilt in parts (rebuild.lua): reads treat it as not materialized."""
        return f"{self.p}hb:{{{user_id}}}"

    def timelines(self) -> str:
        """The SCAN pattern of every materialized home timeline."""
        return f"{self.p}hl:*"

    def user_tweets(self, user_id: Id) -> str:
        return f"{self.p}ur:{{{user_id}}}"

    def followers(self, user_id: Id) -> str:
        return f"{self.p}fo:{{{user_id}}}"

    def following(self, user_id: Id) -> str:
        return f"{self.p}fg:{{{user_id}}}"

    def unfollowed(self, user_id: Id) -> str:
        """Who a user unfollowed lately (a set of 8-byte ids, short TTL): deliver.lua drops their tweets that
        were planned before the unfollow and arrive after it."""
        return f"{self.p}uf:{{{user_id}}}"

    def id_head(self, family: str) -> str:
        """What every key of a per-id family (`tweet`, `likes`, `user`, ...) shares, up to its id: client-side
        caching tracks such keys by this prefix (redis_views.py), and reads a changed key's id after it."""
        return f"{self.p}{family}:{{"

    def tweet(self, tweet_id: Id) -> str:
        return f"{self.p}t:{{{tweet_id}}}"

    def user(self, user_id: Id) -> str:
        return f"{self.p}u:{{{user_id}}}"

    def likes(self, tweet_id: Id) -> str:
        return f"{self.p}lk:{{{tweet_id}}}"

    def replies(self, tweet_id: Id) -> str:
        return f"{self.p}rp:{{{tweet_id}}}"

    def pending(self, tweet_id: Id) -> str:
        return f"{self.p}pt:{{{tweet_id}}}"

    def fanout_snapshot(self, author_id: Id, tweet_id: Id) -> str:
        """The followers a fan-out of more than one chunk delivers to, copied when it starts (a list, on the
        author's node)."""
        return f"{self.p}fs:{{{author_id}}}:{tweet_id}"

    def handle(self, handle_key: str) -> str:
        """Who holds a handle (its lower-cased form)."""
        return f"{self.p}hk:{{{handle_key}}}"

    def handles(self) -> str:
        """Every handle, lower-cased, as `handle user_id` members of one sorted set (scores all 0; a space sorts
        before any handle character, so members sort as their handles), for account search by prefix
        (ZRANGEBYLEX); one key, so one slot."""
        return f"{self.p}hs:{{handles}}"

    def celebrity(self, user_id: Id) -> str:
        """Exists once the account is a celebrity (sticky): its tweets are merged at read time."""
        return f"{self.p}cb:{{{user_id}}}"

    def celebrities_followed(self, user_id: Id) -> str:
        """The celebrities a user follows (a set, on the user's node): merged into the user's pages."""
        return f"{self.p}fc:{{{user_id}}}"

    def trends(self) -> list[str]:
        """The SCAN patterns of the trends read model."""
        return [f"{self.p}{f}:*" for f in TREND_FAMILIES]

    def trends_generation(self) -> str:
        """Bumped by every batch of trends writes; in the trends' slot (their one hash tag), so that it goes on
        the writes' pipeline to that slot's node."""
        return f"{self.p}trgen:{{tr}}"

    def progress(self) -> str:
        return f"{self.p}progress"

    def stats(self) -> str:
        return f"{self.p}stats"

    def delays(self) -> str:
        return f"{self.p}stats:delays"

    def everything(self) -> str:
        """The SCAN pattern of every key under the prefix (for a base prefix: every version's too)."""
        return f"{self.p}*"


def own_patterns(own_prefix: str) -> list[str]:
    """A version's bookkeeping (progress and stats), never shared with another version."""
    return [f"{own_prefix}{k}" for k in OWN_KEYS] + [f"{own_prefix}stats:*"]


def data_patterns(prefix: str) -> list[str]:
    """Every key of the version whose prefix is `prefix`, family by family: for the first version, whose prefix
    is the base prefix itself, so the patterns never reach the keys of the versions under `<prefix>vN:`."""
    return [f"{prefix}{k}" for k in SINGLE_KEYS] + [f"{prefix}{f}:*" for f in FAMILIES]


def registry_keys(base: str) -> tuple[str, str]:
    """The version registry: the hash of versions, and the name of the live one. One hash tag: a promotion
    changes both in one MULTI, which a Redis Cluster allows only within one slot."""
    return f"{base}versions:{{registry}}", f"{base}live:{{registry}}"


def legacy_registry_keys(base: str) -> tuple[str, str]:
    """The registry's names before 2026-12-01 (no hash tag), moved to `registry_keys` when first read."""
    return f"{base}versions", f"{base}live"


def presence_key(prefix: str, user_id: Id) -> str:
    return f"{prefix}online:{{{user_id}}}"


def channel(prefix: str, user_id: Id) -> str:
    return f"{prefix}push:{{{user_id}}}"


def user_of_channel(prefix: str, name: bytes) -> int | None:
    """The user a push channel name (as pub/sub hands it back) belongs to; None for another name."""
    head = f"{prefix}push:{{".encode()
    if not name.startswith(head) or not name.endswith(b"}"):
        return None
    try:
        return int(name[len(head) : -1])
    except ValueError:
        return None


def channels(prefix: str) -> str:
    """The PSUBSCRIBE pattern of every user's push channel."""
    return f"{prefix}push:*"


def node_lease(prefix: str, node: int) -> list[str]:
    """An id-generator node's lease and the high-water mark of its ids (projections/stores/redis_nodes.py), with
    one hash tag so that they share a slot."""
    return [f"{prefix}node:{{n{node}}}", f"{prefix}nodehw:{{n{node}}}"]


def stream_leases(prefix: str, user_id: Id) -> str:
    """The user's open streams across API processes (projections/stores/redis_streams.py)."""
    return f"{prefix}streams:{{{user_id}}}"


def online_index(prefix: str) -> str:
    return f"{prefix}online"


def read_pressure(prefix: str) -> str:
    """Set (with a short TTL) by API processes whose timeline reads are slow; the fan-out yields while it is."""
    return f"{prefix}pressure"


def reads_active(prefix: str) -> str:
    """Set (with a short TTL) by API processes while they serve timeline reads; the fan-out sends small rounds."""
    return f"{prefix}reading"


def worker_degraded(prefix: str) -> str:
    """Set (with a short TTL) by a stream worker that is retrying a store which fails; /readyz and
    `chirp status` report it. Its value says what is being retried."""
    return f"{prefix}degraded"


def read_mark(prefix: str, user_id: Id) -> str:
    return f"{prefix}nread:{{{user_id}}}"


def last_writes(prefix: str, user_id: Id) -> str:
    """Where the user's recent writes landed in the log (a hash, `topic:partition` -> the offset after it)."""
    return f"{prefix}lw:{{{user_id}}}"


def upload(prefix: str, media_id: Id) -> str:
    return f"{prefix}media:{{{media_id}}}"
