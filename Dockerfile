# Keyport: build with the official Swift image, run on a slim Debian with only the runtime libraries.
ARG SWIFT_IMAGE=swift:6.1-bookworm
FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libargon2-dev libsqlite3-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources Sources
COPY Plugins Plugins
COPY Migrations Migrations
COPY admin-cli admin-cli
COPY Benchmarks Benchmarks
COPY Tests Tests
RUN swift build -c release --static-swift-stdlib --product keyport \
 && swift build -c release --static-swift-stdlib --product kpadm \
 && mkdir /out \
 && cp .build/release/keyport .build/release/kpadm /out/ \
 && find .build/release -maxdepth 1 -name '*.resources' -exec cp -R {} /out/ \;

FROM debian:bookworm-slim
# libcurl is for kpadm's HTTP client; the server needs only libargon2 and libsqlite3.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libargon2-1 libsqlite3-0 ca-certificates libcurl4 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin keyport \
 && mkdir -p /data/import /certs \
 && chown -R keyport:keyport /data /certs
COPY --from=build /out/ /usr/local/bin/
USER keyport
WORKDIR /data
ENV KEYPORT_DB_PATH=/data/keyport.db \
    KEYPORT_HTTP_HOST=0.0.0.0 \
    KEYPORT_HTTP_PORT=8080
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=12 CMD ["keyport", "health"]
ENTRYPOINT ["keyport"]
CMD ["start-dev"]
