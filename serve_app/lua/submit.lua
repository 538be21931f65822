-- Reserve credits and enqueue a job in one step, so a crash can never leave credits held
-- for a job that does not exist, nor a queued job whose credits were not reserved.
-- KEYS: credits, hold, job, jobs index, stream
-- ARGV: account_id, job_id, cost, ttl_s, created_ms, field, value, ...
local cost = tonumber(ARGV[3])
local balance = tonumber(redis.call('HGET', KEYS[1], 'balance') or '0')
if balance < cost then
  return {0, balance}
end
redis.call('HINCRBY', KEYS[1], 'balance', -cost)
redis.call('HINCRBY', KEYS[1], 'held', cost)
redis.call('HSET', KEYS[2], 'account', ARGV[1], 'amount', cost, 'state', 'held')
redis.call('HSET', KEYS[3], unpack(ARGV, 6))
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[4]))
redis.call('ZADD', KEYS[4], tonumber(ARGV[5]), ARGV[2])
redis.call('XADD', KEYS[5], '*', 'job_id', ARGV[2])
return {1, balance - cost}
