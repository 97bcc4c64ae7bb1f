-- Decides every tier of a policy for one or more callers, each atomically, in one key
-- per caller. Several callers in one call are decided one after another on one reading
-- of the clock; a caller listed twice sees its own earlier admission.
--
-- KEYS[e]  caller e's state for its policy
-- ARGV     for each caller, in order:
--   'w' (sliding window) or 'g' (GCRA), buckets per window (sliding window), cost,
--   the number of tiers n, then three numbers per tier, in microseconds where they are
--   times:
--     sliding window: limit, bucket width, unused
--     GCRA:           emission interval, tolerance (burst x interval), cost x interval
--
-- Returns one list per caller: { admitted 0/1, denying tier (1-based, 0: none),
-- wait (-1: never), then remaining and reset for each tier }.
--
-- Time is Redis's own clock (TIME), so servers with skewed clocks agree. Each tier keeps
-- the clock reading it last saw and an effective time that moves by forward steps only:
-- a clock stepped back never locks a caller out.
--
-- The state is packed with the struct library (exact doubles; formatting numbers as
-- text costs far more). Per tier: tag, last clock reading, effective time, then the head
-- bucket and the ring of 32-bit counts (sliding window) or the TAT (GCRA). The tag is the
-- bucket width, or -1 for GCRA: a tier of another shape starts afresh.

local floor, max, min = math.floor, math.max, math.min
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local formats = {}

-- Decides the caller whose state is `key` and whose arguments start after ARGV[base].
local function decide(key, base)
  local window = ARGV[base + 1] == 'w'
  local buckets = tonumber(ARGV[base + 2])
  local cost = tonumber(ARGV[base + 3])
  local n = tonumber(ARGV[base + 4])
  local ring = buckets + 1
  local arg = base + 2

  -- one tier's slice of the state: `per` numbers, `bytes` bytes
  local tier_fmt, per, bytes = 'dddd', 4, 32
  if window then
    tier_fmt = tier_fmt .. string.rep('I4', ring)
    per = 4 + ring
    bytes = 32 + 4 * ring
  end
  local fmt_key = (window and ring or 0) * 8 + n
  local fmt = formats[fmt_key]
  if not fmt then
    fmt = '<' .. string.rep(tier_fmt, n)
    formats[fmt_key] = fmt
  end

  local s
  local raw = redis.call('GET', key)
  if raw and #raw == bytes * n then s = { struct.unpack(fmt, raw) } else s = {} end

  local K, U = {}, {}
  local back = false
  local admitted, denied_by, wait = true, 0, 0

  for i = 1, n do
    local a, b, c = tonumber(ARGV[arg + 3 * i]), tonumber(ARGV[arg + 1 + 3 * i]), tonumber(ARGV[arg + 2 + 3 * i])
    local o = (i - 1) * per
    local tag = window and b or -1
    if s[o + 1] ~= tag then
      s[o + 1], s[o + 2], s[o + 3] = tag, now, now
      for j = o + 4, o + per do s[j] = 0 end
    end
    if now < s[o + 2] then back = true end
    if now > s[o + 2] then s[o + 3] = s[o + 3] + (now - s[o + 2]) end
    s[o + 2] = now

    local eff = s[o + 3]
    local fits, w
    if window then
      -- counted buckets: k - buckets .. k; bucket j's count sits at s[o + 5 + j % ring]
      local head = s[o + 4]
      local k = max(floor(eff / b), head)
      K[i] = k
      local from = max(k - buckets, 0)
      local used = 0
      if head >= from then
        for j = from, head do used = used + s[o + 5 + j % ring] end
      end
      U[i] = used
      if used + cost <= a then
        fits = true
      elseif cost > a then
        fits, w = false, -1
      else
        fits = false
        local left = used
        for j = from, head do
          left = left - s[o + 5 + j % ring]
          if left + cost <= a then
            w = (j + buckets + 1) * b - eff
            break
          end
        end
      end
    else
      local ahead = max(s[o + 4], eff) + c - eff
      if ahead <= b then
        fits = true
      elseif c > b then
        fits, w = false, -1
      else
        fits, w = false, ahead - b
      end
    end
    if not fits then
      admitted = false
      if wait ~= -1 and (w == -1 or w > wait) then
        wait, denied_by = w, i
      end
    end
  end

  local out = { admitted and 1 or 0, denied_by, wait }
  local ttl = 0
  for i = 1, n do
    local a, b = tonumber(ARGV[arg + 3 * i]), tonumber(ARGV[arg + 1 + 3 * i])
    local o = (i - 1) * per
    local eff = s[o + 3]
    local remaining, reset
    if window then
      local k = K[i]
      if admitted then
        local stale = min(k - s[o + 4], ring)
        for d = 0, stale - 1 do s[o + 5 + (k - d) % ring] = 0 end
        s[o + 4] = k
        s[o + 5 + k % ring] = s[o + 5 + k % ring] + cost
      end
      local used, newest = U[i] + cost, k
      if not admitted or cost == 0 then
        -- only then is the newest counted bucket not simply k
        local from = max(k - buckets, 0)
        used, newest = 0, -1
        if s[o + 4] >= from then
          for j = from, s[o + 4] do
            local count = s[o + 5 + j % ring]
            used = used + count
            if count > 0 then newest = j end
          end
        end
      end
      remaining = max(a - used, 0)
      reset = 0
      if newest >= 0 then reset = (newest + buckets + 1) * b - eff end
      ttl = max(ttl, (buckets + 1) * b)
    else
      if admitted then s[o + 4] = max(s[o + 4], eff) + tonumber(ARGV[arg + 2 + 3 * i]) end
      reset = max(s[o + 4] - eff, 0)
      remaining = floor(max(b - reset, 0) / a)
      ttl = max(ttl, reset)
    end
    out[2 + 2 * i] = remaining
    out[3 + 2 * i] = reset
  end
  -- A denial records nothing; only a clock that went back must be remembered.
  if admitted or back then
    redis.call('SET', key, struct.pack(fmt, unpack(s, 1, n * per)), 'PX', floor(ttl / 1000) + 1000)
  end
  return out
end

local replies, base = {}, 0
for e = 1, #KEYS do
  replies[e] = decide(KEYS[e], base)
  base = base + 4 + 3 * tonumber(ARGV[base + 4])
end
return replies
