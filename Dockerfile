# Builds the tessera binary. Not exercised by CI (no container engine there).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p tessera-server

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/tessera /usr/local/bin/tessera
USER 10001
ENTRYPOINT ["tessera"]
CMD ["serve"]
