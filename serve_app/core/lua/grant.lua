-- Add credits to a bucket: `extra` (permanent) or `sub` (a grant with an expiry).
-- KEYS: C, G, B, L.  ARGV: bucket, amount, expiry ms (sub only), now ms, note.
-- Returns the grant id ('' for extra).
local C, G, B, L = unpack(KEYS)
local bucket, amount, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[4])
if bucket == 'extra' then
  redis.call('HINCRBY', C, 'extra', amount)
  redis.call('XADD', L, '*', 'type', 'grant', 'bucket', 'extra', 'amount', amount,
             'job', '', 'grant', '', 'ts', now, 'note', ARGV[5])
  return ''
end
local gid = string.format('g%012d', redis.call('HINCRBY', C, 'seq', 1))
redis.call('ZADD', G, tonumber(ARGV[3]), gid)
redis.call('HSET', B, gid, amount)
redis.call('XADD', L, '*', 'type', 'grant', 'bucket', 'sub', 'amount', amount,
           'job', '', 'grant', gid, 'ts', now, 'note', ARGV[5], 'expires', ARGV[3])
return gid
