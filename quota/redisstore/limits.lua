-- The concurrency limits in force for one account (see backend.LimitsStore).
-- KEYS[1]: a hash {rooms, participants, since}, since in µs (Unix time),
--          expiring ttl after the last offer of those limits
-- ARGV[1..4]: the offer's rooms, participants and since (µs), and the ttl (ms)
-- The offer is kept if no limits are in force (none offered within the ttl)
-- or its since is later; an offer of the limits in force renews their ttl.
-- Reply: {rooms, participants, since} in force afterwards.
local k = KEYS[1]
local cur = redis.call('HGET', k, 'since')
if not cur or tonumber(ARGV[3]) > tonumber(cur) then
  redis.call('HSET', k, 'rooms', ARGV[1], 'participants', ARGV[2], 'since', ARGV[3])
  redis.call('PEXPIRE', k, ARGV[4])
elseif tonumber(ARGV[3]) == tonumber(cur) then
  redis.call('PEXPIRE', k, ARGV[4])
end
local v = redis.call('HMGET', k, 'rooms', 'participants', 'since')
return {tonumber(v[1]), tonumber(v[2]), tonumber(v[3])}
