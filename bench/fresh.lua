-- Every request carries one new alert: a label set never seen before. Like Alertmanager,
-- the payload carries the fingerprint (unique here, not the real hash of the labels).
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
end

function init(args)
  math.randomseed(os.time() + id * 7919)
  high = math.random(0, 2147483647)
  prefix = string.format("%d-%d", id, high)
end

request = function()
  counter = counter + 1
  local body = string.format(
    '{"version":"4","receiver":"bench","status":"firing","groupKey":"{}:{alertname=\\"Fresh%s-%d\\"}",' ..
    '"groupLabels":{"alertname":"Fresh%s-%d"},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am",' ..
    '"truncatedAlerts":0,"alerts":[{"status":"firing","labels":{"alertname":"Fresh%s-%d","instance":"i%d","severity":"warning"},' ..
    '"annotations":{"summary":"bench"},"startsAt":"2026-11-26T10:00:00.123Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"%08x%08x"}]}',
    prefix, counter, prefix, counter, prefix, counter, counter, high, counter)
  return wrk.format("POST", "/alerts", {["Content-Type"] = "application/json"}, body)
end
