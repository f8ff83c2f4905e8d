-- One route of the soak's mixed traffic (bench/soak.py), paced to a fixed rate.
--
-- wrk runs this script once per route, with as many threads as there are API processes:
-- setup() points thread i at API i (thread.addr), so each route's latency histogram covers
-- both APIs. The route and its data come from the environment: FLINT_SOAK_ROUTE names the
-- route, FLINT_SOAK_DATA a Lua file bench/_soak_traffic.py wrote (users, rates, paths).
--
-- Pacing: stock wrk has no fixed-rate mode (wrk2 has, and is not in Debian), so delay() gives
-- each request a slot on a per-thread schedule (one every 1000 / rate ms, on the monotonic
-- clock through LuaJIT's FFI) and holds the connection until its slot (wrk asks delay() before
-- every request of a script that has one, a connection's first too). A slot already past is
-- sent at once: a server that fell behind gets the backlog as fast as the connections allow,
-- as arrivals at a fixed rate would. The latency wrk
-- records runs from writing a request to its answer (time waiting for a slot excluded; a
-- request sent late after a stall is timed from when it was sent, so a stall shows in the
-- achieved rate more than in the percentiles).
--
-- done() prints wrk's latency percentiles and socket errors and each thread's count of answers
-- by status, as "SOAK ..." lines; each thread also writes to <dir>/<route>.<thread> the first
-- few answers that were not expected ("unexpected <status> <body start>") and, for trades,
-- every accepted one ("accepted <tradeId> <status>").

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } flint_soak_timespec;
int clock_gettime(int clock_id, flint_soak_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local clock = ffi.new("flint_soak_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local data = dofile(os.getenv("FLINT_SOAK_DATA"))
local route = os.getenv("FLINT_SOAK_ROUTE")
local spec = data.routes[route]
local MAX_SAMPLES = 5

-- The main state: one thread per API.
local threads = {}

function setup(thread)
  local index = #threads + 1
  local api = data.apis[(index - 1) % #data.apis + 1]
  thread.addr = wrk.lookup(api.host, api.port)[1]
  thread:set("thread_index", index)
  thread:set("thread_host", api.host .. ":" .. api.port)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("SOAK requests %d\n", summary.requests))
  io.write(string.format("SOAK duration_us %d\n", summary.duration))
  io.write(string.format("SOAK p50_us %d\n", latency:percentile(50)))
  io.write(string.format("SOAK p99_us %d\n", latency:percentile(99)))
  io.write(string.format("SOAK max_us %d\n", latency.max))
  io.write(string.format("SOAK socket_errors %d %d %d %d\n", e.connect, e.read, e.write, e.timeout))
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      io.write(string.format("SOAK status %d %d\n", status, count))
    end
  end
end

-- Each thread's state.
local sequence = 0
local next_at = 0
local interval = 0
statuses = {} -- a global: done() reads it with thread:get
local samples = 0
local log

local function user_for(n)
  return data.users[(n + thread_index) % #data.users + 1]
end

local function unique(n)
  -- Unique over the run: each phase has its own seed, each thread its own residue.
  return data.seed + n * #data.apis + thread_index
end

local function json_headers(user)
  local headers = { Host = thread_host, ["Content-Type"] = "application/json" }
  if user then
    headers["Authorization"] = "Bearer " .. user.token
  end
  return headers
end

local builders = {}

function builders.quote(n)
  local user = user_for(n)
  local symbol = data.quote_symbols[n % #data.quote_symbols + 1]
  return wrk.format("GET", "/api/v1/market/real-time/" .. symbol, json_headers(user))
end

function builders.portfolios(n)
  return wrk.format("GET", "/api/v1/portfolio/", json_headers(user_for(n)))
end

function builders.account(n)
  local user = user_for(n)
  return wrk.format("GET", "/api/v1/accounts/" .. user.account, json_headers(user))
end

function builders.trades(n)
  return wrk.format("GET", "/api/v1/trades?limit=20", json_headers(user_for(n)))
end

function builders.login(n)
  local user = user_for(n)
  local body = string.format('{"email":"%s","password":"%s"}', user.email, data.password)
  return wrk.format("POST", "/api/v1/auth/login", json_headers(nil), body)
end

function builders.trade(n)
  local user = user_for(n)
  -- Each user buys in one round over the users and sells in the next.
  local round = math.floor(n / #data.users)
  local asset, action, quantity
  if round % 2 == 0 then
    local buy = data.buys[math.floor(round / 2) % #data.buys + 1]
    asset, action, quantity = buy.symbol, "buy", buy.quantity
  else
    asset, action, quantity = user.sell, "sell", user.sell_quantity
  end
  local body = string.format(
    '{"accountId":"%s","asset":"%s","action":"%s","quantity":"%s"}',
    user.account, asset, action, quantity
  )
  return wrk.format("POST", "/api/v1/trades/execute", json_headers(user), body)
end

function builders.import(n)
  -- Two new rows each time: a deposit and a buy whose amount and quantity no earlier file had.
  local user = user_for(n)
  local k = unique(n)
  local body = string.format(
    "date,symbol,type,quantity,price,fee,amount\n%s,,deposit,,,,%d.%02d\n%s,%s,buy,1.%08d,%s,0,\n",
    data.import_date, 1000 + math.floor(k / 100), k % 100,
    data.import_date, data.import_symbol, k, data.import_price
  )
  local headers = json_headers(user)
  headers["Content-Type"] = "text/csv"
  return wrk.format("POST", "/api/v1/portfolio/" .. user.portfolio .. "/import", headers, body)
end

local build = builders[route]

function init(args)
  interval = 1000 / spec.rate
  next_at = now_ms() - interval -- the first slot is now
  log = io.open(string.format("%s/%s.%d", data.dir, route, thread_index), "w")
end

function delay()
  next_at = next_at + interval
  local wait = next_at - now_ms()
  if wait < 0 then
    return 0
  end
  return wait
end

function request()
  sequence = sequence + 1
  return build(sequence)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if not spec.expected[status] then
    if samples < MAX_SAMPLES then
      samples = samples + 1
      local start = body:sub(1, 300):gsub("%s", " ")
      log:write(string.format("unexpected %d %s\n", status, start))
      log:flush()
    end
  elseif route == "trade" then
    local id = body:match('"tradeId"%s*:%s*"([%x%-]+)"')
    local state = body:match('"status"%s*:%s*"([%a_]+)"')
    log:write(string.format("accepted %s %s\n", id or "?", state or "?"))
    log:flush()
  end
end
