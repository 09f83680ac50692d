#!/usr/bin/env bash
# NTLM-authenticate one HTTP request with nothing but bash and `sesame token`:
# the three legs must share one TCP connection, so the script keeps its own
# (bash's /dev/tcp) and writes the requests by hand.
#
#   token-roundtrip.sh SESAME HOST PORT PATH 'DOMAIN\user' < password
#
# Prints the final status line and body; exits 0 on 200, 1 otherwise.
set -euo pipefail
sesame=$1 host=$2 port=$3 path=$4 user=$5
IFS= read -r password

exec 3<>"/dev/tcp/$host/$port"

# request TOKEN [extra header]: one GET on the connection.
request() {
  printf 'GET %s HTTP/1.1\r\nHost: %s:%s\r\nAuthorization: NTLM %s\r\n%s\r\n' \
    "$path" "$host" "$port" "$1" "${2:+$2$'\r\n'}" >&3
}

# read_head: status line and headers; sets status, challenge and length.
read_head() {
  status= challenge= length=0
  IFS= read -r -t 10 line <&3
  status=$(cut -d' ' -f2 <<<"$line")
  while IFS= read -r -t 10 line <&3; do
    line=${line%$'\r'}
    [ -z "$line" ] && break
    case "${line,,}" in
      "www-authenticate: ntlm "*) challenge=${line#* * } ;;
      "content-length: "*) length=${line#*: } ;;
    esac
  done
}

negotiate=$("$sesame" token negotiate)
request "$negotiate"
read_head
[ "$status" = 401 ] && [ -n "$challenge" ] || { echo "expected a 401 with an NTLM challenge, got $status" >&2; exit 1; }
head -c "$length" <&3 >/dev/null   # the 401's body: the connection stays open

authenticate=$(printf '%s\n' "$password" | "$sesame" token authenticate --user "$user" \
  --password-stdin --negotiate "$negotiate" --challenge "$challenge")
request "$authenticate" "Connection: close"
read_head
echo "status $status"
cat <&3
[ "$status" = 200 ]
