-- The Redis backend's Lua scripts: every operation that changes the queue is one script,
-- so it is atomic. Read by scripts.py, which builds each script from its section:
--
--   -- part: <name>      functions several scripts share (the text up to the next section)
--   -- script: <name>    one script; its first lines may say
--   -- keys: a b ...     the KEYS it binds, in order, to Lua locals of those names
--   -- argv: a b ...     the fixed ARGV it binds the same way (ARGV past them: a list)
--   -- uses: p q ...     the parts placed before its own text
--
-- Times come from the server's TIME, the one clock every holder of the queue shares; they
-- cross the wire as strings with microseconds (fmt), because a Lua number returned to
-- Redis is truncated to an integer. Scripts that change state take lane, op, replay first
-- (see link.py): they record op and their outcome in the lanes hash, and with replay = "1"
-- a script whose op was already recorded returns that outcome instead of applying itself
-- twice. BATCH is replaced by scripts.REAP_BATCH.

-- part: clock
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function fmt(x) return string.format('%.6f', x) end

-- part: ready
-- Ready members: a class ('0' came back from an expired lease and goes first, '1' anything
-- else), 14 hex digits of order within the class, then the task id. The score is minus
-- the priority (0 in a FIFO queue), so ZPOPMIN takes the highest priority, then the class,
-- then the order: ZSET ties are broken by the member's bytes.
local function to_ready(score, class, order, id)
  redis.call('ZADD', ready, score, string.format('%s%014x', class, order) .. id)
end
local function score_of(id)
  if fifo == '1' then return 0 end
  return -(tonumber(redis.call('HGET', prio, id)) or 0)
end
local function set_prio(id, p)
  if fifo == '1' then return end
  if p == '0' then redis.call('HDEL', prio, id) else redis.call('HSET', prio, id, p) end
end

-- part: reap
-- Expired leases back to ready (ahead of fresh work, in deadline order), due retries back
-- to ready (behind everything ready before them). Returns how many moved and whether a
-- batch limit cut the pass short.
local function reap(now)
  local exp = redis.call('ZRANGEBYSCORE', leased, '-inf', fmt(now), 'WITHSCORES',
                         'LIMIT', 0, BATCH)
  local gone = {}
  for i = 1, #exp, 2 do
    local id = exp[i]
    to_ready(score_of(id), '0', math.floor(tonumber(exp[i + 1]) * 1000), id)
    gone[#gone + 1] = id
  end
  if #gone > 0 then
    redis.call('ZREM', leased, unpack(gone))
    redis.call('HDEL', tokens, unpack(gone))
  end
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', fmt(now), 'LIMIT', 0, BATCH)
  if #due > 0 then
    local base = redis.call('INCRBY', seq, #due) - #due
    for i, id in ipairs(due) do to_ready(score_of(id), '1', base + i, id) end
    redis.call('ZREM', delayed, unpack(due))
  end
  return #gone + #due, (#gone == BATCH or #due == BATCH)
end
local function reap_all(now)
  local moved, more = reap(now)
  while more do
    local m
    m, more = reap(now)
    moved = moved + m
  end
  if moved > 0 then redis.call('PUBLISH', channel, tostring(moved)) end
  return moved
end

-- part: next_due
local function next_due()
  local best = false
  for _, key in ipairs({delayed, leased}) do
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if first[2] then
      local s = tonumber(first[2])
      if not best or s < best then best = s end
    end
  end
  return best
end

-- part: replay
local function replayed()
  if replay ~= '1' then return false end
  local prev = redis.call('HGET', lanes, lane)
  if not prev then return false end
  local sp = string.find(prev, ' ', 1, true)
  if sp and string.sub(prev, 1, sp - 1) == op then return string.sub(prev, sp + 1) end
  return false
end
local function record(outcome) redis.call('HSET', lanes, lane, op .. ' ' .. outcome) end

-- part: discipline
-- The first task a queue receives fixes its discipline; a holder of the other one is refused
-- (returns the discipline in force) rather than mixing two orders in one `ready` set.
local function other_discipline()
  local mine = 'priority'
  if fifo == '1' then mine = 'fifo' end
  local cur = redis.call('HGET', meta, 'discipline')
  if not cur then
    redis.call('HSET', meta, 'discipline', mine)
    return false
  end
  if cur ~= mine then return cur end
  return false
end

-- part: held
local function held(now)
  if redis.call('HGET', tokens, id) ~= token then return false end
  local deadline = redis.call('ZSCORE', leased, id)
  return deadline and tonumber(deadline) > now
end
local function forget_lease()
  redis.call('HDEL', tokens, id)
  redis.call('ZREM', leased, id)
end
local function forget_task()
  redis.call('HDEL', tasks, id)
  redis.call('HDEL', attempts, id)
  if fifo ~= '1' then redis.call('HDEL', prio, id) end
end

-- script: claim
-- keys: tasks attempts prio ready delayed leased tokens seq lanes
-- argv: lane op replay channel fifo lease n
-- uses: clock ready reap next_due replay
-- Claim up to `n`: reap, pop, lease. Returns now, deadline, ready left, next due time
-- (when nothing was claimed), the lease token, how many of a replayed claim's tasks are
-- no longer its own, then id, JSON, attempts per task.
local now = now_s()
local token = lane .. ':' .. op
local out = {fmt(now), '', 0, '', token, 0}
local prev = replayed()
if prev then  -- the reply was lost: hand back what this claim still holds
  for _, id in ipairs(cjson.decode(prev)) do
    local deadline = false
    if redis.call('HGET', tokens, id) == token then
      deadline = tonumber(redis.call('ZSCORE', leased, id))
    end
    if deadline and deadline > now then
      out[2] = fmt(deadline)
      out[#out + 1] = id
      out[#out + 1] = redis.call('HGET', tasks, id)
      out[#out + 1] = tonumber(redis.call('HGET', attempts, id)) or 0
    else
      out[6] = out[6] + 1
    end
  end
  return out
end
local moved = reap(now)
local popped = redis.call('ZPOPMIN', ready, tonumber(n))
local deadline = fmt(now + tonumber(lease))
local ids = {}
for i = 1, #popped, 2 do
  local id = string.sub(popped[i], 16)
  local json = redis.call('HGET', tasks, id)
  if json then
    ids[#ids + 1] = id
    out[#out + 1] = id
    out[#out + 1] = json
    out[#out + 1] = redis.call('HINCRBY', attempts, id, 1)
    redis.call('HSET', tokens, id, token)
    redis.call('ZADD', leased, deadline, id)
  end
end
local left = redis.call('ZCARD', ready)
out[2] = deadline
out[3] = left
if moved > 0 and left > 0 then
  redis.call('PUBLISH', channel, tostring(math.min(moved, left)))
end
if #ids == 0 then
  local due = next_due()
  if due then out[4] = fmt(due) end
else
  record(cjson.encode(ids))
end
return out

-- script: ack
-- keys: tasks attempts prio leased tokens lanes
-- argv: lane op replay fifo id token
-- uses: clock replay held
-- Ack: 1 done, 0 the receipt is void (nothing changed).
local prev = replayed()
if prev then return tonumber(prev) end
local code = 0
if held(now_s()) then
  forget_task()
  forget_lease()
  code = 1
end
record(code)
return code

-- script: nack
-- keys: tasks attempts prio ready delayed leased tokens seq lanes
-- argv: lane op replay channel fifo id token json count priority delay
-- uses: clock ready replay held
-- Nack: store the task as it is now, ready at once or after `delay`. 1 done, 0 void.
local prev = replayed()
if prev then return tonumber(prev) end
local now = now_s()
local code = 0
if held(now) then
  redis.call('HSET', tasks, id, json)
  redis.call('HSET', attempts, id, count)
  set_prio(id, priority)
  forget_lease()
  local d = tonumber(delay)
  if d > 0 then
    local due = fmt(now + d)
    redis.call('ZADD', delayed, due, id)
    redis.call('PUBLISH', channel, '@' .. due)
  else
    to_ready(score_of(id), '1', redis.call('INCR', seq), id)
    redis.call('PUBLISH', channel, '1')
  end
  code = 1
end
record(code)
return code

-- script: dead_letter
-- keys: tasks attempts prio leased tokens dead dead_at dead_kinds lanes
-- argv: lane op replay fifo id token record_json at kind
-- uses: clock replay held
-- Dead-letter: 1 done, 0 void, 2 refused (a dead letter of that id exists; nothing changed).
local prev = replayed()
if prev then return tonumber(prev) end
local code = 0
if held(now_s()) then
  if redis.call('HEXISTS', dead, id) == 1 then
    code = 2
  else
    forget_task()
    forget_lease()
    redis.call('HSET', dead, id, record_json)
    redis.call('ZADD', dead_at, at, id)
    redis.call('HINCRBY', dead_kinds, kind, 1)
    code = 1
  end
end
record(code)
return code

-- script: extend
-- keys: leased tokens
-- argv: id token lease
-- uses: clock
-- Extend a lease from now: {now, deadline}, or {} if the receipt is void. Idempotent.
local now = now_s()
if redis.call('HGET', tokens, id) ~= token then return {} end
local deadline = redis.call('ZSCORE', leased, id)
if not deadline or tonumber(deadline) <= now then return {} end
local until_ = fmt(now + tonumber(lease))
redis.call('ZADD', leased, 'XX', until_, id)
return {fmt(now), until_}

-- script: enqueue
-- keys: tasks attempts prio ready delayed seq lanes meta
-- argv: lane op replay channel fifo delay
-- uses: clock ready replay discipline
-- Enqueue: ARGV past the fixed ones are (id, json, attempts, priority) per task. Returns
-- the ids refused because a task of that id is already held (JSON array), or "!" and the
-- queue's discipline if it is not this holder's (nothing enqueued).
local prev = replayed()
if prev then return prev end
local other = other_discipline()
if other then return '!' .. other end
local first = 7
local n = (#ARGV - first + 1) / 4
local d = tonumber(delay)
local due = false
local base = 0
if d > 0 then due = fmt(now_s() + d) else base = redis.call('INCRBY', seq, n) - n end
local dups = {}
local added = 0
for i = 0, n - 1 do
  local at = first + 4 * i
  local id = ARGV[at]
  if redis.call('HSETNX', tasks, id, ARGV[at + 1]) == 1 then
    if ARGV[at + 2] ~= '0' then redis.call('HSET', attempts, id, ARGV[at + 2]) end
    set_prio(id, ARGV[at + 3])
    if due then
      redis.call('ZADD', delayed, due, id)
    else
      to_ready(score_of(id), '1', base + i + 1, id)
    end
    added = added + 1
  else
    dups[#dups + 1] = id
  end
end
if added > 0 then
  if due then
    redis.call('PUBLISH', channel, '@' .. due)
  else
    redis.call('PUBLISH', channel, tostring(added))
  end
end
local outcome = '[]'
if #dups > 0 then outcome = cjson.encode(dups) end
record(outcome)
return outcome

-- script: reprocess
-- keys: tasks attempts prio ready seq dead dead_at dead_kinds lanes meta
-- argv: lane op replay channel fifo
-- uses: ready replay discipline
-- Reprocess: ARGV past the fixed ones are (id, dead-letter JSON as read, task JSON to
-- enqueue, attempts, priority, error kind) per task. A dead letter moves only if it is
-- still exactly what the caller read and no live task has its id. Returns how many moved,
-- or -1 if the queue's discipline is not this holder's (nothing moved).
local prev = replayed()
if prev then return tonumber(prev) end
if other_discipline() then return -1 end
local first = 6
local moved = 0
for at = first, #ARGV, 6 do
  local id = ARGV[at]
  if redis.call('HGET', dead, id) == ARGV[at + 1] and redis.call('HEXISTS', tasks, id) == 0 then
    local kind = ARGV[at + 5]
    redis.call('HDEL', dead, id)
    redis.call('ZREM', dead_at, id)
    if redis.call('HINCRBY', dead_kinds, kind, -1) <= 0 then
      redis.call('HDEL', dead_kinds, kind)
    end
    redis.call('HSET', tasks, id, ARGV[at + 2])
    redis.call('HSET', attempts, id, ARGV[at + 3])
    set_prio(id, ARGV[at + 4])
    to_ready(score_of(id), '1', redis.call('INCR', seq), id)
    moved = moved + 1
  end
end
if moved > 0 then redis.call('PUBLISH', channel, tostring(moved)) end
record(moved)
return moved

-- script: discard
-- keys: dead dead_at dead_kinds lanes
-- argv: lane op replay
-- uses: replay
-- Discard: ARGV past the fixed ones are ids. Returns how many dead letters were deleted.
local prev = replayed()
if prev then return tonumber(prev) end
local gone = 0
for at = 4, #ARGV do
  local id = ARGV[at]
  local record_json = redis.call('HGET', dead, id)
  if record_json then
    local ok, dl = pcall(cjson.decode, record_json)
    local kind = ok and type(dl) == 'table' and dl['error_kind'] or ''
    redis.call('HDEL', dead, id)
    redis.call('ZREM', dead_at, id)
    if redis.call('HINCRBY', dead_kinds, tostring(kind), -1) <= 0 then
      redis.call('HDEL', dead_kinds, tostring(kind))
    end
    gone = gone + 1
  end
end
record(gone)
return gone

-- script: counts
-- keys: prio ready delayed leased tokens seq dead
-- argv: channel fifo
-- uses: clock ready reap
-- Counts after reaping everything due: {ready, delayed, leased, dead}.
reap_all(now_s())
return {redis.call('ZCARD', ready), redis.call('ZCARD', delayed),
        redis.call('ZCARD', leased), redis.call('HLEN', dead)}

-- script: peek
-- keys: tasks attempts prio ready delayed leased tokens seq
-- argv: channel fifo n
-- uses: clock ready reap
-- The next `n` a claim would take, after reaping: id, JSON, attempts per task.
reap_all(now_s())
local out = {}
for _, member in ipairs(redis.call('ZRANGE', ready, 0, tonumber(n) - 1)) do
  local id = string.sub(member, 16)
  local json = redis.call('HGET', tasks, id)
  if json then
    out[#out + 1] = id
    out[#out + 1] = json
    out[#out + 1] = tonumber(redis.call('HGET', attempts, id)) or 0
  end
end
return out

-- script: dead_page
-- keys: dead dead_at dead_kinds
-- argv: offset limit descending all
-- Dead letters by time: {total, number of kinds, kinds…, JSON…}. With `all` = "1" every
-- dead letter in time order (for filtering and other orders), else one page.
local ids
if all == '1' then
  ids = redis.call('ZRANGE', dead_at, 0, -1)
else
  local first = tonumber(offset)
  local last = first + tonumber(limit) - 1
  if last < first then
    ids = {}
  elseif descending == '1' then
    ids = redis.call('ZREVRANGE', dead_at, first, last)
  else
    ids = redis.call('ZRANGE', dead_at, first, last)
  end
end
local kinds = redis.call('HKEYS', dead_kinds)
local out = {redis.call('ZCARD', dead_at), #kinds}
for _, k in ipairs(kinds) do out[#out + 1] = k end
for _, id in ipairs(ids) do
  local record_json = redis.call('HGET', dead, id)
  if record_json then out[#out + 1] = record_json end
end
return out

-- script: discipline
-- keys: meta
-- The queue's discipline, "" while it has never held a task (reading only: opening a
-- queue, to test a connection say, leaves nothing behind).
return redis.call('HGET', meta, 'discipline') or ''

-- script: get_dead
-- keys: dead
-- Dead letters by id: HMGET of the ids in ARGV (nil for none).
return redis.call('HMGET', dead, unpack(ARGV))

-- script: purge
-- Delete every key of the queue (all passed as KEYS).
return redis.call('DEL', unpack(KEYS))
