-- The realistic mix (bench/mix.py writes it): one webhook body per line of the file given
-- after `--`, thread i of N sending lines i, i + N, i + 2N, ... in order. Every body is
-- sent once; a thread that runs out starts its lines again and says so at the end (the
-- run then repeats old snapshots, which bench/run.py takes for an error), unless a third
-- argument "again" allows it (the bare handler, which reads no body, answers 15,000 a
-- second).
local threads = {}
local bodies = {}
local n = 0
wrapped = 0 -- a global: done() reads it through thread:get

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local path, count = args[1], tonumber(args[2])
  again = args[3] == "again"

  local i = 0
  for line in io.lines(path) do
    if i % count == id then
      bodies[#bodies + 1] = line
    end
    i = i + 1
  end
end

local headers = { ["Content-Type"] = "application/json" }

request = function()
  n = n + 1
  if n > #bodies then
    n = 1
    wrapped = wrapped + 1
  end
  return wrk.format("POST", "/alerts", headers, bodies[n])
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    if not thread:get("again") then
      total = total + thread:get("wrapped")
    end
  end
  io.write(string.format("mix wrapped: %d\n", total))
end
