-- Hand an unfinished job back to the queue (graceful shutdown): a fresh stream entry, the old
-- one acknowledged, status queued again, in one step.
-- KEYS: job, stream, depth.  ARGV: group, old entry id, job_id.
local J, S, DEPTH = KEYS[1], KEYS[2], KEYS[3]
if redis.call('HGET', J, 'status') == 'processing' then
  redis.call('HSET', J, 'status', 'queued', 'progress', 0)
  redis.call('INCR', DEPTH)
  redis.call('XADD', S, '*', 'job_id', ARGV[3])
end
return redis.call('XACK', S, ARGV[1], ARGV[2])
