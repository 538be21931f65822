-- A delivery starts (or restarts) a job: queued|processing -> processing.
-- KEYS: job, depth.  ARGV: now (s).
-- Returns {-1} missing, {0, status} finished, {1, attempts, started_at}.
local J, DEPTH = KEYS[1], KEYS[2]
local status = redis.call('HGET', J, 'status')
if not status then
  return {-1}
end
if status ~= 'queued' and status ~= 'processing' then
  return {0, status}
end
if status == 'queued' then
  redis.call('DECR', DEPTH)
  redis.call('HSET', J, 'status', 'processing', 'started_at', ARGV[1], 'progress', 0)
end
local attempts = redis.call('HINCRBY', J, 'attempts', 1)
return {1, attempts, redis.call('HGET', J, 'started_at')}
