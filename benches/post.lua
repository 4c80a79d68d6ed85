-- wrk script: POST the GraphQL body in the file named by the BODY env var
-- (run from the repository root).
local f = assert(io.open(os.getenv("BODY"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
-- ACCEPT_ENCODING=gzip: ask for compressed answers, as browsers and most clients do.
local encoding = os.getenv("ACCEPT_ENCODING")
if encoding and encoding ~= "" then
  wrk.headers["Accept-Encoding"] = encoding
end

dofile("benches/report.lua")
