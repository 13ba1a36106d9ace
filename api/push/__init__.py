"""Push to connected clients (`GET /timeline/stream`, `/timeline/ws`).

- hub.py: one Redis pub/sub connection per API process, subscribed to exactly the users with a client here,
  and their presence keys;
- session.py: one client's stream: its buffer, the catch-up after a Last-Event-ID, each tweet sent once.

The names below are re-exported so that `from api.push import ...` keeps working.
"""

from api.push.hub import PushHub, PushUnavailable
from api.push.session import HEARTBEAT, Client, last_event_id, missed, sse_frame, stream

__all__ = ["HEARTBEAT", "Client", "PushHub", "PushUnavailable", "last_event_id", "missed", "sse_frame", "stream"]
