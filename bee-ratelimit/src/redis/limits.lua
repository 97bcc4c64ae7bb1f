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
-- ARGV[2e]       sliding window: the state's time to live in milliseconds, as text, the
--                longest any tier still needs a count after its bucket opened (GCRA: unused,
--                the state lives as long as its TATs are ahead)
--
-- Returns one string of little-endian doubles per caller: admitted 0/1, denying tier
-- (1-based, 0: none), wait (-1: never), then remaining and reset for each tier.
--
-- Time is Redis's own clock (TIME), so servers with skewed clocks agree. Each tier keeps
-- the clock reading it last saw and an effective time that moves by forward steps only:
-- a clock stepped back never locks a caller out.
--
-- The state is packed with the struct library: exact doubles, and no number is ever
-- formatted as text or parsed back. Every tier's header comes first, then (sliding
-- window) every tier's ring of 32-bit counts:
--   sliding window header: tag (the bucket width), last clock reading, effective time,
--     head bucket, sum of the counted buckets, count of the head bucket; the ring holds
--     buckets head - buckets .. head - 1, bucket j at slot j % buckets
--   GCRA header: tag (-1), last clock reading, effective time, TAT
-- A tier whose tag does not match starts afresh, and so does a state of the wrong size.
-- While the head bucket stays, an admission changes headers only, written in place
-- (SETRANGE, which keeps the time to live); when a head moves, the state is written
-- whole and its time to live set again: a count is needed for less than that long.

local floor, max, min = math.floor, math.max, math.min
local unpack_, pack = struct.unpack, struct.pack
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local WINDOW_HEAD, GCRA_HEAD = 48, 32 -- bytes of a tier's header
-- Per tier, ten numbers from the first pass to the second, reused by every caller of
-- this call (sized for one tier: a table grown slot by slot reallocates each time).
local v = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }
local out = { 0, 0, 0, 0, 0 }

-- The count of bucket j (head - buckets <= j <= head) of a stored window tier.
local function count_of(raw, ring_at, buckets, head, current, j)
  if j == head then return current end
  return (unpack_('<I4', raw, ring_at + 4 * (j % buckets)))
end

-- Each caller in turn: its state is KEYS[e], its parameters ARGV[2e - 1], its time to
-- live ARGV[2e].
local replies = {}
for e = 1, #KEYS do
  local key, params, ttl = KEYS[e], ARGV[2 * e - 1], ARGV[2 * e]
  local kind, buckets, cost, n, pos = unpack_('<dddd', params)
  local window = kind == 1
  local head_size = window and WINDOW_HEAD or GCRA_HEAD
  local ring_size = window and 4 * buckets or 0
  local rings = n * head_size + 1 -- where the first ring starts

  local raw = redis.call('GET', key)
  local fresh_state = not raw or #raw ~= n * (head_size + ring_size)
  local back, fresh_tier, moved = false, false, false
  local admitted, denied_by, wait = true, 0, 0

  for i = 1, n do
    local a, b, c
    a, b, c, pos = unpack_('<ddd', params, pos)
    local o = (i - 1) * 10
    local ring_at = rings + (i - 1) * ring_size
    local tag = window and b or -1
    local stag, last, eff, x, total, current
    if not fresh_state then
      if window then
        stag, last, eff, x, total, current = unpack_('<dddddd', raw, (i - 1) * head_size + 1)
      else
        stag, last, eff, x = unpack_('<dddd', raw, (i - 1) * head_size + 1)
      end
    end
    local fresh = stag ~= tag
    if fresh then
      last, eff, x, total, current = now, now, 0, 0, 0
      fresh_tier = true
    end
    if now < last then back = true end
    if now > last then eff = eff + (now - last) end

    local fits, w
    if window then
      -- counted buckets: k - buckets .. k
      local k = max(floor(eff / b), x)
      local used = total
      if k ~= x then
        moved = true
        used = 0
        if not fresh then
          for j = max(k - buckets, x - buckets), x do
            used = used + count_of(raw, ring_at, buckets, x, current, j)
          end
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
        for j = max(k - buckets, 0), fresh and -1 or x do
          left = left - count_of(raw, ring_at, buckets, x, current, j)
          if left + cost <= a then
            w = (j + buckets + 1) * b - eff
            break
          end
        end
        -- A stored sum the counts cannot account for (a state this script did not
        -- write): wait until the whole window has passed.
        if not w then w = (k + buckets + 1) * b - eff end
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
    v[o + 1], v[o + 2], v[o + 3], v[o + 4] = eff, x, total, fresh
    v[o + 7], v[o + 8], v[o + 9], v[o + 10] = current, a, b, ring_at
    if not fits then
      admitted = false
      if wait ~= -1 and (w == -1 or w > wait) then
        wait, denied_by = w, i
      end
    end
  end

  out[1], out[2], out[3] = admitted and 1 or 0, denied_by, wait
  -- A denial records nothing; only a clock that went back must be remembered.
  local write = admitted or back
  -- Headers alone, in place, unless a tier starts afresh or an admission moves a head.
  local whole = window and (fresh_tier or (admitted and moved))
  local headers, ring_bytes = '', ''
  local furthest = 0 -- GCRA: how far the furthest TAT is ahead of its effective time
  for i = 1, n do
    local o = (i - 1) * 10
    local eff, x, total, fresh = v[o + 1], v[o + 2], v[o + 3], v[o + 4]
    local current, a, b, ring_at = v[o + 7], v[o + 8], v[o + 9], v[o + 10]
    local remaining, reset
    if window then
      local k, used = v[o + 5], v[o + 6]
      local newest = -1
      if admitted and cost > 0 then
        used, newest = used + cost, k
      elseif not fresh then
        -- the newest counted bucket with a count above zero
        for j = min(x, k), max(k - buckets, 0), -1 do
          if count_of(raw, ring_at, buckets, x, current, j) > 0 then
            newest = j
            break
          end
        end
      end
      remaining = max(a - used, 0)
      reset = 0
      if newest >= 0 then reset = (newest + buckets + 1) * b - eff end
      if write then
        local ring
        if admitted and (k ~= x or fresh) then
          -- bucket x joins the ring, buckets x + 1 .. k - 1 are empty, and every
          -- bucket that left the window loses its slot
          local counts = {}
          if fresh then
            for j = 1, buckets do counts[j] = 0 end
          else
            counts = { unpack_('<' .. string.rep('I4', buckets), raw, ring_at) }
            counts[x % buckets + 1] = current
          end
          for j = x + 1, min(k - 1, x + buckets) do counts[j % buckets + 1] = 0 end
          ring = pack('<' .. string.rep('I4', buckets), unpack(counts, 1, buckets))
          x, total, current = k, used, cost
        elseif admitted then
          total, current = used, current + cost
        end
        local header = pack('<dddddd', b, now, eff, x, total, current)
        headers = i == 1 and header or headers .. header
        if whole then
          if not ring then
            -- unchanged, or a tier that starts afresh on a denial: empty
            ring = fresh and string.rep('\0', ring_size)
              or raw:sub(ring_at, ring_at + ring_size - 1)
          end
          ring_bytes = i == 1 and ring or ring_bytes .. ring
        end
      end
    else
      if admitted then x = max(x, eff) + v[o + 5] end
      reset = max(x - eff, 0)
      furthest = max(furthest, reset)
      remaining = floor(max(b - reset, 0) / a)
      if write then
        local header = pack('<dddd', -1, now, eff, x)
        headers = i == 1 and header or headers .. header
      end
    end
    out[2 + 2 * i] = remaining
    out[3 + 2 * i] = reset
  end
  if write then
    if not window then
      -- As long as the furthest TAT is ahead, whatever scaling of the tiers wrote it.
      redis.call('SET', key, headers, 'PX', string.format('%.0f', floor(furthest / 1000) + 1000))
    elseif whole then
      redis.call('SET', key, headers .. ring_bytes, 'PX', ttl)
    else
      redis.call('SETRANGE', key, 0, headers)
    end
  end
  if n == 1 then
    replies[e] = pack('<ddddd', out[1], out[2], out[3], out[4], out[5])
  else
    replies[e] = pack('<' .. string.rep('d', 3 + 2 * n), unpack(out, 1, 3 + 2 * n))
  end
end
return replies
