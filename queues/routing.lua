-- The hotline's routing script: every change to agents, waiting calls and reservations, run
-- atomically in Redis (one EVALSHA per operation; ARGV[1] names the operation).
--
-- Not valid Lua as it stands: queues/script.py (_source) reads this file and fills in each
-- upper-case name between two at-signs before loading it. Quoted ones become key prefixes
-- from queues.keys; bare ones become numbers (class span, priority classes, kept times,
-- event stream cap) and the routing policy's tables (PLANS, QUALIFY, GENERAL), written as
-- Lua by _policy_tables. The Python side (RoutingScript, which loads and runs it) lives there.

local OP, NOW, CAP, WINDOW = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local A = 5  -- first argument of the operation

local AGENT, HEAVY, QUEUED, RES = '@AGENT@', '@HEAVY@', '@QUEUED@', '@RES@'
local HANDLE = '@HANDLE@'
local AGENTS, ROSTER = '@AGENTS@', '@ROSTER@'
local DUE_RES, DUE_WRAP, DUE_COOL = '@DUE_RES@', '@DUE_WRAP@', '@DUE_COOL@'
local DUE_CAP, DUE_SHIFT = '@DUE_CAP@', '@DUE_SHIFT@'
local DUE_WIDEN, DUE_CALLBACK = '@DUE_WIDEN@', '@DUE_CALLBACK@'
local DUE_LEGS, DUE_HELD = '@DUE_LEGS@', '@DUE_HELD@'
local TRANSFER, PARKED = '@TRANSFER@', '@PARKED@'
local SPAN, CLASSES = @SPAN@, @CLASSES@
local TTL, KEPT = @TTL@, @KEPT@
local EVENTS, MAX_EVENTS = '@EVENTS@', @MAX_EVENTS@

-- The policy, worked out in routing.matching and written here as data (see _policy_tables in
-- queues/script.py):
-- plan_for(area, language) lists the widening steps, each with the agent pools to search in
-- order (built on demand: the whole table would cost more than a match to build every call);
-- QUALIFY[area][level] and GENERAL[area] give the wait after which such an agent may answer.
local function plan_for(area, language)
@PLANS@
  return nil
end
local QUALIFY = @QUALIFY@
local GENERAL = @GENERAL@

local function split(text)
  local items = {}
  if not text then return items end
  for item in string.gmatch(text, '%S+') do items[#items + 1] = item end
  return items
end

-- Full precision for numbers handed back to Python (tostring keeps only 14 digits).
local function fmt(value) return string.format('%.17g', value) end

local function num(value, default)
  if not value or value == '' then return default end
  return tonumber(value)
end

-- Appends to the event stream in the same step as the change it records.
local function event(kind, ...)
  local fields = {...}
  local args = {'XADD', EVENTS, 'MAXLEN', '~', MAX_EVENTS, '*', 'kind', kind,
    'at', string.format('%.3f', NOW)}
  for i = 1, #fields, 2 do
    if fields[i + 1] and fields[i + 1] ~= '' then
      args[#args + 1] = fields[i]
      args[#args + 1] = fields[i + 1]
    end
  end
  redis.call(unpack(args))
end

-- The tier an agent joins: 'capped' once their heavy calls in the window reach the cap.
local function tier_of(agent)
  local history = HEAVY .. agent
  redis.call('ZREMRANGEBYSCORE', history, '-inf', NOW - WINDOW)
  local count = redis.call('ZCARD', history)
  if count < CAP then return 'open' end
  local oldest = redis.call('ZRANGE', history, count - CAP, count - CAP, 'WITHSCORES')
  redis.call('ZADD', DUE_CAP, tonumber(oldest[2]) + WINDOW, agent)
  return 'capped'
end

local function leave_pools(agent)
  local key = AGENT .. agent
  local f = redis.call('HMGET', key, 'in_pools', 'pools', 'capped_pools', 'crisis_pools')
  if not f[1] or f[1] == '' then return false end
  local pools = f[1] == 'capped' and f[3] or f[2]
  for _, pool in ipairs(split(pools)) do redis.call('ZREM', pool, agent) end
  for _, pool in ipairs(split(f[4])) do redis.call('ZREM', pool, agent) end
  redis.call('HSET', key, 'in_pools', '')
  return true
end

-- An agent sits in their pools exactly while they may be offered a call.
local function enter_pools(agent)
  local key = AGENT .. agent
  local f = redis.call('HMGET', key, 'presence', 'activity', 'on_shift', 'cool_until',
    'in_pools', 'idle_since', 'removed', 'pools', 'capped_pools', 'crisis_pools')
  if f[1] ~= 'available' or f[2] ~= 'idle' or f[3] ~= '1' or f[7] == '1' then return false end
  if num(f[4], 0) > NOW or (f[5] and f[5] ~= '') then return false end
  local tier = tier_of(agent)
  local idle = num(f[6], NOW)
  for _, pool in ipairs(split(tier == 'capped' and f[9] or f[8])) do
    redis.call('ZADD', pool, idle, agent)
  end
  for _, pool in ipairs(split(f[10])) do redis.call('ZADD', pool, idle, agent) end
  redis.call('HSET', key, 'in_pools', tier)
  return true
end

-- An agent's wrap-up after a call, until NOW + seconds; with none, they are free at once.
local function wrap_up(agent, seconds)
  local key = AGENT .. agent
  redis.call('HSET', key, 'wrap_until', NOW + seconds)
  if seconds > 0 then
    redis.call('HSET', key, 'activity', 'wrap_up')
    redis.call('ZADD', DUE_WRAP, NOW + seconds, agent)
  else
    redis.call('HSET', key, 'activity', 'idle', 'idle_since', NOW)
    redis.call('ZREM', DUE_WRAP, agent)
    enter_pools(agent)
  end
end

local function finish_call(call, state, outcome)
  local key = QUEUED .. call
  redis.call('HSET', key, 'state', state, 'outcome', outcome, 'ended_at', NOW, 'reservation', '')
  redis.call('ZREM', DUE_WIDEN, call)
  redis.call('ZREM', DUE_LEGS, call)
  redis.call('ZREM', DUE_HELD, call)
  redis.call('EXPIRE', key, TTL)
end

local function claim(agent, call, rid, expires, over_cap)
  local ckey = QUEUED .. call
  local c = redis.call('HMGET', ckey, 'queue', 'area', 'language', 'kind', 'heavy')
  leave_pools(agent)
  redis.call('HSET', AGENT .. agent, 'activity', 'reserved', 'reservation', rid)
  redis.call('HSET', ckey, 'state', 'reserved', 'reservation', rid)
  redis.call('ZREM', c[1], call)
  redis.call('ZREM', DUE_WIDEN, call)
  redis.call('HSET', RES .. rid, 'call', call, 'agent', agent, 'area', c[2], 'language', c[3],
    'kind', c[4], 'heavy', c[5], 'over_cap', over_cap, 'state', 'offered',
    'created_at', NOW, 'expires_at', expires)
  redis.call('ZADD', DUE_RES, expires, rid)
  event('offered', 'call', call, 'agent', agent, 'area', c[2], 'language', c[3],
    'reservation', rid, 'callback', c[4] == 'callback' and '1' or '0')
  if over_cap == '1' then
    -- Wellbeing: the supervisor hears that nobody under the cap could take this call.
    event('over-cap', 'call', call, 'agent', agent, 'area', c[2], 'reservation', rid)
  end
  return {'matched', agent, call, rid, c[2], c[3], c[4], over_cap}
end

-- Each operation below is built only when it is the one asked for: building them all on every
-- call would cost more than most operations do.

if OP == 'import' then return (function()
  local data = cjson.decode(ARGV[A])
  local keep = {}
  for _, entry in ipairs(data.agents) do keep[entry.id] = true end
  local removed = {}
  for _, agent in ipairs(redis.call('SMEMBERS', AGENTS)) do
    if not keep[agent] then
      leave_pools(agent)
      redis.call('HSET', AGENT .. agent, 'removed', '1', 'presence', 'offline')
      redis.call('SREM', AGENTS, agent)
      redis.call('ZREM', DUE_SHIFT, agent)
      removed[#removed + 1] = agent
    end
  end
  local added = {}
  for _, entry in ipairs(data.agents) do
    local key = AGENT .. entry.id
    local known = redis.call('HEXISTS', key, 'activity') == 1
    leave_pools(entry.id)
    redis.call('HSET', key, 'name', entry.name, 'phone', entry.phone, 'languages', entry.languages,
      'skills', entry.skills, 'crisis_trained', entry.crisis_trained, 'pin', entry.pin,
      'schedule', entry.schedule, 'pools', entry.pools, 'capped_pools', entry.capped_pools,
      'crisis_pools', entry.crisis_pools, 'queues', entry.queues, 'on_shift', entry.on_shift,
      'removed', '0')
    if not known then
      redis.call('HSET', key, 'presence', data.presence, 'activity', 'idle', 'idle_since', NOW,
        'misses', 0, 'cool_until', 0, 'paused', '', 'in_pools', '', 'reservation', '')
      added[#added + 1] = entry.id
    end
    if entry.next_change ~= '' then
      redis.call('ZADD', DUE_SHIFT, entry.next_change, entry.id)
    else
      redis.call('ZREM', DUE_SHIFT, entry.id)
    end
    redis.call('SADD', AGENTS, entry.id)
    enter_pools(entry.id)
  end
  redis.call('SET', ROSTER, data.roster)
  return {'imported', cjson.encode(added), cjson.encode(removed)}
end)() end

if OP == 'presence' then return (function()
  local agent, presence = ARGV[A], ARGV[A + 1]
  if redis.call('SISMEMBER', AGENTS, agent) == 0 then return {'unknown'} end
  local key = AGENT .. agent
  local f = redis.call('HMGET', key, 'presence', 'activity', 'paused')
  redis.call('HSET', key, 'presence', presence)
  if presence == 'available' then
    -- Coming back clears a pause: the agent chose to take calls again.
    redis.call('HSET', key, 'misses', 0, 'paused', '')
    if f[1] ~= 'available' and f[2] == 'idle' then redis.call('HSET', key, 'idle_since', NOW) end
    enter_pools(agent)
  else
    leave_pools(agent)
  end
  return {'changed', f[1] or '', f[2] or '', f[3] or ''}
end)() end

if OP == 'shift' then return (function()
  local agent, on, next_change = ARGV[A], ARGV[A + 1], ARGV[A + 2]
  if redis.call('SISMEMBER', AGENTS, agent) == 0 then return {'unknown'} end
  local key = AGENT .. agent
  local was = redis.call('HGET', key, 'on_shift')
  redis.call('HSET', key, 'on_shift', on)
  if next_change ~= '' then
    redis.call('ZADD', DUE_SHIFT, next_change, agent)
  else
    redis.call('ZREM', DUE_SHIFT, agent)
  end
  local entered = false
  if on == '1' then entered = enter_pools(agent) else leave_pools(agent) end
  return {was == on and 'same' or 'changed', entered and '1' or '0'}
end)() end

-- ARGV[A + 8] is the number to call back, or '' for a live call waiting on its own leg.
if OP == 'enqueue' then return (function()
  local call, queue, score = ARGV[A], ARGV[A + 1], ARGV[A + 2]
  local key = QUEUED .. call
  local state = redis.call('HGET', key, 'state')
  if state then return {'exists', state} end
  local number = ARGV[A + 8]
  local kind = number == '' and 'call' or 'callback'
  redis.call('HSET', key, 'queue', queue, 'score', score, 'area', ARGV[A + 3],
    'language', ARGV[A + 4], 'priority', ARGV[A + 5], 'arrival', ARGV[A + 6],
    'heavy', ARGV[A + 7], 'kind', kind, 'caller_key', ARGV[A + 9],
    'state', 'waiting', 'outcome', '', 'reservation', '', 'attempts', 0, 'queued_at', NOW)
  -- A callback task is one from the step that makes it visible: no match, in any process,
  -- can find it as a live call and try to bridge a caller leg that does not exist.
  if kind == 'callback' then redis.call('HSET', key, 'callback_number', number) end
  redis.call('ZADD', queue, score, call)
  if ARGV[A + 10] ~= '' then redis.call('ZADD', DUE_WIDEN, ARGV[A + 10], call) end
  -- Watched from the same step, so no crash can leave a call waiting that nobody checks on.
  if ARGV[A + 11] ~= '' then redis.call('ZADD', DUE_LEGS, ARGV[A + 11], call) end
  return {'queued', kind}
end)() end

if OP == 'match_call' then return (function()
  local call, rid, expires = ARGV[A], ARGV[A + 1], ARGV[A + 2]
  local c = redis.call('HMGET', QUEUED .. call, 'state', 'area', 'language', 'arrival', 'heavy',
    'avoid', 'only')
  if c[1] ~= 'waiting' then return {'not-waiting', c[1] or ''} end
  local plan = plan_for(c[2], c[3])
  if not plan then return {'none'} end
  local arrival = tonumber(c[4])
  local step = 1
  for index, candidate in ipairs(plan) do
    if NOW - arrival >= candidate.after then step = index end
  end
  -- A follow-up task may avoid one agent (the one its caller was unhappy with) or be kept to a
  -- named few (supervisors who take calls): each pool's head, or its first such agent, answers.
  local avoid, only = c[6] or '', split(c[7])
  local function head_of(pool)
    if #only > 0 then
      local found = {}
      for _, agent in ipairs(only) do
        local score = redis.call('ZSCORE', pool, agent)
        if score and (not found[1] or tonumber(score) < tonumber(found[2])) then
          found = {agent, score}
        end
      end
      return found
    end
    local head = redis.call('ZRANGE', pool, 0, 1, 'WITHSCORES')
    if head[1] == avoid then return {head[3], head[4]} end
    return head
  end
  local groups = c[5] == '1' and plan[step].heavy or plan[step].normal
  for _, group in ipairs(groups) do
    local best, best_score
    for _, pool in ipairs(group.pools) do
      local head = head_of(pool)
      if head[1] then
        local score = tonumber(head[2])
        if not best or score < best_score or (score == best_score and head[1] < best) then
          best, best_score = head[1], score
        end
      end
    end
    if best then return claim(best, call, rid, expires, group.over_cap) end
  end
  -- Nobody yet: look again when the wait reaches the next step.
  if plan[step + 1] then redis.call('ZADD', DUE_WIDEN, arrival + plan[step + 1].after, call) end
  return {'none'}
end)() end

if OP == 'match_agent' then return (function()
  local agent, rid, expires = ARGV[A], ARGV[A + 1], ARGV[A + 2]
  local f = redis.call('HMGET', AGENT .. agent, 'in_pools', 'skills', 'queues')
  local tier = f[1]
  if not tier or tier == '' then return {'not-free'} end
  -- The wait after which this agent may answer each area: their level there, or general.
  local after = {}
  for _, skill in ipairs(split(f[2])) do
    local area, level = string.match(skill, '^(.*):(%d)$')
    local qualify = QUALIFY[area] and QUALIFY[area][tonumber(level)]
    if qualify then after[area] = qualify end
    if GENERAL[area] then
      for other, wait in pairs(GENERAL[area]) do
        if not after[other] or wait < after[other] then after[other] = wait end
      end
    end
  end
  local best, best_score
  local queues = split(f[3])
  for q = 1, #queues, 2 do
    local wait = after[queues[q]]
    if wait then
      local queue, latest = queues[q + 1], NOW - wait
      local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
      local found = nil
      if head[1] then
        local score = tonumber(head[2])
        local first = math.floor(score / SPAN)
        if score - first * SPAN <= latest then
          -- The queue's first caller waited long enough: nobody in it comes before them.
          found = head
        else
          -- Nobody in the head's class waited long enough; look in the classes after it.
          for class = first + 1, CLASSES - 1 do
            local low = class * SPAN
            if best and best_score < low then break end
            local hit = redis.call('ZRANGEBYSCORE', queue, low, low + latest,
              'WITHSCORES', 'LIMIT', 0, 1)
            if hit[1] then
              found = hit
              break
            end
          end
        end
      end
      if found then
        local score = tonumber(found[2])
        if not best or score < best_score or (score == best_score and found[1] < best) then
          best, best_score = found[1], score
        end
      end
    end
  end
  if not best then return {'none'} end
  local filter = redis.call('HMGET', QUEUED .. best, 'avoid', 'only')
  if filter[1] == agent or (filter[2] and filter[2] ~= ''
      and not string.find(' ' .. filter[2] .. ' ', ' ' .. agent .. ' ', 1, true)) then
    -- A follow-up task this agent is not to take: the call's own match finds another.
    return {'heavy', best}
  end
  if tier == 'capped' and redis.call('HGET', QUEUED .. best, 'heavy') == '1' then
    -- Someone under the cap may take this heavy call: the call's own match decides.
    return {'heavy', best}
  end
  return claim(agent, best, rid, expires, '0')
end)() end

if OP == 'accept' then return (function()
  local rid = ARGV[A]
  local key = RES .. rid
  local r = redis.call('HMGET', key, 'state', 'agent', 'call', 'kind')
  if not r[1] then return {'unknown'} end
  if r[1] ~= 'offered' then return {'unchanged', r[1], r[2], r[3]} end
  redis.call('HSET', key, 'state', 'accepted', 'accepted_at', NOW)
  redis.call('ZREM', DUE_RES, rid)
  redis.call('HSET', AGENT .. r[2], 'activity', 'talking', 'misses', 0)
  if r[4] == 'callback' then
    -- The callback counts as connected only once the caller answers.
    redis.call('HSET', QUEUED .. r[3], 'state', 'dialling')
  else
    redis.call('HSET', QUEUED .. r[3], 'state', 'connected', 'outcome', 'connected')
  end
  return {'accepted', r[2], r[3]}
end)() end

local function miss(rid, reason, cool_down, pause_after)
  local key = RES .. rid
  local r = redis.call('HMGET', key, 'state', 'agent', 'call')
  if not r[1] then return {'unknown'} end
  if r[1] ~= 'offered' then return {'unchanged', r[1], r[2], r[3]} end
  local agent, call = r[2], r[3]
  redis.call('HSET', key, 'state', reason, 'ended_at', NOW)
  redis.call('EXPIRE', key, TTL)
  redis.call('ZREM', DUE_RES, rid)
  local akey = AGENT .. agent
  local misses = redis.call('HINCRBY', akey, 'misses', 1)
  redis.call('HSET', akey, 'activity', 'idle', 'reservation', '', 'cool_until', NOW + cool_down)
  if cool_down > 0 then redis.call('ZADD', DUE_COOL, NOW + cool_down, agent) end
  local paused = '0'
  if misses >= pause_after then
    redis.call('HSET', akey, 'presence', 'on_break', 'paused', reason)
    paused = '1'
  end
  enter_pools(agent)
  -- The caller keeps their place: back in the queue with the same score.
  local c = redis.call('HMGET', QUEUED .. call, 'state', 'reservation', 'queue', 'score')
  if c[1] == 'reserved' and c[2] == rid then
    redis.call('HSET', QUEUED .. call, 'state', 'waiting', 'reservation', '')
    redis.call('ZADD', c[3], c[4], call)
  end
  return {reason, agent, call, tostring(misses), paused}
end

if OP == 'miss' then return (function()
  return miss(ARGV[A], ARGV[A + 1], tonumber(ARGV[A + 2]), tonumber(ARGV[A + 3]))
end)() end

-- An offer whose ring never reached the agent's phone (the carrier failed, or the ring ran too
-- late): it ends with no miss, the agent free again in their old place in the idle order. With
-- `hold` the caller is held back, `first` seconds after the call's first such failure, twice
-- as long after each next one, up to `cap` (routing.matching.ring_failure_hold_s), so a
-- failing carrier is not pressed; otherwise the caller is back in their place at once.
local function unrung(rid, hold, first, cap)
  local key = RES .. rid
  local r = redis.call('HMGET', key, 'state', 'agent', 'call')
  if not r[1] then return {'unknown'} end
  if r[1] ~= 'offered' then return {'unchanged', r[1], r[2], r[3]} end
  local agent, call = r[2], r[3]
  redis.call('HSET', key, 'state', 'not-rung', 'ended_at', NOW)
  redis.call('EXPIRE', key, TTL)
  redis.call('ZREM', DUE_RES, rid)
  redis.call('HSET', AGENT .. agent, 'activity', 'idle', 'reservation', '')
  enter_pools(agent)
  local ckey = QUEUED .. call
  local held_until = 0
  local c = redis.call('HMGET', ckey, 'state', 'reservation', 'queue', 'score')
  if c[1] == 'reserved' and c[2] == rid then
    if hold then
      local failures = redis.call('HINCRBY', ckey, 'ring_failures', 1)
      held_until = NOW + math.min(first * 2 ^ math.min(failures - 1, 30), cap)
      redis.call('HSET', ckey, 'state', 'held', 'reservation', '')
      redis.call('ZADD', DUE_HELD, held_until, call)
    else
      redis.call('HSET', ckey, 'state', 'waiting', 'reservation', '')
      redis.call('ZADD', c[3], c[4], call)
    end
  end
  event('not-rung', 'call', call, 'agent', agent, 'reservation', rid,
    'held_until', held_until > 0 and string.format('%.3f', held_until) or '')
  return {'not-rung', agent, call, fmt(held_until)}
end

if OP == 'not_rung' then return (function()
  return unrung(ARGV[A], ARGV[A + 1] == '1', tonumber(ARGV[A + 2]), tonumber(ARGV[A + 3]))
end)() end

-- An accepted live call whose agent's leg ended before the agent ever joined the conference
-- (the hotline's answer to their accept key failed, and Twilio hung up on them): no miss, the
-- agent idle at the back of the idle order (so the next agent is rung first), and the caller
-- back in their old place (their original arrival) to be offered again. An agent seen in the
-- conference (`agent_joined_at`) or a callback leaves the reservation as it is.
if OP == 'unjoined' then return (function()
  local rid = ARGV[A]
  local key = RES .. rid
  local r = redis.call('HMGET', key, 'state', 'agent', 'call', 'kind', 'agent_joined_at')
  if not r[1] then return {'unknown'} end
  if r[1] ~= 'accepted' or r[4] == 'callback' or (r[5] and r[5] ~= '') then
    return {'unchanged', r[1], r[2], r[3]}
  end
  local agent, call = r[2], r[3]
  redis.call('HSET', key, 'state', 'not-joined', 'ended_at', NOW)
  redis.call('EXPIRE', key, TTL)
  local akey = AGENT .. agent
  if redis.call('HGET', akey, 'reservation') == rid then
    redis.call('HSET', akey, 'activity', 'idle', 'idle_since', NOW, 'reservation', '')
    enter_pools(agent)
  end
  local ckey = QUEUED .. call
  local c = redis.call('HMGET', ckey, 'state', 'reservation', 'queue', 'score')
  if c[1] == 'connected' and c[2] == rid then
    redis.call('HSET', ckey, 'state', 'waiting', 'outcome', '', 'reservation', '')
    redis.call('ZADD', c[3], c[4], call)
  end
  event('not-joined', 'call', call, 'agent', agent, 'reservation', rid)
  return {'not-joined', agent, call}
end)() end

if OP == 'leave' then return (function()
  local call, outcome, returning_ttl = ARGV[A], ARGV[A + 1], tonumber(ARGV[A + 2])
  local key = QUEUED .. call
  local c = redis.call('HMGET', key, 'state', 'reservation', 'queue', 'caller_key', 'kind')
  if not c[1] then return {'unknown'} end
  -- A callback keeps its place after the caller's line closes: that hang-up is expected.
  if c[5] == 'callback' and outcome == 'abandoned' then return {'callback', '', ''} end
  -- A caller already served who hangs up during a transfer has not abandoned the hotline.
  local moving = redis.call('HGET', TRANSFER .. call, 'state')
  if outcome == 'abandoned' and (moving == 'opening' or moving == 'pending') then
    outcome, returning_ttl = 'left', 0
  end
  if c[1] == 'waiting' or c[1] == 'scheduled' or c[1] == 'held' or c[1] == 'transferring' then
    redis.call('ZREM', c[3], call)
    redis.call('ZREM', DUE_CALLBACK, call)
    finish_call(call, 'ended', outcome)
    if returning_ttl > 0 and c[4] ~= '' then redis.call('SET', c[4], '1', 'EX', returning_ttl) end
    return {'left', '', '', outcome}
  end
  if c[1] == 'reserved' then
    local rid = c[2]
    local agent = redis.call('HGET', RES .. rid, 'agent')
    redis.call('HSET', RES .. rid, 'state', 'caller-gone', 'ended_at', NOW)
    redis.call('EXPIRE', RES .. rid, TTL)
    redis.call('ZREM', DUE_RES, rid)
    -- No fault of the agent: back to available, keeping their place in the idle order.
    redis.call('HSET', AGENT .. agent, 'activity', 'idle', 'reservation', '')
    enter_pools(agent)
    finish_call(call, 'ended', outcome)
    if returning_ttl > 0 and c[4] ~= '' then redis.call('SET', c[4], '1', 'EX', returning_ttl) end
    return {'left', rid, agent, outcome}
  end
  return {c[1], '', ''}
end)() end

-- An accepted callback whose agent left before the caller answered (before the dial, or while
-- the caller's phone rang): nobody talked, so it is no finished call. The offer ends, the agent
-- is free at once with no wrap-up (their line is already free), and the task is due
-- again now, with no attempt counted (the caller was never tried, or not by their fault) and
-- its place kept, so the next sweep offers it first in line.
local function agent_left(rid, agent, call)
  local key = RES .. rid
  redis.call('HSET', key, 'state', 'agent-left', 'ended_at', NOW)
  redis.call('EXPIRE', key, TTL)
  local akey = AGENT .. agent
  if redis.call('HGET', akey, 'reservation') == rid then
    redis.call('HSET', akey, 'activity', 'idle', 'reservation', '')
    enter_pools(agent)
  end
  redis.call('HSET', QUEUED .. call, 'state', 'scheduled', 'reservation', '')
  redis.call('ZADD', DUE_CALLBACK, NOW, call)
  return {'requeued', agent, call}
end

if OP == 'finish' then return (function()
  local rid, flagged = ARGV[A], ARGV[A + 1]
  local wrap, heavy_wrap = tonumber(ARGV[A + 2]), tonumber(ARGV[A + 3])
  local key = RES .. rid
  local r = redis.call('HMGET', key, 'state', 'agent', 'call', 'heavy', 'area', 'accepted_at',
    'kind')
  if not r[1] then return {'unknown'} end
  if r[1] ~= 'accepted' then return {'unchanged', r[1], r[2], r[3]} end
  local agent, call = r[2], r[3]
  local c = redis.call('HMGET', QUEUED .. call, 'state', 'reservation')
  if r[7] == 'callback' and c[1] == 'dialling' and c[2] == rid then
    return agent_left(rid, agent, call)
  end
  local heavy = flagged == '1' or r[4] == '1'
  local seconds = heavy and heavy_wrap or wrap
  redis.call('HSET', key, 'state', 'finished', 'ended_at', NOW, 'heavy', heavy and '1' or '0')
  redis.call('EXPIRE', key, TTL)
  if heavy then redis.call('ZADD', HEAVY .. agent, NOW, rid) end
  redis.call('LPUSH', HANDLE .. r[5], NOW - num(r[6], NOW))
  redis.call('LTRIM', HANDLE .. r[5], 0, KEPT - 1)
  -- A call transferred away lives on with its next reservation: only its own one ends it.
  if redis.call('HGET', QUEUED .. call, 'reservation') == rid then
    finish_call(call, 'ended', redis.call('HGET', QUEUED .. call, 'outcome') or 'connected')
  end
  redis.call('HSET', AGENT .. agent, 'reservation', '')
  wrap_up(agent, seconds)
  return {'finished', agent, call, fmt(NOW + seconds), heavy and '1' or '0'}
end)() end

if OP == 'callback_result' then return (function()
  local rid, answered = ARGV[A], ARGV[A + 1]
  local spacing, attempts_max = tonumber(ARGV[A + 2]), tonumber(ARGV[A + 3])
  local wrap = tonumber(ARGV[A + 4])
  local key = RES .. rid
  local r = redis.call('HMGET', key, 'state', 'agent', 'call')
  if not r[1] then return {'unknown'} end
  local call = r[3]
  local ckey = QUEUED .. call
  if r[1] ~= 'accepted' or redis.call('HGET', ckey, 'state') ~= 'dialling' then
    return {'unchanged', r[1], r[2], call}
  end
  if answered == '1' then
    redis.call('HSET', ckey, 'state', 'connected', 'outcome', 'connected')
    return {'connected', r[2], call}
  end
  redis.call('HSET', key, 'state', 'caller-no-answer', 'ended_at', NOW)
  redis.call('EXPIRE', key, TTL)
  -- The agent is still on the line, hearing that the caller was not reached: a ring now would
  -- find their phone busy and count a miss against them. The area's wrap-up lets them hang up
  -- and note the attempt first.
  redis.call('HSET', AGENT .. r[2], 'reservation', '')
  wrap_up(r[2], wrap)
  local attempts = redis.call('HINCRBY', ckey, 'attempts', 1)
  if attempts >= attempts_max then
    finish_call(call, 'ended', 'callback-failed')
    return {'closed', r[2], call, tostring(attempts), fmt(NOW + wrap)}
  end
  redis.call('HSET', ckey, 'state', 'scheduled', 'reservation', '')
  redis.call('ZADD', DUE_CALLBACK, NOW + spacing, call)
  return {'retry', r[2], call, tostring(attempts), fmt(NOW + wrap)}
end)() end

-- A live call already waiting becomes a callback (the caller pressed 1), keeping its place.
if OP == 'to_callback' then return (function()
  local call = ARGV[A]
  local key = QUEUED .. call
  local c = redis.call('HMGET', key, 'state', 'kind')
  -- A caller held back after a failed ring waits all the same: they may ask for a callback.
  if c[1] ~= 'waiting' and c[1] ~= 'held' then return {'not-waiting', c[1] or ''} end
  if c[2] == 'callback' then return {'unchanged'} end
  redis.call('HSET', key, 'kind', 'callback', 'callback_number', ARGV[A + 1])
  return {'callback', c[1]}
end)() end

-- A crisis-trained agent took a crisis call (rung by the caller's own <Dial>, not by a
-- reservation): they leave every pool until the call ends, so routing offers them nothing.
-- The call's legs are due a look at ARGV[A + 3], and the end is due at ARGV[A + 2] at the
-- latest, in case the crisis path never reports it.
if OP == 'crisis_engage' then return (function()
  local agent, call, stale_at = ARGV[A], ARGV[A + 1], tonumber(ARGV[A + 2])
  local key = AGENT .. agent
  local f = redis.call('HMGET', key, 'activity', 'removed')
  if not f[1] or f[2] == '1' then return {'unknown'} end
  if f[1] ~= 'idle' and f[1] ~= 'wrap_up' then return {'busy', f[1]} end
  leave_pools(agent)
  redis.call('HSET', key, 'activity', 'talking', 'crisis_call', call, 'wrap_until', stale_at)
  redis.call('ZADD', DUE_WRAP, stale_at, agent)
  redis.call('ZADD', DUE_LEGS, ARGV[A + 3], call)
  event('crisis-engaged', 'agent', agent, 'call', call)
  return {'engaged'}
end)() end

-- The crisis call ended: it counts as heavy, and the agent gets the heavy wrap-up.
if OP == 'crisis_release' then return (function()
  local agent, call, seconds = ARGV[A], ARGV[A + 1], tonumber(ARGV[A + 2])
  local key = AGENT .. agent
  local f = redis.call('HMGET', key, 'activity', 'crisis_call')
  if f[1] ~= 'talking' or f[2] ~= call then return {'unchanged', f[1] or ''} end
  redis.call('ZADD', HEAVY .. agent, NOW, 'crisis:' .. call)
  redis.call('ZREM', DUE_LEGS, call)
  redis.call('HSET', key, 'crisis_call', '')
  event('crisis-released', 'agent', agent, 'call', call, 'wrap_s', seconds)
  wrap_up(agent, seconds)
  return {'released', fmt(NOW + seconds)}
end)() end

-- Transfers of a live call (queues/transfers.py, policy in routing/transfers.py). A transfer
-- opens in two steps around the carrier's part (holding the caller, or moving them to the new
-- area's waiting room): 'transfer_start' marks the call as transferring (no match can see it),
-- then 'transfer_open' puts it in the new area's queue with its old score (original arrival,
-- ahead of everyone who called later), or offers it to one named agent; 'transfer_cancel'
-- undoes a start the carrier refused, so the caller stays with the first agent.
if OP == 'transfer_start' then return (function()
  local rid, tid, mode, area, target = ARGV[A], ARGV[A + 1], ARGV[A + 2], ARGV[A + 3], ARGV[A + 4]
  local queue, leg = ARGV[A + 5], ARGV[A + 6]
  local r = redis.call('HMGET', RES .. rid, 'state', 'agent', 'call', 'area', 'kind')
  if not r[1] then return {'unknown'} end
  if r[1] ~= 'accepted' then return {'not-talking', r[1]} end
  if r[5] == 'callback' then return {'callback'} end
  local call = r[3]
  local ckey = QUEUED .. call
  local c = redis.call('HMGET', ckey, 'state', 'reservation', 'queue')
  if c[1] ~= 'connected' or c[2] ~= rid then return {'not-talking', c[1] or ''} end
  local tkey = TRANSFER .. call
  local was = redis.call('HGET', tkey, 'state')
  if was == 'opening' or was == 'pending' then return {'pending'} end
  if target ~= '' then
    local f = redis.call('HMGET', AGENT .. target, 'in_pools', 'removed')
    if not f[1] or f[1] == '' or f[2] == '1' then return {'agent-busy'} end
  end
  redis.call('DEL', tkey)
  redis.call('HSET', tkey, 'id', tid, 'state', 'opening', 'mode', mode, 'from_reservation', rid,
    'from_agent', r[2], 'from_area', r[4], 'from_queue', c[3], 'from_leg', leg, 'area', area,
    'queue', queue, 'target_agent', target, 'started_at', NOW)
  redis.call('EXPIRE', tkey, TTL)
  redis.call('HSET', ckey, 'state', 'transferring')
  return {'opening', r[2], call}
end)() end

if OP == 'transfer_cancel' then return (function()
  local call, tid = ARGV[A], ARGV[A + 1]
  local tkey = TRANSFER .. call
  local t = redis.call('HMGET', tkey, 'id', 'state')
  if t[1] ~= tid or t[2] ~= 'opening' then return {'unchanged', t[2] or ''} end
  redis.call('HSET', tkey, 'state', 'cancelled', 'ended_at', NOW)
  if redis.call('HGET', QUEUED .. call, 'state') == 'transferring' then
    redis.call('HSET', QUEUED .. call, 'state', 'connected')
  end
  return {'cancelled'}
end)() end

-- ARGV: call, transfer id, then for a named agent the new reservation's id and expiry.
if OP == 'transfer_open' then return (function()
  local call, tid, rid, expires = ARGV[A], ARGV[A + 1], ARGV[A + 2], ARGV[A + 3]
  local tkey = TRANSFER .. call
  local t = redis.call('HMGET', tkey, 'id', 'state', 'area', 'queue', 'target_agent', 'mode',
    'from_reservation', 'from_agent')
  if t[1] ~= tid or t[2] ~= 'opening' then return {'unchanged', t[2] or ''} end
  local ckey = QUEUED .. call
  if redis.call('HGET', ckey, 'state') ~= 'transferring' then
    -- The caller hung up while the carrier moved them: nothing to open.
    redis.call('HSET', tkey, 'state', 'cancelled', 'ended_at', NOW)
    return {'gone'}
  end
  local target = t[5]
  if target ~= '' then
    local f = redis.call('HMGET', AGENT .. target, 'in_pools')
    if not f[1] or f[1] == '' then
      -- Taken in the moment the carrier moved the caller. Warm: undone, the caller back with
      -- the first agent. Cold: the caller is already in the area's waiting room: they wait
      -- there like any caller rather than be sent back to an agent who has gone.
      if t[6] == 'warm' then return {'agent-busy'} end
      target = ''
    end
  end
  redis.call('HSET', tkey, 'state', 'pending', 'opened_at', NOW)
  local score = redis.call('HGET', ckey, 'score')
  if target == '' then
    redis.call('HSET', ckey, 'area', t[3], 'queue', t[4], 'state', 'waiting', 'reservation', '')
    redis.call('ZADD', t[4], score, call)
    event('transfer-start', 'call', call, 'agent', t[8], 'area', t[3], 'mode', t[6],
      'reservation', t[7])
    return {'pending'}
  end
  -- One named agent only: the call waits where no match looks, and its area is blank so no
  -- match of the caller's own (on a waiting-room poll) can offer it to anyone else.
  redis.call('HSET', ckey, 'area', '', 'queue', PARKED, 'state', 'waiting', 'reservation', '')
  redis.call('ZADD', PARKED, score, call)
  event('transfer-start', 'call', call, 'agent', t[8], 'area', t[3], 'mode', t[6],
    'reservation', t[7], 'to_agent', target)
  local matched = claim(target, call, rid, expires, '0')
  redis.call('HSET', RES .. rid, 'area', t[3])
  matched[5] = t[3]
  return matched
end)() end

-- The next agent accepted the transferred call (ARGV: call, their reservation).
if OP == 'transfer_done' then return (function()
  local call, rid = ARGV[A], ARGV[A + 1]
  local tkey = TRANSFER .. call
  local t = redis.call('HMGET', tkey, 'state', 'mode', 'from_reservation', 'from_agent', 'area')
  if t[1] ~= 'pending' then return {'unchanged', t[1] or ''} end
  local c = redis.call('HMGET', QUEUED .. call, 'reservation', 'state')
  if c[1] ~= rid or c[2] ~= 'connected' then return {'unchanged', c[2] or ''} end
  local agent = redis.call('HGET', RES .. rid, 'agent')
  redis.call('HSET', tkey, 'state', 'done', 'to_reservation', rid, 'to_agent', agent,
    'ended_at', NOW)
  event('transfer-done', 'call', call, 'agent', agent, 'from_agent', t[4], 'area', t[5],
    'mode', t[2], 'reservation', rid)
  return {'done', t[2], t[3], t[4]}
end)() end

-- Nobody took the transfer in time. Warm, with the first agent still on: the call is theirs
-- again. Otherwise it stays in the new area's waiting room like any caller. A call being
-- offered right now is looked at again later (ARGV: call, transfer id).
if OP == 'transfer_back' then return (function()
  local call, tid = ARGV[A], ARGV[A + 1]
  local tkey = TRANSFER .. call
  local t = redis.call('HMGET', tkey, 'id', 'state', 'mode', 'from_reservation', 'from_agent',
    'from_area', 'from_queue', 'area', 'queue', 'target_agent')
  if t[1] ~= tid or t[2] ~= 'pending' then return {'unchanged', t[2] or ''} end
  local ckey = QUEUED .. call
  local c = redis.call('HMGET', ckey, 'state', 'queue', 'score')
  if c[1] == 'reserved' then return {'ringing'} end
  if c[1] ~= 'waiting' then return {'unchanged', c[1] or ''} end
  local first_on = redis.call('HGET', RES .. t[4], 'state') == 'accepted'
  redis.call('ZREM', c[2], call)
  if t[3] == 'warm' and first_on then
    redis.call('HSET', ckey, 'area', t[6], 'queue', t[7], 'state', 'connected',
      'reservation', t[4], 'outcome', 'connected')
    redis.call('HSET', tkey, 'state', 'back', 'ended_at', NOW)
    event('transfer-back', 'call', call, 'agent', t[5], 'area', t[8], 'mode', t[3],
      'reservation', t[4])
    return {'back', t[3], t[4], t[5]}
  end
  -- Left in the new area's waiting room, a named agent's call among that area's callers.
  redis.call('HSET', ckey, 'area', t[8], 'queue', t[9], 'state', 'waiting')
  redis.call('ZADD', t[9], c[3], call)
  redis.call('HSET', tkey, 'state', 'expired', 'ended_at', NOW)
  event('transfer-back', 'call', call, 'agent', t[5], 'area', t[8], 'mode', t[3],
    'reservation', t[4], 'to', 'waiting-room')
  return {'expired', t[3], t[4], t[5]}
end)() end

-- Timers that came due: reservations ring out, wrap-ups and cool-downs end, caps lift,
-- callbacks rejoin their queue, waiting calls widen. Returns what happened, flat.
if OP == 'tick' then return (function()
  local limit = tonumber(ARGV[A])
  local cool_down, pause_after = tonumber(ARGV[A + 1]), tonumber(ARGV[A + 2])
  local out = {}
  local function due(key)
    local found = redis.call('ZRANGEBYSCORE', key, '-inf', NOW, 'LIMIT', 0, limit)
    for _, member in ipairs(found) do redis.call('ZREM', key, member) end
    return found
  end
  for _, rid in ipairs(due(DUE_RES)) do
    if redis.call('HEXISTS', RES .. rid, 'rung_at') == 1 then
      local result = miss(rid, 'timeout', cool_down, pause_after)
      if result[1] == 'timeout' then
        for _, item in ipairs({'timeout', rid, result[2], result[3], result[4], result[5]}) do
          out[#out + 1] = item
        end
      end
    else
      -- The agent's phone never rang (the ring job never ran, or ran too late): no miss.
      local result = unrung(rid, false, 0, 0)
      if result[1] == 'not-rung' then
        for _, item in ipairs({'not-rung', rid, result[2], result[3]}) do
          out[#out + 1] = item
        end
      end
    end
  end
  for _, agent in ipairs(due(DUE_WRAP)) do
    local f = redis.call('HMGET', AGENT .. agent, 'activity', 'wrap_until', 'crisis_call')
    -- A crisis call whose end was never reported frees its agent once it is long past.
    local stale = f[1] == 'talking' and f[3] and f[3] ~= ''
    if (f[1] == 'wrap_up' or stale) and num(f[2], 0) <= NOW then
      if stale then redis.call('ZREM', DUE_LEGS, f[3]) end
      redis.call('HSET', AGENT .. agent, 'activity', 'idle', 'idle_since', NOW, 'crisis_call', '')
      out[#out + 1] = 'wrap-up-end'
      out[#out + 1] = agent
      out[#out + 1] = enter_pools(agent) and '1' or '0'
    end
  end
  for _, agent in ipairs(due(DUE_COOL)) do
    if enter_pools(agent) then
      out[#out + 1] = 'free'
      out[#out + 1] = agent
    end
  end
  for _, agent in ipairs(due(DUE_CAP)) do
    if leave_pools(agent) then enter_pools(agent) end
    out[#out + 1] = 'cap-release'
    out[#out + 1] = agent
  end
  for _, call in ipairs(due(DUE_CALLBACK)) do
    local c = redis.call('HMGET', QUEUED .. call, 'state', 'queue', 'score')
    if c[1] == 'scheduled' then
      redis.call('HSET', QUEUED .. call, 'state', 'waiting')
      redis.call('ZADD', c[2], c[3], call)
      out[#out + 1] = 'callback-due'
      out[#out + 1] = call
    end
  end
  for _, call in ipairs(due(DUE_HELD)) do
    local c = redis.call('HMGET', QUEUED .. call, 'state', 'queue', 'score')
    if c[1] == 'held' then
      redis.call('HSET', QUEUED .. call, 'state', 'waiting')
      redis.call('ZADD', c[2], c[3], call)
      out[#out + 1] = 'held-due'
      out[#out + 1] = call
    end
  end
  for _, call in ipairs(due(DUE_WIDEN)) do
    if redis.call('HGET', QUEUED .. call, 'state') == 'waiting' then
      out[#out + 1] = 'widen'
      out[#out + 1] = call
    end
  end
  return out
end)() end

return redis.error_reply('unknown routing operation ' .. tostring(OP))
