-- wrk script: GET /health, the transport baseline.
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.1f %.1f %d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
