-- Everything a page shows, in one round trip. ARGV: prefix, then tweet id and author id pairs.
-- Per pair: the 11 values of `hydrate` in readlib.lua.
local p = ARGV[1]
local out = {}
for i = 2, #ARGV, 2 do hydrate(out, p, ARGV[i], ARGV[i + 1]) end
return out
