# The publisher's image: `docker compose build` (docker-compose.yml runs it with the config and state mounted).
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# tzdata: TZ from .env sets the log times; the count's zone comes from publisher.yaml (and the tzdata wheel).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/fdc --shell /usr/sbin/nologin fdc \
    && install -d -o fdc -g fdc -m 700 /var/lib/fdc \
    && install -d -m 755 /config

WORKDIR /src
COPY pyproject.toml README.md ./
COPY fdc ./fdc
COPY common ./common
COPY publisher ./publisher
COPY display_node ./display_node
COPY demo ./demo
RUN pip install . && rm -rf /src/build

WORKDIR /var/lib/fdc
USER fdc
# state_file: /var/lib/fdc/state.json (examples/publisher.yaml); a volume, so a new image keeps the state.
VOLUME ["/var/lib/fdc"]
CMD ["fdc", "publisher", "-c", "/config/publisher.yaml"]
