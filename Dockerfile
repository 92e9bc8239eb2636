# One image for every OMS process; the command picks the role (api, worker, sim, migrate).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY oms ./oms
COPY workflows ./workflows
COPY activities ./activities
COPY api ./api
COPY worker ./worker
COPY simulators ./simulators
COPY devtools ./devtools
RUN pip install --no-cache-dir .
ENV OMS_HOST=0.0.0.0 OMS_LOG_FORMAT=json
USER nobody
ENTRYPOINT ["oms"]
CMD ["api"]
