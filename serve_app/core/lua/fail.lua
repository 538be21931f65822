-- Mark a job failed and give its held credits back, once; queue its webhook event. Also
-- releases the hold of a job whose hash has already expired, so credits are never stranded.
-- KEYS: job, hold, C, G, B, L, stats day, account, webhook outbox, depth, metrics,
--       in flight.
-- ARGV: job_id, account, now ms, events channel, field, value, ...
-- Returns 0 already finished, 1 failed and released.
local J, H, C, G, B, L, ST, A, WH, DEPTH, M, INF = unpack(KEYS)
redis.call('ZREM', INF, ARGV[1])
local status = redis.call('HGET', J, 'status')
if status == 'done' or status == 'failed' then
  return 0
end
if status then
  if status == 'queued' then redis.call('DECR', DEPTH) end
  redis.call('HSET', J, 'status', 'failed', unpack(ARGV, 5))
  redis.call('HINCRBY', ST, 'failed', 1)
  redis.call('HINCRBY', M, 'jobs:' .. (redis.call('HGET', J, 'operation') or 'unknown') .. ':failed', 1)
  if (redis.call('HGET', A, 'webhook_url') or '') ~= '' then
    redis.call('XADD', WH, '*', 'job_id', ARGV[1], 'event', 'job.failed', 'account', ARGV[2])
  end
end
local held = 0
if redis.call('HGET', H, 'state') == 'held' then held = tonumber(redis.call('HGET', H, 'amount')) end
release(C, G, B, L, H, ARGV[1], tonumber(ARGV[3]))
if held > 0 then redis.call('HINCRBY', M, 'credits:released', held) end
if status then redis.call('PUBLISH', ARGV[4], ARGV[1]) end
return 1
