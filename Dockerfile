# Keyport: build with the official Swift image, run on a slim Debian with only the runtime libraries.
#
#   docker build -t keyport .
#       compiles keyport and kpadm inside the Swift image (about 15 minutes on 2 cores);
#   DOCKER_BUILDKIT=1 docker build --build-arg BINARIES=prebuilt -t keyport .
#       takes them already built on a Debian bookworm host instead, from .build/container/
#       (`scripts/container-binaries` puts them there, with the Swift runtime libraries they
#       need). BuildKit skips the stage it does not use; the test suite builds the image this way.
ARG SWIFT_IMAGE=swift:6.1-bookworm
ARG BINARIES=compiled

# Binaries built on the host, when there are any: the legacy builder (DOCKER_BUILDKIT=0,
# docker-compose 1.x) builds every stage, so this one must also build when .build/container does
# not exist — hence the pattern, which may match nothing, beside a file that is always there.
FROM scratch AS prebuilt
COPY .dockerignore .build/containe[r] /out/

FROM ${SWIFT_IMAGE} AS compiled
RUN apt-get update \
 && apt-get install -y --no-install-recommends libargon2-dev libsqlite3-dev libldap-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources Sources
COPY Plugins Plugins
COPY Migrations Migrations
COPY admin-cli admin-cli
COPY Benchmarks Benchmarks
COPY Tests Tests
ARG KEYPORT_REVISION=unknown
RUN KEYPORT_REVISION=${KEYPORT_REVISION} swift build -c release --static-swift-stdlib --product keyport \
 && KEYPORT_REVISION=${KEYPORT_REVISION} swift build -c release --static-swift-stdlib --product kpadm \
 && mkdir -p /out/bin /out/lib \
 && cp .build/release/keyport .build/release/kpadm /out/bin/ \
 && strip /out/bin/keyport /out/bin/kpadm

FROM ${BINARIES} AS binaries

FROM debian:bookworm-slim
# libcurl is for kpadm's HTTP client; the server needs libargon2, libsqlite3 and libldap (directories).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libargon2-1 libsqlite3-0 libldap-2.5-0 ca-certificates libcurl4 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin keyport \
 && mkdir -p /data/import /certs \
 && chown -R keyport:keyport /data /certs
COPY --from=binaries /out/bin/ /usr/local/bin/
COPY --from=binaries /out/lib/ /usr/local/lib/
RUN ldconfig
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
