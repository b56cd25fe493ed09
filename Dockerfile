# The medagent FHIR R4 server with the default synthetic cohort already loaded.
#
#   docker compose up            # or: docker build -t medagent-fhir . && docker run -p 127.0.0.1:8080:8080 medagent-fhir
#   curl http://localhost:8080/fhir/metadata
#
# The cohort is generated and bulk-loaded into SQLite at BUILD time, so a container is
# ready in seconds. Set MEDAGENT_TOKEN at run time to require a bearer token.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin medagent \
    && mkdir -p /data \
    && chown medagent:medagent /data

# Dependencies and the package (tests, docs and benchmarks are left out by .dockerignore).
WORKDIR /src
COPY pyproject.toml README.md ./
COPY medagent ./medagent
COPY fhir_server ./fhir_server
COPY patients ./patients
COPY tasks ./tasks
RUN pip install . && rm -rf /src

USER medagent
WORKDIR /data
ENV MEDAGENT_HOME=/data \
    MEDAGENT_DB=/data/medagent.db

# Seed the cohort of the default suite (mab-edge-v1: profile edge-v1) now (deterministic:
# the same seed gives the same checksum), then drop the generated NDJSON cache: the
# database holds everything the server needs. Keep IMAGE_PROFILE in medagent/docker_fhir.py equal.
RUN medagent seed --profile edge-v1 \
    && find /data -mindepth 1 -maxdepth 1 ! -name 'medagent.db*' -exec rm -rf {} +

# /data is a volume. SQLite opens the database read-write, and on the image's overlay
# filesystem that alone copies the whole file (~1.4 GB) into the container's writable layer,
# again for every new container. Docker instead copies /data into a new volume once; the
# server and its sessions then write there (docker-compose.yml names the volume, so it is
# kept across `up`/`down`; `docker compose down -v` drops it after an image rebuild).
VOLUME ["/data"]

EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-m", "medagent.docker_fhir", "health", "http://127.0.0.1:8080/fhir/metadata"]

# Inside the container the server must listen on all interfaces; docker-compose.yml
# publishes it on the host's 127.0.0.1 only.
CMD ["medagent", "serve", "--host", "0.0.0.0", "--port", "8080"]
