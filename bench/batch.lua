-- Webhooks of 20 new alerts each (one group, 20 label sets never seen before).
local counter = 0
local thread_id = 0
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
  local items = {}
  for i = 1, 20 do
    items[i] = string.format(
      '{"status":"firing","labels":{"alertname":"Batch%s-%d","instance":"i%d","severity":"warning"},' ..
      '"annotations":{"summary":"bench"},"startsAt":"2026-11-26T10:00:00.123Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"%08x%08x"}',
      prefix, counter, i, high, counter * 32 + i)
  end
  local body = string.format(
    '{"version":"4","receiver":"bench","status":"firing","groupKey":"{}:{alertname=\\"Batch%s-%d\\"}",' ..
    '"groupLabels":{"alertname":"Batch%s-%d"},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am",' ..
    '"truncatedAlerts":0,"alerts":[%s]}', prefix, counter, prefix, counter, table.concat(items, ","))
  return wrk.format("POST", "/alerts", {["Content-Type"] = "application/json"}, body)
end
