-- Mark a processing job done and capture its held credits, once; queue its webhook event.
-- KEYS: job, hold, C, L, stats day, account, webhook outbox, timings, metrics, in flight.
-- ARGV: now ms, events channel, seconds it took, field, value, ...
-- Returns -1 missing job, 0 not processing (a late duplicate run), 1 done and captured.
local J, H, C, L, ST, A, WH, T, M, INF = unpack(KEYS)
local status = redis.call('HGET', J, 'status')
if not status then
  return -1
end
if status ~= 'processing' then
  return 0
end
redis.call('HSET', J, 'status', 'done', unpack(ARGV, 4))
local job_id = redis.call('HGET', J, 'job_id')
redis.call('ZREM', INF, job_id)
local captured = capture(C, L, H, job_id, tonumber(ARGV[1]))
redis.call('HINCRBY', ST, 'done', 1)
redis.call('HINCRBY', ST, 'credits', captured)
redis.call('HINCRBY', M, 'jobs:' .. redis.call('HGET', J, 'operation') .. ':done', 1)
if captured > 0 then redis.call('HINCRBY', M, 'credits:captured', captured) end
if (redis.call('HGET', A, 'webhook_url') or '') ~= '' then
  redis.call('XADD', WH, '*', 'job_id', job_id, 'event', 'job.done', 'account', redis.call('HGET', J, 'account'))
end
-- a moving average of job times per operation, for polling hints
local field = 'processing:' .. redis.call('HGET', J, 'operation')
local seconds = tonumber(ARGV[3])
local previous = tonumber(redis.call('HGET', T, field) or ARGV[3])
redis.call('HSET', T, field, string.format('%.3f', 0.8 * previous + 0.2 * seconds))
redis.call('PUBLISH', ARGV[2], job_id)
return 1
