#!/bin/sh
# wisp/kafka-dev: the dev broker on 127.0.0.1:$WISP_KAFKA_DEV_PORT (default 9092) with
# $WISP_KAFKA_DEV_BROKERS brokers (default 1). Extra arguments go to wisp-kafka-dev-broker.
set -eu
exec /usr/local/bin/wisp-kafka-dev-broker --port "${WISP_KAFKA_DEV_PORT:-9092}" \
    --brokers "${WISP_KAFKA_DEV_BROKERS:-1}" "$@"
