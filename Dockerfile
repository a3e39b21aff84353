# medcode's HTTP API: `docker build -t medcode . && docker run -p 8000:8000 medcode`
# The code-set index is built into the image, so a container is ready in seconds, with no network.
# BASE: any image with CPython 3.11 (`python`, `pip`) on PATH; TORCH_PIP_ARGS: where pip finds the CPU torch build
# (a mirror or a wheel folder, for a build with no way out to the internet but a package proxy).
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE}
ARG TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    MEDCODE_DATA_DIR=/app/data \
    MEDCODE_CORPUS_DIR=/app/corpora/codiesp

RUN useradd --create-home --uid 10001 --user-group medcode
WORKDIR /app

# torch first, pinned, from the CPU wheel index, so nothing pulls the CUDA build.
RUN pip install ${TORCH_PIP_ARGS} torch==2.13.0

COPY --chown=medcode:medcode pyproject.toml README.md ./
COPY --chown=medcode:medcode medcode ./medcode
COPY --chown=medcode:medcode codesets ./codesets
COPY --chown=medcode:medcode nlp ./nlp
COPY --chown=medcode:medcode serving ./serving
COPY --chown=medcode:medcode training ./training
COPY --chown=medcode:medcode validation ./validation
COPY --chown=medcode:medcode coding ./coding
COPY --chown=medcode:medcode claims ./claims
COPY --chown=medcode:medcode corpora ./corpora
# The ray extra too: the same image is the worker image of a Ray cluster (deploy/raycluster.yaml).
RUN pip install ".[ray]" && mkdir -p /app/data/store && chown -R medcode:medcode /app/data

USER medcode
# Minutes, once, at build time: code sets, lexicon, usage mined from CodiEsp train, faiss index.
RUN medcode index build

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1
# The store is SQLite under /app/data unless MEDCODE_DATABASE_URL names PostgreSQL; mount a volume there to keep it.
VOLUME ["/app/data/store"]
ENV MEDCODE_DATABASE_URL=sqlite:////app/data/store/medcode.db
CMD ["medcode", "serve", "--host", "0.0.0.0", "--port", "8000"]
