# The llmclf CLI in a container; train.sh and classify.sh use it when a Docker engine answers.
FROM python:3.11-slim
WORKDIR /opt/llmclf
COPY pyproject.toml README.md ./
COPY llmclf ./llmclf
RUN pip install --no-cache-dir .
WORKDIR /work
ENTRYPOINT ["llmclf"]
CMD ["--help"]
