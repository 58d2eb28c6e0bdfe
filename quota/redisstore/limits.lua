-- The concurrency limits in force for one account (see backend.LimitsStore).
-- KEYS[1]: a hash {rooms, participants, since}, since in µs (Unix time)
-- ARGV[1..3]: the offer's rooms, participants and since (µs)
-- The offer is kept if no limits are in force or its since is later.
-- Reply: {rooms, participants, since} in force afterwards.
local k = KEYS[1]
local cur = redis.call('HGET', k, 'since')
if not cur or tonumber(ARGV[3]) > tonumber(cur) then
  redis.call('HSET', k, 'rooms', ARGV[1], 'participants', ARGV[2], 'since', ARGV[3])
end
local v = redis.call('HMGET', k, 'rooms', 'participants', 'since')
return {tonumber(v[1]), tonumber(v[2]), tonumber(v[3])}
