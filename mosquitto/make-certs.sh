#!/usr/bin/env bash
# Make a private CA and a server certificate for the broker's TLS listener. Safe to run again and again.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: $0 [--owner USER[:GROUP]] [HOSTNAME_OR_IP...]

Writes into mosquitto/certs/ (never committed):
  ca.key ca.crt           a private certificate authority (kept once made: clients trust ca.crt)
  server.key server.crt   the broker's certificate, signed by that CA, for the names given
                          (default: $(hostname) localhost mosquitto 127.0.0.1)

Give every name clients use to reach the broker, e.g. $0 mqtt.example.com 192.0.2.10

mosquitto reads the key after dropping root, as its own user, so that user must own server.key:
  --owner USER[:GROUP]    (as root) hand server.key to the broker's user, e.g. --owner 1883 for the
                          eclipse-mosquitto image (docker-compose.yml), --owner mosquitto for Debian's
                          package. Without it server.key belongs to whoever ran this script (mode 600).
Running it again keeps the CA and keeps the server certificate unless the names changed or it
expires within 30 days; then only the server certificate is made anew (clients need no change).

Environment: FDC_CERT_DIR (default: certs/ beside this script), FDC_CA_NAME (the CA's name),
FDC_CERT_DAYS (server certificate lifetime, default 825), FDC_CA_DAYS (default 3650).
USAGE
}

owner=""
names=()
while [ $# -gt 0 ]; do
  arg="$1"; shift
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --owner)
      if [ $# -eq 0 ] || [ -z "$1" ]; then echo "error: --owner needs a user, e.g. --owner 1883" >&2; exit 2; fi
      owner="$1"; shift ;;
    -*) echo "error: unknown option $arg" >&2; usage >&2; exit 2 ;;
    *)
      [[ "$arg" =~ ^[A-Za-z0-9.:*-]+$ ]] || { echo "error: '$arg' is not a host name or IP address" >&2; exit 2; }
      names+=("$arg") ;;
  esac
done
command -v openssl >/dev/null 2>&1 || { echo "error: openssl not found: apt-get install openssl" >&2; exit 1; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${FDC_CERT_DIR:-$here/certs}"
ca_name="${FDC_CA_NAME:-Friday Deploy Counter private CA}"
days="${FDC_CERT_DAYS:-825}"
ca_days="${FDC_CA_DAYS:-3650}"
[ ${#names[@]} -gt 0 ] || names=("$(hostname)" localhost mosquitto 127.0.0.1)

san=""
for n in "${names[@]}"; do
  if [[ "$n" =~ ^[0-9.]+$ || "$n" == *:* ]]; then san+="${san:+,}IP:$n"; else san+="${san:+,}DNS:$n"; fi
done

umask 077
mkdir -p "$dir"
cd "$dir"

if [ -s ca.key ] && [ -s ca.crt ]; then
  echo "CA: kept $dir/ca.crt"
else
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
    -days "$ca_days" -subj "/CN=$ca_name" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout ca.key -out ca.crt 2>/dev/null
  rm -f server.crt  # a new CA needs a new server certificate
  echo "CA: made $dir/ca.crt"
fi

if [ -s server.key ] && [ -s server.crt ] && [ "$(cat server.names 2>/dev/null)" = "$san" ] \
  && openssl x509 -in server.crt -noout -checkend $((30 * 86400)) >/dev/null \
  && openssl verify -CAfile ca.crt server.crt >/dev/null 2>&1; then
  echo "server certificate: kept $dir/server.crt ($san)"
else
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
    -subj "/CN=${names[0]}" -keyout server.key -out server.csr 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=$san" > server.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days "$days" \
    -extfile server.ext -out server.crt 2>/dev/null
  rm -f server.csr server.ext
  printf '%s\n' "$san" > server.names
  echo "server certificate: made $dir/server.crt ($san)"
fi
# ca.crt and server.crt are public; the keys stay readable by their owner only.
chmod 755 .
chmod 644 ca.crt server.crt
chmod 600 ca.key server.key
if [ -n "$owner" ]; then
  chown "$owner" server.key
  echo "server.key now belongs to $owner"
fi
