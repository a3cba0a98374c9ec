# readygate operator image. The local cluster script (hack/local-cluster/images operator) builds
# the same content without a Docker engine: Debian bookworm + python3, the package and its
# dependencies installed with pip --target into /opt/readygate/lib, run as uid 10001.
# tests/unit/test_dockerfile.py holds both to that.
# Pinned base: bookworm's slim image of a fixed date (bump deliberately; or pin a digest,
# debian:bookworm-YYYYMMDD-slim@sha256:..., where the build can resolve one).

# ---- build: pip and the compilers stay here -----------------------------------------------
FROM debian:bookworm-20251117-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-pip python3-dev gcc \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY operator/ operator/
# --target installs outside the system's site-packages (PEP 668 does not apply to it)
RUN python3 -m pip install --no-cache-dir --disable-pip-version-check \
      --target /opt/readygate/lib . \
 && find /opt/readygate/lib -name '__pycache__' -prune -exec rm -rf {} +

# ---- run: python3 only, no pip, no compiler, no shell tools beyond the base -----------------
FROM debian:bookworm-20251117-slim AS run
LABEL org.opencontainers.image.title="readygate" \
      org.opencontainers.image.description="Kubernetes operator that measures whether a service is ready for production" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 app && useradd --uid 10001 --gid 10001 --no-create-home app
COPY --from=build /opt/readygate/lib /opt/readygate/lib
ENV PYTHONPATH=/opt/readygate/lib PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /
# numeric, so that the kubelet can check runAsNonRoot without reading /etc/passwd
USER 10001:10001
EXPOSE 8080 9090
ENTRYPOINT ["python3", "-m", "readygate"]
CMD ["run"]
