"""`chirp demo`: a small generated social graph loaded through the running API, so a newcomer sees
a populated timeline within a minute. Everything goes through the same HTTP routes clients use."""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from tqdm import tqdm

from api.ratelimit import OPERATOR_HEADER


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


NAMES = _words(
    "ada grace alan edsger barbara ken dennis margaret linus guido bjarne donald frances john katherine "
    "radia tim vint leslie niklaus hedy annie sophie marie rosalind carl emmy srinivasa alonzo kurt"
)
WORDS = _words(
    "stream event log replay timeline kafka redis cassandra fanout cursor partition offset schema avro "
    "coffee rain weekend deploy bug fix ship review pair lunch idea"
)


class DemoError(RuntimeError):
    pass


@dataclass
class Loaded:
    users: list[tuple[str, str, str]] = field(default_factory=list)  # (user id, handle, token)
    follows: int = 0
    tweets: int = 0
    star: int = 0


def _check(r: httpx.Response, what: str) -> dict[str, Any]:
    if r.status_code >= 300:
        raise DemoError(f"{what}: HTTP {r.status_code}: {r.text[:300]}")
    return r.json() if r.content else {}


def load(base_url: str, users: int, tweets: int, seed: int | None, operator: str = "") -> Loaded:
    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:4]
    out = Loaded()
    # The operator secret exempts the load from the rate limits a person meets (5 sign-ups per 30 minutes).
    headers = {OPERATOR_HEADER: operator} if operator else {}
    with httpx.Client(base_url=base_url, timeout=10, headers=headers) as http:
        try:
            http.get("/healthz").raise_for_status()
        except httpx.HTTPError as exc:
            raise DemoError(f"the API does not answer at {base_url} ({exc}); start it with `make run`") from exc
        with tqdm(total=users, desc="users", unit="user") as bar:
            for i in range(users):
                name = NAMES[i % len(NAMES)]
                body = {"handle": f"{name}_{tag}{i}", "display_name": name.title()}
                u = _check(http.post("/users", json=body), "register")
                out.users.append((u["user_id"], u["handle"], u["token"]))
                bar.update()
        _follow_graph(http, rng, out)
        with tqdm(total=tweets, desc="tweets", unit="tweet") as bar:
            posted: list[str] = []
            for _ in range(tweets):
                # the star (user 0) and the first few write more, as real accounts do
                uid, _, token = out.users[min(int(rng.paretovariate(1.2)) - 1, users - 1)]
                text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))
                body = {"user_id": uid, "content": f"{text} #{rng.choice(WORDS)}"}
                if posted and rng.random() < 0.15:
                    body["reply_to"] = rng.choice(posted[-50:])
                r = http.post("/tweets", json=body, headers={"Authorization": f"Bearer {token}"})
                posted.append(_check(r, "post")["tweet_id"])
                out.tweets += 1
                bar.update()
    return out


def _follow_graph(http: httpx.Client, rng: random.Random, out: Loaded) -> None:
    """Everyone follows the star (over the celebrity threshold when it is low) and a few others."""
    pairs = set()
    ids = [u[0] for u in out.users]
    for i in range(1, len(ids)):
        pairs.add((i, 0))
        for j in rng.sample(range(len(ids)), k=min(5, len(ids) - 1)):
            if j != i:
                pairs.add((i, j))
    with tqdm(total=len(pairs), desc="follows", unit="follow") as bar:
        for i, j in sorted(pairs):
            follower, _, token = out.users[i]
            body = {"follower_id": follower, "followee_id": ids[j]}
            _check(http.post("/follow", json=body, headers={"Authorization": f"Bearer {token}"}), "follow")
            out.follows += 1
            out.star += j == 0
            bar.update()


def wait_visible(base_url: str, loaded: Loaded, deadline_s: float = 60) -> dict[str, Any]:
    """Reads user 1's timeline until the worker has projected the star's newest tweet into it."""
    uid, _, token = loaded.users[1]
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + deadline_s
    with httpx.Client(base_url=base_url, timeout=10) as http:
        while True:
            star = http.get(f"/users/{loaded.users[0][0]}/tweets", params={"limit": 1})
            page = _check(http.get("/timeline", params={"user_id": uid, "limit": 5}, headers=headers), "timeline")
            newest = star.json()["tweets"][0]["tweet_id"] if star.status_code == 200 and star.json()["tweets"] else None
            shown = [int(t["tweet_id"]) for t in page["tweets"]]
            if newest and shown and (int(newest) in shown or min(shown) > int(newest)):
                return page
            if time.monotonic() > deadline:
                raise DemoError("the timeline stayed empty: is the stream worker running? (`make run` starts it)")
            time.sleep(0.2)
