#!/usr/bin/env bash
# Deploys the todo API as a user would: a version behind the alias `live`, one key-value
# store, and its routes (with CORS for ORIGIN). Safe to run again: routes are added once.
#   examples/todo-api/deploy.sh GUST_BINARY TODO_API_WASM [ORIGIN]
set -euo pipefail
gust=$1 wasm=$2 origin=${3:-*}

version=$("$gust" deploy todo-api "$wasm" --kv todos | awk '{print $NF}')
"$gust" alias set todo-api live "$version"
routes=$("$gust" route ls)
for route in 'GET /api/todos' 'POST /api/todos' 'GET /api/todos/{id}' \
  'PUT /api/todos/{id}' 'DELETE /api/todos/{id}'; do
  method=${route%% *} path=${route#* }
  if ! awk -v m="$method" -v p="$path" '$2 == m && $3 == p {found = 1} END {exit !found}' \
    <<<"$routes"; then
    "$gust" route add "$route" todo-api@live --cors-origin "$origin" >/dev/null
  fi
done
