-- An account's balances, brought up to date first (today's quota, expired grants).
-- KEYS: C, G, B, L.  ARGV: now ms, today, free quota.
-- Returns {free_today, sub, extra, held, free_limit}.
local C, G, B, L = unpack(KEYS)
refresh(C, G, B, L, tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]))
local free, sub, extra = balances(C, B)
local held = tonumber(redis.call('HGET', C, 'held') or '0')
local limit = tonumber(redis.call('HGET', C, 'free_limit') or '0')
return {free, sub, extra, held, limit}
