-- The account a key hash opens, in one round trip: {account id, plan, locked, stored hash}.
-- KEYS: key map.  ARGV: account key prefix (e.g. "ps:account:").
local account_id = redis.call('GET', KEYS[1])
if not account_id then
  return {}
end
local fields = redis.call('HMGET', ARGV[1] .. account_id, 'plan', 'locked', 'key_hash')
return {account_id, fields[1] or '', fields[2] or '0', fields[3] or ''}
