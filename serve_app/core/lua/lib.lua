-- Shared by every script that moves credits (prepended at load time).
--
-- One account's credit keys:  C credits hash (free_day, free_left, free_limit, extra, held,
-- seq), G grants zset (grant id -> expiry ms), B grant balances hash (grant id -> left),
-- L ledger stream. Every movement is appended to L in the same script, so at all times
--   sum(grant) - sum(expire) - sum(capture) = free_left + extra + sum(B) + held.

local function ledger(L, kind, bucket, amount, job, grant, now)
  redis.call('XADD', L, '*', 'type', kind, 'bucket', bucket, 'amount', amount,
             'job', job, 'grant', grant, 'ts', now)
end

-- Bring an account up to date: a new UTC day gets a fresh free quota (yesterday's unused
-- free credits expire); grants past their expiry are swept.
local function refresh(C, G, B, L, now, today, quota)
  if redis.call('HGET', C, 'free_day') ~= today then
    local left = tonumber(redis.call('HGET', C, 'free_left') or '0')
    if left > 0 then ledger(L, 'expire', 'free_today', left, '', '', now) end
    redis.call('HSET', C, 'free_day', today, 'free_left', quota, 'free_limit', quota)
    if quota > 0 then ledger(L, 'grant', 'free_today', quota, '', '', now) end
  end
  for _, gid in ipairs(redis.call('ZRANGE', G, '-inf', '(' .. now, 'BYSCORE')) do
    local left = tonumber(redis.call('HGET', B, gid) or '0')
    if left > 0 then ledger(L, 'expire', 'sub', left, '', gid, now) end
    redis.call('HDEL', B, gid)
    redis.call('ZREM', G, gid)
  end
end

local function balances(C, B)
  local free = tonumber(redis.call('HGET', C, 'free_left') or '0')
  local extra = tonumber(redis.call('HGET', C, 'extra') or '0')
  local sub = 0
  for _, left in ipairs(redis.call('HVALS', B)) do sub = sub + tonumber(left) end
  return free, sub, extra
end

-- Move `cost` from the buckets into a hold H, soonest expiry first: free_today expires at
-- midnight, each sub grant at its own time, extra never; equal expiries, oldest grant first
-- (grant ids grow with time and the zset orders ties by id).
local function reserve(C, G, B, L, H, account, job, cost, now, today, midnight)
  local need = cost
  local function take(bucket, grant, available, field)
    local amount = math.min(need, available)
    if amount <= 0 then return 0 end
    need = need - amount
    redis.call('HSET', H, field, amount)
    ledger(L, 'reserve', bucket, amount, job, grant, now)
    return amount
  end
  local function take_free()
    local got = take('free_today', '', tonumber(redis.call('HGET', C, 'free_left') or '0'), 'p:free_today')
    if got > 0 then redis.call('HINCRBY', C, 'free_left', -got) end
  end
  local grants = redis.call('ZRANGE', G, now, '+inf', 'BYSCORE', 'WITHSCORES')
  local free_taken = false
  for i = 1, #grants, 2 do
    if need == 0 then break end
    if not free_taken and midnight <= tonumber(grants[i + 1]) then
      take_free()
      free_taken = true
    end
    local gid = grants[i]
    local got = take('sub', gid, tonumber(redis.call('HGET', B, gid) or '0'), 'p:sub:' .. gid)
    if got > 0 then redis.call('HINCRBY', B, gid, -got) end
  end
  if not free_taken then take_free() end
  local got = take('extra', '', tonumber(redis.call('HGET', C, 'extra') or '0'), 'p:extra')
  if got > 0 then redis.call('HINCRBY', C, 'extra', -got) end
  redis.call('HINCRBY', C, 'held', cost)
  redis.call('HSET', H, 'account', account, 'amount', cost, 'state', 'held', 'day', today)
end

-- A finished hold is kept a while for audits, then dropped.
local HOLD_KEEP_S = 30 * 24 * 3600

local function capture(C, L, H, job, now)
  if redis.call('HGET', H, 'state') ~= 'held' then return 0 end
  local amount = tonumber(redis.call('HGET', H, 'amount'))
  -- Lua 5.1 writes -0 as "-0", which HINCRBY refuses: free jobs (cost 0) skip the call
  if amount ~= 0 then redis.call('HINCRBY', C, 'held', -amount) end
  redis.call('HSET', H, 'state', 'captured')
  redis.call('EXPIRE', H, HOLD_KEEP_S)
  ledger(L, 'capture', '', amount, job, '', now)
  return amount
end

-- Give a hold back to the buckets it came from. A part whose bucket is gone (yesterday's
-- free quota, a swept grant) is released and expires in the same breath.
local function release(C, G, B, L, H, job, now)
  if redis.call('HGET', H, 'state') ~= 'held' then return 0 end
  local day = redis.call('HGET', H, 'day')
  local fields = redis.call('HGETALL', H)
  for i = 1, #fields, 2 do
    local field, amount = fields[i], tonumber(fields[i + 1])
    if field == 'p:free_today' then
      ledger(L, 'release', 'free_today', amount, job, '', now)
      if redis.call('HGET', C, 'free_day') == day then
        redis.call('HINCRBY', C, 'free_left', amount)
      else
        ledger(L, 'expire', 'free_today', amount, job, '', now)
      end
    elseif field == 'p:extra' then
      ledger(L, 'release', 'extra', amount, job, '', now)
      redis.call('HINCRBY', C, 'extra', amount)
    elseif string.sub(field, 1, 6) == 'p:sub:' then
      local gid = string.sub(field, 7)
      ledger(L, 'release', 'sub', amount, job, gid, now)
      if redis.call('ZSCORE', G, gid) then
        redis.call('HINCRBY', B, gid, amount)
      else
        ledger(L, 'expire', 'sub', amount, job, gid, now)
      end
    end
  end
  local amount = tonumber(redis.call('HGET', H, 'amount'))
  if amount ~= 0 then redis.call('HINCRBY', C, 'held', -amount) end
  redis.call('HSET', H, 'state', 'released')
  redis.call('EXPIRE', H, HOLD_KEEP_S)
  return 1
end
