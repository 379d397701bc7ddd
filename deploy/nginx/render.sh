#!/usr/bin/env bash
# Renders deploy/nginx/nginx.conf.template into DIR/nginx.conf for a set of controllers, makes the
# self-signed certificate on first start (make-cert.sh) unless --cert/--key name one, creates the
# directories nginx writes to, and checks the result with `nginx -t`.
#
#   deploy/nginx/render.sh --controllers HOST:PORT[,HOST:PORT...] --dir DIR
#       [--https-port 443] [--http-port 80] [--listen 127.0.0.1] [--public-https-port PORT]
#       [--cert FILE --key FILE] [--san DNS:name,IP:addr] [--workers auto] [--user NAME]
#       [--template FILE] [--no-check]
#
# Every option falls back to an environment variable (compose/helm set these):
#   --controllers WISP_NGINX_CONTROLLERS   --dir WISP_NGINX_DIR
#   --https-port WISP_NGINX_HTTPS_PORT     --http-port WISP_NGINX_HTTP_PORT
#   --listen WISP_NGINX_LISTEN             --public-https-port WISP_NGINX_PUBLIC_HTTPS_PORT
#   --cert WISP_NGINX_CERT                 --key WISP_NGINX_KEY
#   --san WISP_NGINX_SAN                   --workers WISP_NGINX_WORKERS
#   --user WISP_NGINX_USER
#
# Then start nginx with the line it prints last:
#   nginx -p DIR -c DIR/nginx.conf -e DIR/logs/error.log
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "render: $*" >&2; exit 2; }

controllers="${WISP_NGINX_CONTROLLERS:-}"
dir="${WISP_NGINX_DIR:-}"
https_port="${WISP_NGINX_HTTPS_PORT:-443}"
http_port="${WISP_NGINX_HTTP_PORT:-80}"
listen="${WISP_NGINX_LISTEN:-127.0.0.1}"
public_https_port="${WISP_NGINX_PUBLIC_HTTPS_PORT:-}"
cert="${WISP_NGINX_CERT:-}"
key="${WISP_NGINX_KEY:-}"
san="${WISP_NGINX_SAN:-}"
workers="${WISP_NGINX_WORKERS:-auto}"
user="${WISP_NGINX_USER:-}"
template="$here/nginx.conf.template"
check=1

while [[ $# -gt 0 ]]; do
  opt="$1"
  case "$opt" in
    --no-check) check=0; shift; continue ;;
    -h|--help) usage; exit 0 ;;
  esac
  [[ $# -ge 2 ]] || die "$opt needs a value"
  case "$opt" in
    --controllers) controllers="$2" ;;
    --dir) dir="$2" ;;
    --https-port) https_port="$2" ;;
    --http-port) http_port="$2" ;;
    --listen) listen="$2" ;;
    --public-https-port) public_https_port="$2" ;;
    --cert) cert="$2" ;;
    --key) key="$2" ;;
    --san) san="$2" ;;
    --workers) workers="$2" ;;
    --user) user="$2" ;;
    --template) template="$2" ;;
    *) usage >&2; die "unknown option $opt" ;;
  esac
  shift 2
done

[[ -n $dir ]] || die "--dir is required"
[[ -n $controllers ]] || die "--controllers is required (HOST:PORT[,HOST:PORT...])"
[[ -r $template ]] || die "template $template not readable"
is_port() { [[ $1 =~ ^[0-9]+$ ]] && ((10#$1 >= 1 && 10#$1 <= 65535)); }
is_port "$https_port" || die "--https-port '$https_port' is not a port"
is_port "$http_port" || die "--http-port '$http_port' is not a port"
[[ $https_port != "$http_port" ]] || die "--https-port and --http-port must differ"
public_https_port="${public_https_port:-$https_port}"
is_port "$public_https_port" || die "--public-https-port '$public_https_port' is not a port"
[[ $workers == auto || $workers =~ ^[1-9][0-9]*$ ]] || die "--workers must be auto or a number"
# An address nginx's listen accepts: IPv4, [IPv6], a host name, or * (all interfaces).
[[ $listen =~ ^(\*|[A-Za-z0-9.:-]+|\[[0-9A-Fa-f:.]+\])$ ]] ||
  die "--listen '$listen' is not an address"

# One `server` line per controller. max_fails/fail_timeout: the template says why.
servers=""
IFS=',' read -r -a list <<<"$controllers"
for c in "${list[@]}"; do
  c="${c//[[:space:]]/}"
  [[ -n $c ]] || continue
  [[ $c =~ ^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]+)$ ]] ||
    die "controller '$c' is not HOST:PORT"
  is_port "${BASH_REMATCH[2]}" || die "controller '$c' has no valid port"
  servers+="        server $c max_fails=1 fail_timeout=10s;"$'\n'
done
[[ -n $servers ]] || die "--controllers names no controller"
servers="${servers%$'\n'}"

mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
# nginx makes only the last component of a temp path; the rest must exist.
mkdir -p "$dir/logs" "$dir/tmp"

if [[ -z $cert && -z $key ]]; then
  "$here/make-cert.sh" "$dir/tls" ${san:+--san "$san"} >/dev/null
  cert="$dir/tls/tls.crt"
  key="$dir/tls/tls.key"
elif [[ -z $cert || -z $key ]]; then
  die "--cert and --key go together"
fi
[[ -r $cert ]] || die "certificate $cert not readable"
[[ -r $key ]] || die "key $key not readable"

# The `user` directive means something only to a master running as root: then the workers run as
# --user (default: root itself, i.e. the one who started it, as for any other user; pass e.g.
# --user www-data in a container). Emitted only then, so an ordinary user's nginx -t stays quiet.
user_directive=""
if [[ $(id -u) -eq 0 ]]; then
  user_directive="user ${user:-root};"
elif [[ -n $user ]]; then
  echo "render: --user ignored: workers run as the user who starts nginx unless that is root" >&2
fi

# The renderer: ${NAME} → value for exactly these names; anything else left as nginx reads it.
declare -A values=(
  [WISP_NGINX_USER_DIRECTIVE]="$user_directive"
  [WISP_NGINX_WORKERS]="$workers"
  [WISP_NGINX_DIR]="$dir"
  [WISP_NGINX_UPSTREAM_SERVERS]="$servers"
  [WISP_NGINX_LISTEN]="$listen"
  [WISP_NGINX_HTTP_PORT]="$http_port"
  [WISP_NGINX_HTTPS_PORT]="$https_port"
  [WISP_NGINX_PUBLIC_HTTPS_PORT]="$public_https_port"
  [WISP_NGINX_CERT]="$cert"
  [WISP_NGINX_KEY]="$key"
)
text="$(<"$template")"
for name in "${!values[@]}"; do
  text="${text//"\${$name}"/"${values[$name]}"}"
done
if [[ $text =~ \$\{WISP_NGINX_[A-Z_]*\} ]]; then
  die "template $template has a placeholder render.sh does not know: ${BASH_REMATCH[0]}"
fi

tmp="$(mktemp "$dir/.nginx.conf.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
printf '%s\n' "$text" >"$tmp"
chmod 0644 "$tmp"

if ((check)); then
  command -v nginx >/dev/null ||
    die "nginx not found (tools/install-deps.sh installs it; --no-check skips the check)"
  # -e: nginx opens its error log before reading the config; without it an ordinary user gets
  # an alert about /var/log/nginx/error.log.
  if ! out="$(nginx -t -q -p "$dir" -c "$tmp" -e "$dir/logs/error.log" 2>&1)"; then
    echo "render: nginx -t rejected the rendered config:" >&2
    echo "$out" >&2
    exit 1
  fi
fi
mv -f "$tmp" "$dir/nginx.conf"
trap - EXIT
# nginx -t leaves an empty pid file behind; a pid file should mean a running nginx.
[[ -s $dir/nginx.pid ]] || rm -f "$dir/nginx.pid"
echo "nginx -p $dir -c $dir/nginx.conf -e $dir/logs/error.log"
