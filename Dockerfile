# balancebot as a container. Build: `docker build -t balancebot .`; run: see compose.yaml.
# Configuration in /etc/balancebot (mount your config.toml there, read-only), state in
# /var/lib/balancebot (a volume; unused when the store is PostgreSQL). Runs as uid 10001.
ARG PYTHON=3.12

FROM python:${PYTHON}-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY balancebot ./balancebot
# wheels for balancebot and every dependency; the runtime image gets no compiler or cache
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[charts]"

FROM python:${PYTHON}-slim
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels "balancebot[charts]" \
    && useradd --system --uid 10001 --home-dir /var/lib/balancebot --shell /usr/sbin/nologin balancebot \
    && install -d -o balancebot -g balancebot -m 0750 /var/lib/balancebot \
    && install -d -m 0755 /etc/balancebot
ENV PYTHONUNBUFFERED=1
USER balancebot
WORKDIR /var/lib/balancebot
VOLUME ["/var/lib/balancebot"]
# /metrics, /healthz, /readyz: the config must set [http] enabled = true, listen = "0.0.0.0:9464"
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4)"]
ENTRYPOINT ["balancebot"]
CMD ["run", "-c", "/etc/balancebot/config.toml"]
