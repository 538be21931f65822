-- A status poll in one round trip: the rate-limit check (window.lua, as ratelimit.lua),
-- the job, its operation's queue depth and recent job time, and whether this is the first
-- response to report it done (PND's deducted_this_call).
-- KEYS: rate window, job, timings, depth of each operation...
-- ARGV: now ms, window ms, limit, member, operation names (same order as the depth keys)...
-- Returns {allowed, count, oldest ms, first_done 0/1, depth, seconds or '', field, value, ...}
local window, job, timings = KEYS[1], KEYS[2], KEYS[3]
local allowed, count, oldest = window_hit(
  window, tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4])
local reply = {allowed, count, oldest, 0, 0, ''}
if allowed == 0 then
  return reply
end
local fields = redis.call('HGETALL', job)
if #fields == 0 then
  return reply
end
local status, operation = nil, nil
for i = 1, #fields, 2 do
  if fields[i] == 'status' then status = fields[i + 1] end
  if fields[i] == 'operation' then operation = fields[i + 1] end
end
if status == 'done' then
  reply[4] = redis.call('HSETNX', job, 'reported_done', 1)
end
for i = 4, #KEYS do
  if ARGV[i + 1] == operation then reply[5] = tonumber(redis.call('GET', KEYS[i]) or '0') end
end
reply[6] = redis.call('HGET', timings, 'processing:' .. (operation or '')) or ''
for _, item in ipairs(fields) do
  table.insert(reply, item)
end
return reply
