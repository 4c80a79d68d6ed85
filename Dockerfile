# diplograph in a container: a release build, then a small runtime image.
#
#   docker compose up --build       # see docker-compose.yml
#
# The runtime image holds the binary and the seed files in /app; the sled
# database lives in /data, which compose mounts as a named volume so it
# survives a rebuild.

# ---- build ---------------------------------------------------------------------
FROM rust:1-slim-bookworm AS builder
WORKDIR /build

# Dependencies first, in a layer of their own, so that a change to src/ does
# not rebuild every crate: build once against stub sources, then for real.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src

COPY src ./src
# The copied sources may be older than the stub build; touch them so cargo
# sees the change.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

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
COPY seed /app/seed
ENV PATH="/app:${PATH}" \
    DIPLOGRAPH_BIND=0.0.0.0:8000 \
    DIPLOGRAPH_DATA_DIR=/data \
    DIPLOGRAPH_SEED_DIR=/app/seed

USER diplograph
EXPOSE 8000
VOLUME /data
CMD ["diplograph", "serve"]
