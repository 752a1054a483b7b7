# The packwatch image: every service, started by `packwatch <service>`.
# Stage 1 builds the wheel (its C extensions, schemas/_json_floats.c and
# models/_thermal.c, need a compiler);
# stage 2 installs it without one.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
COPY schemas ./schemas
COPY models ./models
COPY infra ./infra
RUN pip wheel --no-cache-dir --no-deps -w /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY --from=build /wheels /wheels
COPY infra ./infra
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels && useradd --system packwatch
USER packwatch
ENTRYPOINT ["packwatch"]
