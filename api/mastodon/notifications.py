"""Notifications and read markers, Mastodon's face of chirp's notifications read model (projections/notifications).

chirp's kinds show as Mastodon's types: `mention` (mentions and replies), `favourite` (likes), `follow`; chirp
makes no other type (`status`, `reblog`, `poll`, ...), so asking for one of those alone answers []. Pages follow
Mastodon's max_id/since_id/min_id rules with Link headers (api/mastodon/paging.py).

Markers: the `notifications` marker is chirp's own read marker (setting it appends NotificationsRead, as
chirp's POST /notifications/read does, and chirp's marker only moves forward); both markers and their
versions are kept in Cassandra (infra/markers.py) so that every API process answers the same.
`POST /api/v1/notifications/clear` marks everything read and hides, on these routes, every notification
made until then (chirp's read model keeps them: chirp has no command that deletes a notification).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.aftermath import after_append
from api.idempotency import Ids
from api.mastodon.accounts import statuses_json
from api.mastodon.auth import Caller, limited, scoped
from api.mastodon.errors import responses
from api.mastodon.models import Account, Status
from api.mastodon.paging import MaxId, MinId, SinceId, Window, link_header, page
from api.mastodon.params import params
from api.mastodon.site import base_url
from api.routers.reads import queries
from api.wiring import Wiring, wiring
from infra.markers import Marker, MarkerConflict, MarkerStore
from projections.mastodon_wire import MASTODON_TYPES, account_json, marker_json, notification_json, wanted_kinds
from projections.notifications import Notification, NotificationStore, now_id
from schemas.events import NotificationsRead
from schemas.ids import ID_PATTERN, id_time, parse_id

router = APIRouter(tags=["mastodon: notifications"])
W = Annotated[Wiring, Depends(wiring)]
READ = scoped("read", "read:notifications")
WRITE = scoped("write", "write:notifications")
CLEARED = "cleared:notifications"  # the floor POST /clear sets (infra/markers.py)
TIMELINES = ("home", "notifications")
SCAN_MAX = 400  # rows a filtered page examines at most (types[], account_id): a page may then hold fewer
# `:int` so that the path never matches /notifications/clear (whose Allow header would then name GET too)
NotificationId = Annotated[int, Path(ge=1, lt=9 * 10**18, description="A notification id.")]
TypeList = Annotated[list[str], Query(max_length=20, description=f"Types: {', '.join(MASTODON_TYPES)}.")]


class NotificationOut(BaseModel):
    id: str
    type: str = Field(description="mention (mentions and replies), favourite, follow.", examples=["favourite"])
    group_key: str
    created_at: str
    account: Account
    status: Status | None


class MarkerOut(BaseModel):
    last_read_id: str
    version: int
    updated_at: str


class Markers(BaseModel):
    home: MarkerOut | None = None
    notifications: MarkerOut | None = None


def _parts(w: Wiring) -> tuple[NotificationStore, MarkerStore]:
    if w.notifications is None or w.markers is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "notifications are not connected")
    return w.notifications, w.markers


async def _floor(markers: MarkerStore, user_id: int) -> int:
    found = (await markers.get(user_id, [CLEARED])).get(CLEARED)
    return found.last_read_id if found else 0


async def render(request: Request, w: Wiring, rows: Sequence[Notification]) -> list[dict[str, Any]]:
    """Mastodon Notifications of the rows; those whose status or account is gone are left out."""
    q, base = queries(w), base_url(request, w.settings)
    pairs = {n.tweet_id: n.user_id if n.kind == "like" else n.actor_id for n in rows if n.tweet_id is not None}
    views = [v for v in (await q.hydrate(sorted(pairs.items())) if pairs else []) if not v.deleted]
    statuses = {v.tweet_id: s for v, s in zip(views, await statuses_json(request, w, views), strict=True)}
    actors = {u.user_id: account_json(u, base) for u in await q.users(sorted({n.actor_id for n in rows}))}
    out = []
    for n in rows:
        status_ = statuses.get(n.tweet_id) if n.tweet_id is not None else None
        if (n.tweet_id is not None and status_ is None) or n.actor_id not in actors:
            continue
        out.append(notification_json(n.notification_id, n.kind, n.created_at, actors[n.actor_id], status_))
    return out


@router.get(
    "/api/v1/notifications",
    dependencies=[READ],
    response_model=list[NotificationOut],
    responses={**responses(401, 403, 422, 503), 200: {"headers": {"Link": {"schema": {"type": "string"}}}}},
    summary="Your notifications, newest first (types[], exclude_types[], account_id; max_id, since_id, min_id)",
)
async def list_notifications(
    request: Request,
    w: W,
    caller: Annotated[Caller, READ],
    max_id: MaxId = None,
    since_id: SinceId = None,
    min_id: MinId = None,
    limit: Annotated[int, Query(ge=1, description="Default 40, at most 80.")] = 40,
    types: Annotated[TypeList | None, Query(alias="types[]")] = None,
    exclude_types: Annotated[TypeList | None, Query(alias="exclude_types[]")] = None,
    account_id: Annotated[str | None, Query(pattern=ID_PATTERN, description="Only from this account.")] = None,
) -> Response:
    store, markers = _parts(w)
    user = caller.user_id
    kinds = wanted_kinds(types or (), exclude_types or ())
    actor = parse_id(account_id) if account_id else None
    floor = await _floor(markers, user)
    win = Window.of(max_id, since_id, min_id, 20)
    win = Window(win.before, max(win.after or 0, floor) or None, max(1, min(limit, 80)), win.oldest_first)

    def shown(n: Notification) -> bool:
        return (kinds is None or n.kind in kinds) and (actor is None or n.actor_id == actor)

    async def fetch(win: Window) -> tuple[list[Notification], bool]:
        if kinds is not None and not kinds:
            return [], False
        got: list[Notification] = []
        before, after, scanned = win.before, win.after, 0
        while len(got) < win.limit and scanned < SCAN_MAX:
            batch = await store.window(user, before, after, win.limit, win.oldest_first)
            scanned += len(batch)
            got += [n for n in batch if shown(n)]
            if len(batch) < win.limit:
                return got[: win.limit], False
            if win.oldest_first:
                after = batch[-1].notification_id
            else:
                before = batch[-1].notification_id
        return got[: win.limit], True

    got = await page(win, fetch)
    body = await render(request, w, got.items)
    link = link_header(str(request.url.replace(query="")), request.query_params.multi_items(),
                       [n.notification_id for n in got.items], got.more_older)  # fmt: skip
    return JSONResponse(body, headers={"Link": link} if link else None)


@router.get(
    "/api/v1/notifications/{notification_id:int}",
    dependencies=[READ],
    response_model=NotificationOut,
    responses=responses(401, 403, 404, 422, 503),
    summary="One of your notifications",
)
async def get_notification(
    request: Request, w: W, caller: Annotated[Caller, READ], notification_id: NotificationId
) -> dict[str, Any]:
    store, markers = _parts(w)
    nid = notification_id
    if nid > await _floor(markers, caller.user_id):
        rows = await store.window(caller.user_id, nid + 1, nid - 1, 1)
        body = await render(request, w, rows)
        if body:
            return body[0]
    raise HTTPException(status.HTTP_404_NOT_FOUND, "Record not found")


async def _mark_read(w: Wiring, ids: Ids, user: int, up_to: int) -> None:
    """chirp's own read marker (NotificationsRead, as POST /notifications/read), never later than now."""
    up_to = min(up_to, now_id(time.time_ns() // 1_000_000))
    await w.events.append(NotificationsRead(ids.meta(user), user, up_to))
    if w.read_marks is not None:  # read-your-writes until the worker has projected the event
        await after_append("read marker", w.read_marks.set(user, up_to), None)


@router.post(
    "/api/v1/notifications/clear",
    dependencies=[WRITE, limited("writes")],
    response_model=dict[str, Any],
    responses=responses(401, 403, 413, 422, 429, 503),
    summary="Clear your notifications: all are marked read, and these routes show none made until now",
)
async def clear(w: W, ids: Ids, caller: Annotated[Caller, WRITE]) -> dict[str, Any]:
    _, markers = _parts(w)
    now = now_id(time.time_ns() // 1_000_000)
    await _mark_read(w, ids, caller.user_id, now)
    await _set(markers, caller.user_id, CLEARED, now)
    return {}


# Markers ----------------------------------------------------------------------------------------------------------


async def _set(markers: MarkerStore, user: int, timeline: str, last_read_id: int) -> Marker:
    try:
        return await markers.set(user, timeline, last_read_id)
    except MarkerConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


async def _notifications_marker(w: Wiring, user: int, stored: Marker | None) -> Marker | None:
    """The notifications marker: chirp's read marker (which chirp's own route also moves) when it is ahead."""
    if w.read_marks is None or w.notifications is None:
        return stored
    chirp = max(await w.notifications.marker(user), await w.read_marks.get(user))
    if stored is not None and stored.last_read_id >= chirp:
        return stored
    if chirp <= 0:
        return stored
    if stored is None:
        return Marker("notifications", chirp, 0, id_time(chirp))
    return Marker("notifications", chirp, stored.version, stored.updated_at)


def _markers_json(found: dict[str, Marker]) -> dict[str, Any]:
    return {t: marker_json(m.last_read_id, m.version, m.updated_at) for t, m in found.items()}


@router.get(
    "/api/v1/markers",
    response_model=Markers,
    response_model_exclude_none=True,
    responses=responses(401, 403, 422, 503),
    summary="Where you stopped reading: `timeline[]` home and/or notifications (a marker never set is left out)",
)
async def get_markers(
    w: W,
    caller: Annotated[Caller, scoped("read", "read:statuses")],
    timeline: Annotated[list[str], Query(alias="timeline[]", max_length=10, description="home, notifications")] = [],  # noqa: B006
) -> dict[str, Any]:
    _, markers = _parts(w)
    wanted = [t for t in dict.fromkeys(timeline) if t in TIMELINES]
    found = await markers.get(caller.user_id, wanted)
    if "notifications" in wanted:
        note = await _notifications_marker(w, caller.user_id, found.get("notifications"))
        if note is not None:
            found["notifications"] = note
    return _markers_json(found)


def marker_ids(data: dict[str, Any]) -> dict[str, str]:
    """`{timeline: last_read_id}` from a JSON body (`{"home": {"last_read_id": "1"}}`) or a form
    (`home[last_read_id]=1`); 422 for an id that is not one."""
    out: dict[str, str] = {}
    for t in TIMELINES:
        value = data.get(t)
        raw = value.get("last_read_id") if isinstance(value, dict) else data.get(f"{t}[last_read_id]")
        if raw is None:
            continue
        try:
            parse_id(str(raw))
        except ValueError:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"Validation failed: {t}: bad id") from None
        out[t] = str(raw)
    return out


@router.post(
    "/api/v1/markers",
    dependencies=[limited("writes")],
    response_model=Markers,
    response_model_exclude_none=True,
    responses=responses(401, 403, 409, 413, 422, 429, 503),
    summary="Save where you stopped reading: home[last_read_id], notifications[last_read_id] (form or JSON)",
)
async def set_markers(
    request: Request, w: W, ids: Ids, caller: Annotated[Caller, scoped("write", "write:statuses")]
) -> dict[str, Any]:
    _, markers = _parts(w)
    user = caller.user_id
    asked = marker_ids(await params(request))
    done: dict[str, Marker] = {}
    for timeline, raw in asked.items():
        last_read_id = parse_id(raw)
        if timeline == "notifications":
            await _mark_read(w, ids, user, last_read_id)
        done[timeline] = await _set(markers, user, timeline, last_read_id)
    return _markers_json(done)
