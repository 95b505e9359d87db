# syntax=docker/dockerfile:1
# One image for the whole project: `forum-operator`, `forum-service users|threads|posts` and
# `forumctl` are on PATH; Kubernetes (or `docker run IMAGE forumctl ...`) picks the command.
#
# The base is a build argument so that air-gapped builds can substitute a local image
# (`--build-arg BASE=...`). Pin it by digest in CI:
#   BASE=python:3.11.14-slim-bookworm@sha256:<digest from `docker buildx imagetools inspect`>
ARG BASE=python:3.11.14-slim-bookworm

# ---- build: the project's wheel and a virtualenv with it and its dependencies --------------
FROM ${BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
# .dockerignore keeps the dev stack (forumctl/forumctl/dev) and the AWS emulator out
COPY core ./core
COPY services ./services
COPY operator ./operator
COPY forumctl ./forumctl
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/forumdb \
 && /opt/forumdb/bin/pip install --no-cache-dir /wheels/*.whl \
 && /opt/forumdb/bin/pip uninstall --yes pip \
 && find /opt/forumdb -depth -type d -name __pycache__ -exec rm -rf {} +

# ---- runtime: the virtualenv only; no compiler, no pip, no sources ------------------------
FROM ${BASE}
LABEL org.opencontainers.image.title="forumdb" \
      org.opencontainers.image.description="forumdb operator, forum services and forumctl" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/forumdb/forumdb"
ENV PATH=/opt/forumdb/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8080
# A fixed numeric uid/gid, so that Kubernetes' runAsNonRoot can verify it.
RUN groupadd --system --gid 10001 forumdb \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin forumdb
COPY --from=build /opt/forumdb /opt/forumdb
WORKDIR /tmp
USER 10001:10001
EXPOSE 8080 9090
# No fixed entrypoint: the command is the first argument (Kubernetes `command:`).
CMD ["forumctl", "--help"]
