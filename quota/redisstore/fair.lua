-- Takes one token as rate.lua does, ordering the takers of the bucket across
-- every client of the store by priority level and by tenant. The store runs
-- this text with rate.lua's in place of the RATE line, as a function.
-- KEYS[1..4]: as rate.lua. KEYS[5], KEYS[6]: the marks of the critical and
-- normal levels (present for a second after a taker of the level asked).
-- KEYS[7]: the virtual time of the bucket's takers of the level; KEYS[8]:
-- the finish tag of the tenant's takers of the level.
-- ARGV[1..7]: as rate.lua. ARGV[8]: the level (0 normal, 1 critical,
-- 2 background); ARGV[9]: the tenant's weight (> 0); ARGV[10]: how long a
-- mark lasts, ms; ARGV[11]: how long a tenant's tag lasts, ms.
-- Returns rate.lua's reply with a seventh number, the lead (µs): how far
-- ahead the taker could book (ARGV[3] when nobody came before it).
--
-- Levels: a taker of a lower level than a mark present books at most half
-- an interval ahead, so that it takes a token only once no taker of the
-- higher level has booked it first; with the tokens it leaves, a caller of
-- the higher level waits at most about one interval.
-- Tenants, inside a level (start-time fair queuing on the store): a taker's
-- start tag is max(virtual time, its tenant's finish tag). A taker whose
-- start is ahead of the virtual time by d (in tokens of weight 1) books at
-- most cap/(1 + d) ahead, cap being two intervals (half of one for a level
-- deferred as above), so that among the takers asking again the one furthest
-- behind books first; a taker at the virtual time, of a level not deferred,
-- books as rate.lua lets it. A grant moves the virtual time to its start and
-- the tenant's finish tag 1/weight past it.
local level = tonumber(ARGV[8])
local weight = tonumber(ARGV[9])
local markms = tonumber(ARGV[10])
local tagms = tonumber(ARGV[11])
local step = 1000000 / tonumber(ARGV[1])

local lead = tonumber(ARGV[3])
local deferred = false
if level == 1 then
  redis.call('SET', KEYS[5], '1', 'PX', markms)
elseif level == 0 then
  deferred = redis.call('EXISTS', KEYS[5]) == 1
  redis.call('SET', KEYS[6], '1', 'PX', markms)
else
  deferred = redis.call('EXISTS', KEYS[5], KEYS[6]) > 0
end

local tags = redis.call('MGET', KEYS[7], KEYS[8])
local vt = tonumber(tags[1] or '0') or 0
local start = math.max(vt, tonumber(tags[2] or '0') or 0)
local cap = 2 * step
if deferred then cap = step / 2 end
if start > vt or deferred then
  lead = math.min(lead, math.floor(cap / (1 + start - vt)))
  ARGV[3] = lead
end

local function take()
-- RATE
end

local r = take()
if r[1] == 1 then
  redis.call('SET', KEYS[7], string.format('%.6f', start), 'PX', 10 * tagms)
  redis.call('SET', KEYS[8], string.format('%.6f', start + 1 / weight), 'PX', tagms)
end
r[7] = lead
return r
