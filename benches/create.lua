-- wrk script: createActor with the write token in the TOKEN env var, a new
-- actor per request (ids `actor/bench-PREFIX-N`), run from the repository root.
local token = assert(os.getenv("TOKEN"), "TOKEN is the write token")
local prefix = os.getenv("PREFIX") or "w"
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

request = function()
  n = n + 1
  local body = string.format(
    '{"query":"mutation($input: CreateActorInput!) { createActor(input: $input) { actor { id } } }",' ..
    '"variables":{"input":{"id":"actor/bench-%s-%d","name":"Bench %s %d","kind":"GROUP"}}}',
    prefix, n, prefix, n)
  return wrk.format(nil, nil, nil, body)
end

dofile("benches/report.lua")
