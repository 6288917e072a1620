#!/usr/bin/env bash
# Local stack: a real Apache Kafka (KRaft, one broker+controller JVM) and a real HDFS (NameNode and
# DataNode JVMs, WebHDFS), run from Maven Central jars, every listener on 127.0.0.1.
#   stack.sh up       fetch jars (cached), write configs, format, start, wait until a real
#                     produce+consume and a real WebHDFS CREATE+OPEN work. No-op when already up.
#   stack.sh status   endpoints, versions and PIDs; exit 1 when down.
#   stack.sh down     stop by recorded PID (TERM, then KILL after a grace period), remove the work dir.
#   stack.sh stop-datanode | start-datanode   fault injection for tests (keeps data).
# Environment: PCAPLINE_STACK_DIR (work dir), PCAPLINE_CACHE (jar cache), PCAPLINE_KEEP=1 (keep data on down).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CACHE="${PCAPLINE_CACHE:-$HOME/.cache/pcapline}"
WORK="${PCAPLINE_STACK_DIR:-/tmp/pcapline-stack}"
JAVA="${JAVA:-java}"
KAFKA_VERSION=3.9.1
HADOOP_VERSION=3.4.2
KAFKA_CLUSTER_ID=4L6g3nShT-eMCtK--X86sw
KAFKA_PORT=9092 CTRL_PORT=9093 NN_RPC=8020 NN_HTTP=9870 DN_HTTP=9864 DN_XFER=9866 DN_IPC=9867
KLIB="$CACHE/kafka-$KAFKA_VERSION/lib"
HLIB="$CACHE/hadoop-$HADOOP_VERSION/lib"
COMPONENTS=(kafka namenode datanode)

log() { echo "[stack] $*" >&2; }
die() { local msg=$1; shift; echo "[stack] ERROR: $msg" >&2
  for f in "$@"; do echo "[stack] --- last lines of $WORK/$f.log ---" >&2; tail -n 40 "$WORK/$f.log" >&2 2>/dev/null || true; done
  if [ -n "${STARTING:-}" ]; then  # a failed `up` leaves nothing of ours running
    for c in "${COMPONENTS[@]}"; do stop "$c"; done; fi
  exit 1; }

dep() { echo "<dependency><groupId>$1</groupId><artifactId>$2</artifactId><version>$3</version></dependency>"; }
fetch() { # $1=dir $2=dependency xml; the .complete marker makes it idempotent
  [ -f "$1/lib/.complete" ] && return 0
  mkdir -p "$1"; rm -rf "$1/lib"
  printf '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion><groupId>local</groupId><artifactId>%s</artifactId><version>1</version><packaging>pom</packaging><dependencies>%s</dependencies></project>\n' \
    "$(basename "$1")" "$2" > "$1/pom.xml"
  log "fetching $(basename "$1") jars from Maven Central into $1/lib"
  mvn -B -q -Dstyle.color=never -f "$1/pom.xml" org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$1/lib" >&2 || die "maven could not fetch $(basename "$1")"
  touch "$1/lib/.complete"; }
fetch_all() {
  fetch "$CACHE/kafka-$KAFKA_VERSION" "$(dep org.apache.kafka kafka_2.13 $KAFKA_VERSION)$(dep org.slf4j slf4j-reload4j 1.7.36)$(dep ch.qos.reload4j reload4j 1.2.25)"
  fetch "$CACHE/hadoop-$HADOOP_VERSION" "$(dep org.apache.hadoop hadoop-hdfs $HADOOP_VERSION)$(dep org.apache.hadoop hadoop-hdfs-client $HADOOP_VERSION)$(dep org.apache.hadoop hadoop-common $HADOOP_VERSION)"; }

busy()  { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid_of() { cat "$WORK/$1.pid" 2>/dev/null || true; }
alive() { local p; p=$(pid_of "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
# Daemons must not inherit fd 9 (the stack lock) or the lock would be held for as long as they run.
start() { local n=$1; shift; "$@" >"$WORK/$n.log" 2>&1 9>&- & echo $! >"$WORK/$n.pid"; }
stop() {
  alive "$1" || { rm -f "$WORK/$1.pid"; return 0; }
  local p; p=$(pid_of "$1"); kill "$p" 2>/dev/null || true
  for _ in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$p" 2>/dev/null; then log "$1 ($p) ignored TERM for 20 s, sending KILL"; kill -9 "$p" 2>/dev/null || true; fi
  rm -f "$WORK/$1.pid"; }
wait_until() { local s=$1 what=$2; shift 2; local end=$((SECONDS+s))
  until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.5; done; }
xmlconf() { echo '<?xml version="1.0"?><configuration>'; while [ $# -ge 2 ]; do
  echo "<property><name>$1</name><value>$2</value></property>"; shift 2; done; echo '</configuration>'; }

kafka_java() {
  KJ=("$JAVA" -Xms256m -Xmx512m -Djava.net.preferIPv4Stack=true -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
      -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true
      "-Dlog4j.configuration=file:$WORK/kafka-log4j.properties" "-Dkafka.logs.dir=$WORK" -cp "$KLIB/*"); }
hadoop_java() {
  local opens=(-XX:+IgnoreUnrecognizedVMOptions)
  for m in java.lang java.lang.reflect java.io java.net java.nio sun.nio.ch java.util java.util.concurrent java.util.zip \
           java.math java.text sun.security.util sun.security.x509; do opens+=("--add-opens=java.base/$m=ALL-UNNAMED"); done
  opens+=(--add-opens=java.security.jgss/sun.security.krb5=ALL-UNNAMED)
  HJ=("$JAVA" -Xms128m -Xmx512m -Djava.net.preferIPv4Stack=true "-Dhadoop.home.dir=$WORK" "-Dhadoop.log.dir=$WORK/hlogs"
      "${opens[@]}" -cp "$WORK/hconf:$HLIB/*")
  # The DataNode serves WebHDFS on Netty event loops that block for the whole write, close included
  # (DFSOutputStream.completeFile polls the NameNode until the block is reported). Netty's default is
  # 2 loops per core: 4 here, so at most 4 file closes at once and ~18 block-closing CREATEs/s in total,
  # whatever the clients' concurrency. A DataNode on a real server has 32+; give ours as many.
  DNJ=("${HJ[0]}" -Dio.netty.eventLoopThreads=64 "${HJ[@]:1}"); }

write_configs() {
  mkdir -p "$WORK"/{kafka-data,hconf,nn,dn,hlogs}
  # The Maven jars do not carry the web UI resources of a Hadoop distribution; HttpServer2 only needs
  # the webapps/<name> directories to exist on the classpath (WebHDFS itself is a Jersey servlet).
  mkdir -p "$WORK"/hconf/webapps/{hdfs,datanode,secondary,static}
  cat > "$WORK/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CTRL_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CTRL_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$WORK/kafka-data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
message.max.bytes=10485760
num.network.threads=2
num.io.threads=2
EOF
  printf '%s\n' 'log4j.rootLogger=INFO, stdout' 'log4j.appender.stdout=org.apache.log4j.ConsoleAppender' \
    'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout' 'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n' \
    'log4j.logger.kafka.request.logger=WARN' 'log4j.logger.state.change.logger=WARN' > "$WORK/kafka-log4j.properties"
  xmlconf fs.defaultFS "hdfs://127.0.0.1:$NN_RPC" hadoop.tmp.dir "$WORK/htmp" > "$WORK/hconf/core-site.xml"
  # locateFollowingBlock.initial.delay.ms: the first wait of a writer's close when the block is not yet
  # reported (400 ms by default, doubling). The DataNode's own WebHDFS writer reads it, so every small
  # file's close paid 400 ms although the report comes a few ms later. Polling sooner changes no check.
  xmlconf dfs.replication 1 dfs.namenode.name.dir "file://$WORK/nn" dfs.datanode.data.dir "file://$WORK/dn" \
    dfs.namenode.rpc-address "127.0.0.1:$NN_RPC" dfs.namenode.http-address "127.0.0.1:$NN_HTTP" \
    dfs.namenode.secondary.http-address 127.0.0.1:9868 dfs.namenode.https-address 127.0.0.1:9871 \
    dfs.datanode.address "127.0.0.1:$DN_XFER" dfs.datanode.http.address "127.0.0.1:$DN_HTTP" \
    dfs.datanode.ipc.address "127.0.0.1:$DN_IPC" dfs.datanode.https.address 127.0.0.1:9865 \
    dfs.datanode.hostname 127.0.0.1 dfs.client.use.datanode.hostname true \
    dfs.namenode.datanode.registration.ip-hostname-check false dfs.permissions.enabled false \
    dfs.webhdfs.enabled true dfs.namenode.safemode.extension 0 dfs.heartbeat.interval 1 \
    dfs.namenode.heartbeat.recheck-interval 5000 \
    dfs.client.block.write.replace-datanode-on-failure.enable false \
    dfs.client.block.write.replace-datanode-on-failure.policy NEVER \
    dfs.namenode.resource.du.reserved 52428800 \
    dfs.namenode.lease-hard-limit-sec 20 \
    dfs.client.block.write.locateFollowingBlock.initial.delay.ms 20 > "$WORK/hconf/hdfs-site.xml"
  printf '%s\n' 'log4j.rootLogger=INFO, console' 'log4j.appender.console=org.apache.log4j.ConsoleAppender' \
    'log4j.appender.console.layout=org.apache.log4j.PatternLayout' 'log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %p %c{2}: %m%n' \
    'log4j.logger.org.apache.hadoop.util.NativeCodeLoader=ERROR' \
    'log4j.logger.org.apache.hadoop.hdfs.server.namenode.FSNamesystem.audit=WARN' \
    'log4j.logger.org.apache.hadoop.hdfs.StateChange=WARN' > "$WORK/hconf/log4j.properties"
}

kafka_ready() { alive kafka || die "kafka exited during start-up" kafka; grep -q 'Kafka Server started' "$WORK/kafka.log"; }
hdfs_ready() {
  alive namenode || die "namenode exited during start-up" namenode
  alive datanode || die "datanode exited during start-up" datanode
  local j; j=$(curl -sf "http://127.0.0.1:$NN_HTTP/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState") || return 1
  grep -Eq '"NumLiveDataNodes" *: *[1-9]' <<<"$j" && grep -Eq '"FSState" *: *"Operational"' <<<"$j"; }

# The stack dir and endpoints.env must be ours and private: the tools trust endpoints.env only then
# (src/lib/endpoints.ts), since a file another local user can write would send them a fake broker.
private_dir() {
  mkdir -p -m 700 "$WORK" && chmod 700 "$WORK"
  [ -O "$WORK" ] || die "$WORK belongs to another user: remove it, or set PCAPLINE_STACK_DIR to a directory of yours"
  if [ -f "$WORK/endpoints.env" ]; then chmod 600 "$WORK/endpoints.env"; fi
}

write_endpoints() {
  (umask 077; cat > "$WORK/endpoints.env") <<EOF
KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
WEBHDFS_URL=webhdfs://127.0.0.1:$NN_HTTP
HDFS_URL=hdfs://127.0.0.1:$NN_RPC
KAFKA_VERSION=$KAFKA_VERSION
HADOOP_VERSION=$HADOOP_VERSION
HADOOP_CLASSPATH=$WORK/hconf:$HLIB/*
STACK_DIR=$WORK
EOF
}

is_up() { for c in "${COMPONENTS[@]}"; do alive "$c" || return 1; done; [ -f "$WORK/endpoints.env" ]; }

up() {
  mkdir -p "$(dirname "$WORK")"
  exec 9>"$WORK.lock"; flock 9   # concurrent `up` calls (parallel test runs) wait for one another
  if is_up; then private_dir; log "already up"; status; return 0; fi
  local t0=$SECONDS
  for c in "${COMPONENTS[@]}"; do alive "$c" && die "a partial stack is running ($c); run 'stack.sh down' first"; done
  fetch_all
  for p in $KAFKA_PORT $CTRL_PORT $NN_RPC $NN_HTTP $DN_HTTP $DN_XFER $DN_IPC; do
    busy "$p" && die "port 127.0.0.1:$p is already in use by another process (not started by this script)"; done
  rm -rf "$WORK"; private_dir
  STARTING=1
  write_configs
  kafka_java; hadoop_java
  "${KJ[@]}" kafka.tools.StorageTool format -t "$KAFKA_CLUSTER_ID" -c "$WORK/server.properties" -g > "$WORK/kafka-format.log" 2>&1 \
    || die "kafka storage format failed" kafka-format
  start kafka "${KJ[@]}" kafka.Kafka "$WORK/server.properties"
  "${HJ[@]}" org.apache.hadoop.hdfs.server.namenode.NameNode -format -force -nonInteractive -clusterid pcapline \
    > "$WORK/nn-format.log" 2>&1 || die "namenode format failed" nn-format
  start namenode "${HJ[@]}" org.apache.hadoop.hdfs.server.namenode.NameNode
  start datanode "${DNJ[@]}" org.apache.hadoop.hdfs.server.datanode.DataNode
  wait_until 120 Kafka kafka_ready || die "timeout (120 s) waiting for Kafka to start" kafka
  wait_until 180 HDFS hdfs_ready || die "timeout (180 s) waiting for HDFS (NameNode operational with a live DataNode)" namenode datanode
  write_endpoints
  # Ready means real traffic works: produce+consume on Kafka, CREATE (redirect on 127.0.0.1) + OPEN on WebHDFS.
  node "$HERE/stack-probe.mjs" "$WORK/endpoints.env" > "$WORK/probe.log" 2>&1 || die "readiness probe failed" probe kafka namenode datanode
  log "up in $((SECONDS - t0)) s"
  status
}

status() {
  local down=0
  for c in "${COMPONENTS[@]}"; do
    if alive "$c"; then echo "$c: running (pid $(pid_of "$c")), log $WORK/$c.log"; else echo "$c: DOWN"; down=1; fi
  done
  if [ -f "$WORK/endpoints.env" ]; then
    # Versions as the running services report them, not as configured.
    local kv hv
    kv=$(grep -o 'Kafka version: [^ ]*' "$WORK/kafka.log" 2>/dev/null | head -1 | cut -d' ' -f3)
    hv=$(curl -sf "http://127.0.0.1:$NN_HTTP/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo" 2>/dev/null \
         | grep -o '"SoftwareVersion" *: *"[^"]*"' | cut -d'"' -f4 || true)
    echo "kafka: 127.0.0.1:$KAFKA_PORT (Apache Kafka ${kv:-?} broker, KRaft)"
    echo "webhdfs: http://127.0.0.1:$NN_HTTP/webhdfs/v1 (Hadoop HDFS ${hv:-?} NameNode), datanode http://127.0.0.1:$DN_HTTP"
    echo "endpoints file: $WORK/endpoints.env"
  fi
  return $down
}

down() {
  exec 9>"$WORK.lock"; flock 9
  stop kafka; stop datanode; stop namenode
  [ -n "${PCAPLINE_KEEP:-}" ] || rm -rf "$WORK"
  log "down"
}

case "${1:-}" in
  up) up ;;
  status) status ;;
  down) down ;;
  fetch) fetch_all ;;
  stop-datanode) stop datanode ;;
  start-datanode)
    alive datanode || { hadoop_java; start datanode "${DNJ[@]}" org.apache.hadoop.hdfs.server.datanode.DataNode
      wait_until 120 HDFS hdfs_ready || die "datanode did not come back" datanode; } ;;
  stop-kafka) stop kafka ;;
  start-kafka)
    alive kafka || { kafka_java; start kafka "${KJ[@]}" kafka.Kafka "$WORK/server.properties"
      wait_until 120 Kafka kafka_ready || die "kafka did not come back" kafka; } ;;
  *) echo "usage: $0 up|status|down|fetch|stop-datanode|start-datanode|stop-kafka|start-kafka" >&2; exit 2 ;;
esac
