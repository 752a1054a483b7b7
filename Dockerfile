# The packwatch image: every service, started by `packwatch <service>`.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# numba keeps the compiled thermal kernels here (site-packages is not writable for the
# service user): a restarted container loads them instead of compiling again.
ENV NUMBA_CACHE_DIR=/tmp/numba-cache
WORKDIR /app
COPY pyproject.toml README.md ./
COPY services ./services
COPY schemas ./schemas
COPY models ./models
COPY infra ./infra
RUN pip install --no-cache-dir . && useradd --system packwatch
USER packwatch
ENTRYPOINT ["packwatch"]
