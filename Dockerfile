# Tessera and tessera-gateway in one small image (the two binaries and what
# they link: OpenSSL's libssl3 and the CA roots; SQLite and libpq are
# compiled in). Runs as an unprivileged user.
#
#   docker build -t tessera:dev .
#   docker run --rm tessera:dev --help
#
# Not built by CI (no container engine on the CI machines): docker-compose.yml
# is validated with `docker-compose config` instead (scripts/compose-check).

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# No debug info, stripped: a smaller image.
ENV CARGO_PROFILE_RELEASE_DEBUG=false \
    CARGO_PROFILE_RELEASE_STRIP=symbols
RUN cargo build --release --locked --bin tessera --bin tessera-gateway

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --create-home \
       --home-dir /var/lib/tessera --shell /usr/sbin/nologin tessera
COPY --from=build /src/target/release/tessera /src/target/release/tessera-gateway /usr/local/bin/
USER 10001:10001
WORKDIR /var/lib/tessera
# Plain HTTP behind a TLS-terminating proxy (see docs/deployment.md); set
# TESSERA_HTTP_TLS_CERT / TESSERA_HTTP_TLS_KEY to serve TLS directly.
ENV TESSERA_HTTP_LISTEN=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["tessera"]
CMD ["serve"]
