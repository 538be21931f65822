-- Compare-and-set on a job's status: apply only if the current status is one of ARGV[1].
-- KEYS: job.  ARGV: expected (comma separated), new status ('' keeps it), field, value, ...
-- Returns -1 missing job, 0 status did not match, 1 applied.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  return -1
end
local matched = false
for expected in string.gmatch(ARGV[1], '[^,]+') do
  if expected == status then matched = true end
end
if not matched then
  return 0
end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'status', ARGV[2])
end
if #ARGV > 2 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 3))
end
return 1
