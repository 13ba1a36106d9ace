"""What a Redis Cluster node says of the cluster (CLUSTER NODES), as `chirp status` shows it, and which primary
the chaos rig kills."""

from __future__ import annotations

import pytest

from infra.services.launcher import cluster_settled, describe_role, parse_cluster_nodes, slot_ranges
from ops.chaos import pick_primary

# Six nodes on 127.0.0.1-3 after redis-2 (127.0.0.2:17001) was killed and its replica (127.0.0.1:17002) took over.
NODES = """\
a1 127.0.0.1:17001@27001 myself,master - 0 0 1 connected 0-5460
a2 127.0.0.2:17001@27001,host2 master,fail - 1700000000000 1700000000000 2 disconnected
a3 127.0.0.3:17001@27001 master - 0 1700000000000 3 connected 10923-16383 [10923->-a1]
b1 127.0.0.1:17002@27002 master - 0 1700000000000 7 connected 5461-10922
b2 127.0.0.2:17002@27002 slave a3 0 1700000000000 3 connected
b3 127.0.0.3:17002@27002 slave,fail? a1 0 1700000000000 1 connected
"""


def test_cluster_nodes_are_parsed_with_roles_slots_and_failures() -> None:
    nodes = {n.id: n for n in parse_cluster_nodes(NODES)}
    assert nodes["a1"].myself and nodes["a1"].primary and nodes["a1"].slots == ((0, 5460),)
    assert nodes["a2"].address == "127.0.0.2:17001" and nodes["a2"].failed and not nodes["a2"].slots
    assert nodes["a3"].slots == ((10923, 16383),)  # a slot being migrated is not counted twice
    assert nodes["b1"].primary and nodes["b1"].slot_count == 5462
    assert not nodes["b2"].primary and nodes["b2"].primary_id == "a3" and not nodes["b2"].failed
    assert nodes["b3"].failed  # fail?: this node alone thinks so
    assert sum(n.slot_count for n in nodes.values()) == 16384


def test_a_cluster_is_settled_when_every_node_serves_slots_or_replicates_a_primary() -> None:
    healthy = NODES.replace("master,fail -", "slave b1").replace("slave,fail? a1", "slave a1")
    assert cluster_settled(parse_cluster_nodes(healthy), 6)
    assert not cluster_settled(parse_cluster_nodes(healthy), 7)  # one not known yet
    assert not cluster_settled(parse_cluster_nodes(NODES), 6)  # a2 failed
    assert not cluster_settled(parse_cluster_nodes(healthy.replace("slave a1", "master -")), 6)  # not attached yet


def test_slot_ranges_and_roles_as_status_shows_them() -> None:
    assert slot_ranges(((0, 5460), (10923, 10923))) == "0-5460,10923"
    assert slot_ranges(()) == "none"
    nodes = parse_cluster_nodes(NODES)
    assert describe_role(nodes, "ok") == "primary, slots 0-5460, cluster ok"
    as_b2 = parse_cluster_nodes(NODES.replace("myself,master", "master").replace("slave a3", "myself,slave a3"))
    assert describe_role(as_b2, "fail") == "replica of 127.0.0.3:17001, cluster fail"


def test_the_primary_killed_serves_slots_has_a_healthy_replica_and_was_started_here() -> None:
    nodes = parse_cluster_nodes(NODES)
    every = {n.address for n in nodes}
    # a1's replica b3 is suspected failed, b1 has no replica: a3 (replica b2) is the one that fits.
    victim, replica = pick_primary(nodes, every)
    assert (victim.id, replica.id) == ("a3", "b2")
    healthy = parse_cluster_nodes(NODES.replace("slave,fail? a1", "slave a1"))
    # Both a1 and a3 fit; a1 is the node CHIRP_REDIS_URL names, so a3 is taken.
    assert pick_primary(healthy, every, avoid="127.0.0.1:17001")[0].id == "a3"
    assert pick_primary(healthy, every - {"127.0.0.3:17001"}, avoid="127.0.0.1:17001")[0].id == "a1"
    with pytest.raises(RuntimeError, match="no primary"):
        pick_primary(nodes, every - {"127.0.0.3:17001"})
