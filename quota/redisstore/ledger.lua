-- The concurrency ledger of one account and resource, on Redis server time.
-- KEYS[1]: pending reservations, a sorted set of keys scored by lapse time (ms)
-- KEYS[2]: holdings, a sorted set of keys scored by expiry time (ms)
-- KEYS[3]: the full mark (a key with a PX expiry)
-- KEYS[4]: threshold state, a hash of level -> "1" for the levels that are up
-- KEYS[5]: the ledger's epoch, set when the ledger is first written and
--          never expiring, so that a Redis that lost its data shows a new one
-- KEYS[6]: the grace mark (a key with a PX expiry): while it exists no
--          reservation is admitted, as processes write back what they hold;
--          unlike the full mark, a release does not clear it
-- KEYS[7]: ended holdings, a sorted set of keys scored by the time they
--          were given back (ms): a Hold or Commit onto one holds nothing
--          (Twilio never reuses a SID: a report of it now is a late one)
-- ARGV[1]: the operation
-- ARGV[2]: the ledger's epoch as the caller last saw it (0: never seen)
-- ARGV[3]: the grace in ms during which a ledger found to have lost its data
--          refuses new reservations (0: none)
-- ARGV[4]: the limit (negative: unlimited), ARGV[5]: hysteresis (>= 1)
-- ARGV[6]: n, the number of levels, then n pairs: level name, rising point
-- then the operation's own arguments from ARGV[7 + 2n] on.
--
-- Lost data: a caller that saw an epoch which is now absent is the first to
-- meet a ledger that Redis lost (a restart without persistence, FLUSHALL, a
-- failover to a replica that missed writes). The script then marks the ledger
-- full for the grace, so that no reservation passes while the processes write
-- back what they hold, and creates a new epoch; every caller learns of the
-- loss from the epoch in the reply, which differs from the one it saw.
--
-- Replies {status, used, changed, added, removed, epoch, level index, rising, ...}:
-- status 0 is a refusal (quota used up or marked full), 2 a refusal for the
-- grace, 1 success; the
-- trailing pairs are the threshold crossings the operation caused, decided
-- here so that exactly one caller sees each, then (when there are any) the
-- pair {0, seq} numbering them in the order decided. For "used" the reply is
-- {1, used, full, epoch}; for "holds" {1, held, epoch}, with epoch 0 for a
-- ledger never written.
local pending, held, fullk, levk, epochk, gracek, endedk = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local op = ARGV[1]
local seenEpoch = tonumber(ARGV[2])
local lostGrace = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local hyst = tonumber(ARGV[5])
local nlev = tonumber(ARGV[6])
local base = 7 + 2 * nlev

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local FOREVER = 1e15 -- ms, for a ttl <= 0
local LEVELS_TTL = 90000000 -- ms (25 h): threshold state outlives any holding

-- epoch returns the ledger's epoch, creating it (from server time) if absent.
local function epoch()
  local e = redis.call('GET', epochk)
  if e then return tonumber(e) end
  local id = tonumber(t[1]) * 1000000 + tonumber(t[2])
  redis.call('SET', epochk, string.format('%.0f', id))
  return id
end

-- curEpoch returns the ledger's epoch without creating it (0: none yet), for
-- the operations that only read.
local function curEpoch()
  return tonumber(redis.call('GET', epochk) or '0')
end

local function expiry(ttl)
  ttl = tonumber(ttl)
  if ttl <= 0 then return FOREVER end
  return now + ttl
end

local function purge()
  redis.call('ZREMRANGEBYSCORE', pending, '-inf', now)
  redis.call('ZREMRANGEBYSCORE', held, '-inf', now)
end

-- isEnded reports whether holding k was given back within the last
-- endedTTL ms, after forgetting the older ends.
local function isEnded(k, endedTTL)
  redis.call('ZREMRANGEBYSCORE', endedk, '-inf', now - endedTTL)
  return redis.call('ZSCORE', endedk, k) ~= false
end

-- markEnded remembers that holding k was given back now, for endedTTL ms
-- (the set expires with its newest entry), keeping the newest maxEnded.
local function markEnded(k, endedTTL, maxEnded)
  redis.call('ZREMRANGEBYSCORE', endedk, '-inf', now - endedTTL)
  redis.call('ZADD', endedk, now, k)
  local n = redis.call('ZCARD', endedk)
  if n > maxEnded then redis.call('ZREMRANGEBYRANK', endedk, 0, n - maxEnded - 1) end
  redis.call('PEXPIRE', endedk, endedTTL + 1000)
end

local function used()
  return redis.call('ZCARD', pending) + redis.call('ZCARD', held)
end

local function has(z, k)
  return redis.call('ZSCORE', z, k) ~= false
end

-- keepalive lets a sorted set expire with its last lease.
local function keepalive(z)
  local last = redis.call('ZRANGE', z, -1, -1, 'WITHSCORES')
  if #last == 0 then return end
  local s = tonumber(last[2])
  if s >= FOREVER then
    redis.call('PERSIST', z)
  else
    redis.call('PEXPIREAT', z, math.floor(s) + 1000)
  end
end

local function reply(status, u, changed, added, removed, withCrossings)
  local out = {status, u, changed, added, removed, epoch()}
  if not withCrossings or limit < 0 or nlev == 0 then return out end
  for i = 1, nlev do
    local name = ARGV[5 + 2 * i]
    local rp = tonumber(ARGV[6 + 2 * i])
    local up = redis.call('HEXISTS', levk, name) == 1
    if not up and u >= rp then
      redis.call('HSET', levk, name, '1')
      out[#out + 1] = i
      out[#out + 1] = 1
    elseif up and u < rp - hyst then
      redis.call('HDEL', levk, name)
      out[#out + 1] = i
      out[#out + 1] = 0
    end
  end
  if #out > 6 then
    -- The crossings' place in the order the store decided them: a pair
    -- with level index 0 carries it.
    out[#out + 1] = 0
    out[#out + 1] = redis.call('HINCRBY', levk, '#seq', 1)
  end
  redis.call('PEXPIRE', levk, LEVELS_TTL)
  return out
end

-- The first caller to meet a lost ledger holds reservations off for the grace.
if seenEpoch ~= 0 and op ~= 'restore' and op ~= 'markfull' and redis.call('EXISTS', epochk) == 0 then
  if lostGrace > 0 then redis.call('SET', gracek, '1', 'PX', lostGrace) end
  epoch()
end

if op == 'reserve' then
  local key, ttl = ARGV[base], ARGV[base + 1]
  purge()
  local u = used()
  if has(pending, key) then
    -- Asked again (by another process, under a key they share): it lapses
    -- with the later of the two.
    redis.call('ZADD', pending, 'GT', expiry(ttl), key)
    keepalive(pending)
    return reply(1, u, 0, 0, 0, false)
  end
  if has(held, key) then
    return reply(1, u, 0, 0, 0, false)
  end
  if redis.call('EXISTS', gracek) == 1 then
    return reply(2, u, 0, 0, 0, false)
  end
  if redis.call('EXISTS', fullk) == 1 or (limit >= 0 and u >= limit) then
    return reply(0, u, 0, 0, 0, false)
  end
  redis.call('ZADD', pending, expiry(ttl), key)
  keepalive(pending)
  return reply(1, u + 1, 1, 0, 0, true)

elseif op == 'commit' then
  local key, holdKey, ttl, endedTTL = ARGV[base], ARGV[base + 1], ARGV[base + 2], tonumber(ARGV[base + 3])
  purge()
  local wasPending = redis.call('ZREM', pending, key) == 1
  if isEnded(holdKey, endedTTL) then
    -- The Room or Participant ended already: nothing to hold.
    local changed = 0
    if wasPending then changed = 1 end
    return reply(1, used(), changed, 0, 0, true)
  end
  local wasHeld = has(held, holdKey)
  redis.call('ZADD', held, expiry(ttl), holdKey)
  keepalive(held)
  local changed = 0
  if wasPending or not wasHeld then changed = 1 end
  return reply(1, used(), changed, 0, 0, true)

elseif op == 'hold' then
  local key, ttl, endedTTL = ARGV[base], ARGV[base + 1], tonumber(ARGV[base + 2])
  purge()
  if has(held, key) or isEnded(key, endedTTL) then
    return reply(1, used(), 0, 0, 0, true)
  end
  redis.call('ZREM', pending, key)
  redis.call('ZADD', held, expiry(ttl), key)
  keepalive(held)
  return reply(1, used(), 1, 0, 0, true)

elseif op == 'release' then
  local key, endedTTL, maxEnded = ARGV[base], tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2])
  purge()
  -- Only a held slot freed capacity at Twilio: releasing a reservation
  -- keeps a full mark, and is no end to remember.
  local p = redis.call('ZREM', pending, key)
  local h = redis.call('ZREM', held, key)
  local changed = 0
  if h > 0 then redis.call('DEL', fullk) end
  -- A holding given back has ended; so has a key neither held nor pending
  -- (an end heard before its start, which comes late if it comes).
  if p == 0 and key ~= '' and endedTTL and endedTTL > 0 then markEnded(key, endedTTL, maxEnded) end
  if p + h > 0 then changed = 1 end
  return reply(1, used(), changed, 0, 0, true)

elseif op == 'sync' then
  local ttl, keep = ARGV[base], tonumber(ARGV[base + 1])
  local endedTTL, maxEnded = tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  purge()
  redis.call('ZREMRANGEBYSCORE', endedk, '-inf', now - endedTTL)
  local want = {}
  local added, removed = 0, 0
  -- holdings whose expiry is above young were added within keep
  local young = 1e18
  if keep > 0 and tonumber(ttl) > 0 then young = now + tonumber(ttl) - keep end
  for i = base + 4, #ARGV do
    local k = ARGV[i]
    if not want[k] then
      want[k] = true
      -- An ended key stays ended: Twilio never reuses a SID, so the
      -- listing (or what a client learnt while it ran) began before the end.
      if redis.call('ZSCORE', endedk, k) then want[k] = 'ended' end
      if want[k] == true and not has(held, k) then
        redis.call('ZREM', pending, k)
        redis.call('ZADD', held, expiry(ttl), k)
        added = added + 1
      end
    end
  end
  local hs = redis.call('ZRANGE', held, 0, -1, 'WITHSCORES')
  for i = 1, #hs, 2 do
    local k = hs[i]
    if not want[k] and tonumber(hs[i + 1]) <= young then
      redis.call('ZREM', held, k)
      markEnded(k, endedTTL, maxEnded)
      removed = removed + 1
    end
  end
  keepalive(held)
  redis.call('DEL', fullk)
  local changed = 0
  if added + removed > 0 then changed = 1 end
  return reply(1, used(), changed, added, removed, true)

elseif op == 'markfull' then
  local d = tonumber(ARGV[base])
  if d > 0 then
    redis.call('SET', fullk, '1', 'PX', d)
  else
    redis.call('DEL', fullk)
  end
  return {1}

elseif op == 'used' then
  purge()
  local full = 0
  if redis.call('EXISTS', fullk) == 1 or redis.call('EXISTS', gracek) == 1 then full = 1 end
  return {1, used(), full, curEpoch()}

elseif op == 'holds' then
  local key = ARGV[base]
  purge()
  if has(pending, key) or has(held, key) then return {1, 1, curEpoch()} end
  return {1, 0, curEpoch()}

elseif op == 'restore' then
  -- Writes back what a process did while it could not reach Redis. ARGV[base]
  -- is the ledger's epoch the process last saw (0: never; -1: treat the data
  -- as lost, after a failover to a replica that may have missed writes), ARGV[base + 1] a
  -- grace in ms, ARGV[base + 2] and ARGV[base + 3] the ended holdings' ttl
  -- (ms) and bound, ARGV[base + 4] the number of keys it released, then those
  -- keys (marked ended, as a release marks them, unless they were pending
  -- here), then its leases as triples (kind, key, remaining ttl in ms). Kind
  -- "p" is a pending reservation, "h" a holding; "op" and "oh" are those the
  -- process had taken here before the outage: restored only if Redis lost
  -- its data meanwhile (the epoch changed), since otherwise they are here
  -- already or were given back through another process. The ledger is then
  -- marked full for the grace, so that the other processes can write theirs
  -- back before new slots are given out. Idempotent: a key
  -- already here is counted once. Crossings are left to the next operation.
  purge()
  local known = tonumber(ARGV[base])
  local cur = redis.call('GET', epochk)
  local lost = known ~= 0 and (not cur or tonumber(cur) ~= known)
  epoch()
  local grace = tonumber(ARGV[base + 1])
  local endedTTL, maxEnded = tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  local nrel = tonumber(ARGV[base + 4])
  local released = 0
  for i = base + 5, base + 4 + nrel do
    local p = redis.call('ZREM', pending, ARGV[i])
    released = released + p + redis.call('ZREM', held, ARGV[i])
    if p == 0 and ARGV[i] ~= '' and endedTTL > 0 then markEnded(ARGV[i], endedTTL, maxEnded) end
  end
  if released > 0 then redis.call('DEL', fullk) end
  -- Every write-back holds new reservations off for the grace: the other
  -- processes, which probe as often, may still be serving from their local
  -- shares, and must write theirs back before the room left is given out.
  if grace > 0 then
    local left = redis.call('PTTL', gracek)
    if left < grace then redis.call('SET', gracek, '1', 'PX', grace) end
  end
  local i = base + 5 + nrel
  while i + 2 <= #ARGV do
    local kind, key, ttl = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    if kind == 'h' or (kind == 'oh' and lost) then
      redis.call('ZREM', pending, key)
      redis.call('ZADD', held, 'NX', expiry(ttl), key)
    elseif (kind == 'p' or (kind == 'op' and lost)) and not has(held, key) then
      redis.call('ZADD', pending, 'NX', expiry(ttl), key)
    end
    i = i + 3
  end
  keepalive(pending)
  keepalive(held)
  return {1, used(), epoch()}
end
return redis.error_reply('videoquota ledger: unknown operation ' .. tostring(op))
