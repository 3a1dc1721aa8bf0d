# The bot's image: dependencies from the lock file first (a code change reuses that layer), then
# the code; runs as an unprivileged user. Both modes are healthy-checked the same way: the bot
# serves /healthz on HEALTH_PORT (also in HTTP mode, beside PORT), and `python -m bot healthcheck`
# asks it. tests/test_container.py reads this file.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin bot

COPY requirements.lock ./
RUN pip install --requirement requirements.lock

COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
RUN pip install --no-deps .

USER bot
ENV PORT=3000 \
    HEALTH_PORT=8080
EXPOSE 3000 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "bot", "healthcheck"]
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot"]
