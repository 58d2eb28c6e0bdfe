-- Raises one field of an hour's peak record to ARGV[2] when higher, and
-- keeps the record until ARGV[3] (unix ms). Returns the field afterwards.
-- KEYS[1]: the hour's record (a hash: rooms, participants)
-- ARGV[1]: the field ("rooms" or "participants")
-- ARGV[2]: the usage seen
-- ARGV[3]: keep until, unix milliseconds
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local v = tonumber(ARGV[2])
if v > cur then
	redis.call('HSET', KEYS[1], ARGV[1], v)
	cur = v
end
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return cur
