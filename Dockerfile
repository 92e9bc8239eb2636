# One image for every OMS process; the command picks the role (api, worker, front, sim,
# migrate). docker-compose.yml runs it; docs/deployment.md describes the shape and
# tests/deploy/test_compose.py checks this file against the code (a COPY for every package
# the code imports, the same packages as pyproject.toml) without a Docker engine.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A named user with a fixed uid (not root, not nobody): files it writes in volumes keep an
# owner that the host and the next image agree on.
RUN groupadd --system --gid 10001 oms \
    && useradd --system --uid 10001 --gid oms --home-dir /home/oms --create-home \
        --shell /usr/sbin/nologin oms

WORKDIR /src
COPY pyproject.toml README.md ./
COPY oms ./oms
COPY workflows ./workflows
COPY activities ./activities
COPY api ./api
COPY worker ./worker
COPY simulators ./simulators
COPY devtools ./devtools
# A regular (not editable) install, then the sources go: the processes import the installed
# copy only, so the console's templates and static files and the migrations come from the
# package data that pyproject.toml declares, as they would from a wheel.
RUN pip install --no-cache-dir . && cd / && rm -rf /src

WORKDIR /home/oms
ENV OMS_HOST=0.0.0.0 \
    OMS_LOG_FORMAT=json \
    OMS_HOME=/home/oms/.oms
USER oms:oms
ENTRYPOINT ["oms"]
CMD ["api"]
