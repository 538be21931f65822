-- KEYS: window zset.  ARGV: now ms, window ms, limit, member.
-- Returns {allowed 0/1, count in window after this request, oldest timestamp ms}.
local allowed, count, oldest = window_hit(
  KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4])
return {allowed, count, oldest}
