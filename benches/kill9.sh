#!/usr/bin/env bash
# kill -9 under concurrent writers, many times over: every write the server
# acknowledged must be there after the restart, with the indexes agreeing.
#
#   bash benches/kill9.sh                     # 100 cycles, 16 writers, release build
#   CYCLES=10 WRITERS=4 bash benches/kill9.sh
#   PROFILE=debug bash benches/kill9.sh       # reuse the debug build (slower server)
#
# Each cycle starts the real binary on the same data directory, runs
# WRITERS clients creating actors as fast as it answers, kills it with
# SIGKILL after 100–600 ms (a different delay each cycle), restarts it and
# asks it for every actor it acknowledged, then opens the store itself and
# verifies it. It is the durability test (tests/api/durability.rs) with more
# cycles; the last line says how many cycles ran, how many writes were
# acknowledged and how many of them were lost (the test fails if any was).
set -euo pipefail
cd "$(dirname "$0")/.."

CYCLES=${CYCLES:-100}
WRITERS=${WRITERS:-16}
PROFILE=${PROFILE:-release}
profile=()
[ "$PROFILE" = release ] && profile=(--release)

DIPLOGRAPH_CRASH_CYCLES="$CYCLES" DIPLOGRAPH_CRASH_WRITERS="$WRITERS" \
  cargo test "${profile[@]}" --quiet --test api \
  durability::every_acknowledged_write_survives_kill_minus_9_and_the_indexes_still_agree \
  -- --exact --nocapture 2>&1 | grep -E '^crash test:|panicked|acknowledged writes lost|^test result'
