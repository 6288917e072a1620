#!/usr/bin/env bash
# Re-captures the protocol golden-test pcaps (test/fixtures/protocols/*.pcap) from REAL clients and
# servers talking over loopback: dig ↔ dnsmasq, curl ↔ a Node HTTP origin, openssl s_client ↔
# s_server, swaks ↔ a small SMTP sink, sipsak ↔ a small SIP responder, ping. Needs root (tcpdump on
# lo) and the Debian packages: tcpdump dnsutils dnsmasq-base curl openssl swaks sipsak iputils-ping.
# The pcaps are committed, so the tests never run this; after re-capturing, regenerate the golden
# files with PCAPLINE_UPDATE_GOLDEN=1 and review the diff.
#
# Some servers listen on their protocol's registered port and some on an unusual one, so the
# captures exercise both port dispatch and content dispatch (DNS on 5353, TLS on 4433, HTTP on
# 18080, SMTP on 2525).
set -euo pipefail
cd "$(dirname "$0")/.."
# Usage: capture-protocol-fixtures.sh [dns|http|tls|smtp|sip|icmp ...] (default: all)
OUT=${PCAPLINE_FIXTURE_DIR:-test/fixtures/protocols}
WANT=${*:-dns http tls smtp sip icmp}
want() { [[ " $WANT " == *" $1 "* ]]; }
SERVERS=test/support/protocol-servers
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$OUT"

# capture NAME FILTER COMMAND...: runs COMMAND while tcpdump writes $OUT/NAME.pcap.
capture() {
  local name=$1 filter=$2
  shift 2
  tcpdump -i lo -U -s 0 -w "$OUT/$name.pcap" "$filter" 2>/dev/null &
  local dump=$!
  sleep 1
  "$@" || true
  sleep 1
  kill -INT "$dump"
  wait "$dump" || true
  echo "captured $OUT/$name.pcap ($(tcpdump -r "$OUT/$name.pcap" 2>/dev/null | wc -l) packets)"
}

background() {
  "$@" >/dev/null 2>&1 &
  PIDS+=($!)
}

# ---- DNS: dnsmasq authoritative for fixture.test, on 53 (v4 + v6) and 5353 ----
if want dns; then
for port in 53 5353; do
  background dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
    --listen-address=127.0.0.1 --listen-address=::1 --port="$port" \
    --address=/www.fixture.test/192.0.2.10 --address=/www.fixture.test/2001:db8::10 \
    --mx-host=fixture.test,mail.fixture.test,10 --txt-record=fixture.test,"v=spf1 -all" \
    --cname=alias.fixture.test,www.fixture.test
done
sleep 1
dns_clients() {
  dig +tries=1 +time=2 @127.0.0.1 www.fixture.test A
  dig +tries=1 +time=2 @127.0.0.1 www.fixture.test AAAA
  dig +tries=1 +time=2 @127.0.0.1 fixture.test MX
  dig +tries=1 +time=2 @127.0.0.1 fixture.test TXT
  dig +tries=1 +time=2 @127.0.0.1 alias.fixture.test A
  dig +tries=1 +time=2 @127.0.0.1 nope.fixture.test A
  dig +tries=1 +time=2 +tcp @127.0.0.1 www.fixture.test A
  dig +tries=1 +time=2 @::1 www.fixture.test AAAA
  dig +tries=1 +time=2 -p 5353 @127.0.0.1 www.fixture.test A
}
capture dns 'port 53 or port 5353' dns_clients
fi

# ---- HTTP: Node origin on 8080 (port dispatch) and 18080/18081 (content dispatch) ----
if want http; then
background node "$SERVERS/http-server.mjs" 8080
background node "$SERVERS/http-server.mjs" 18080
sleep 1
http_clients() {
  curl -s -o /dev/null -A 'pcapline-fixture/1.0' http://127.0.0.1:8080/index.html http://127.0.0.1:8080/second
  curl -s -o /dev/null -I http://127.0.0.1:8080/head
  curl -s -o /dev/null http://127.0.0.1:8080/missing
  curl -s -o /dev/null -u alice:secret -d 'field=value&x=1' 'http://127.0.0.1:8080/echo?debug=1'
  curl -s -o /dev/null http://127.0.0.1:18080/chunked
  curl -s -o /dev/null --http1.0 http://127.0.0.1:18081/close
  curl -s -o /dev/null -g 'http://[::1]:8080/v6'
}
# the IPv6 request fails (server on 127.0.0.1): a SYN/RST pair the analyzer must ignore.
capture http 'port 8080 or port 18080 or port 18081' http_clients
fi

# ---- TLS: openssl s_server with a self-signed certificate on 8443 and 4433 ----
if want tls; then
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj '/CN=tls.fixture.test/O=pcapline fixtures' \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
background openssl s_server -quiet -accept 8443 -cert "$WORK/cert.pem" -key "$WORK/key.pem" -alpn http/1.1 -www
background openssl s_server -quiet -accept 4433 -cert "$WORK/cert.pem" -key "$WORK/key.pem" -www
sleep 1
tls_clients() {
  printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -quiet -connect 127.0.0.1:8443 -servername tls.fixture.test -tls1_2 -alpn h2,http/1.1 2>/dev/null >/dev/null
  printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -quiet -connect 127.0.0.1:8443 -servername tls.fixture.test -tls1_3 -alpn h2,http/1.1 2>/dev/null >/dev/null
  printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -quiet -connect 127.0.0.1:4433 -servername other.fixture.test -tls1_2 2>/dev/null >/dev/null
  curl -sk -o /dev/null --resolve tls.fixture.test:8443:127.0.0.1 https://tls.fixture.test:8443/
}
capture tls 'port 8443 or port 4433' tls_clients
fi

# ---- SMTP: swaks against the sink on 25 (port dispatch) and 2525 (content dispatch) ----
if want smtp; then
background node "$SERVERS/smtp-sink.mjs" 25
background node "$SERVERS/smtp-sink.mjs" 2525
sleep 1
smtp_clients() {
  swaks --server 127.0.0.1:25 --helo client.fixture.test --from alice@fixture.test --to bob@sink.test \
    --header 'Subject: quarterly report' --header 'Message-Id: <fixture-1@fixture.test>' --body 'numbers attached'
  swaks --server 127.0.0.1:2525 --helo client.fixture.test --from carol@fixture.test --to dave@sink.test,nobody@sink.test \
    --header 'Subject: second message' --body 'hello'
}
capture smtp 'port 25 or port 2525' smtp_clients
fi

# ---- SIP: sipsak against the responder on 5060 ----
if want sip; then
background node "$SERVERS/sip-responder.mjs" 5060
sleep 1
sip_clients() {
  sipsak -s sip:alice@127.0.0.1:5060 -H 127.0.0.1
  sipsak -U -C sip:alice@127.0.0.1 -s sip:alice@127.0.0.1:5060 -H 127.0.0.1 -x 1
  sipsak -f "$SERVERS/sip-invite.txt" -s sip:bob@127.0.0.1:5060
}
capture sip 'port 5060' sip_clients
fi

# ---- ICMP: echo request/reply over v4 and v6, a port unreachable ----
if want icmp; then
icmp_clients() {
  ping -c 2 -i 0.2 127.0.0.1
  ping -6 -c 2 -i 0.2 ::1
  dig +tries=1 +time=1 -p 9 @127.0.0.1 unreachable.fixture.test
}
capture icmp 'icmp or icmp6 or udp port 9' icmp_clients
fi

