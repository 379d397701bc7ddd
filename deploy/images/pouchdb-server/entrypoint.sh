#!/bin/sh
# wisp/pouchdb-server: pouchdb-server --in-memory on $HOST:$PORT (default 0.0.0.0:5984); its
# config.json and log.txt go to the working directory (/var/lib/pouchdb). Extra arguments go to
# pouchdb-server.
set -eu
exec node /opt/pouchdb/node_modules/pouchdb-server/bin/pouchdb-server --in-memory \
    --host "${HOST:-0.0.0.0}" --port "${PORT:-5984}" --config /var/lib/pouchdb/config.json \
    --no-color "$@"
