#!/usr/bin/env bash
# ./train.sh --class "cat: Cats meow" --class "dog: Dogs bark" --save models/pets.model
CALLER="$0" exec "$(dirname "$0")/scripts/run-llmclf.sh" train "$@"
