# Curfew's container image: the aiohttp service on port 3978 (Bot Framework endpoint, scheduler, /healthz).
#
#   docker build -t curfew .                      (or: az acr build -r REGISTRY -t curfew:1.0.0 .)
#   docker run -p 3978:3978 curfew                 (no config: the simulated demo fleet, SQLite)
#
# Production settings come from the environment (docs/deploy.md): DATABASE_URL (PostgreSQL), CURFEW_CONFIG
# (a mounted YAML file), MicrosoftAppId/MicrosoftAppType/MicrosoftAppTenantId, AZURE_CLIENT_ID.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --create-home --home-dir /var/lib/curfew --shell /usr/sbin/nologin curfew

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

# Only what runs: the entry point, the runtime and Curfew's packages (no tests, docs or tools).
COPY app.py runtime.py ./
COPY bot ./bot
COPY cli ./cli
COPY compute ./compute
COPY config ./config
COPY domain ./domain
COPY manifest ./manifest
COPY ops ./ops
COPY scheduler ./scheduler
COPY storage ./storage

# The code stays root-owned and read-only; Curfew runs as `curfew` in its own home, where a relative
# SQLite file (the default database_url) and an optional ./curfew.yaml live.
USER curfew
WORKDIR /var/lib/curfew

EXPOSE 3978
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:3978/healthz', timeout=4).status == 200 else 1)"]

CMD ["python", "/app/app.py"]
