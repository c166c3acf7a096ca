# vigia: a static musl binary on Alpine, running as a non-root user.
# Build: docker build --build-arg VERSION=0.1.0 --build-arg GIT_COMMIT=$(git rev-parse --short=12 HEAD) \
#          --build-arg BUILD_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) -t vigia:0.1.0-$(git rev-parse --short=12 HEAD) .
ARG RUST_VERSION=1.95
ARG ALPINE_VERSION=3.22

FROM rust:${RUST_VERSION}-alpine${ALPINE_VERSION} AS builder
WORKDIR /src
ARG GIT_COMMIT=unknown
ARG BUILD_DATE=unknown
# build.rs reads these: the image has no .git to ask.
ENV VIGIA_GIT_COMMIT=${GIT_COMMIT} \
    VIGIA_BUILD_DATE=${BUILD_DATE}
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
# On Alpine the native target is musl, and Rust links musl statically by default.
RUN cargo build --release --locked --bin vigia \
 && cp target/release/vigia /vigia

FROM alpine:${ALPINE_VERSION}
ARG VERSION=dev
ARG GIT_COMMIT=unknown
ARG BUILD_DATE=unknown
LABEL org.opencontainers.image.title="vigia" \
      org.opencontainers.image.description="Observability sidecar and node agent: logs to Loki, metrics on :9100, latency regressions" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GIT_COMMIT}" \
      org.opencontainers.image.created="${BUILD_DATE}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN addgroup -S -g 65532 vigia \
 && adduser -S -D -H -u 65532 -G vigia -s /sbin/nologin vigia \
 && install -d -o vigia -g vigia -m 0750 /var/lib/vigia
COPY --from=builder /vigia /usr/local/bin/vigia
COPY examples/sidecar.yaml /etc/vigia/vigia.yaml
USER 65532:65532
EXPOSE 9100
HEALTHCHECK --interval=30s --timeout=3s CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9100/healthz"]
ENTRYPOINT ["/usr/local/bin/vigia"]
CMD ["run", "--config", "/etc/vigia/vigia.yaml"]
