#!/usr/bin/env bash
# Cold start of each CLI's --help against `node -e 0`: the median wall time of N runs each,
# interleaved so that a busy machine weighs on both alike.  Usage: scripts/cold-start.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
[ -d dist ] || npm run -s build
wall() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
declare -A runs
cmds=("node -e 0" "node bin/pcap-query --help" "node bin/pcap-inspector --help" "node bin/pcap-replay --help" "node bin/start-pcap-topology --help")
for ((i = 0; i < n; i++)); do
  for c in "${cmds[@]}"; do runs[$c]+="$(wall $c) "; done
done
base=$(echo "${runs["node -e 0"]}" | tr ' ' '\n' | grep . | median)
printf '%-36s %8s %8s\n' "command (median of $n)" "ms" "vs node"
for c in "${cmds[@]}"; do
  m=$(echo "${runs[$c]}" | tr ' ' '\n' | grep . | median)
  printf '%-36s %8d %7.2fx\n' "$c" "$m" "$(echo "$m / $base" | bc -l)"
done
