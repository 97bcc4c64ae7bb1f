-- Decides every tier of a policy for one or more callers, each atomically, in one key
-- per caller. Several callers in one call are decided one after another on one reading
-- of the clock; a caller listed twice sees its own earlier admission.
--
-- KEYS[e]        caller e's state for its policy
-- ARGV[2e - 1]   caller e's parameters, little-endian doubles:
--   algorithm (1 sliding window, 2 GCRA), buckets per window (sliding window), cost,
--   the number of tiers n, then three numbers per tier, in microseconds where they are
--   times:
--     sliding window: limit, bucket width, unused
--     GCRA:           emission interval, tolerance (burst x interval), cost x interval
-- ARGV[2e]       the state's time to live in milliseconds, as text: the longest any tier
--                of the policy still needs it after its last change
--
-- Returns one string of little-endian doubles per caller: admitted 0/1, denying tier
-- (1-based, 0: none), wait (-1: never), then remaining and reset for each tier.
--
-- Time is Redis's own clock (TIME), so servers with skewed clocks agree. Each tier keeps
-- the clock reading it last saw and an effective time that moves by forward steps only:
-- a clock stepped back never locks a caller out.
--
-- The state is packed with the struct library: exact doubles, and no number is ever
-- formatted as text or parsed back. Per tier:
--   sliding window: tag (the bucket width), last clock reading, effective time, head
--     bucket, the sum of the ring, then the ring of 32-bit counts (bucket j at slot
--     j % ring); the ring holds buckets head - buckets .. head
--   GCRA: tag (-1), last clock reading, effective time, TAT
-- A tier whose tag does not match starts afresh, and so does a state of the wrong size.
-- A decision reads the headers and the counts it needs, and writes back headers and the
-- counts that changed; the whole ring is only unpacked when buckets drop out of it.

local floor, max, min = math.floor, math.max, math.min
local unpack_, pack = struct.unpack, struct.pack
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local HEAD = 40 -- bytes of a window tier's header
-- Per tier, eight numbers from the first pass to the second (sized for one tier; a
-- table that grows one slot at a time costs a reallocation each time), reused by every
-- caller of this call: effective time, head or TAT, sum, fresh, bucket k or the GCRA
-- increment, counted sum, then the tier's first two parameters.
local v = { 0, 0, 0, 0, 0, 0, 0, 0 }
local out = { 0, 0, 0, 0, 0 }
local REPLY = { '<ddddd', '<ddddddd', '<ddddddddd', '<ddddddddddd', '<ddddddddddddd',
  '<ddddddddddddddd' } -- the reply's format for 1 to 6 tiers

-- The sum of the counts in `s` of buckets `from` .. `to`, and the newest of them with a
-- count above zero (-1: none). `ring_at` is the byte where the tier's ring starts.
local function counted(s, ring_at, ring, from, to)
  local used, newest = 0, -1
  for j = from, to do
    local c = unpack_('<I4', s, ring_at + 4 * (j % ring))
    used = used + c
    if c > 0 then newest = j end
  end
  return used, newest
end

-- Decides the caller whose state is `key` and whose parameters are `params`.
local function decide(key, params, ttl)
  local kind, buckets, cost, n, pos = unpack_('<dddd', params)
  local window = kind == 1
  local ring = buckets + 1
  local size = window and (HEAD + 4 * ring) or 32

  local raw = redis.call('GET', key)
  local fresh_state = not raw or #raw ~= size * n
  local back, moved = false, false
  local admitted, denied_by, wait = true, 0, 0

  for i = 1, n do
    local a, b, c
    a, b, c, pos = unpack_('<ddd', params, pos)
    local at = (i - 1) * size + 1 -- this tier's first byte
    local o = (i - 1) * 8
    local tag = window and b or -1
    local stag, last, eff, x, total
    if not fresh_state then
      if window then
        stag, last, eff, x, total = unpack_('<ddddd', raw, at)
      else
        stag, last, eff, x = unpack_('<dddd', raw, at)
      end
    end
    local fresh = stag ~= tag
    if fresh then
      last, eff, x, total = now, now, 0, 0
      moved = true
    end
    if now < last then back = true end
    if now > last then eff = eff + (now - last) end
    v[o + 1], v[o + 2], v[o + 3], v[o + 4], v[o + 7], v[o + 8] = eff, x, total, fresh, a, b

    local fits, w
    if window then
      -- counted buckets: k - buckets .. k
      local k = max(floor(eff / b), x)
      local used = total or 0
      if k ~= x then
        moved = true
        if not fresh then
          -- buckets x + 1 .. k take the slots of buckets that leave the window
          local ring_at = at + HEAD
          local dropped = counted(raw, ring_at, ring, x + 1, x + min(k - x, ring))
          used = used - dropped
        end
      end
      v[o + 5], v[o + 6] = k, used
      if used + cost <= a then
        fits = true
      elseif cost > a then
        fits, w = false, -1
      else
        -- the wait until enough of the oldest counts leave the window
        fits = false
        local left = used
        local from = max(k - buckets, 0)
        local to = fresh and -1 or min(x, k)
        for j = from, to do
          left = left - unpack_('<I4', raw, at + HEAD + 4 * (j % ring))
          if left + cost <= a then
            w = (j + buckets + 1) * b - eff
            break
          end
        end
      end
    else
      v[o + 5] = c
      local ahead = max(x, eff) + c - eff
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

  out[1], out[2], out[3] = admitted and 1 or 0, denied_by, wait
  local write = admitted or back
  local state = ''
  for i = 1, n do
    local at = (i - 1) * size + 1
    local o = (i - 1) * 8
    local eff, x, total, fresh, a, b = v[o + 1], v[o + 2], v[o + 3], v[o + 4], v[o + 7], v[o + 8]
    local remaining, reset
    if window then
      local k, used = v[o + 5], v[o + 6]
      local ring_at = at + HEAD
      local newest
      if admitted and cost > 0 then
        used, newest = used + cost, k
      else
        -- the newest counted bucket with a count is not simply k
        local to = fresh and -1 or min(x, k)
        used, newest = counted(raw, ring_at, ring, max(k - buckets, 0), to)
      end
      remaining = max(a - used, 0)
      reset = 0
      if newest >= 0 then reset = (newest + buckets + 1) * b - eff end
      if write then
        local header
        if not admitted then
          -- a denial that only remembers the clock keeps its counts
          header = pack('<ddddd', b, now, eff, x, total)
          if fresh then
            state = state .. header .. string.rep('\0', 4 * ring)
          else
            state = state .. header .. raw:sub(ring_at, ring_at + 4 * ring - 1)
          end
        elseif k == x and not fresh then
          -- the common case: one count changes, the rest of the ring is copied
          local p = ring_at + 4 * (k % ring)
          local count = unpack_('<I4', raw, p)
          header = pack('<ddddd', b, now, eff, k, used)
          state = state .. header .. raw:sub(ring_at, p - 1) .. pack('<I4', count + cost)
            .. raw:sub(p + 4, ring_at + 4 * ring - 1)
        else
          -- buckets x + 1 .. k take the slots of buckets that left (each at most once)
          local fmt = '<' .. string.rep('I4', ring)
          local counts
          if fresh then
            counts = {}
            for j = 1, ring do counts[j] = 0 end
          else
            counts = { unpack_(fmt, raw, ring_at) }
          end
          for d = 0, min(k - x, ring) - 1 do counts[(k - d) % ring + 1] = 0 end
          counts[k % ring + 1] = counts[k % ring + 1] + cost
          header = pack('<ddddd', b, now, eff, k, used)
          state = state .. header .. pack(fmt, unpack(counts, 1, ring))
        end
      end
    else
      if admitted then x = max(x, eff) + v[o + 5] end
      reset = max(x - eff, 0)
      remaining = floor(max(b - reset, 0) / a)
      if write then state = state .. pack('<dddd', -1, now, eff, x) end
    end
    out[2 + 2 * i] = remaining
    out[3 + 2 * i] = reset
  end
  -- A denial records nothing; only a clock that went back must be remembered. The
  -- time to live is set again whenever a head bucket moves (or a GCRA tier changes):
  -- a count written since then is needed for less than that long.
  if write then
    if moved or not window then
      redis.call('SET', key, state, 'PX', ttl)
    else
      redis.call('SET', key, state, 'KEEPTTL')
    end
  end
  return pack(REPLY[n], unpack(out, 1, 3 + 2 * n))
end

local replies = {}
for e = 1, #KEYS do
  replies[e] = decide(KEYS[e], ARGV[2 * e - 1], ARGV[2 * e])
end
return replies
