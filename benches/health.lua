-- wrk script: GET /health, the transport baseline (run from the repository root).
dofile("benches/report.lua")
