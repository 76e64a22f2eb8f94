-- The dedup path Alertmanager exercises most: the same 50 group snapshots, re-sent.
local bodies = {}
for g = 1, 50 do
  bodies[g] = string.format(
    '{"version":"4","receiver":"bench","status":"firing","groupKey":"{}:{alertname=\\"Repeat%d\\"}",' ..
    '"groupLabels":{"alertname":"Repeat%d"},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am",' ..
    '"truncatedAlerts":0,"alerts":[{"status":"firing","labels":{"alertname":"Repeat%d","instance":"i%d","severity":"warning"},' ..
    '"annotations":{"summary":"bench"},"startsAt":"2026-11-26T10:00:00.123Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"%016x"}]}',
    g, g, g, g, g)
end
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/alerts", {["Content-Type"] = "application/json"}, bodies[(n % 50) + 1])
end
