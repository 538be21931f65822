-- Drop a pending idempotency claim (the request failed before a job existed). A record the
-- submit script already completed is never dropped.
if redis.call('HGET', KEYS[1], 'state') == 'pending' then
  return redis.call('DEL', KEYS[1])
end
return 0
