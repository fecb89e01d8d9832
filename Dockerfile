# syntax=docker/dockerfile:1
# SigmaSight production image: daphne (HTTP + websockets) and the django-q2 worker from one image.
#   docker compose up -d               production stack (docker-compose.yml)
#   docker compose --profile demo run --rm demo      the demo data on that stack
# Built in two stages: dependencies are installed from pyproject.toml + constraints.txt alone, so a
# code change rebuilds only the last layers; the runtime stage has no compiler and runs as a
# non-root user.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# The dependency layer: only the two files that decide it (no source yet, so it stays cached).
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > requirements.txt \
    && pip install --no-cache-dir -c constraints.txt -r requirements.txt

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DATA_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles \
    RUN_DIR=/tmp/sigmasight-run \
    SERVE_STATIC=true
RUN groupadd --system --gid 10001 sigmasight \
    && useradd --system --uid 10001 --gid sigmasight --home-dir /app --shell /usr/sbin/nologin sigmasight
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
# The code stays root-owned (read-only to the app user); only the data folder is the app's to write.
COPY . .
# Static files gathered at build time, outside the data volume (a volume mounted on /app/var would hide
# them). The settings need a key to load; this one exists only in this build step.
RUN SECRET_KEY=collectstatic-build-only DATA_DIR=/tmp/build-data python manage.py collectstatic --noinput -v0 \
    && rm -rf /tmp/build-data \
    && mkdir -p /app/var \
    && chown sigmasight:sigmasight /app/var
USER 10001:10001
VOLUME ["/app/var"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"]
CMD ["python", "manage.py", "serve", "--host", "0.0.0.0", "--port", "8000"]
