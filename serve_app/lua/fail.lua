-- Mark a job failed and give its held credits back, once. Also releases the hold of a job
-- whose hash has already expired, so credits are never stranded.
-- KEYS: job, hold, credits.  ARGV: field, value, ...
-- Returns 0 already finished, 1 failed and released.
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'done' or status == 'failed' then
  return 0
end
if status then
  redis.call('HSET', KEYS[1], 'status', 'failed', unpack(ARGV))
end
if redis.call('HGET', KEYS[2], 'state') == 'held' then
  local amount = tonumber(redis.call('HGET', KEYS[2], 'amount'))
  redis.call('HINCRBY', KEYS[3], 'held', -amount)
  redis.call('HINCRBY', KEYS[3], 'balance', amount)
  redis.call('HSET', KEYS[2], 'state', 'released')
end
return 1
