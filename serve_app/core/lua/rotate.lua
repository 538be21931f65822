-- Swap an account's key for a new one; the old one stops working in the same instant.
-- KEYS: account hash, old key map, new key map.  ARGV: account id, old hash, new hash, now.
if redis.call('HGET', KEYS[1], 'key_hash') ~= ARGV[2] then
  return 0
end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[1], 'key_hash', ARGV[3], 'rotated_at', ARGV[4])
return 1
