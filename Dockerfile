# The llmclf CLI in a container; train.sh and classify.sh use it when a Docker engine answers.
# The `fast` extra is in, so a fast embedder built on the host (llmclf embedders build fast) runs here too,
# and `parquet`, so classify.sh reads and writes Parquet as the local CLI does.
FROM python:3.11-slim
WORKDIR /opt/llmclf
COPY pyproject.toml README.md ./
COPY llmclf ./llmclf
RUN pip install --no-cache-dir '.[fast,parquet]'
ENV LLMCLF_HOME=/llmclf/data LLMCLF_CACHE_DIR=/llmclf/cache HOME=/tmp
RUN mkdir -p /llmclf/data /llmclf/cache && chmod 1777 /llmclf /llmclf/data /llmclf/cache
WORKDIR /work
ENTRYPOINT ["llmclf"]
CMD ["--help"]
