# diplograph in a container: a release build, then a small runtime image.
#
#   docker compose up --build       # see docker-compose.yml
#
# The runtime image holds the binary, the seed files and a local copy of the
# IDE's scripts in /app (so the IDE works without reaching a CDN); the sled
# database lives in /data, which compose mounts as a named volume so it
# survives a rebuild.
#
# `.ci/run` builds exactly what the build stage copies (Cargo.toml,
# Cargo.lock, src/, benches/, honouring .dockerignore) in a scratch directory,
# so a missing file fails CI rather than `docker compose up --build`.

# ---- build ---------------------------------------------------------------------
FROM rust:1-slim-bookworm AS builder
WORKDIR /build

# Dependencies first, in a layer of their own, so that a change to src/ does
# not rebuild every crate: build once against stub sources, then for real.
# Cargo.toml names the benchmark targets, and cargo refuses a manifest whose
# targets have no file, so the stubs include them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/store.rs \
    && echo 'fn main() {}' > benches/schema.rs \
    && cargo build --release --locked \
    && rm -rf src benches

COPY src ./src
COPY benches ./benches
# The copied sources may be older than the stub build; touch them so cargo
# sees the change.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

# ---- the IDE's scripts, for a server that needs no CDN ---------------------------
# The exact releases the IDE page pins (src/http/playground.rs, with their
# integrity hashes; the server checks the files at start-up and serves only
# those the page uses). tests/api/http.rs checks this line against the page.
FROM node:20-bookworm-slim AS ide
WORKDIR /ide
RUN npm install graphiql@3.8.3 react@18.3.1 react-dom@18.3.1 --no-audit --no-fund --ignore-scripts

# ---- run -----------------------------------------------------------------------
FROM debian:bookworm-slim

# curl is for the health check in docker-compose.yml.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# Run as an unprivileged user that owns the data directory; a new named
# volume takes its ownership from the image.
RUN useradd --system --uid 10001 --home-dir /app diplograph \
    && mkdir -p /data \
    && chown diplograph /data

WORKDIR /app
COPY --from=builder /build/target/release/diplograph /app/diplograph
COPY --from=ide /ide/node_modules /app/ide
COPY seed /app/seed
ENV PATH="/app:${PATH}" \
    DIPLOGRAPH_BIND=0.0.0.0:8000 \
    DIPLOGRAPH_DATA_DIR=/data \
    DIPLOGRAPH_SEED_DIR=/app/seed \
    DIPLOGRAPH_PLAYGROUND_ASSETS=/app/ide

USER diplograph
EXPOSE 8000
VOLUME /data
CMD ["diplograph", "serve"]
