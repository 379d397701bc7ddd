#!/usr/bin/env bash
# Makes the self-signed TLS certificate nginx terminates HTTPS with, once: DIR/tls.crt and
# DIR/tls.key (key mode 0600). Kept as they are when both exist, so clients that pinned or
# accepted the certificate keep working across restarts; remove them to make a new pair.
#
#   deploy/nginx/make-cert.sh DIR [--san DNS:api.example.com,IP:10.0.0.5] [--days N]
#
# Subject CN=localhost; subjectAltName DNS:localhost, IP:127.0.0.1, IP:::1 plus --san (comma
# separated, openssl's TYPE:value form) for a public name. EC P-256: quick to make, and every
# client Wisp supports (wsk, the npm openwhisk client, curl) speaks ECDSA. Self-signed means
# clients run with -i / ignore_certs, or trust DIR/tls.crt explicitly.
set -euo pipefail

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }

dir=""
extra_san=""
days=825  # the longest validity Apple's TLS clients accept for a certificate
while [[ $# -gt 0 ]]; do
  case "$1" in
    --san) extra_san="${2:?--san needs a value}"; shift 2 ;;
    --days) days="${2:?--days needs a value}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "make-cert: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) [[ -z $dir ]] || { echo "make-cert: one DIR only" >&2; exit 2; }; dir="$1"; shift ;;
  esac
done
[[ -n $dir ]] || { usage >&2; exit 2; }

crt="$dir/tls.crt"
key="$dir/tls.key"
if [[ -s $crt && -s $key ]]; then
  chmod 0600 "$key"
  exit 0
fi
if ! command -v openssl >/dev/null; then
  echo "make-cert: openssl not found (tools/install-deps.sh)" >&2
  exit 1
fi

mkdir -p "$dir"
san="DNS:localhost,IP:127.0.0.1,IP:::1"
[[ -n $extra_san ]] && san="$san,$extra_san"

# Written under temporary names and moved into place, so a crash or a concurrent first start
# never leaves a key without its certificate (or a half-written file) behind.
umask 077
tmp_key=$(mktemp "$dir/.tls.key.XXXXXX")
tmp_crt=$(mktemp "$dir/.tls.crt.XXXXXX")
trap 'rm -f "$tmp_key" "$tmp_crt"' EXIT
if ! out=$(openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$tmp_key" -out "$tmp_crt" -days "$days" -subj "/CN=localhost" \
  -addext "subjectAltName=$san" -addext "basicConstraints=critical,CA:FALSE" \
  -addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=serverAuth" 2>&1); then
  echo "make-cert: openssl failed:" >&2
  echo "$out" >&2
  exit 1
fi
chmod 0600 "$tmp_key"
chmod 0644 "$tmp_crt"
mv -f "$tmp_key" "$key"
mv -f "$tmp_crt" "$crt"
trap - EXIT
echo "make-cert: wrote $crt and $key (CN=localhost, SAN $san, $days days)"
