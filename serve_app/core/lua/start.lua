-- A delivery starts (or restarts) a job: queued|processing -> processing, and returns the
-- job record in the same round trip.
-- KEYS: job, depth.  ARGV: now (s).
-- Returns {-1} missing, {0} finished, {1, field, value, ...} started (attempts counted).
local J, DEPTH = KEYS[1], KEYS[2]
local status = redis.call('HGET', J, 'status')
if not status then
  return {-1}
end
if status ~= 'queued' and status ~= 'processing' then
  return {0}
end
if status == 'queued' then
  redis.call('DECR', DEPTH)
  redis.call('HSET', J, 'status', 'processing', 'started_at', ARGV[1], 'progress', 0)
end
redis.call('HINCRBY', J, 'attempts', 1)
local started = {1}
for _, item in ipairs(redis.call('HGETALL', J)) do
  table.insert(started, item)
end
return started
