-- Sliding-window rate limit, shared by ratelimit.lua and poll.lua (prepended at load time):
-- one sorted-set member per request in the last `span` ms.
-- Returns allowed 0/1, the count in the window after this request, the oldest timestamp ms.
local function window_hit(key, now, span, limit, member)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  local count = redis.call('ZCARD', key)
  local allowed = 0
  if count < limit then
    redis.call('ZADD', key, now, member)
    redis.call('PEXPIRE', key, span)
    count = count + 1
    allowed = 1
  end
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2] or tostring(now)
  return allowed, count, oldest
end
