-- Reserve credits and enqueue a job in one step: a crash can never leave credits held for a
-- job that does not exist, nor a queued job whose credits were not reserved.
-- KEYS: C, G, B, L, hold, job, jobs index, stream, stats day, idempotency, depth, metrics
-- ARGV: 1 account, 2 job_id, 3 cost, 4 job ttl s, 5 now ms, 6 today, 7 free quota,
--       8 next midnight ms, 9 operation, 10 size label, 11 idempotency ttl s (0 = none),
--       12 idempotent response body, 13 stats ttl s, 14 index keep ms, then job field/values
local C, G, B, L, H, J, IDX, S, ST, IDEM, DEPTH, M = unpack(KEYS)
local cost, now = tonumber(ARGV[3]), tonumber(ARGV[5])
refresh(C, G, B, L, now, ARGV[6], tonumber(ARGV[7]))
local free, sub, extra = balances(C, B)
local total = free + sub + extra
if total < cost then
  return {0, total}
end
reserve(C, G, B, L, H, ARGV[1], ARGV[2], cost, now, ARGV[6], tonumber(ARGV[8]))
redis.call('HSET', J, unpack(ARGV, 15))
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
