-- Claim an idempotency key for a request with this fingerprint.
-- KEYS: idempotency hash.  ARGV: fingerprint, pending ttl ms.
-- Returns {'claimed'} | {'mismatch'} | {'pending'} | {'done', body, remaining}.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  redis.call('HSET', KEYS[1], 'state', 'pending', 'fp', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  return {'claimed'}
end
if redis.call('HGET', KEYS[1], 'fp') ~= ARGV[1] then
  return {'mismatch'}
end
if state == 'pending' then
  return {'pending'}
end
return {'done', redis.call('HGET', KEYS[1], 'body'), redis.call('HGET', KEYS[1], 'remaining')}
