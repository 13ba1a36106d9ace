"""Write timestamps in log order, for stores that settle concurrent writes by timestamp (Cassandra).

A row of the durable projections is written only by the events of one key, and one key lives in one
partition, so timestamps that grow with the partition's offsets put every row's writes in log order,
whatever the clocks of the API hosts that made the events. Kafka stamps each record when the partition
leader appends it (the event topics use `message.timestamp.type=LogAppendTime`): that time never goes
back within a partition (one clock, the leader's), and the offset breaks ties within a millisecond. A
batch applied again gets the same timestamps: they come from the record, not from when it is applied.
"""

from __future__ import annotations


def log_stamp(append_ms: int, offset: int) -> int:
    """Microseconds since the epoch: the record's append time, plus its place within that millisecond (up
    to 1,000 records per millisecond and partition keep their order)."""
    return append_ms * 1000 + offset % 1000
