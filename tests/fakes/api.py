"""In-memory fakes of the API's command-side stores (api/wiring.py's TweetState, api/media.py's Uploads),
for unit tests."""

from __future__ import annotations

from api.media import Upload
from api.wiring import Wiring
from infra.objectstore import ObjectStore
from infra.settings import Settings
from schemas.ids import IdGenerator
from tests.fakes.accounts import MemoryAccounts, MemoryMarkers, MemoryOAuth
from tests.fakes.eventlog import MemoryEventLog


class MemoryUploads:
    """Uploads kept in a dict, without expiry."""

    def __init__(self) -> None:
        self.uploads: dict[int, Upload] = {}

    async def save(self, media_id: int, upload: Upload, ttl_s: int) -> None:
        self.uploads[media_id] = upload

    async def get(self, media_id: int) -> Upload | None:
        return self.uploads.get(media_id)

    async def replace(self, media_id: int, upload: Upload) -> bool:
        if media_id not in self.uploads:
            return False
        self.uploads[media_id] = upload
        return True


class MemoryObjectStore(ObjectStore):
    """Objects kept in a dict; URLs are still signed by botocore (no request is sent for that)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.objects: dict[str, tuple[bytes, str]] = {}

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = (data, content_type)

    def get(self, key: str) -> bytes:
        return self.objects[key][0]


class MemoryTweetState:
    """Tweets accepted by this API: id -> author, None once deleted."""

    def __init__(self) -> None:
        self.tweets: dict[int, int | None] = {}

    async def tweet_state(self, tweet_id: int) -> tuple[int | None, bool]:
        if tweet_id not in self.tweets:
            return None, False
        author = self.tweets[tweet_id]
        return author, author is None

    async def mark_pending(self, tweet_id: int, author_id: int | None) -> None:
        self.tweets[tweet_id] = author_id


def memory_wiring(
    settings: Settings, events: MemoryEventLog | None = None, accounts: MemoryAccounts | None = None
) -> Wiring:
    """The API's wiring over in-memory fakes only (no read side: tests add what they need)."""
    return Wiring(
        settings=settings,
        events=events if events is not None else MemoryEventLog(),
        accounts=accounts if accounts is not None else MemoryAccounts(),
        ids=IdGenerator(1),
        tweets=MemoryTweetState(),
        uploads=MemoryUploads(),
        oauth=MemoryOAuth(),
        markers=MemoryMarkers(),
        media_store=MemoryObjectStore(settings) if settings.media_storage else None,
    )
