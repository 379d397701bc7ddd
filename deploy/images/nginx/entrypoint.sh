#!/bin/bash
# wisp/nginx: renders /opt/wisp/nginx/nginx.conf.template into $WISP_NGINX_DIR with render.sh
# (settings from the WISP_NGINX_* environment, or render.sh options given as arguments, e.g.
# --controllers controller:8080), then runs nginx in the foreground. The logs go to the
# container's stdout/stderr unless WISP_NGINX_LOG_FILES=1 (then DIR/logs/*.log).
set -euo pipefail
dir=${WISP_NGINX_DIR:-/var/wisp-nginx}
mkdir -p "$dir/logs"
if [[ ${WISP_NGINX_LOG_FILES:-0} != 1 ]]; then
  ln -sfn /dev/stdout "$dir/logs/access.log"
  ln -sfn /dev/stderr "$dir/logs/error.log"
fi
/opt/wisp/nginx/render.sh --dir "$dir" "$@" >/dev/null
exec nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" -g 'daemon off;'
