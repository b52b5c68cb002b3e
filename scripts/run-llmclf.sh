#!/usr/bin/env bash
# Shared by train.sh and classify.sh: run `llmclf SUBCOMMAND ARGS...` in the
# Docker image when a Docker engine answers, else with the local llmclf.
# LLMCLF_RUNNER=local|docker forces one; LLMCLF_IMAGE names the image.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
image="${LLMCLF_IMAGE:-llmclf:latest}"
runner="${LLMCLF_RUNNER:-auto}"
caller="$(basename "${CALLER:-$0}")"

if [[ "$runner" == auto ]]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    runner=docker
  else
    runner=local
  fi
fi

if [[ "$runner" == docker ]]; then
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    echo "$caller: building Docker image $image" >&2
    docker build -q -t "$image" "$repo" >&2
  fi
  echo "$caller: running in Docker image $image (models/ is mounted)" >&2
  mkdir -p "$PWD/models"
  tty_flag=()
  [[ -t 0 && -t 1 ]] && tty_flag=(-t)
  # Pass OPENAI_* and LLMCLF_* variables by name only: values never reach the command line.
  env_flags=()
  while IFS='=' read -r name _; do
    [[ "$name" == OPENAI_* || "$name" == LLMCLF_LLM_* || "$name" == LLMCLF_API_KEY ]] && env_flags+=(-e "$name")
  done < <(env)
  exec docker run --rm -i "${tty_flag[@]}" "${env_flags[@]}" \
    -v "$PWD:/work:ro" -v "$PWD/models:/work/models" -w /work \
    "$image" "$@"
fi

if command -v llmclf >/dev/null 2>&1; then
  exe=(llmclf)
elif [[ -x "$repo/.venv/bin/llmclf" ]]; then
  exe=("$repo/.venv/bin/llmclf")
else
  exe=(python3 -m llmclf)
fi
echo "$caller: no Docker engine answered; running local ${exe[*]}" >&2
exec "${exe[@]}" "$@"
