#!/usr/bin/env bash
# Removes action containers and network sandboxes left by e2e standalones that died without
# shutting down (e.g. the test binary was SIGKILLed, so its wisp-standalone got SIGKILL too). A
# standalone on port P labels its containers wisp.invoker=0-P and its network sandboxes
# wisp.network-sandbox=0-P (standalone/main.cpp); a container is an orphan when nothing listens
# on 127.0.0.1:P any more. Containers of live standalones are left alone.
# Run by ctest as the setup and cleanup fixture of the e2e tests; quiet, never fails.
command -v docker >/dev/null 2>&1 || exit 0
for label in wisp.invoker wisp.network-sandbox; do
    docker ps -a --filter "label=$label" --format "{{.ID}} {{.Label \"$label\"}}" \
        2>/dev/null | while read -r id invoker; do
        [[ $invoker =~ ^0-([0-9]+)$ ]] || continue
        port=${BASH_REMATCH[1]}
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            docker rm -f "$id" >/dev/null 2>&1 && echo "removed orphaned container $id ($label=$invoker)"
        fi
    done
done
exit 0
