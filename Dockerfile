FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY receiver ./receiver
COPY migrations ./migrations
RUN pip install --no-cache-dir . && useradd --system --home /data receiver \
    && mkdir -p /data && chown receiver /data
USER receiver
WORKDIR /data
ENV RECEIVER_DATABASE_URL=sqlite+aiosqlite:////data/receiver.db
EXPOSE 5001
HEALTHCHECK --interval=15s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5001/-/ready', timeout=2)"
ENTRYPOINT ["alert-receiver"]
CMD ["serve"]
