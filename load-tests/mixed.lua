-- The mixed scenario: replays the request list written by `mixed.py prepare`, a random line per
-- request, with that line's developer key (X-API-Key) or none for anonymous callers, and counts
-- the answers by status so the report can tell 429s (expected: a tight anonymous tier) from
-- other errors (expected: none).
--
--   wrk -s load-tests/mixed.lua http://HOST:PORT/ -- FILE      (or MIXED_FILE in the environment)
--
-- Prints one line at the end: "mixed status: 2xx=N 3xx=N 429=N 4xx=N 5xx=N".

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

function init(args)
  local path = args[1] or os.getenv("MIXED_FILE")
  local f = assert(io.open(path or "", "r"), "mixed.lua: pass the request list: -- FILE")
  local keys, host = {}, wrk.headers["Host"]
  reqs = {}
  for line in f:lines() do
    local kind, a, b, c = line:match("^(%a+)\t([^\t]*)\t?([^\t]*)\t?(.*)$")
    if kind == "key" then
      table.insert(keys, a)
    elseif kind == "req" then
      local headers = { Host = host, Accept = "application/json" }
      if a ~= "-" then
        headers["X-API-Key"] = assert(keys[tonumber(a) + 1], "mixed.lua: unknown key index " .. a)
      end
      -- pre-formatted once: request() only picks one
      table.insert(reqs, wrk.format("GET", c, headers))
    end
  end
  f:close()
  assert(#reqs > 0, "mixed.lua: no requests in " .. path)
  math.randomseed(os.time() * 1009 + (thread_id or 0) * 7919)
  for _ = 1, 10 do
    math.random()
  end
  s2xx, s3xx, s429, s4xx, s5xx = 0, 0, 0, 0, 0
end

function request()
  return reqs[math.random(#reqs)]
end

function response(status, headers, body)
  if status == 429 then
    s429 = s429 + 1
  elseif status >= 500 then
    s5xx = s5xx + 1
  elseif status >= 400 then
    s4xx = s4xx + 1
  elseif status >= 300 then
    s3xx = s3xx + 1
  else
    s2xx = s2xx + 1
  end
end

function done(summary, latency, requests)
  local t = { s2xx = 0, s3xx = 0, s429 = 0, s4xx = 0, s5xx = 0 }
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do
      t[k] = t[k] + (thread:get(k) or 0)
    end
  end
  io.write(string.format("mixed status: 2xx=%d 3xx=%d 429=%d 4xx=%d 5xx=%d\n",
    t.s2xx, t.s3xx, t.s429, t.s4xx, t.s5xx))
end
