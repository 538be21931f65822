-- Move webhook retries whose time has come back into the outbox stream, atomically.
-- KEYS: retries zset, outbox stream.  ARGV: now ms, max count.
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local fields = cjson.decode(member)
  local flat = {}
  for key, value in pairs(fields) do
    table.insert(flat, key)
    table.insert(flat, tostring(value))
  end
  redis.call('XADD', KEYS[2], '*', unpack(flat))
end
return #due
