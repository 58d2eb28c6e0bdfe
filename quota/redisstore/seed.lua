-- Re-seeds a GCRA bucket (as in rate.lua) when a process comes back from its
-- local share, on Redis server time.
-- KEYS[1]: the bucket's theoretical arrival time (microseconds, a string)
-- KEYS[2]: the account's calm share (absent means 1)
-- ARGV[1]: the arrival time of the process's local bucket, in Redis µs (0: none)
-- ARGV[2]: the process's local share (0 < share <= 1), ARGV[3]: the calm period in ms.
-- The bucket's arrival time becomes the later of its own and the process's,
-- so that no token is granted before the local ones have gone out; and for
-- the calm period the account's buckets run at the process's share, since
-- the other processes may still be serving theirs. Returns {tat, now}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local v = tonumber(ARGV[1]) or 0
local share = tonumber(ARGV[2]) or 1
local calmms = tonumber(ARGV[3]) or 0
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if v > tat and v > now then
  tat = v
  redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
end
if share < 1 and calmms > 0 then
  local cur = tonumber(redis.call('GET', KEYS[2]) or '1') or 1
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl < calmms then ttl = calmms end
  redis.call('SET', KEYS[2], string.format('%.6f', math.min(cur, share)), 'PX', ttl)
end
return {math.floor(tat), now}
