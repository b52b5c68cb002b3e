#!/usr/bin/env bash
# ./classify.sh --load models/pets.model "woof" "meow"
CALLER="$0" exec "$(dirname "$0")/scripts/run-llmclf.sh" classify "$@"
