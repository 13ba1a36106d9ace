"""Dead letters for operators: read the dead-letter topic, decode what it holds, and requeue it.

A dead letter is named by where it sits in the dead-letter topic, `<partition>:<offset>` (the topic
has several partitions, so an offset alone is not unique). Requeueing sends its original key and
bytes back to its origin topic and then records, in the compacted topic `DEAD_LETTER_REQUEUES`
(key: the dead letter's id, value: where the copy went), that it was sent. The record lives in the
event log beside the dead letters because it must outlive restarts, Redis rebuilds into a new
prefix and operators on other machines, exactly as long as the dead letters themselves do.

Three modules along the seams: `letters` (ids, headers, requeue records, decoding, choosing what to
requeue; pure), `render` (the text `chirp dlq` prints; pure) and `kafkaio` (reading the topics, sending).
The click layer is ops/dlq_cli.py.
"""
