# syntax=docker/dockerfile:1
# docfleet, CPU build: one binary, the role chosen by subcommand (`docfleet worker`, `docfleet
# api`, `docfleet enqueue …`). Build: docker build -t docfleet .
# BAKE_MODEL=false leaves the model out; then mount one and point DOCFLEET_MODEL_DIR at it.
ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# cargo-chef: the dependency graph is built in its own layer, rebuilt only when Cargo.toml or
# Cargo.lock change, not on every source edit.
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS chef
ARG CARGO_CHEF_VERSION=0.1.77
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked -p docfleet-worker --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked -p docfleet-worker \
 && install -D -m 0755 target/release/docfleet /out/docfleet

# libpdfium (from the pypdfium2 wheel) and the default model, installed by the project's own
# script so the image gets exactly what `scripts/setup` gives a developer.
FROM python:3.11-slim-${DEBIAN_RELEASE} AS assets
ARG BAKE_MODEL=true
COPY scripts/setup /setup
RUN XDG_CACHE_HOME=/cache SETUP_TESSERACT=false /setup \
 && install -D -m 0644 /cache/docfleet/pdfium/libpdfium.so /out/lib/libpdfium.so \
 && mkdir -p /out/models \
 && if [ "${BAKE_MODEL}" = "true" ]; then mv /cache/docfleet/models/all-MiniLM-L6-v2 /out/models/; fi

FROM debian:${DEBIAN_RELEASE}-slim
# ca-certificates: S3, SQS, webhooks and Qdrant over TLS verify against the system roots.
# tesseract-ocr: OCR of images and scanned pages (docfleet loads libtesseract at run time);
# one traineddata package per language in OCR_LANGUAGES (Debian: tesseract-ocr-<lang>).
ARG OCR_LANGUAGES="eng"
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tesseract-ocr \
      $(for l in $(echo "${OCR_LANGUAGES}" | tr '+' ' '); do echo "tesseract-ocr-$(echo "$l" | tr '_' '-')"; done) \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 docfleet \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/docfleet --no-create-home \
      --shell /usr/sbin/nologin docfleet \
 && install -d -o 10001 -g 10001 /var/lib/docfleet
COPY --from=builder /out/docfleet /usr/local/bin/docfleet
COPY --from=assets /out/lib/libpdfium.so /opt/docfleet/lib/libpdfium.so
COPY --from=assets /out/models/ /opt/docfleet/models/
ENV DOCFLEET_PDFIUM_LIB=/opt/docfleet/lib/libpdfium.so \
    DOCFLEET_MODEL_DIR=/opt/docfleet/models/all-MiniLM-L6-v2 \
    DOCFLEET_DATA_DIR=/var/lib/docfleet \
    DOCFLEET_LOG_FORMAT=json
USER 10001:10001
WORKDIR /var/lib/docfleet
# 8080: `docfleet api`; 9090: the worker's /healthz, /readyz, /metrics (DOCFLEET_OPS_ADDR).
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/docfleet"]
CMD ["worker"]
