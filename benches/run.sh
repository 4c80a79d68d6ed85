#!/usr/bin/env bash
# The load benchmark: one command, figures in benches/RESULTS.md.
#
#   bash benches/run.sh            # everything (about 10 minutes on 2 cores)
#   SCALE=0 bash benches/run.sh    # skip the 1M-entity scale run
#   DURATION=5s bash benches/run.sh
#
# Builds release, starts the server on a fresh data directory pinned to core
# 0 (taskset), drives it with wrk from core 1 at 32 and 64 connections, and
# reports per query: req/s, p50/p99 latency, server RSS, and the ratio to the
# transport baseline (the same server's GET /health) measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
SCALE=${SCALE:-1}
SCALE_ENTITIES=${SCALE_ENTITIES:-1000000}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

for tool in wrk bc; do
  if ! command -v "$tool" >/dev/null; then
    echo "installing $tool" >&2
    (apt-get install -y "$tool" || (apt-get update && apt-get install -y "$tool")) >/dev/null
  fi
done
[ -x /usr/bin/time ] || (apt-get install -y time || (apt-get update && apt-get install -y time)) >/dev/null
cargo build --release --quiet
bin=./target/release/diplograph
work=$(mktemp -d)
results="$work/results.tsv"
: >"$results"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# start_server NAME [ENV=VALUE...]: starts a server on core $SERVER_CPU and sets $address.
start_server() {
  local name=$1; shift
  mkdir -p "$work/$name"
  env "$@" DIPLOGRAPH_WORKERS=1 DIPLOGRAPH_DATA_DIR="$work/$name/data" DIPLOGRAPH_BIND=127.0.0.1:0 RUST_LOG=warn,diplograph::startup=info \
    taskset -c "$SERVER_CPU" "$bin" serve >"$work/$name/server.log" 2>&1 &
  server_pid=$!
  address=""
  for _ in $(seq 1 600); do
    address=$(grep -o 'listening; open http://[0-9.:]*' "$work/$name/server.log" | head -n1 | sed 's/.*http:\/\///' || true)
    [ -n "$address" ] && break
    sleep 0.2
  done
  [ -n "$address" ] || { cat "$work/$name/server.log"; exit 1; }
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

rss_mb() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$server_pid/status"; }
peak_mb() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$server_pid/status"; }

# measure SETUP QUERY CONNECTIONS: one wrk run; appends a row to $results.
# QUERY+gzip sends the query with `Accept-Encoding: gzip`.
measure() {
  local setup=$1 query=$2 conns=$3 out encoding=""
  if [ "${query%+gzip}" != "$query" ]; then encoding=gzip; fi
  if [ "$query" = health ]; then
    out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$conns" -d"$DURATION" --latency -s benches/health.lua "http://$address/health")
  else
    out=$(ACCEPT_ENCODING="$encoding" BODY="benches/queries/${query%+gzip}.json" taskset -c "$CLIENT_CPU" wrk -t1 -c"$conns" -d"$DURATION" --latency -s benches/post.lua "http://$address/graphql")
  fi
  local line; line=$(echo "$out" | grep '^RESULT')
  # RESULT requests duration_us p50_us p99_us errors
  echo "$setup	$query	$conns	$line	$(rss_mb)" >>"$results"
  echo "$setup $query c=$conns: $line rss=$(rss_mb)MB" >&2
}

# Sanity: every query answers without errors before it is measured.
check_queries() {
  for q in "${1:-benches/queries}"/*.json; do
    local body; body=$(curl -s -H 'content-type: application/json' --data @"$q" "http://$address/graphql")
    if echo "$body" | grep -q '"errors"'; then echo "query $q failed: $body" >&2; exit 1; fi
  done
}

queries="lookup nested apollo deep5 search timeline filtered groupby paths nested+gzip"

echo "== article seed, response cache off" >&2
start_server cache-off DIPLOGRAPH_RESPONSE_CACHE=false
check_queries
for c in 32 64; do
  measure cache-off health $c
  for q in $queries; do measure cache-off "$q" $c; done
done
rss_article=$(rss_mb); peak_article=$(peak_mb)
stop_server

# The same without compiled plans: async-graphql executes every request.
echo "== article seed, response cache off, compiled plans off" >&2
start_server plans-off DIPLOGRAPH_RESPONSE_CACHE=false DIPLOGRAPH_COMPILED_PLANS=false
for c in 32 64; do
  measure plans-off health $c
  for q in lookup nested apollo deep5; do measure plans-off "$q" $c; done
done
stop_server

echo "== article seed, response cache on" >&2
start_server cache-on DIPLOGRAPH_RESPONSE_CACHE=true
for c in 32 64; do
  measure cache-on health $c
  for q in lookup nested nested+gzip; do measure cache-on "$q" $c; done
done
stop_server

# Writes: createActor with a write token, at 1 and 16 connections. An
# acknowledged write is durable (its group's log record is synced), so the
# figure is acknowledged creates per second: the actor count's growth over
# the run (a refused write would not count), not wrk's request count.
echo "== writes: createActor with a token, response cache off" >&2
token=bench-write-token-0123456789abcdef
actor_count() {
  curl -s -H 'content-type: application/json' --data '{"query":"{ actors { totalCount } }"}' "http://$address/graphql" |
    grep -o '"totalCount":[0-9]*' | cut -d: -f2
}
start_server writes DIPLOGRAPH_RESPONSE_CACHE=false DIPLOGRAPH_WRITE_TOKENS="$token"
# The seed loads in the background: wait until the server is ready.
for _ in $(seq 1 300); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$address/ready")" = 200 ] && break
  sleep 0.2
done
for c in 1 16; do
  before=$(actor_count)
  out=$(TOKEN="$token" PREFIX="c$c" taskset -c "$CLIENT_CPU" wrk -t1 -c"$c" -d"$DURATION" --latency -s benches/create.lua "http://$address/graphql")
  line=$(echo "$out" | grep '^RESULT')
  created=$(( $(actor_count) - before ))
  echo "writes	createActor	$c	$line	$(rss_mb)	$created" >>"$results"
  echo "writes createActor c=$c: $line acknowledged=$created rss=$(rss_mb)MB" >&2
done
stop_server

scale_rows=""
if [ "$SCALE" = 1 ]; then
  echo "== scale: 10k vs ${SCALE_ENTITIES} generated entities, response cache off" >&2
  for n in 10000 "$SCALE_ENTITIES"; do
    "$bin" generate --entities "$n" --out "$work/gen-$n" >/dev/null
    start=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$work/load-$n.mem" "$bin" seed --data-dir "$work/scale-$n/data" --seed-dir "$work/gen-$n" >/dev/null
    end=$(date +%s.%N)
    load_s=$(echo "$end - $start" | bc -l)
    load_mem=$(awk '{ printf "%.1f", $1 / 1024 }' "$work/load-$n.mem")
    disk=$(du -sm "$work/scale-$n/data" | cut -f1)
    cp -r "$work/scale-$n" "$work/srv-$n"
    mkdir -p "$work/q-$n"
    printf '{"query":"{ actor(id: \\"actor/g%d\\") { id name kind aliases summary } }"}' $((n / 50)) >"$work/q-$n/lookup.json"
    printf '{"query":"{ events(first: 20, filter: { kind: VISIT, from: \\"2005\\", to: \\"2006\\" }) { nodes { id title date } } }"}' >"$work/q-$n/filtered.json"
    # The same page with its total count, which reads every matching index entry.
    printf '{"query":"{ events(first: 20, filter: { kind: VISIT, from: \\"2005\\", to: \\"2006\\" }) { totalCount nodes { id title date } } }"}' >"$work/q-$n/filteredcount.json"
    printf '{"query":"{ actor(id: \\"actor/g%d\\") { name events(first: 10) { nodes { title participants { actor { name } } } } } }"}' $((n / 100)) >"$work/q-$n/nested3.json"
    printf '{"query":"{ search(query: \\"kalo\\", first: 10) { score node { id } } }"}' >"$work/q-$n/search.json"
    # Group-by (issue 17): events of one kind over two years by year and month; a year's
    # funding by currency with its sums; an actor's co-participants.
    printf '{"query":"{ eventStats(filter: { kind: VISIT, from: \\"2005\\", to: \\"2006\\" }, groupBy: [YEAR, MONTH]) { key { year month } count } }"}' >"$work/q-$n/groupby.json"
    printf '{"query":"{ fundingStats(filter: { from: \\"2005\\", to: \\"2005\\" }, groupBy: [YEAR, CURRENCY]) { key { year currency } count totalAmount { amount currency } } }"}' >"$work/q-$n/groupfunding.json"
    printf '{"query":"{ actor(id: \\"actor/g%d\\") { coParticipants(first: 10) { actor { id } count } } }"}' $((n / 100)) >"$work/q-$n/coparticipants.json"
    # Two words: every match of both is ranked (no shortcut).
    printf '{"query":"{ search(query: \\"kalo vira\\", first: 10) { score node { id } } }"}' >"$work/q-$n/search2.json"
    # Typed event links (issue 17): a page of events with what each answers and what answers it.
    printf '{"query":"{ events(first: 20) { nodes { id responds { kind event { id title } } respondedBy { kind event { id title } } } } }"}' >"$work/q-$n/responses.json"
    start_server "srv-$n" DIPLOGRAPH_RESPONSE_CACHE=false DIPLOGRAPH_SEED_DIR="$work/gen-$n"
    # Paths of 2, 3 and 4 steps: from one actor to the first actors (g1, g2, ...) whose
    # shortest path from it has that many steps, as the server finds them.
    for _ in $(seq 1 300); do
      [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$address/ready")" = 200 ] && break
      sleep 0.2
    done
    for i in $(seq 1 400); do
      body='{"query":"{ paths(from: \"actor/g'$((n / 50))'\", to: \"actor/g'$i'\", first: 5) { complete expanded paths { hops nodes { id } steps { kind phrase } } } }"}'
      hops=$(curl -s -H 'content-type: application/json' --data "$body" "http://$address/graphql" | grep -o '"hops":[0-9]*' | head -n1 | cut -d: -f2 || true)
      if [ -n "$hops" ] && [ "$hops" -ge 2 ] && [ "$hops" -le 4 ] && [ ! -e "$work/q-$n/paths$hops.json" ]; then
        echo "$body" >"$work/q-$n/paths$hops.json"
      fi
      [ -e "$work/q-$n/paths2.json" ] && [ -e "$work/q-$n/paths3.json" ] && [ -e "$work/q-$n/paths4.json" ] && break
    done
    check_queries "$work/q-$n"
    for q in lookup filtered filteredcount nested3 search search2 groupby groupfunding coparticipants responses paths2 paths3 paths4; do
      [ -e "$work/q-$n/$q.json" ] || { echo "scale-$n: no query for $q" >&2; continue; }
      out=$(BODY="$work/q-$n/$q.json" taskset -c "$CLIENT_CPU" wrk -t1 -c8 -d"$DURATION" --latency -s benches/post.lua "http://$address/graphql")
      line=$(echo "$out" | grep '^RESULT')
      echo "scale-$n	$q	8	$line	$(rss_mb)" >>"$results"
      echo "scale-$n $q: $line rss=$(rss_mb)MB" >&2
    done
    scale_rows="$scale_rows$n	$load_s	$load_mem	$disk	$(rss_mb)
"
    stop_server
  done
fi

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
python3 - "$results" "$commit" "$cpu" "$(nproc)" "$(date -u +%Y-%m-%d)" "$DURATION" "$rss_article" "$peak_article" "$scale_rows" <<'PY' >benches/RESULTS.md
import sys
path, commit, cpu, cores, day, duration, rss_article, peak_article, scale_rows = sys.argv[1:10]
rows = []
for line in open(path):
    setup, query, conns, result, rss, *acknowledged = line.rstrip("\n").split("\t")
    _, reqs, dur_us, p50, p99, errors = result.split()
    # Write rows count acknowledged writes (the store's growth), not requests.
    done = int(acknowledged[0]) if acknowledged else int(reqs)
    rows.append(dict(setup=setup, query=query, conns=int(conns), rps=done / (int(dur_us) / 1e6),
                     p50=float(p50) / 1000, p99=float(p99) / 1000, errors=int(errors), rss=rss))
def health(setup, conns):
    for r in rows:
        if r["setup"] == setup and r["query"] == "health" and r["conns"] == conns:
            return r["rps"]
print("# Benchmark results\n")
print(f"- date: {day}\n- commit: {commit}\n- machine: {cpu}, {cores} cores; server pinned to one core (taskset), wrk on another")
print(f"- each run: wrk -t1, {duration}; ratios are to the same server's `GET /health` at the same connection count, measured in this run\n")
print("Queries (`benches/queries/`): `lookup` one actor by id; `nested` 20 events → participants → actor → events;")
print("`apollo` the same as Apollo Client sends it: `$first: Int!` and `$after` variables, `__typename` at every level, `edges { cursor node }` and `pageInfo`;")
print("`deep5` actor → events → participants → actor → treaties → funding; `search`; `timeline`; `filtered` a filtered connection page;")
print("`groupby` events by year and kind (3 per group) and funding by donor with its sums.")
print("`+gzip`: the same query sent with `Accept-Encoding: gzip`, so the answer comes gzipped (without the response cache, compressed per request).")
print("Scale queries: `filtered` a page of 20 events of one kind in a two-year period; `filteredcount` the same with `totalCount`;")
print("`nested3` actor → events → participants → actor; `search` one word; `search2` two words;")
print("`groupby` two years of one kind's events by year and month; `groupfunding` a year's funding by currency, summed; `coparticipants` an actor's top 10;")
print("`responses` 20 events, each with the events it answers and the events answering it (typed event links);")
print("`paths2`, `paths3`, `paths4` the shortest paths (first 5) between two actors 2, 3 and 4 steps apart.")
print("`paths` (article seed): Sergey Lavrov to the Federation Council, four steps.\n")
for setup, title in (
    ("cache-off", "Article seed, response cache off (compiled plans on, the default)"),
    ("plans-off", "Article seed, response cache off, compiled plans off (async-graphql executes every request)"),
    ("cache-on", "Article seed, response cache on (the same query repeated)"),
):
    print(f"## {title}\n")
    print("| query | conns | req/s | % of /health | p50 ms | p99 ms | p99/p50 | errors | RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if r["setup"] != setup:
            continue
        h = health(setup, r["conns"]) or 1
        ratio = r["p99"] / r["p50"] if r["p50"] else 0
        print(f"| {r['query']} | {r['conns']} | {r['rps']:,.0f} | {100 * r['rps'] / h:.1f} % | {r['p50']:.2f} | {r['p99']:.2f} | {ratio:.1f} | {r['errors']} | {r['rss']} |")
    print()
print(f"Server RSS after the cache-off run: {rss_article} MB (peak {peak_article} MB).\n")
writes = {r["conns"]: r for r in rows if r["setup"] == "writes"}
if writes:
    print("## Writes: `createActor` with a write token (acknowledged = durable), response cache off\n")
    print("| conns | acknowledged creates/s | × 1 connection | p50 ms | p99 ms | errors | RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    one = writes.get(1, {}).get("rps") or 1
    for conns, r in sorted(writes.items()):
        print(f"| {conns} | {r['rps']:,.0f} | {r['rps'] / one:.1f}× | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} | {r['rss']} |")
    print()
if scale_rows.strip():
    print("## Scale (generated graphs, response cache off, 8 connections)\n")
    print("| entities | load s | entities/s | loader peak RSS MB | disk MB | server RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|")
    for line in scale_rows.strip().splitlines():
        n, load_s, mem, disk, rss = line.split("\t")
        print(f"| {int(n):,} | {float(load_s):.1f} | {int(n) / float(load_s):,.0f} | {mem} | {disk} | {rss} |")
    print()
    print("| query | p50 ms at 10k | p50 ms at max | ratio | p99 ms at max |")
    print("|---|---:|---:|---:|---:|")
    sizes = sorted({r["setup"] for r in rows if r["setup"].startswith("scale-")}, key=lambda s: int(s.split("-")[1]))
    for q in ("lookup", "filtered", "filteredcount", "nested3", "search", "search2", "groupby", "groupfunding", "coparticipants", "responses", "paths2", "paths3", "paths4"):
        small = next((r for r in rows if r["setup"] == sizes[0] and r["query"] == q), None)
        big = next((r for r in rows if r["setup"] == sizes[-1] and r["query"] == q), None)
        if small and big:
            print(f"| {q} | {small['p50']:.2f} | {big['p50']:.2f} | {big['p50'] / small['p50']:.2f}× | {big['p99']:.2f} |")
    print()
PY
echo "wrote benches/RESULTS.md" >&2
cat benches/RESULTS.md
