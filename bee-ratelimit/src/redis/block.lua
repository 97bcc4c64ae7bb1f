-- Blocks a subject, escalating for repeat offenders.
--
-- KEYS[1]  the subject's record: a hash of until (ms), forget (ms), offenses, reason
-- ARGV     base ms, factor, max ms, memory ms, reason
-- Returns { until ms, offenses, reason }.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local base, factor, max, memory = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local r = redis.call('HMGET', KEYS[1], 'until', 'forget', 'offenses')
local until_ms, forget, offenses = tonumber(r[1]) or 0, tonumber(r[2]) or 0, tonumber(r[3]) or 0
if now >= forget then offenses = 0 end
offenses = offenses + 1
local length = math.min(base * factor ^ (offenses - 1), math.max(max, base))
until_ms = math.max(until_ms, now + length)
forget = until_ms + memory
redis.call('HSET', KEYS[1], 'until', string.format('%.0f', until_ms),
  'forget', string.format('%.0f', forget), 'offenses', offenses, 'reason', ARGV[5])
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', math.max(forget, until_ms)))
return { string.format('%.0f', until_ms), offenses, ARGV[5] }
