-- Mark a processing job done and capture its held credits, once.
-- KEYS: job, hold, credits.  ARGV: field, value, ...
-- Returns -1 missing job, 0 not processing (a late duplicate run), 1 done and captured.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  return -1
end
if status ~= 'processing' then
  return 0
end
redis.call('HSET', KEYS[1], 'status', 'done', unpack(ARGV))
if redis.call('HGET', KEYS[2], 'state') == 'held' then
  local amount = tonumber(redis.call('HGET', KEYS[2], 'amount'))
  redis.call('HINCRBY', KEYS[3], 'held', -amount)
  redis.call('HSET', KEYS[2], 'state', 'captured')
end
return 1
