-- Gives back one token of a GCRA bucket (see rate.lua), on Redis server time:
-- the theoretical arrival time moves back one interval, never before now, so
-- the bucket never holds more than its burst.
-- KEYS[1]: the bucket's theoretical arrival time (microseconds, a string)
-- KEYS[2]: the adaptive factor of the bucket (absent means 1)
-- ARGV[1]: tokens per second (> 0).
-- Returns 1 when a token went back, 0 when the bucket was full.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate = tonumber(ARGV[1])
local factor = tonumber(redis.call('GET', KEYS[2]) or '1') or 1
if factor <= 0 or factor > 1 then factor = 1 end
local interval = 1000000 / (rate * factor)

local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat <= now then
  return 0
end
local newtat = tat - interval
if newtat < now then newtat = now end
redis.call('SET', KEYS[1], string.format('%.3f', newtat), 'PX', math.ceil((newtat - now) / 1000) + 1000)
return 1
