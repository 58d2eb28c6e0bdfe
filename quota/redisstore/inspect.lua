-- Reads a bucket or a ledger without changing it, on Redis server time.
-- ARGV[1]: the operation.
--
-- "tokens": KEYS[1] the bucket's theoretical arrival time, KEYS[2] its
-- adaptive factor and KEYS[3] the account's calm share (as in rate.lua);
-- ARGV[2] tokens per second (> 0), ARGV[3]
-- burst (>= 1). Replies the tokens the bucket holds now, as a string (Lua
-- numbers become integers in a reply): burst - (tat - now) / interval, at
-- most burst, negative while granted tokens are still owed.
--
-- "pending": KEYS[1] the pending reservations (a sorted set scored by lapse
-- time in ms, as in ledger.lua). Replies how many have not lapsed.
local t = redis.call('TIME')
local op = ARGV[1]

if op == 'tokens' then
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local rate = tonumber(ARGV[2])
  local burst = tonumber(ARGV[3])
  local factor = tonumber(redis.call('GET', KEYS[2]) or '1') or 1
  if factor <= 0 or factor > 1 then factor = 1 end
  local interval = 1000000 / (rate * factor)
  local calm = tonumber(redis.call('GET', KEYS[3]) or '1') or 1
  if calm > 0 and calm < 1 then interval = interval / calm end
  local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
  local owed = tat - now
  if owed < 0 then owed = 0 end
  return string.format('%.6f', burst - owed / interval)

elseif op == 'pending' then
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
end
return redis.error_reply('videoquota inspect: unknown operation ' .. tostring(op))
