-- Takes one token from a GCRA bucket, on Redis server time.
-- KEYS[1]: the bucket's theoretical arrival time (microseconds, a string)
-- KEYS[2]: the adaptive factor of the bucket (absent means 1)
-- KEYS[3]: the account's calm share (absent means 1), see below
-- KEYS[4]: the account's generation: Redis server time (µs) when its first
--          bucket was written, never expiring, so that a Redis that lost its
--          data shows a new one
-- ARGV[1]: tokens per second (> 0), ARGV[2]: burst (>= 1),
-- ARGV[3]: the longest wait the caller accepts, in microseconds.
-- ARGV[4]: the arrival time the caller last saw (microseconds, 0: none),
-- ARGV[5]: the caller's local share (0 < share <= 1), ARGV[6]: the calm
-- period in ms, ARGV[7]: the generation the caller last saw (0: none).
-- Returns {1, wait, tat, now, lost, gen} when the token was taken (the caller
-- waits `wait` µs before sending) or {0, wait, tat, now, lost, gen} when it
-- would need more than ARGV[3]: then nothing was taken. tat is the bucket's
-- arrival time after the call and now the server time, both in µs; gen is 0
-- when it is the generation the caller saw (ARGV[7]), so that the usual reply
-- carries only two large numbers.
--
-- A grant is three Redis calls: TIME, one MGET of the four keys and one SET.
--
-- Lost data: a generation other than the one the caller saw means Redis lost
-- the account's keys (a restart without persistence, FLUSHALL, a failover to
-- a replica that lost them); the tokens already granted are still going out.
-- The bucket is re-seeded from what the caller saw (ARGV[4], the latest
-- arrival time it may have), lost is 1, and for the calm period the account's
-- buckets run at the caller's share of their rate, so that the tokens granted
-- after the caller last looked still fit within the rate. Every caller that
-- saw the old generation re-seeds once; the later arrival time wins.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local maxwait = tonumber(ARGV[3])
local seen = tonumber(ARGV[4]) or 0
local share = tonumber(ARGV[5]) or 1
local calmms = tonumber(ARGV[6]) or 0
local seenGen = tonumber(ARGV[7]) or 0

-- A missing key reads as false.
local v = redis.call('MGET', KEYS[1], KEYS[2], KEYS[3], KEYS[4])

local gen = tonumber(v[4] or '0') or 0
if gen == 0 then
  gen = now
  redis.call('SET', KEYS[4], string.format('%.0f', gen))
end

local factor = tonumber(v[2] or '1') or 1
if factor <= 0 or factor > 1 then factor = 1 end
local interval = 1000000 / (rate * factor)

local tat = tonumber(v[1] or '0') or 0
local lost = 0
local calm = tonumber(v[3] or '1') or 1
if seenGen ~= 0 and seenGen ~= gen then
  lost = 1
  if share < 1 and calmms > 0 then
    local c = string.format('%.6f', math.min(calm, share))
    redis.call('SET', KEYS[3], c, 'PX', calmms)
    calm = tonumber(c)
  end
end
if calm > 0 and calm < 1 then
  local shared = interval
  interval = interval / calm
  -- The next token comes one calm interval after the last one seen.
  if lost == 1 then tat = math.max(tat, seen - shared + interval) end
elseif lost == 1 then
  tat = math.max(tat, seen)
end

if tat < now then tat = now end
local newtat = tat + interval
local wait = newtat - burst * interval - now
if wait < 0 then wait = 0 end
wait = math.ceil(wait)
if wait > maxwait then
  if lost == 1 then
    redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
  end
  if gen == seenGen then gen = 0 end
  return {0, wait, tat, now, lost, gen}
end
redis.call('SET', KEYS[1], string.format('%.3f', newtat), 'PX', math.ceil((newtat - now) / 1000) + 1000)
if gen == seenGen then gen = 0 end
return {1, wait, newtat, now, lost, gen}
