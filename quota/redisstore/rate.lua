-- Takes one token from a GCRA bucket, on Redis server time.
-- KEYS[1]: the bucket's theoretical arrival time (microseconds, a string)
-- KEYS[2]: the adaptive factor of the bucket (absent means 1)
-- ARGV[1]: tokens per second (> 0), ARGV[2]: burst (>= 1),
-- ARGV[3]: the longest wait the caller accepts, in microseconds.
-- Returns {1, wait} when the token was taken (the caller waits `wait` µs
-- before sending) or {0, wait} when it would need more than ARGV[3]: then
-- nothing was taken.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local maxwait = tonumber(ARGV[3])

local factor = tonumber(redis.call('GET', KEYS[2]) or '1') or 1
if factor <= 0 or factor > 1 then factor = 1 end
local interval = 1000000 / (rate * factor)

local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
local newtat = tat + interval
local wait = newtat - burst * interval - now
if wait < 0 then wait = 0 end
wait = math.ceil(wait)
if wait > maxwait then
  return {0, wait}
end
redis.call('SET', KEYS[1], string.format('%.3f', newtat), 'PX', math.ceil((newtat - now) / 1000) + 1000)
return {1, wait}
