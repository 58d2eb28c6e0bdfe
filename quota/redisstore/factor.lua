-- Adjusts the adaptive factor of a bucket in one step (see
-- quota.Store.AdjustRateFactor).
-- KEYS[1]: the factor (absent means 1)
-- ARGV[1]: the factor the caller last saw, ARGV[2]: the new factor in (0, 1],
-- ARGV[3]: how long a factor below 1 lasts, in milliseconds.
-- A cut (new < seen) applies when it is below the current factor; a raise
-- (new > seen) only when the current factor is the one the caller saw.
-- Returns the factor in force afterwards, as a string.
local cur = tonumber(redis.call('GET', KEYS[1]) or '1') or 1
if cur <= 0 or cur > 1 then cur = 1 end
local from = tonumber(ARGV[1])
local to = tonumber(ARGV[2])
local apply = false
if to < from then
  apply = to < cur
elseif to > from then
  apply = math.abs(cur - from) <= 1e-9
end
if apply then
  if to >= 1 then
    redis.call('DEL', KEYS[1])
  else
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  end
  return ARGV[2]
end
return string.format('%.17g', cur)
