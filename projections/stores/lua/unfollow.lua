-- follower stopped following followee: the followee's side, on the followee's node. ARGV: prefix, follower,
-- followee. unfollow_in.lua does the follower's side.
redis.call('SREM', K(ARGV[1], 'fo', ARGV[3]), ARGV[2])
return 0
