-- Reserve credits and enqueue a job in one step: a crash can never leave credits held for a
-- job that does not exist, nor a queued job whose credits were not reserved.
-- The account's jobs in flight are capped here too, so concurrent submits cannot overshoot.
-- KEYS: C, G, B, L, hold, job, jobs index, stream, stats day, idempotency, depth, metrics,
--       in flight
-- ARGV: 1 account, 2 job_id, 3 cost, 4 job ttl s, 5 now ms, 6 today, 7 free quota,
--       8 next midnight ms, 9 operation, 10 size label, 11 idempotency ttl s (0 = none),
--       12 idempotent response body, 13 stats ttl s, 14 index keep ms, 15 most jobs in
--       flight (0 = no cap), then job field/values
-- Returns {1, remaining}, {0, total} (out of credits) or {-1, jobs in flight} (at the cap).
local C, G, B, L, H, J, IDX, S, ST, IDEM, DEPTH, M, INF = unpack(KEYS)
local cost, now = tonumber(ARGV[3]), tonumber(ARGV[5])
local cap, ttl_ms = tonumber(ARGV[15]), tonumber(ARGV[4]) * 1000
-- a job that ended without its script (its record expired) stops counting after its ttl
redis.call('ZREMRANGEBYSCORE', INF, '-inf', now - ttl_ms)
local flying = redis.call('ZCARD', INF)
if cap > 0 and flying >= cap then
  return {-1, flying}
end
refresh(C, G, B, L, now, ARGV[6], tonumber(ARGV[7]))
local free, sub, extra = balances(C, B)
local total = free + sub + extra
if total < cost then
  return {0, total}
end
reserve(C, G, B, L, H, ARGV[1], ARGV[2], cost, now, ARGV[6], tonumber(ARGV[8]))
redis.call('HSET', J, unpack(ARGV, 16))
redis.call('ZADD', INF, now, ARGV[2])
redis.call('PEXPIRE', INF, ttl_ms)
redis.call('EXPIRE', J, tonumber(ARGV[4]))
redis.call('ZADD', IDX, now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', IDX, '-inf', now - tonumber(ARGV[14]))
redis.call('XADD', S, '*', 'job_id', ARGV[2])
redis.call('INCR', DEPTH)
redis.call('HINCRBY', ST, 'all', 1)
redis.call('HINCRBY', ST, 'op:' .. ARGV[9], 1)
redis.call('HINCRBY', ST, 'size:' .. ARGV[10], 1)
redis.call('EXPIRE', ST, tonumber(ARGV[13]))
redis.call('HINCRBY', M, 'jobs:' .. ARGV[9] .. ':accepted', 1)
redis.call('HINCRBY', M, 'credits:reserved', cost)
if tonumber(ARGV[11]) > 0 then
  redis.call('HSET', IDEM, 'state', 'done', 'job_id', ARGV[2], 'body', ARGV[12],
             'remaining', total - cost)
  redis.call('EXPIRE', IDEM, tonumber(ARGV[11]))
end
return {1, total - cost}
