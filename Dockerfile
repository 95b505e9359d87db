# One image for the whole project: `forum-operator`, `forum-service users|threads|posts` and
# `forumctl` are on PATH; Kubernetes (or `docker run IMAGE forumctl ...`) picks the command.
#
# The base is a build argument so that air-gapped builds can substitute a local image
# (`--build-arg BASE=...`), e.g. Debian with python3 and python3-venv: every command below is
# `python3` (the python image has it too; Debian has no `python`). Pin it by digest in CI:
#   BASE=python:3.11.14-slim-bookworm@sha256:<digest from `docker buildx imagetools inspect`>
# No `# syntax=` line: it would make BuildKit pull a frontend image from a registry first,
# which an air-gapped build cannot reach.
ARG BASE=python:3.11.14-slim-bookworm

# ---- build: the project's wheel and a virtualenv with it and its dependencies --------------
FROM ${BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# The dependencies first, from pyproject.toml alone, in a layer of their own: a change to the
# sources then rebuilds only the project's wheel, not every dependency (85-179 s on 2 cores).
# The venv's own pip does it all: a Debian base needs no python3-pip.
COPY pyproject.toml ./
RUN python3 -m venv /opt/forumdb \
 && python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > /tmp/requirements.txt \
 && /opt/forumdb/bin/pip install --no-cache-dir --no-compile -r /tmp/requirements.txt
COPY README.md ./
# .dockerignore keeps the dev stack (forumctl/forumctl/dev) and the AWS emulator out
COPY core ./core
COPY services ./services
COPY operator ./operator
COPY forumctl ./forumctl
# Bytecode is compiled here, for every module of the venv: with a read-only root filesystem
# Python cannot write it, so without it every start compiles everything again (a
# config-sync-init took 49 s at its CPU limit). unchecked-hash: the .pyc never looks at the
# source's mtime, which COPY and image tooling may change; an image is immutable, so the source
# cannot drift from it.
RUN /opt/forumdb/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
 && /opt/forumdb/bin/pip install --no-cache-dir --no-compile --no-deps /wheels/*.whl \
 && /opt/forumdb/bin/pip uninstall --yes pip \
 && /opt/forumdb/bin/python -m compileall -q -f -j 0 --invalidation-mode unchecked-hash /opt/forumdb

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
# A fixed numeric uid/gid, so that Kubernetes' runAsNonRoot can verify it. The base's standard
# library gets its bytecode too: the python image ships it without any (Debian's has it, and
# compileall leaves valid .pyc files alone).
RUN groupadd --system --gid 10001 forumdb \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin forumdb \
 && python3 -m compileall -q -j 0 --invalidation-mode unchecked-hash \
      -x '/(tests?|idle_test|site-packages|dist-packages)/' \
      "$(python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')"
COPY --from=build /opt/forumdb /opt/forumdb
WORKDIR /tmp
USER 10001:10001
EXPOSE 8080 9090
# No fixed entrypoint: the command is the first argument (Kubernetes `command:`).
CMD ["forumctl", "--help"]
