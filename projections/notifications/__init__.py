"""Notifications: who is told what for which event, as a read model fed by the log; and the feed's read side.

- model.py: the notification, its deterministic id and refs, the changes (ops) and the store's port;
- projection.py: what the worker writes for a batch of events (`plan`), and the push of fresh ones;
- feed.py: GET /notifications (and what is pushed), rendered from the store.

The names below are re-exported so that `from projections.notifications import ...` keeps working.
"""

from projections.notifications.feed import (
    UNREAD_CAP,
    FeedPage,
    Hydrator,
    NotificationFeed,
    PendingMarks,
    notification_json,
)
from projections.notifications.model import (
    KINDS,
    LOW_BITS,
    LOW_MASK,
    DropRef,
    DropRefRow,
    Insert,
    Mark,
    Notification,
    NotificationStore,
    Op,
    Ref,
    Remove,
    follow_ref,
    like_ref,
    notification_id,
    now_id,
    tweet_ref,
)
from projections.notifications.projection import (
    NOTIFYING,
    NotificationsProjection,
    NotificationWrites,
    Publisher,
    TweetAuthors,
    plan,
)

__all__ = [
    "KINDS",
    "LOW_BITS",
    "LOW_MASK",
    "NOTIFYING",
    "UNREAD_CAP",
    "DropRef",
    "DropRefRow",
    "FeedPage",
    "Hydrator",
    "Insert",
    "Mark",
    "Notification",
    "NotificationFeed",
    "NotificationStore",
    "NotificationWrites",
    "NotificationsProjection",
    "Op",
    "PendingMarks",
    "Publisher",
    "Ref",
    "Remove",
    "TweetAuthors",
    "follow_ref",
    "like_ref",
    "notification_id",
    "notification_json",
    "now_id",
    "plan",
    "tweet_ref",
]
