-- Decides every tier of a policy for one caller, atomically.
--
-- KEYS[i]  the state of tier i (all under one hash tag: one cluster slot)
-- ARGV[1]  'w' (sliding window) or 'g' (GCRA)
-- ARGV[2]  buckets per window (sliding window)
-- ARGV[3]  cost
-- then three numbers per tier, in microseconds where they are times:
--   sliding window: limit, bucket width, unused
--   GCRA:           emission interval, tolerance (burst x interval), cost x interval
--
-- Returns { admitted 0/1, denying tier (1-based, 0: none), wait (-1: never),
--           then remaining and reset for each tier }.
--
-- Time is Redis's own clock (TIME), so servers with skewed clocks agree. Each state
-- keeps the clock reading it last saw and an effective time that moves by forward steps
-- only: a clock stepped back never locks a caller out.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local algo = ARGV[1]
local buckets = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local ring = buckets + 1
local n = #KEYS

-- state: tag, last clock reading, effective time, then the algorithm's numbers
local function load(key, tag, size)
  local raw = redis.call('GET', key)
  local s = {}
  if raw then
    for x in string.gmatch(raw, '[^ ]+') do s[#s + 1] = x end
  end
  if #s ~= size + 3 or s[1] ~= tag then
    s = { tag, now, now }
    for i = 1, size do s[i + 3] = 0 end
  else
    for i = 2, #s do s[i] = tonumber(s[i]) end
  end
  s.back = now < s[2]
  if now > s[2] then s[3] = s[3] + (now - s[2]) end
  s[2] = now
  return s
end

local function save(key, s, ttl_us)
  local out = { s[1] }
  for i = 2, #s do out[i] = string.format('%.0f', s[i]) end
  local ms = math.floor(ttl_us / 1000) + 1000
  redis.call('SET', key, table.concat(out, ' '), 'PX', ms)
end

-- sliding window: s[4] head bucket, s[5 .. 5 + buckets] the ring of counts
local function count(s, j) return s[5 + (j % ring)] end

local function window_eval(s, limit, width)
  local k = math.max(math.floor(s[3] / width), s[4])
  local from = math.max(k - buckets, 0)
  local used = 0
  if s[4] >= from then
    for j = from, s[4] do used = used + count(s, j) end
  end
  if used + cost <= limit then return true, 0, k end
  if cost > limit then return false, -1, k end
  local left = used
  for j = from, s[4] do
    left = left - count(s, j)
    if left + cost <= limit then
      return false, (j + buckets + 1) * width - s[3], k
    end
  end
  return false, (k + buckets + 1) * width - s[3], k
end

local function window_commit(s, k)
  local stale = math.min(k - s[4], ring)
  for i = 0, stale - 1 do s[5 + ((k - i) % ring)] = 0 end
  s[4] = k
  s[5 + (k % ring)] = s[5 + (k % ring)] + cost
end

local function window_status(s, k, limit, width)
  local from = math.max(k - buckets, 0)
  local used, newest = 0, -1
  if s[4] >= from then
    for j = from, s[4] do
      local c = count(s, j)
      used = used + c
      if c > 0 then newest = j end
    end
  end
  local reset = 0
  if newest >= 0 then reset = (newest + buckets + 1) * width - s[3] end
  return math.max(limit - used, 0), reset
end

-- GCRA: s[4] the theoretical arrival time
local function gcra_eval(s, interval, tolerance, increment)
  local ahead = math.max(s[4], s[3]) + increment - s[3]
  if ahead <= tolerance then return true, 0 end
  if increment > tolerance then return false, -1 end
  return false, ahead - tolerance
end

local states, ks = {}, {}
local admitted, denied_by, wait = true, 0, 0
for i = 1, n do
  local a, b = tonumber(ARGV[1 + 3 * i]), tonumber(ARGV[2 + 3 * i])
  local fits, w
  if algo == 'w' then
    states[i] = load(KEYS[i], 'w' .. b, 1 + ring)
    fits, w, ks[i] = window_eval(states[i], a, b)
  else
    states[i] = load(KEYS[i], 'g', 1)
    fits, w = gcra_eval(states[i], a, b, tonumber(ARGV[3 + 3 * i]))
  end
  if not fits then
    admitted = false
    if wait ~= -1 and (w == -1 or w > wait) then
      wait, denied_by = w, i
    end
  end
end

local out = { admitted and 1 or 0, denied_by, wait }
for i = 1, n do
  local s = states[i]
  local a, b, c = tonumber(ARGV[1 + 3 * i]), tonumber(ARGV[2 + 3 * i]), tonumber(ARGV[3 + 3 * i])
  local remaining, reset
  if algo == 'w' then
    if admitted then window_commit(s, ks[i]) end
    remaining, reset = window_status(s, ks[i], a, b)
    if admitted or s.back then save(KEYS[i], s, (buckets + 1) * b) end
  else
    if admitted then s[4] = math.max(s[4], s[3]) + c end
    reset = math.max(s[4] - s[3], 0)
    remaining = math.floor(math.max(b - reset, 0) / a)
    if admitted or s.back then save(KEYS[i], s, reset) end
  end
  out[#out + 1] = remaining
  out[#out + 1] = reset
end
return out
