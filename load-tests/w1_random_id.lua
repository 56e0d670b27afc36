-- W1: one record by id, a uniform random id in 1..N per request, so that no single cache entry
-- answers the whole run.
--
--   wrk -s load-tests/w1_random_id.lua http://HOST/…/versions/1/records/ -- N [SUFFIX]
--
-- The URL's path is the prefix; the id (and SUFFIX, e.g. ".json" for Datasette) is appended.
-- N and SUFFIX may also come from the environment as W1_N and W1_SUFFIX; N defaults to 1000000.

local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_id", thread_count)
end

function init(args)
  n = tonumber(args[1]) or tonumber(os.getenv("W1_N") or "") or 1000000
  suffix = args[2] or os.getenv("W1_SUFFIX") or ""
  prefix = wrk.path
  if prefix:sub(-1) ~= "/" then
    prefix = prefix .. "/"
  end
  -- each wrk thread has its own Lua state: seed each differently
  math.randomseed(os.time() * 1009 + (thread_id or 0) * 7919)
  for _ = 1, 10 do
    math.random()
  end
end

function request()
  return wrk.format("GET", prefix .. math.random(1, n) .. suffix)
end
