-- Reads a subject's block, or lifts it.
--
-- KEYS[1]  the subject's record
-- ARGV[1]  'read' or 'lift'
-- Returns { until ms (0: not blocked), offenses, reason }; lifting returns the block
-- that was in force.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local r = redis.call('HMGET', KEYS[1], 'until', 'offenses', 'reason')
local until_ms = tonumber(r[1]) or 0
if until_ms <= now then return { 0, 0, '' } end
if ARGV[1] == 'lift' then
  redis.call('HSET', KEYS[1], 'until', string.format('%.0f', now))
end
return { r[1], tonumber(r[2]) or 0, r[3] or '' }
