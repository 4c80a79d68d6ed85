#!/usr/bin/env bash
# The load benchmark: one command, figures in benches/RESULTS.md.
#
#   bash benches/run.sh            # everything (about 10 minutes on 2 cores)
#   SCALE=0 bash benches/run.sh    # skip the 1M-entity scale run
#   ARTICLE=0 bash benches/run.sh  # only the scale run (no article-seed, write or fan-out rows)
#   SCALE_ENTITIES=10000000 ARTICLE=0 RESULTS=/tmp/scale.md bash benches/run.sh
#   DURATION=5s bash benches/run.sh
#   PARTS="cache-off transport cache-on" QUERIES="lookup nested" bash benches/run.sh
#                                  # only those sections and article queries (health always),
#                                  # printed; RESULTS.md is left as it is unless RESULTS= names it
#                                  # (sections: cache-off plans-off transport cache-on pairs writes fanout scale)
#   KILL9=1 bash benches/run.sh    # also 100 kill -9 cycles under 16 writers
#                                  # (benches/kill9.sh; CYCLES=, WRITERS=)
#   SCALE_SEEDS=/some/dir ...      # keep the generated seeds in /some/dir/gen-N and reuse them
#   BIN=/path/to/diplograph ...    # measure another build of the server
#   SCHED=1 ...                    # trace each row with `perf sched` and say which other tasks held
#                                  # the server's or wrk's core for 1 ms or more (benches/sched.py),
#                                  # to tell a slow tail from the host's from one of the server's
#
# Builds release, starts the server on a fresh data directory pinned to core
# 0 (taskset), drives it with wrk from core 1 at 32 and 64 connections, and
# reports per query: req/s, p50/p99/p99.9 latency, server RSS, the ratio to
# the same server's GET /health, and the ratio to the transport limit: a
# minimal actix-web server (benches/transport.rs, same worker settings)
# answering the same bodies with the answer bytes recorded from diplograph,
# measured in the same run. Each row also says how loaded the host was
# meanwhile (from /proc/stat): the CPU time stolen by the hypervisor, and
# the CPU time spent by anything but the server and wrk (neighbours).
# Then the ratios of lookup and nested to the transport measured side by
# side (ROUNDS rounds, 3 by default, of the three servers one after another).
# Then: createActor throughput at 1 and 16 connections, and the
# subscription fan-out (benches/fanout.rs: 1,000 subscribers of one
# subscription, 50 writes/s, delivery latency and losses).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
KILL9=${KILL9:-0}
SCHED=${SCHED:-0}
SCALE=${SCALE:-1}
SCALE_ENTITIES=${SCALE_ENTITIES:-1000000}
ARTICLE=${ARTICLE:-1}
# Sections: every one by default; ARTICLE=0 is the scale run alone, SCALE=0 leaves it out.
ALL_PARTS="cache-off plans-off transport cache-on pairs writes fanout scale"
PARTS_SET=${PARTS:+1}
PARTS=${PARTS:-$ALL_PARTS}
[ "$ARTICLE" = 1 ] || PARTS=scale
[ "$SCALE" = 1 ] || PARTS=${PARTS/scale/}
QUERIES_SET=${QUERIES:+1}
QUERIES=${QUERIES:-lookup nested apollo deep5 search searchtypo timeline filtered groupby paths nested+gzip}
# Where the tables go: a partial run is printed and leaves RESULTS.md as it is,
# unless RESULTS names where it goes.
RESULTS=${RESULTS:-}
if [ -z "$RESULTS" ]; then
  if [ -z "$PARTS_SET$QUERIES_SET" ] && [ "$ARTICLE" = 1 ]; then RESULTS=benches/RESULTS.md; fi
fi
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

for tool in wrk bc; do
  if ! command -v "$tool" >/dev/null; then
    echo "installing $tool" >&2
    (apt-get install -y "$tool" || (apt-get update && apt-get install -y "$tool")) >/dev/null
  fi
done
[ -x /usr/bin/time ] || (apt-get install -y time || (apt-get update && apt-get install -y time)) >/dev/null
if [ "$SCHED" = 1 ] && ! command -v perf >/dev/null; then echo "SCHED=1 needs perf" >&2; exit 1; fi
# One build for the server and the bench targets: `cargo build --release`
# would build the dependencies a second time without the dev-dependencies'
# features, which the bench targets unify in.
cargo bench --no-run --quiet
# BIN: another build of the server to measure (e.g. a copy of an older one).
bin=${BIN:-./target/release/diplograph}
# The transport baseline and the fan-out client are [[bench]] targets; find
# their executables.
bench_bin() {
  cargo bench --bench "$1" --no-run 2>&1 | grep -o "target/release/deps/$1-[0-9a-f]*" | tail -n1
}
transport_bin=$(bench_bin transport)
fanout_bin=$(bench_bin fanout)
[ -x "$transport_bin" ] && [ -x "$fanout_bin" ] || { echo "could not build benches/transport.rs and benches/fanout.rs" >&2; exit 1; }
clk_tck=$(getconf CLK_TCK)

# Waits (up to SETTLE_MAX seconds, 90 by default) until the host is quiet:
# two 2-second windows in a row in which all cores together were busy or
# stolen by the hypervisor under 3 % of the time. Otherwise the tail of the
# build above, a page-cache drop or a neighbour's burst lands in the first rows.
settle() {
  local waited=0 quiet=0 a b share=100
  while [ "$waited" -lt "${SETTLE_MAX:-90}" ]; do
    a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    sleep 2
    waited=$((waited + 2))
    b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    share=$(echo "$a $b" | awk '{ t = $4 - $2; if (t <= 0) t = 1; printf "%.1f", 100 * ($3 - $1) / t }')
    if awk -v s="$share" 'BEGIN { exit !(s < 3) }'; then quiet=$((quiet + 1)); else quiet=0; fi
    [ "$quiet" -ge 2 ] && break
  done
  settled="after ${waited} s the host was quiet (the last 2 s: ${share} % of all cores busy or stolen)"
  [ "$quiet" -ge 2 ] || settled="the host did not settle in ${waited} s (the last 2 s: ${share} % of all cores busy or stolen)"
  echo "settle: $settled" >&2
}
settle
duration_s=${DURATION%s}
work=$(mktemp -d)
results="$work/results.tsv"
: >"$results"
server_pid=""
cleanup() { for pid in "$server_pid" "${off_pid:-}" "${on_pid:-}" "${transport_pid:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# start_server NAME [ENV=VALUE...]: starts a server on core $SERVER_CPU and sets $address.
start_server() {
  local name=$1; shift
  mkdir -p "$work/$name"
  env "$@" DIPLOGRAPH_WORKERS=1 DIPLOGRAPH_DATA_DIR="$work/$name/data" DIPLOGRAPH_BIND=127.0.0.1:0 RUST_LOG=warn,diplograph::startup=info \
    taskset -c "$SERVER_CPU" "$bin" serve >"$work/$name/server.log" 2>&1 &
  server_pid=$!
  await_address "$work/$name/server.log" 'listening; open http://'
}

# await_address LOG PREFIX: sets $address to the host:port that follows PREFIX
# in LOG once the server writes it (for up to two minutes), or shows LOG and exits.
await_address() {
  local log=$1 prefix=$2
  address=""
  for _ in $(seq 1 600); do
    address=$(grep -o "${prefix}[0-9.:]*" "$log" | head -n1 | sed "s|^${prefix}||" || true)
    [ -n "$address" ] && return
    sleep 0.2
  done
  cat "$log"; exit 1
}

# await_ready [SECONDS]: waits until the server at $address answers /ready with
# 200 (a seed loads in the background), for up to SECONDS (a minute by default).
await_ready() {
  for _ in $(seq 1 $(( ${1:-60} * 5 ))); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$address/ready")" = 200 ] && return
    sleep 0.2
  done
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# start_transport: the transport baseline on core $SERVER_CPU, answering from $work/answers.
start_transport() {
  taskset -c "$SERVER_CPU" "$transport_bin" "$work/answers" 127.0.0.1:0 >"$work/transport.log" 2>&1 &
  server_pid=$!
  await_address "$work/transport.log" 'listening on '
}

# Records each query's answer (and, for a client accepting gzip, the
# gzipped answer) from the running server into $work/answers.
record_answers() {
  mkdir -p "$work/answers"
  for q in benches/queries/*.json; do
    local name; name=$(basename "$q" .json)
    cp "$q" "$work/answers/$name.json"
    curl -s -H 'content-type: application/json' -H 'accept: application/json' --data-binary @"$q" "http://$address/graphql" >"$work/answers/$name.answer"
    local headers="$work/answers/$name.headers"
    curl -s -D "$headers" -H 'content-type: application/json' -H 'accept: application/json' -H 'accept-encoding: gzip' \
      --data-binary @"$q" "http://$address/graphql" >"$work/answers/$name.answer.gz"
    grep -qi '^content-encoding: gzip' "$headers" || rm -f "$work/answers/$name.answer.gz"
  done
}

# Host load over one row: `cpu_sample` before and after, then `host_load`
# prints "steal% others%" of all cores' time, where others is the busy time
# of everything but the server process and wrk (whose CPU seconds are $1).
cpu_sample() {
  local server_jiffies
  server_jiffies=$(awk '{ print $14 + $15 }' "/proc/$server_pid/stat")
  awk -v s="$server_jiffies" '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, s }' /proc/stat
}
host_load() {
  local wrk_seconds=$1 before=$2 after=$3
  echo "$before $after" | awk -v w="$wrk_seconds" -v hz="$clk_tck" '{
    busy = $5 - $1; steal = $6 - $2; total = $7 - $3; server = $8 - $4
    others = busy - server - w * hz; if (others < 0) others = 0
    if (total <= 0) total = 1
    printf "%.1f %.1f", 100 * steal / total, 100 * others / total }'
}

# await_idle: waits (at most 10 s) until the servers running (the one measured,
# and in the pairs section the other two on the same core) have used at most one
# clock tick of CPU over 200 ms. When wrk ends a row it closes its connections,
# but a server still answers the requests they had sent (at 64 connections of a
# query taking 4 ms, a quarter of a second of work): the next row would start
# behind them, and its first answers' latency would be the previous row's.
server_ticks() {
  local pid total=0 t
  for pid in ${server_pid:-} ${off_pid:-} ${on_pid:-} ${transport_pid:-}; do
    t=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}
await_idle() {
  local a b
  for _ in $(seq 1 50); do
    a=$(server_ticks); sleep 0.2; b=$(server_ticks)
    [ $((b - a)) -le 1 ] && return 0
  done
}

# run_wrk SCRIPT URL CONNS [ENV=VALUE...]: wrk from core $CLIENT_CPU; sets
# $line (its RESULT line) and $load (the host load over the run); with
# SCHED=1, also $sched (who held the cores meanwhile, benches/sched.py).
run_wrk() {
  local script=$1 url=$2 conns=$3; shift 3
  local before after out trace=()
  sched=""
  [ "$SCHED" = 1 ] && trace=(perf sched record -a -q -o "$work/sched.data" --)
  await_idle
  before=$(cpu_sample)
  out=$(env "$@" ${trace[@]+"${trace[@]}"} /usr/bin/time -f '%U %S' -o "$work/wrk.time" taskset -c "$CLIENT_CPU" wrk -t1 -c"$conns" -d"$DURATION" --latency -s "$script" "$url")
  after=$(cpu_sample)
  line=$(echo "$out" | grep '^RESULT')
  load=$(host_load "$(awk '{ print $1 + $2 }' "$work/wrk.time")" "$before" "$after")
  if [ "$SCHED" = 1 ]; then
    sched=$(python3 benches/sched.py "$work/sched.data" "$server_pid")
    echo "$script $conns: $sched" >&2
  fi
}

rss_mb() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$server_pid/status"; }
peak_mb() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$server_pid/status"; }

# measure SETUP QUERY CONNECTIONS: one wrk run; appends a row to $results:
# setup, query, conns, RESULT line, RSS MB, "steal% others%", acknowledged writes (or -).
# QUERY+gzip sends the query with `Accept-Encoding: gzip`.
measure() {
  local setup=$1 query=$2 conns=$3 encoding=""
  if [ "${query%+gzip}" != "$query" ]; then encoding=gzip; fi
  if [ "$query" = health ]; then
    run_wrk benches/health.lua "http://$address/health" "$conns"
  else
    run_wrk benches/post.lua "http://$address/graphql" "$conns" ACCEPT_ENCODING="$encoding" BODY="benches/queries/${query%+gzip}.json"
  fi
  echo "$setup	$query	$conns	$line	$(rss_mb)	$load	-" >>"$results"
  echo "$setup $query c=$conns: $line rss=$(rss_mb)MB steal/others=$load" >&2
  [ -z "$sched" ] || echo "| $setup | $query | $conns | $sched |" >>"$work/sched.md"
}

# warm_up QUERY...: one unrecorded second of each (health first) at 32
# connections, so a server's rows measure it warm: its code paged in, its
# caches and plans filled, its allocator grown. Every server and the
# transport get the same before their first row.
warm_up() {
  local DURATION=1s q encoding
  run_wrk benches/health.lua "http://$address/health" 32
  for q in "$@"; do
    encoding=""; [ "${q%+gzip}" = "$q" ] || encoding=gzip
    run_wrk benches/post.lua "http://$address/graphql" 32 ACCEPT_ENCODING="$encoding" BODY="benches/queries/${q%+gzip}.json"
  done
}

# Sanity: every query answers without errors before it is measured.
check_queries() {
  for q in "${1:-benches/queries}"/*.json; do
    local body; body=$(curl -s -H 'content-type: application/json' --data @"$q" "http://$address/graphql")
    if echo "$body" | grep -q '"errors"'; then echo "query $q failed: $body" >&2; exit 1; fi
  done
}

queries=$QUERIES
# part NAME: whether the section NAME is to run; only QUERY...: those of the queries in $QUERIES.
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
only() { local q; for q in "$@"; do case " $queries " in *" $q "*) echo "$q" ;; esac; done; }

# The transport baseline answers with what this server answered: recorded here.
rss_article=""; peak_article=""; fanout_row=""; kill9_line=""; groups=""
if part cache-off || part transport; then
  echo "== article seed, response cache off" >&2
  start_server cache-off DIPLOGRAPH_RESPONSE_CACHE=false
  await_ready
  check_queries
  record_answers
  if part cache-off; then
    warm_up $queries
    for c in 32 64; do
      measure cache-off health $c
      for q in $queries; do measure cache-off "$q" $c; done
    done
  fi
  rss_article=$(rss_mb); peak_article=$(peak_mb)
  stop_server
fi

# The same without compiled plans: async-graphql executes every request.
if part plans-off; then
  echo "== article seed, response cache off, compiled plans off" >&2
  start_server plans-off DIPLOGRAPH_RESPONSE_CACHE=false DIPLOGRAPH_COMPILED_PLANS=false
  await_ready
  warm_up $(only lookup nested apollo deep5)
  for c in 32 64; do
    measure plans-off health $c
    for q in $(only lookup nested apollo deep5); do measure plans-off "$q" $c; done
  done
  stop_server
fi

# The transport limit: the same bodies answered with the recorded bytes.
if part transport; then
  echo "== transport baseline: recorded answers, no GraphQL work" >&2
  start_transport
  warm_up $queries
  for c in 32 64; do
    measure transport health $c
    for q in $queries; do measure transport "$q" $c; done
  done
  stop_server
fi

if part cache-on; then
  echo "== article seed, response cache on" >&2
  start_server cache-on DIPLOGRAPH_RESPONSE_CACHE=true
  await_ready
  warm_up $(only lookup nested nested+gzip)
  for c in 32 64; do
    measure cache-on health $c
    for q in $(only lookup nested nested+gzip); do measure cache-on "$q" $c; done
  done
  stop_server
fi


# Ratios to the transport measured side by side: the response-cache-off
# server, the response-cache-on server and the transport all run at once
# (on the same core; the two waiting cost nothing), and each row is taken
# from the three one after another, ROUNDS times over. A host whose speed
# drifts between sections (a neighbour, the hypervisor) moves the sections'
# figures by more than the targets' margins (the transport's own rows have
# differed by 1.5x between two runs of one query minutes apart); three
# rows seconds apart drift together, so their ratio holds.
ROUNDS=${ROUNDS:-3}
if part pairs; then
  echo "== ratios to the transport, side by side ($ROUNDS rounds)" >&2
  pair_queries=$(only lookup nested)
  start_server pair-off DIPLOGRAPH_RESPONSE_CACHE=false
  await_ready
  [ -d "$work/answers" ] || record_answers
  off_address=$address off_pid=$server_pid
  start_server pair-on DIPLOGRAPH_RESPONSE_CACHE=true
  await_ready
  on_address=$address on_pid=$server_pid
  start_transport
  transport_address=$address transport_pid=$server_pid
  for who in off on transport; do
    eval "address=\$${who}_address server_pid=\$${who}_pid"
    warm_up $pair_queries
  done
  for round in $(seq 1 "$ROUNDS"); do
    for c in 32 64; do
      for q in $pair_queries; do
        for who in off on transport; do
          eval "address=\$${who}_address server_pid=\$${who}_pid"
          measure "pair-$who-$round" "$q" "$c"
        done
      done
    done
  done
  for pid in $off_pid $on_pid $transport_pid; do server_pid=$pid; stop_server; done
  # Stopped: their ids may name other processes from now on (see await_idle).
  off_pid="" on_pid="" transport_pid=""
fi

# Writes: createActor with a write token, at 1 and 16 connections. An
# acknowledged write is durable (its group's log record is synced), so the
# figure is acknowledged creates per second: the actor count's growth over
# the run (a refused write would not count), not wrk's request count.
token=bench-write-token-0123456789abcdef
actor_count() {
  curl -s -H 'content-type: application/json' --data '{"query":"{ actors { totalCount } }"}' "http://$address/graphql" |
    grep -o '"totalCount":[0-9]*' | cut -d: -f2
}
if part writes; then
  echo "== writes: createActor with a token, response cache off" >&2
  start_server writes DIPLOGRAPH_RESPONSE_CACHE=false DIPLOGRAPH_WRITE_TOKENS="$token"
  # The seed loads in the background: wait until the server is ready.
  await_ready
  # The store's writes and log syncs so far: "writes syncs".
  store_counts() {
    curl -s "http://$address/metrics" | awk '/^diplograph_store_log_syncs_total / { s = $2 } /^diplograph_store_writes_total / { w = $2 } END { print w + 0, s + 0 }'
  }
  for c in 1 16; do
    before=$(actor_count)
    read -r writes_before syncs_before <<<"$(store_counts)"
    run_wrk benches/create.lua "http://$address/graphql" "$c" TOKEN="$token" PREFIX="c$c"
    created=$(( $(actor_count) - before ))
    read -r writes_after syncs_after <<<"$(store_counts)"
    echo "writes	createActor	$c	$line	$(rss_mb)	$load	$created" >>"$results"
    echo "writes createActor c=$c: $line acknowledged=$created rss=$(rss_mb)MB steal/others=$load" >&2
    # Writes per log sync in this row (writes share syncs in groups).
    row=$(awk -v w=$((writes_after - writes_before)) -v s=$((syncs_after - syncs_before)) -v c="$c" \
      'BEGIN { if (s > 0) printf "%d connection(s): %d writes in %d log syncs, %.1f per sync", c, w, s, w / s }')
    groups="${groups:+$groups; }$row"
  done
  echo "writes: $groups" >&2
  stop_server
fi

if [ "$KILL9" = 1 ]; then
  echo "== kill -9 under concurrent writers (benches/kill9.sh)" >&2
  kill9_line=$(bash benches/kill9.sh | grep '^crash test:' || true)
  echo "kill9: $kill9_line" >&2
fi

# Fan-out: 1,000 subscribers of one subscription (50 connections of 20),
# 50 createActor writes per second over HTTP, for the run's duration.
fanout_row=""
if part fanout; then
  echo "== fan-out: 1000 subscribers, 50 writes/s" >&2
  start_server fanout DIPLOGRAPH_RESPONSE_CACHE=false DIPLOGRAPH_WRITE_TOKENS="$token" \
    DIPLOGRAPH_MAX_WS_PER_CLIENT=60 DIPLOGRAPH_MAX_SUBSCRIPTIONS=20
  await_ready
  before=$(cpu_sample)
  fanout_line=$(taskset -c "$CLIENT_CPU" "$fanout_bin" "$address" "$token" 1000 20 50 "$duration_s" | grep '^FANOUT' || true)
  after=$(cpu_sample)
  fanout_load=$(host_load 0 "$before" "$after")
  [ -n "$fanout_line" ] && fanout_row="$fanout_line $(rss_mb) $(peak_mb) $fanout_load"
  echo "fan-out: $fanout_row" >&2
  stop_server
fi

scale_rows=""
if part scale; then
  echo "== scale: 10k vs ${SCALE_ENTITIES} generated entities, response cache off" >&2
  for n in 10000 "$SCALE_ENTITIES"; do
    gen="${SCALE_SEEDS:-$work}/gen-$n"
    # A kept seed is reused (generating 10M entities takes minutes); delete it after changing the generator.
    [ -n "${SCALE_SEEDS:-}" ] && [ -d "$gen" ] || "$bin" generate --entities "$n" --out "$gen" >/dev/null
    start=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$work/load-$n.mem" "$bin" seed --data-dir "$work/scale-$n/data" --seed-dir "$gen" >/dev/null
    end=$(date +%s.%N)
    load_s=$(echo "$end - $start" | bc -l)
    load_mem=$(awk '{ printf "%.1f", $1 / 1024 }' "$work/load-$n.mem")
    disk=$(du -sm "$work/scale-$n/data" | cut -f1)
    mv "$work/scale-$n" "$work/srv-$n"
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
    # One whole word, with each hit's matches; and the same word with one
    # typo (no generated word holds an x, so nothing matches it exactly:
    # the typo path runs every time).
    printf '{"query":"{ search(query: \\"kalovi\\", first: 10) { score node { id } matches { field kind snippet } } }"}' >"$work/q-$n/searchword.json"
    printf '{"query":"{ search(query: \\"kalovx\\", first: 10) { score node { id } matches { field kind snippet } } }"}' >"$work/q-$n/searchtypo.json"
    start_server "srv-$n" DIPLOGRAPH_RESPONSE_CACHE=false DIPLOGRAPH_SEED_DIR="$gen"
    # Opening a large store hashes its seed files again: allow for it.
    await_ready 600
    # Paths of 2, 3 and 4 steps: from one actor to the first actors (its co-participants,
    # then g1, g2, ...) whose shortest path from it has that many steps, as the server finds them.
    # In a large graph two actors taken at random are rarely two steps apart:
    # the actors sharing an event with the first one are tried first.
    from="actor/g$((n / 50))"
    co=$(curl -s -H 'content-type: application/json' \
      --data '{"query":"{ actor(id: \"'"$from"'\") { coParticipants(first: 10) { actor { id } } } }"}' \
      "http://$address/graphql" | grep -o '"id":"actor/[^"]*"' | cut -d'"' -f4 || true)
    for to in $co $(seq -f 'actor/g%.0f' 1 400); do
      body='{"query":"{ paths(from: \"'"$from"'\", to: \"'"$to"'\", first: 5) { complete expanded paths { hops nodes { id } steps { kind phrase } } } }"}'
      hops=$(curl -s -H 'content-type: application/json' --data "$body" "http://$address/graphql" | grep -o '"hops":[0-9]*' | head -n1 | cut -d: -f2 || true)
      if [ -n "$hops" ] && [ "$hops" -ge 2 ] && [ "$hops" -le 4 ] && [ ! -e "$work/q-$n/paths$hops.json" ]; then
        echo "$body" >"$work/q-$n/paths$hops.json"
      fi
      [ -e "$work/q-$n/paths2.json" ] && [ -e "$work/q-$n/paths3.json" ] && [ -e "$work/q-$n/paths4.json" ] && break
    done
    check_queries "$work/q-$n"
    for q in lookup filtered filteredcount nested3 search search2 searchword searchtypo groupby groupfunding coparticipants responses paths2 paths3 paths4; do
      [ -e "$work/q-$n/$q.json" ] || { echo "scale-$n: no query for $q" >&2; continue; }
      run_wrk benches/post.lua "http://$address/graphql" 8 BODY="$work/q-$n/$q.json"
      echo "scale-$n	$q	8	$line	$(rss_mb)	$load	-" >>"$results"
      echo "scale-$n $q: $line rss=$(rss_mb)MB" >&2
    done
    scale_rows="$scale_rows$n	$load_s	$load_mem	$disk	$(rss_mb)
"
    stop_server
  done
fi

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
report=${RESULTS:-$work/RESULTS.md}
python3 - "$results" "$commit" "$cpu" "$(nproc)" "$(date -u +%Y-%m-%d)" "$DURATION" "$rss_article" "$peak_article" "$scale_rows" "$fanout_row" "$groups" "$kill9_line" "$settled" <<'PY' >"$report"
import sys
path, commit, cpu, cores, day, duration, rss_article, peak_article, scale_rows, fanout_row, groups, kill9, settled = sys.argv[1:14]
rows = []
for line in open(path):
    setup, query, conns, result, rss, load, acknowledged = line.rstrip("\n").split("\t")
    _, reqs, dur_us, p50, p99, p999, errors = result.split()
    steal, others = load.split()
    # Write rows count acknowledged writes (the store's growth), not requests.
    done = int(acknowledged) if acknowledged != "-" else int(reqs)
    rows.append(dict(setup=setup, query=query, conns=int(conns), rps=done / (int(dur_us) / 1e6),
                     p50=float(p50) / 1000, p99=float(p99) / 1000, p999=float(p999) / 1000,
                     errors=int(errors), rss=rss, steal=float(steal), others=float(others)))
def find(setup, query, conns):
    return next((r for r in rows if r["setup"] == setup and r["query"] == query and r["conns"] == conns), None)
def noise(r):
    return f"{r['steal']:.1f} | {r['others']:.1f}"
print("# Benchmark results\n")
print(f"- date: {day}\n- commit: {commit}\n- machine: {cpu}, {cores} cores; server pinned to one core (taskset), wrk on another")
print(f"- each run: wrk -t1, {duration}; `% /health` is the ratio to the same server's `GET /health` at the same connection count;")
print("  `× transport` the ratio to the transport limit: `benches/transport.rs`, a minimal actix-web server with the same worker")
print("  settings answering the same request bodies with the answer bytes recorded from diplograph in this run (no GraphQL work);")
print("  before its first row, each article-seed server (and the transport) is warmed up: 1s of `/health` and of each of its queries, unrecorded")
print(f"- before the first row, the run waited for a quiet host (two 2 s windows under 3 % busy or stolen): {settled}")
print("- `steal %`: CPU time the hypervisor gave to other guests during the row; `others %`: CPU time spent by anything but")
print("  the server and wrk (other processes on this host). Both are shares of all cores' time, from `/proc/stat`; a row")
print("  with either above a few per cent ran on a noisy host, and its tail latencies say more about the neighbours than the server.\n")
print("Queries (`benches/queries/`): `lookup` one actor by id; `nested` 20 events → participants → actor → events;")
print("`apollo` the same as Apollo Client sends it: `$first: Int!` and `$after` variables, `__typename` at every level, `edges { cursor node }` and `pageInfo`;")
print("`deep5` actor → events → participants → actor → treaties → funding; `search`; `searchtypo` a misspelt transliteration (\"Tskinvali\") with matches; `timeline`; `filtered` a filtered connection page;")
print("`groupby` events by year and kind (3 per group) and funding by donor with its sums.")
print("`+gzip`: the same query sent with `Accept-Encoding: gzip`, so the answer comes gzipped (without the response cache, compressed per request).")
print("Scale queries: `filtered` a page of 20 events of one kind in a two-year period; `filteredcount` the same with `totalCount`;")
print("`nested3` actor → events → participants → actor; `search` one word (a prefix); `search2` two words;")
print("`searchword` one whole word with each hit's matches; `searchtypo` the same word with one typo (issue 17 targets at 1M: p50 ≤ 5 ms and ≤ 20 ms);")
print("`groupby` two years of one kind's events by year and month; `groupfunding` a year's funding by currency, summed; `coparticipants` an actor's top 10;")
print("`responses` 20 events, each with the events it answers and the events answering it (typed event links);")
print("`paths2`, `paths3`, `paths4` the shortest paths (first 5) between two actors 2, 3 and 4 steps apart.")
print("`paths` (article seed): Sergey Lavrov to the Federation Council, four steps.\n")
for setup, title in (
    ("cache-off", "Article seed, response cache off (compiled plans on, the default)"),
    ("plans-off", "Article seed, response cache off, compiled plans off (async-graphql executes every request)"),
    ("cache-on", "Article seed, response cache on (the same query repeated)"),
    ("transport", "Transport limit: the recorded answers from a minimal actix-web server"),
):
    if not any(r["setup"] == setup for r in rows):
        continue
    print(f"## {title}\n")
    print("| query | conns | req/s | % /health | × transport | p50 ms | p99 ms | p99.9 ms | p99/p50 | p99.9/p50 | errors | RSS MB | steal % | others % |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if r["setup"] != setup:
            continue
        h = find(setup, "health", r["conns"])
        t = find("transport", r["query"], r["conns"])
        ratio = f"{r['rps'] / t['rps']:.2f}" if t else "–"
        p99r = r["p99"] / r["p50"] if r["p50"] else 0
        p999r = r["p999"] / r["p50"] if r["p50"] else 0
        print(f"| {r['query']} | {r['conns']} | {r['rps']:,.0f} | {100 * r['rps'] / (h['rps'] if h else 1):.1f} % | {ratio} | {r['p50']:.2f} | {r['p99']:.2f} | {r['p999']:.2f} | {p99r:.1f} | {p999r:.1f} | {r['errors']} | {r['rss']} | {noise(r)} |")
    print()
    if setup == "cache-off":
        print(f"Server RSS after the cache-off run: {rss_article} MB (peak {peak_article} MB).\n")
pairs = [r for r in rows if r["setup"].startswith("pair-")]
if pairs:
    def pair(who, rnd, query, conns):
        return find(f"pair-{who}-{rnd}", query, conns)
    rounds = sorted({int(r["setup"].rsplit("-", 1)[1]) for r in pairs})
    print("## Ratios to the transport, measured side by side\n")
    print(f"The response-cache-off server, the response-cache-on server and the transport run at once; each round takes the three one")
    print(f"after another, {duration} each, {len(rounds)} rounds. `× transport`: the median of the rounds' ratios (each round's own")
    print("transport row), with the lowest and highest; req/s: the median of the rounds.\n")
    print("| query | conns | transport req/s | cache off req/s | cache off × transport | cache on req/s | cache on × transport | steal % (most) | others % (most) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    import statistics
    keys = []
    for r in pairs:
        if (r["query"], r["conns"]) not in keys:
            keys.append((r["query"], r["conns"]))
    for query, conns in keys:
        got = [(pair("off", n, query, conns), pair("on", n, query, conns), pair("transport", n, query, conns)) for n in rounds]
        got = [g for g in got if all(g)]
        if not got:
            continue
        med = lambda xs: statistics.median(xs)
        def spread(i):
            ratios = [g[i]["rps"] / g[2]["rps"] for g in got]
            return f"{med(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})"
        steal = max(x["steal"] for g in got for x in g)
        others = max(x["others"] for g in got for x in g)
        print(f"| {query} | {conns} | {med([g[2]['rps'] for g in got]):,.0f} | {med([g[0]['rps'] for g in got]):,.0f} | {spread(0)} | {med([g[1]['rps'] for g in got]):,.0f} | {spread(1)} | {steal:.1f} | {others:.1f} |")
    print()
writes = {r["conns"]: r for r in rows if r["setup"] == "writes"}
if writes:
    print("## Writes: `createActor` with a write token (acknowledged = durable), response cache off\n")
    print("| conns | acknowledged creates/s | × 1 connection | p50 ms | p99 ms | p99.9 ms | errors | RSS MB | steal % | others % |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    one = writes.get(1, {}).get("rps") or 1
    for conns, r in sorted(writes.items()):
        print(f"| {conns} | {r['rps']:,.0f} | {r['rps'] / one:.1f}× | {r['p50']:.2f} | {r['p99']:.2f} | {r['p999']:.2f} | {r['errors']} | {r['rss']} | {noise(r)} |")
    print()
    if groups:
        print(f"Group commit, row by row: {groups}.\n")
if kill9:
    print(f"Durability (`benches/kill9.sh`): {kill9}.\n")
if fanout_row.strip():
    _, subscribers, writes_n, delivered, lost, p50, p99, worst, rss, peak, steal, others = fanout_row.split()
    print("## Subscription fan-out (`benches/fanout.rs`)\n")
    print(f"{subscribers} subscribers of one `entityChanged` subscription (50 WebSocket connections of 20), `createActor` at 50/s over HTTP")
    print(f"for {duration}; latency from just before a write is sent to its arrival at a subscriber. `others %` includes the fan-out client.\n")
    print("| subscribers | writes acknowledged | deliveries | lost | p50 ms | p99 ms | max ms | server RSS MB | peak RSS MB | steal % | others % |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {subscribers} | {writes_n} | {int(delivered):,} | {lost} | {p50} | {p99} | {worst} | {rss} | {peak} | {steal} | {others} |")
    print()
if scale_rows.strip():
    print("## Scale (generated graphs, response cache off, 8 connections)\n")
    print("| entities | load s | entities/s | loader peak RSS MB | disk MB | server RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|")
    for line in scale_rows.strip().splitlines():
        n, load_s, mem, disk, rss = line.split("\t")
        print(f"| {int(n):,} | {float(load_s):.1f} | {int(n) / float(load_s):,.0f} | {mem} | {disk} | {rss} |")
    print()
    print("| query | p50 ms at 10k | p50 ms at max | ratio | p99 ms at max | p99.9 ms at max | steal % | others % |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    sizes = sorted({r["setup"] for r in rows if r["setup"].startswith("scale-")}, key=lambda s: int(s.split("-")[1]))
    for q in ("lookup", "filtered", "filteredcount", "nested3", "search", "search2", "searchword", "searchtypo", "groupby", "groupfunding", "coparticipants", "responses", "paths2", "paths3", "paths4"):
        small = next((r for r in rows if r["setup"] == sizes[0] and r["query"] == q), None)
        big = next((r for r in rows if r["setup"] == sizes[-1] and r["query"] == q), None)
        if small and big:
            print(f"| {q} | {small['p50']:.2f} | {big['p50']:.2f} | {big['p50'] / small['p50']:.2f}× | {big['p99']:.2f} | {big['p999']:.2f} | {noise(big)} |")
    print()
PY
if [ -s "$work/sched.md" ]; then
  {
    echo "## Who held the cores (SCHED=1: \`perf sched\`, benches/sched.py)"
    echo
    echo "Times the server's worker thread or wrk was ready to run but waited 1 ms or more for its core, and the other"
    echo "tasks that ran there meanwhile (\`server:\` the server's own threads; the rest the host's). The trace itself adds load."
    echo
    echo "| setup | query | conns | waits and holders |"
    echo "|---|---|---:|---|"
    cat "$work/sched.md"
    echo
  } >>"$report"
fi
echo "wrote $report" >&2
cat "$report"
