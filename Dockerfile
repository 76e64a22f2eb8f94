# alert-receiver as a container: docker build -t alert-receiver .
# Runs `alert-receiver serve`, which migrates the database on start (unless --no-migrate),
# as an unprivileged user, with a health check on /-/ready.

# Build stage: install the package and its dependencies into a virtual environment.
FROM python:3.11.10-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/alert-receiver
WORKDIR /src
COPY pyproject.toml README.md ./
COPY receiver ./receiver
COPY migrations ./migrations
RUN /opt/alert-receiver/bin/pip install .

# Run stage: the same base, the environment and nothing of the build.
FROM python:3.11.10-slim-bookworm
ENV PATH=/opt/alert-receiver/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RECEIVER_DATABASE_URL=sqlite+aiosqlite:////data/receiver.db
COPY --from=build /opt/alert-receiver /opt/alert-receiver
RUN groupadd --system --gid 10001 receiver \
    && useradd --system --uid 10001 --gid receiver --home-dir /data --shell /usr/sbin/nologin receiver \
    && mkdir -p /data && chown receiver:receiver /data
USER 10001:10001
# SQLite lives in /data by default: mount a volume there (docker run -v receiver-data:/data)
# or point RECEIVER_DATABASE_URL at Postgres, as docker-compose.yml does.
WORKDIR /data
EXPOSE 5001

# Ready means the database answers and its schema is current. Python's own urllib, so the
# image needs no curl; an HTTP error (503 while not ready) or no answer exits 1.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/-/ready' % os.environ.get('RECEIVER_PORT', '5001'), timeout=4)"]

ENTRYPOINT ["alert-receiver"]
CMD ["serve"]
