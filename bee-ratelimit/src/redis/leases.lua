-- Concurrency leases: a sorted set of lease ids scored by their expiry (ms).
--
-- KEYS[1]  the key's leases
-- ARGV     'acquire', max, ttl ms, id  |  'renew', ttl ms, id  |  'release', id
-- Returns 1 (done) or 0 (no free slot / no such lease).

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local op = ARGV[1]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if op == 'acquire' then
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[4])
  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
    redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
  end
  return 1
elseif op == 'renew' then
  if not redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 0 end
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
    redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  end
  return 1
else
  return redis.call('ZREM', KEYS[1], ARGV[2])
end
