# The wapipe image: worker, sender and sandbox are this image with different commands
# (docker-compose.yml). Build: docker build -t wapipe .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so editing the code does not re-download them: install the pinned
# dependency list from pyproject.toml with an empty package, then the real package.
COPY pyproject.toml README.md ./
RUN mkdir -p pipeline && touch pipeline/__init__.py \
    && pip install . \
    && pip uninstall -y wapipe \
    && rm -rf pipeline build wapipe.egg-info

COPY pipeline ./pipeline
COPY infra ./infra
RUN pip install --no-deps . && rm -rf build wapipe.egg-info

# Migrations and named queries live in infra/clickhouse beside the package and are found
# relative to the source tree (pipeline/runtime/store_migrations.py: MIGRATIONS_DIR), not
# inside site-packages: import `pipeline` from /app so /app/infra is where the code looks.
ENV PYTHONPATH=/app \
    WAPIPE_DATA_DIR=/var/lib/wapipe \
    WAPIPE_WEB_HOST=0.0.0.0 \
    WAPIPE_LOG_FORMAT=json

RUN useradd --system --uid 10001 --home-dir /var/lib/wapipe --create-home wapipe
USER wapipe

EXPOSE 8066
ENTRYPOINT ["wapipe"]
CMD ["run"]
