#!/bin/bash
# cluster.sh: a real one-node Corosync 3 + Pacemaker 2.1 cluster on 127.0.0.1,
# started without systemd, for the integration tests.
#
#   tests/harness/cluster.sh up       start corosync + pacemakerd, wait until node1 is online
#   tests/harness/cluster.sh down     stop them (pacemakerd first), wipe the CIB
#   tests/harness/cluster.sh status   crm_mon -1
#
# Facts it relies on (Debian 12: pacemaker 2.1.5, corosync 3.1.7):
#  * pacemakerd does not daemonize; corosync runs in the foreground with -f.
#  * A seeded CIB with dc-deadtime=2s brings the node online in ~5 s instead of
#    ~22 s. It must not carry a crm_feature_set newer than the daemons' own.
#  * pcs edits the local CIB without pcsd.
# Everything it starts is recorded by PID under $RUN and stopped by PID.
set -u
RUN=${OCF_RS_CLUSTER_RUN:-/run/ocf-rs-cluster}
CIB_DIR=/var/lib/pacemaker/cib
mkdir -p "$RUN"

log() { echo "cluster.sh: $*" >&2; }

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

write_corosync_conf() {
    cat > "$RUN/corosync.conf" <<'CONF'
totem {
    version: 2
    cluster_name: ocfrs
    transport: knet
    crypto_cipher: none
    crypto_hash: none
    token: 3000
}
nodelist {
    node {
        ring0_addr: 127.0.0.1
        name: node1
        nodeid: 1
    }
}
quorum {
    provider: corosync_votequorum
}
logging {
    to_logfile: yes
    logfile: /var/log/corosync/corosync.log
    to_syslog: no
    to_stderr: no
}
CONF
}

seed_cib() {
    mkdir -p "$CIB_DIR"
    rm -f "$CIB_DIR"/cib*
    cp "$(dirname "$0")/seed-cib.xml" "$CIB_DIR/cib.xml"
    chown -R hacluster:haclient "$CIB_DIR"
    chmod 600 "$CIB_DIR/cib.xml"
}

up() {
    if alive "$RUN/pacemakerd.pid" || alive "$RUN/corosync.pid"; then
        log "a previous cluster is still running: stopping it first"
        down
    fi
    # Another corosync in this network namespace (libqb IPC is per netns)?
    # Clusters of the multi-node harness live in their own namespaces. One
    # that is still stopping (the previous test's) gets 30 s to go.
    local w
    for w in $(seq 60); do
        foreign=$(pgrep -a --ns $$ --nslist net,pid -x pacemakerd)
        corosync-cfgtool -s > /dev/null 2>&1 || [ -n "$foreign" ] || break
        [ "$w" = 1 ] && log "waiting for a cluster stack that is still running: ${foreign:-corosync answers}"
        sleep 0.5
    done
    if corosync-cfgtool -s > /dev/null 2>&1 || [ -n "$foreign" ]; then
        log "corosync or pacemakerd runs outside this harness (${foreign:-corosync answers}); refusing to start a second one"
        ps -eo pid,ppid,stat,etime,cmd | grep -E '[c]orosync|[p]acemaker' >&2
        return 1
    fi
    mkdir -p /var/log/corosync /var/log/pacemaker /var/lib/corosync
    chown hacluster:haclient /var/log/pacemaker 2>/dev/null
    write_corosync_conf
    seed_cib
    setsid corosync -f -c "$RUN/corosync.conf" > "$RUN/corosync.out" 2>&1 < /dev/null &
    echo $! > "$RUN/corosync.pid"
    local i
    for i in $(seq 50); do corosync-cfgtool -s >/dev/null 2>&1 && break; sleep 0.2; done
    ( set -a; [ -r /etc/default/pacemaker ] && . /etc/default/pacemaker
      exec setsid /usr/sbin/pacemakerd ) > "$RUN/pacemakerd.out" 2>&1 < /dev/null &
    echo $! > "$RUN/pacemakerd.pid"
    local t0=$SECONDS
    until crm_mon -1 2>/dev/null | grep -q 'Online: \[ node1 \]'; do
        if [ $((SECONDS - t0)) -gt 90 ]; then
            log "node1 did not come online within 90 s"
            tail -20 "$RUN/pacemakerd.out" /var/log/pacemaker/pacemaker.log 2>/dev/null >&2
            return 1
        fi
        sleep 0.5
    done
    log "node1 online after $((SECONDS - t0)) s"
}

stop_pid() {  # stop_pid PIDFILE SECONDS
    local f=$1 limit=$2 p i
    alive "$f" || { rm -f "$f"; return 0; }
    p=$(cat "$f")
    kill -TERM "$p" 2>/dev/null
    for i in $(seq $((limit * 5))); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$p" 2>/dev/null; then
        log "PID $p ignored TERM for ${limit}s: killing it"
        kill -KILL "$p" 2>/dev/null
    fi
    rm -f "$f"
}

down() {
    stop_pid "$RUN/pacemakerd.pid" 120
    # pacemakerd stops its children; anything left (after a KILL) goes too.
    local d
    for d in pacemaker-based pacemaker-fenced pacemaker-execd pacemaker-attrd \
             pacemaker-schedulerd pacemaker-controld; do
        # only ours: same network and PID namespace as this script
        pkill -KILL --ns $$ --nslist net,pid -x "$d" 2>/dev/null
    done
    stop_pid "$RUN/corosync.pid" 30
    rm -f "$CIB_DIR"/cib* /var/lib/pacemaker/pengine/* 2>/dev/null
    return 0
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) crm_mon -1 ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
