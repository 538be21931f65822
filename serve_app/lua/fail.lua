-- Mark a job failed and give its held credits back, once. Also releases the hold of a job
-- whose hash has already expired, so credits are never stranded.
-- KEYS: job, hold, C, G, B, L, stats day.  ARGV: job_id, now ms, field, value, ...
-- Returns 0 already finished, 1 failed and released.
local J, H, C, G, B, L, ST = unpack(KEYS)
local status = redis.call('HGET', J, 'status')
if status == 'done' or status == 'failed' then
  return 0
end
if status then
  redis.call('HSET', J, 'status', 'failed', unpack(ARGV, 3))
  redis.call('HINCRBY', ST, 'failed', 1)
end
release(C, G, B, L, H, ARGV[1], tonumber(ARGV[2]))
return 1
