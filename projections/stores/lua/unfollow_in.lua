-- follower stopped following followee: the follower's side, on the follower's node. ARGV: prefix, follower,
-- followee, followee as 8 bytes, cap, seconds to remember the unfollow (0: not at all). Purges the followee's
-- entries (the author is the entry's last 8 bytes), and remembers the followee in the follower's `uf:` set for
-- a while: a tweet of theirs the fan-out planned before this ran may be delivered after it; deliver.lua drops it.
-- Returns entries removed.
return unfollow_in(ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]))
