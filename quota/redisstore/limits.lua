-- The concurrency limits in force for one account (see backend.LimitsStore).
-- KEYS[1]: a hash {rooms, participants, since}, since in µs (Unix time),
--          expiring ttl after the last offer of those limits
-- ARGV[1..4]: the offer's rooms, participants and since (µs), and the ttl (ms)
-- ARGV[5..8] (optional): the limits in force this client last saw (rooms,
--          participants, since) and how long they have left by then (ms).
--          When the hash is gone (Redis lost it: a restart, a failover)
--          they are put back first, for that long, so that a loss does not
--          hand the account to the limits of a client started earlier.
-- The offer is kept if no limits are in force (none offered within the ttl)
-- or its since is later; an offer of the limits in force renews their ttl.
-- Reply: {rooms, participants, since, ms left} in force afterwards.
local k = KEYS[1]
local cur = redis.call('HGET', k, 'since')
if not cur and ARGV[8] and tonumber(ARGV[8]) > 0 and tonumber(ARGV[7]) > tonumber(ARGV[3]) then
  redis.call('HSET', k, 'rooms', ARGV[5], 'participants', ARGV[6], 'since', ARGV[7])
  redis.call('PEXPIRE', k, ARGV[8])
  cur = ARGV[7]
end
if not cur or tonumber(ARGV[3]) > tonumber(cur) then
  redis.call('HSET', k, 'rooms', ARGV[1], 'participants', ARGV[2], 'since', ARGV[3])
  redis.call('PEXPIRE', k, ARGV[4])
elseif tonumber(ARGV[3]) == tonumber(cur) then
  redis.call('PEXPIRE', k, ARGV[4])
end
local v = redis.call('HMGET', k, 'rooms', 'participants', 'since')
return {tonumber(v[1]), tonumber(v[2]), tonumber(v[3]), redis.call('PTTL', k)}
