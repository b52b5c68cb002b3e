#!/usr/bin/env bash
# Shared by train.sh and classify.sh: run `llmclf SUBCOMMAND ARGS...` in the
# Docker image when a Docker engine answers, else with the local llmclf.
#   LLMCLF_RUNNER=auto|local|docker   which one (default auto)
#   LLMCLF_IMAGE                      the image (default llmclf:latest)
# In Docker:
# - the current folder is mounted read-write at its own path, and so is the folder of
#   every argument that names a file outside it, or a link in it that leads outside (models/ linked to
#   another disk), so paths mean what they mean outside
#   (for --save, --output and --db, the nearest folder that exists: llmclf makes the rest);
# - a pipe the shell made (--load <(curl ...), --save >(aws s3 cp - ...)) goes through a copy in a shared folder;
# - the user data and cache dirs (run log, tag sets, generation cache, the fast
#   embedder) are the host's own, so a run id printed by one run is known to the next;
# - it runs as the calling user, so what it writes is yours;
# - localhost in OPENAI_BASE_URL becomes host.docker.internal, mapped to the host;
# - the image is rebuilt when its source-hash label differs from this checkout's.
set -euo pipefail

# --save=~/m.model: the shell leaves a ~ after "=" alone. llmclf makes it the home folder, but in Docker that is the
# container's, gone with it: it is made the host's here, before the paths below are mounted.
args=()
for arg in "$@"; do
  case "$arg" in
    --save=~ | --load=~ | --input=~ | --output=~ | --data=~ | --classes=~ | --unlabeled=~ | --db=~ | --model=~ | \
    --save=~/* | --load=~/* | --input=~/* | --output=~/* | --data=~/* | --classes=~/* | --unlabeled=~/* | --db=~/* | \
    --model=~/*)
      value="${arg#*=}"
      args+=("${arg%%=*}=$HOME${value#\~}") ;;
    *) args+=("$arg") ;;
  esac
done
set -- ${args[@]+"${args[@]}"}

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
image="${LLMCLF_IMAGE:-llmclf:latest}"
runner="${LLMCLF_RUNNER:-auto}"
caller="$(basename "${CALLER:-$0}")"

case "$runner" in
  auto)
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then runner=docker; else runner=local; fi ;;
  local | docker) ;;
  *)
    echo "$caller: error: LLMCLF_RUNNER must be auto, local or docker, not '$runner'" >&2
    exit 2 ;;
esac

sha256=(sha256sum)
command -v sha256sum >/dev/null 2>&1 || sha256=(shasum -a 256)  # macOS has shasum, not sha256sum
source_hash() {
  (cd "$repo" && find pyproject.toml README.md Dockerfile llmclf -type f ! -name '*.pyc' -print0 | LC_ALL=C sort -z |
    xargs -0 "${sha256[@]}" | "${sha256[@]}" | cut -c1-16)
}

if [[ "$runner" == docker ]]; then
  want="$(source_hash)"
  have="$(docker image inspect -f '{{ index .Config.Labels "org.llmclf.source-hash" }}' "$image" 2>/dev/null || true)"
  if [[ "$have" != "$want" ]]; then
    echo "$caller: building Docker image $image (source $want${have:+, image had $have})" >&2
    docker build -q --label "org.llmclf.source-hash=$want" -t "$image" "$repo" >&2
  fi
  # --load <(curl ...), --data <(jq ...), --save >(aws s3 cp - ...): the container cannot open this shell's
  # /dev/fd/N. Such a pipe is copied to a file in a folder shared with the container before the run (what llmclf
  # reads), or sent from one after it (what --save and --output write). /dev/stdin and /dev/stdout need none of
  # this: docker run -i passes the streams themselves.
  relay="" sendback=() relayed=() prev=""
  for arg in "$@"; do
    opt="$prev" value="$arg"
    [[ "$arg" == --*=* ]] && opt="${arg%%=*}" value="${arg#*=}"
    prev="$arg"
    if [[ "$value" =~ ^/(dev|proc/self)/fd/([0-9]+)$ ]] && ((BASH_REMATCH[2] > 2)); then
      if [[ -z "$relay" ]]; then
        relay="$(mktemp -d "${TMPDIR:-/tmp}/llmclf-relay.XXXXXX")"
        trap 'rm -rf "$relay"' EXIT  # now, not after the mounts: a refused run exits before docker starts
      fi
      copy="$relay/${#relayed[@]}"
      if [[ "$opt" =~ ^(--save|-s|--output|-o)$ ]]; then
        sendback+=("$copy" "$value")
      else
        cat "$value" > "$copy"
      fi
      [[ "$arg" == --*=* ]] && arg="$opt=$copy" || arg="$copy"
    fi
    relayed+=("$arg")
  done
  set -- ${relayed[@]+"${relayed[@]}"}
  data="${LLMCLF_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/llmclf}"
  cache="${LLMCLF_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/llmclf}"
  mkdir -p "$data" "$cache"
  # absolute: docker takes a relative "home:/llmclf/data" for a named volume, and the run log would live there
  data="$(cd "$data" && pwd)" cache="$(cd "$cache" && pwd)"
  mounts=()
  bind() {  # -v splits on ':', so a folder with one in its name ("run 12:30") goes as --mount, a line of CSV
    if [[ "$1" != *:* ]]; then mounts+=(-v "$1:$2"); return; fi
    local q='"' qq='""'
    mounts+=(--mount "type=bind,\"source=${1//$q/$qq}\",\"target=${2//$q/$qq}\"")
  }
  bind "$PWD" "$PWD"
  bind "$data" /llmclf/data
  bind "$cache" /llmclf/cache
  seen=$'\n'"$PWD"$'\n'  # folders mounted so far, one a line (no associative array: macOS ships bash 3.2)
  prev=""
  for arg in "$@"; do  # a path outside the current folder: mount its folder at the same path
    value="${arg#*=}"
    writes=""  # where --save, --output or --db will write: llmclf makes missing folders, so mount the nearest that exists
    [[ "$prev" =~ ^(--save|-s|--output|-o|--db)$ || "$arg" =~ ^(--save|--output|--db)= ]] && writes=1
    prev="$arg"
    # a path with a folder in it, or a link: where it lies (and where its folders' links lead) may be outside
    [[ "$value" == */* || -L "$value" ]] || continue
    parent="$(dirname "$value")"
    while [[ -n "$writes" && ! -d "$parent" && "$parent" != / && "$parent" != . ]]; do parent="$(dirname "$parent")"; done
    dir="$(cd "$parent" 2>/dev/null && pwd)" || continue
    if [[ "$dir" == / ]]; then
      [[ -z "$writes" ]] && continue
      echo "$caller: error: no folder on the way to $value exists to share with Docker; create it first" >&2
      exit 2
    fi
    # models/ linked to /mnt/big/models, or data.csv linked to a file elsewhere: the link resolves in the
    # container only if where it leads is mounted there too
    dirs=("$dir" "$(cd -P "$parent" 2>/dev/null && pwd -P)")
    [[ -L "$value" ]] && dirs+=("$(dirname "$(readlink -f "$value" 2>/dev/null || echo /)")")
    for d in "${dirs[@]}"; do
      [[ "$d" == / || "$d/" == "$PWD/"* || "$seen" == *$'\n'"$d"$'\n'* ]] && continue
      seen+="$d"$'\n'
      bind "$d" "$d"
    done
  done
  if [[ "${OPENAI_BASE_URL:-}" =~ ^(https?://)(localhost|127\.0\.0\.1)([:/].*)?$ ]]; then
    export OPENAI_BASE_URL="${BASH_REMATCH[1]}host.docker.internal${BASH_REMATCH[3]}"
  fi
  # OPENAI_* and LLMCLF_* variables (LLMCLF_EMBEDDER, LLMCLF_DEBUG ... as llmclf reads them outside), and NO_COLOR,
  # go by name only: their values never reach a command line. The two folders are the container's own.
  env_flags=(-e LLMCLF_HOME=/llmclf/data -e LLMCLF_CACHE_DIR=/llmclf/cache)
  while IFS='=' read -r name _; do
    [[ "$name" == LLMCLF_HOME || "$name" == LLMCLF_CACHE_DIR ]] && continue
    [[ "$name" == OPENAI_* || "$name" == LLMCLF_* || "$name" == NO_COLOR ]] && env_flags+=(-e "$name")
  done < <(env)
  tty_flag=()
  # a terminal for all three, or none: with -t docker sends stderr down stdout, so `2>log` would land on the screen
  [[ -t 0 && -t 1 && -t 2 ]] && tty_flag=(-t)
  echo "$caller: running in Docker image $image as $(id -u):$(id -g)" >&2
  run=(docker run --rm -i ${tty_flag[@]+"${tty_flag[@]}"} --user "$(id -u):$(id -g)"
    --add-host=host.docker.internal:host-gateway "${env_flags[@]}" "${mounts[@]}" -w "$PWD" "$image" "$@")
  [[ -n "$relay" ]] || exec "${run[@]}"
  status=0
  "${run[@]}" || status=$?
  for ((i = 0; i < ${#sendback[@]}; i += 2)); do  # what the container wrote, to the pipe it was meant for
    [[ -f "${sendback[i]}" ]] && cat "${sendback[i]}" > "${sendback[i + 1]}"
  done
  exit "$status"
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
