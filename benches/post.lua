-- wrk script: POST the GraphQL body in the file named by the BODY env var
-- (run from the repository root).
local f = assert(io.open(os.getenv("BODY"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"

dofile("benches/report.lua")
