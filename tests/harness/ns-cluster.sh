#!/bin/bash
# ns-cluster.sh: a 2- or 3-node Corosync 3 + Pacemaker 2.1 cluster on ONE
# machine, for the end-to-end scenarios (tests/it/e2e_*.rs) and the e2e demo.
# Every node is its own network + mount + UTS + PID (+ IPC) namespace; no
# systemd is needed.
#
#   ns-cluster.sh up N             build the network and the shared disk, start N nodes,
#                                  wait until all are online (E2E_LIBVIRT=1: a libvirtd per node)
#   ns-cluster.sh exec I CMD...    run CMD inside node I (all its namespaces)
#   ns-cluster.sh client CMD...    run CMD in the client namespace (on the bridge, not a node)
#   ns-cluster.sh kill I           SIGKILL node I's PID 1 (its whole PID namespace dies),
#                                  drop the addresses it held, as a dead host loses them
#   ns-cluster.sh stop I | start I graceful stop / (re)start of node I (its CIB is kept)
#   ns-cluster.sh partition I | heal I    unplug / replug node I's cable on the bridge
#   ns-cluster.sh disk             the shared disk (a loop device)
#   ns-cluster.sh mkfs             an empty ext4 on the shared disk
#   ns-cluster.sh prep-pg DIR      mkfs the shared disk and put a PostgreSQL cluster in
#                                  DIR/pgdata on it (mounted only in a private mount ns)
#   ns-cluster.sh pid I            node I's PID 1 as the root namespace sees it
#   ns-cluster.sh status           crm_mon -1 on the first live node
#   ns-cluster.sh down [--kill]    stop every node (graceful, or SIGKILL), remove it all
#
# Names: everything carries the prefix e2e (netns e2e-hub, e2e-n1..3, e2e-client; bridge
# e2e-br; veths e2e-h1..3/e2e-hc in the hub, e2e0 inside a node; $E2E_BASE). Addresses:
# only 203.0.113.0/24 (TEST-NET-3), only inside these namespaces: node I = .1I, the client
# .50, floating IPs .100 and up. The host's own interfaces are never touched.
#
# Why the nodes stay apart (and apart from tests/harness/cluster.sh's one-node cluster in
# the root namespaces, which may run at the same time):
#  * libqb IPC uses abstract unix sockets, which belong to a network namespace;
#  * each node has a private tmpfs on /run, /dev/shm and /tmp, and bind mounts of its own
#    /var/lib/pacemaker, /var/lib/corosync, /var/log/{pacemaker,corosync}, /etc/corosync
#    and /etc/hosts (and /etc/libvirt, /var/lib/libvirt, ... with a libvirtd);
#  * a PID namespace with a fresh /proc keeps pacemakerd's process scan per node, and
#    lets a kill take the whole node down at once. Nothing is ever stopped by name.
# Fencing: `pcs stonith create fence-e2e fence_e2e pcmk_host_list="node1 node2 node3"`
# really powers nodes off: fence_e2e (installed as /usr/sbin/fence_e2e while a cluster
# runs) asks this script's fence daemon in the root namespaces to kill the node.
# Storage: a loop device is global, mounts are per mount namespace, so the loop device
# acts like a SAN LUN that every node sees and each mounts on its own.
#
# Lock: one multi-node cluster per machine. `up` takes /run/ocf-rs-e2e.lock (waiting at
# most E2E_LOCK_WAIT s, default 600, then naming the holder) for the cluster's lifetime:
# the cluster's fence daemon holds it, `down` ends it, and a holder whose cluster is gone
# is cleared. A caller that already holds the lock says so with E2E_LOCK_HELD=1 (the
# Rust wrapper, tests/support/src/nscluster.rs). Nothing a node runs comes from the checkout:
# the node's PID 1 runs a copy of this script in $BASE/bin.
set -u
SELF=$(readlink -f "$0")
BASE=${E2E_BASE:-/var/tmp/e2e-cluster}
NODE_SCRIPT=$BASE/bin/ns-cluster.sh
LOCK=${E2E_LOCK:-/run/ocf-rs-e2e.lock}   # tests of the lock itself use another
NET=203.0.113
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

log() { echo "ns-cluster.sh: $*" >&2; }
node_ns() { echo "e2e-n$1"; }
init_pid() { cat "$BASE/node$1/init.pid" 2>/dev/null; }
# a zombie (exited, not yet reaped by its new parent) counts as gone
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
nodes() { cat "$BASE/nodes" 2>/dev/null || echo 0; }

corosync_conf() {  # corosync_conf N
    local n=$1 i
    cat <<EOF
totem {
    version: 2
    cluster_name: e2e
    transport: knet
    crypto_cipher: none
    crypto_hash: none
}
nodelist {
EOF
    # corosync's parser wants one key per line
    for i in $(seq "$n"); do
        printf '    node {\n        ring0_addr: %s\n        name: node%s\n        nodeid: %s\n    }\n' \
            "$NET.1$i" "$i" "$i"
    done
    echo "}"
    echo "quorum {"
    echo "    provider: corosync_votequorum"
    [ "$n" -eq 2 ] && echo "    two_node: 1"
    cat <<EOF
}
logging {
    to_logfile: yes
    logfile: /var/log/corosync/corosync.log
    to_syslog: no
    to_stderr: no
    timestamp: on
}
EOF
}

# A seeded CIB: dc-deadtime 2 s brings the nodes online in ~5 s instead of ~22 s; no
# fencing device exists here. No crm_feature_set: one newer than the daemons' own makes
# the CIB reject every update.
seed_cib() {
    cp "$(dirname "$SELF")/seed-cib.xml" "$1"
    chown hacluster:haclient "$1"
    chmod 600 "$1"
}

prepare_node() {  # prepare_node I N
    local i=$1 n=$2 r=$BASE/node$1 j
    rm -rf "$r"
    mkdir -p "$r"/var/lib/pacemaker/{cib,pengine,blackbox,cores,bundles} "$r"/var/lib/corosync \
        "$r"/var/log/pacemaker/bundles "$r"/var/log/corosync "$r"/etc/corosync
    chown -R hacluster:haclient "$r"/var/lib/pacemaker "$r"/var/log/pacemaker
    chmod 750 "$r"/var/lib/pacemaker/*
    chmod 770 "$r"/var/log/pacemaker
    corosync_conf "$n" > "$r/etc/corosync/corosync.conf"
    cp -a /etc/corosync/uidgid.d "$r/etc/corosync/" 2>/dev/null
    seed_cib "$r/var/lib/pacemaker/cib/cib.xml"
    # peers by name: VirtualDomain builds qemu+tcp://<target node>/system
    { echo "127.0.0.1 localhost"; for j in $(seq "$n"); do echo "$NET.1$j node$j"; done; } > "$r/hosts"
    if [ "${E2E_LIBVIRT:-0}" = 1 ]; then
        # A private libvirtd: own config and state, TCP without auth on the node's
        # address, a distinct host UUID (libvirt refuses to migrate to "itself"), no
        # cgroups (every node shares the host's cgroup tree).
        mkdir -p "$r"/libvirt/{lib,cache,log/qemu}
        cp -a /etc/libvirt "$r/libvirt/etc"
        cat >> "$r/libvirt/etc/libvirtd.conf" <<EOF
# e2e node$i
listen_tls = 0
listen_tcp = 1
auth_tcp = "none"
listen_addr = "$NET.1$i"
host_uuid = "e2e0e2e0-0000-4000-8000-00000000000$i"
EOF
        # qemu as root without relabelling: the guests' files and the shared disk
        # are used by every node's libvirtd at once (during a live migration)
        cat >> "$r/libvirt/etc/qemu.conf" <<'EOF'
# e2e
cgroup_controllers = [ ]
user = "+0"
group = "+0"
dynamic_ownership = 0
security_driver = "none"
EOF
    fi
}

# ---- PID 1 of a node ------------------------------------------------------
node_init() {
    local i=$1 r=$BASE/node$1 d cs pm
    mount --make-rprivate /
    hostname "node$i"
    mount -t tmpfs -o mode=755 e2e-run /run
    mount -t tmpfs -o mode=1777 e2e-shm /dev/shm
    mount -t tmpfs -o mode=1777 e2e-tmp /tmp
    mkdir -p /run/lock /run/resource-agents /run/crm /run/user
    chown hacluster:haclient /run/crm
    chmod 750 /run/crm
    chmod 1755 /run/resource-agents
    for d in /var/lib/pacemaker /var/lib/corosync /var/log/pacemaker /var/log/corosync /etc/corosync; do
        mount --bind "$r$d" "$d"
    done
    mount --bind "$r/hosts" /etc/hosts
    ip link set lo up
    if [ -d "$r/libvirt" ]; then
        mkdir -p /run/libvirt
        for d in etc:/etc/libvirt lib:/var/lib/libvirt cache:/var/cache/libvirt log:/var/log/libvirt; do
            mount --bind "$r/libvirt/${d%%:*}" "${d#*:}"
        done
        virtlogd -d -p /run/libvirt/virtlogd.pid
        libvirtd -d --listen -p /run/libvirt/e2e-libvirtd.pid
    fi
    corosync -f > "$r/corosync.out" 2>&1 &
    cs=$!
    for _ in $(seq 40); do corosync-cfgtool -s > /dev/null 2>&1 && break; sleep 0.25; done
    ( set -a; [ -r /etc/default/pacemaker ] && . /etc/default/pacemaker; exec /usr/sbin/pacemakerd ) \
        > "$r/pacemakerd.out" 2>&1 &
    pm=$!
    # TERM: stop Pacemaker (it stops the resources), then corosync, then the rest.
    trap 'kill -TERM $pm 2>/dev/null; wait $pm; kill -TERM $cs 2>/dev/null; wait $cs; exit 0' TERM INT
    while :; do wait; sleep 1; done   # PID 1 reaps every orphan of the node
}

start_node() {  # start_node I: (re)start node I in its netns; keeps its CIB
    local i=$1 l p
    # setsid + nohup: the node outlives the shell (or test) that launched it
    setsid nohup ip netns exec "$(node_ns "$i")" \
        unshare --mount --uts --ipc --pid --fork --mount-proc --propagation private \
        "$NODE_SCRIPT" init "$i" > "$BASE/node$i/init.out" 2>&1 < /dev/null 9>&- &
    l=$!
    echo "$l" > "$BASE/node$i/launcher.pid"
    # `ip netns exec` execs unshare, which forks the node's PID 1: a child of $l
    for _ in $(seq 40); do
        p=$(pgrep -P "$l")
        if [ -n "$p" ]; then echo "$p" > "$BASE/node$i/init.pid"; return 0; fi
        sleep 0.1
    done
    log "node$i: no init process"
    return 1
}

wait_gone() {  # wait_gone PID SECONDS
    local t
    for t in $(seq $(($2 * 10))); do alive "$1" || return 0; sleep 0.1; done
    return 1
}

kill_node() {
    local i=$1 p l
    p=$(init_pid "$i")
    l=$(cat "$BASE/node$i/launcher.pid" 2>/dev/null)
    alive "$p" || { log "node$i is not running"; return 1; }
    kill -KILL "$p"
    # A dead host loses its addresses (here they would outlive it in the netns).
    ip -n "$(node_ns "$i")" addr flush dev e2e0
    ip -n "$(node_ns "$i")" addr add "$NET.1$i/24" dev e2e0
    # The launcher (unshare) holds the node's mount namespace until it has reaped PID 1.
    wait_gone "$p" 10
    wait_gone "$l" 10
    rm -f "$BASE/node$i/init.pid"
}

stop_node() {  # graceful: PID 1 stops pacemakerd, then corosync
    local i=$1 p
    p=$(init_pid "$i")
    alive "$p" || return 0
    kill -TERM "$p"
    wait_gone "$p" "${2:-180}" || { log "node$i did not stop: killing it"; kill_node "$i"; }
    wait_gone "$(cat "$BASE/node$i/launcher.pid" 2>/dev/null)" 10
    rm -f "$BASE/node$i/init.pid"
}

# Fencing: fence_e2e (in a node) drops $BASE/fence/nodeI.req on the shared /var/tmp;
# this daemon, in the root namespaces, kills node I and answers with nodeI.done.
fence_daemon() {
    local r n
    while [ -d "$BASE/fence" ]; do
        for r in "$BASE"/fence/*.req; do
            [ -e "$r" ] || continue
            n=$(basename "$r" .req)
            echo "$(date -u +%T.%N) fencing $n ($(cat "$r"))"
            kill_node "${n#node}"   # a node that is already dead is fenced too
            rm -f "$r"
            : > "$BASE/fence/$n.done"
        done
        sleep 0.1
    done
}

ex() {  # ex I CMD...
    local i=$1 p
    shift
    p=$(init_pid "$i")
    alive "$p" || { log "node$i is not running"; return 125; }
    nsenter -t "$p" -n -m -u -i -p -- "$@" 9>&-
}

# ---- the machine lock -----------------------------------------------------
# Whoever holds $LOCK writes "PID COMMAND" into it. A standalone `up` (the demo)
# takes it on fd 9 and hands it to the fence daemon it starts (fd 9 is
# inherited), so the lock lives exactly as long as the cluster's fence daemon:
# `down` ends that daemon, and nothing else of the cluster keeps fd 9 (every
# node and every nsenter is started with 9>&-). The wait is bounded.
LOCK_WAIT=${E2E_LOCK_WAIT:-600}

# "PID (COMMAND)" of the recorded holder, or of every process with the lock open.
lock_holder() {
    local p rec l out=""
    rec=$(cut -d' ' -f1 "$LOCK" 2> /dev/null)
    if alive "$rec"; then
        echo "pid $rec ($(tr '\0' ' ' < "/proc/$rec/cmdline" | sed 's/ $//'))"
        return
    fi
    for l in /proc/[0-9]*/fd/*; do
        [ "$(readlink "$l" 2> /dev/null)" = "$LOCK" ] || continue
        p=${l#/proc/}; p=${p%%/*}
        [ "$p" = $$ ] && continue
        out+="pid $p ($(tr '\0' ' ' < "/proc/$p/cmdline" 2> /dev/null | sed 's/ $//')) "
    done
    echo "${out:-nobody we can see}"
}

# A holder is stale when it is a fence daemon of ours whose cluster is gone:
# no node of it runs any more. It is ended, which frees the lock.
clear_stale_holder() {
    local rec i
    rec=$(cut -d' ' -f1 "$LOCK" 2> /dev/null)
    alive "$rec" || return 0
    tr '\0' ' ' < "/proc/$rec/cmdline" 2> /dev/null | grep -q 'ns-cluster.sh fence-daemon' || return 0
    for i in 1 2 3; do alive "$(init_pid "$i")" && return 0; done
    log "clearing a stale lock holder: pid $rec (a fence daemon whose cluster is gone)"
    kill -TERM -- "-$rec" 2> /dev/null || kill -TERM "$rec"
    wait_gone "$rec" 5 || kill -KILL "$rec"
}

hold_lock() {
    [ "${E2E_LOCK_HELD:-0}" = 1 ] && return 0
    exec 9>> "$LOCK"
    if ! flock -n 9; then
        clear_stale_holder
        if ! flock -n 9; then
            log "waiting for $LOCK (at most $LOCK_WAIT s), held by $(lock_holder)"
            if ! flock -w "$LOCK_WAIT" 9; then
                log "$LOCK is still held after $LOCK_WAIT s by $(lock_holder): giving up" \
                    "(a cluster started by \`ns-cluster.sh up\` runs until \`ns-cluster.sh down\`)"
                exit 1
            fi
        fi
    fi
    echo "$$ ns-cluster.sh up" > "$LOCK"
    LOCKED=1
}

# Standalone: the fence daemon (PID $1) inherited fd 9 and now holds the lock.
pass_lock() {
    [ "${E2E_LOCK_HELD:-0}" = 1 ] && return 0
    echo "$1 ns-cluster.sh fence-daemon $BASE" > "$LOCK"
    exec 9>&-
}

up() {
    local n=${1:-2} i t0
    case $n in 2 | 3) ;; *) log "N must be 2 or 3"; return 2 ;; esac
    # the lock first: the cluster that may be running belongs to whoever holds it
    hold_lock
    [ -e "$BASE/nodes" ] && { log "leftovers of an earlier cluster: removing them"; teardown --kill; }
    mkdir -p "$BASE"
    echo "$n" > "$BASE/nodes"
    ip netns add e2e-hub
    ip -n e2e-hub link set lo up
    ip -n e2e-hub link add e2e-br type bridge
    ip -n e2e-hub link set e2e-br up
    for i in $(seq "$n") c; do
        local ns=e2e-n$i addr=$NET.1$i
        [ "$i" = c ] && ns=e2e-client addr=$NET.50
        ip netns add "$ns"
        ip link add "e2e-h$i" netns e2e-hub type veth peer name e2e0 netns "$ns"
        ip -n e2e-hub link set "e2e-h$i" master e2e-br up
        ip -n "$ns" link set lo up
        ip -n "$ns" link set e2e0 up
        ip -n "$ns" addr add "$addr/24" dev e2e0
    done
    mkdir -p "$BASE/fence" "$BASE/bin"
    # Nodes run nothing from the checkout (it may be under /tmp, which is
    # private in every node): the script a node's PID 1 runs is a copy.
    install -m 755 "$SELF" "$NODE_SCRIPT"
    install -m 755 "$(dirname "$SELF")/fence_e2e" /usr/sbin/fence_e2e
    setsid "$SELF" fence-daemon > "$BASE/fence.out" 2>&1 < /dev/null &
    echo $! > "$BASE/fence.pid"
    pass_lock $!
    truncate -s "${E2E_DISK_MB:-256}M" "$BASE/shared.img"
    losetup -f --show "$BASE/shared.img" > "$BASE/disk"
    for i in $(seq "$n"); do
        prepare_node "$i" "$n"
        start_node "$i" || return 1
    done
    t0=$SECONDS
    local want
    want="Online: \[ $(seq -s ' ' -f 'node%g' "$n") \]"
    until ex 1 crm_mon -1 2> /dev/null | grep -q "$want"; do
        if [ $((SECONDS - t0)) -gt 120 ]; then
            log "the cluster did not form within 120 s"
            ex 1 crm_mon -1 >&2
            return 1
        fi
        sleep 0.5
    done
    log "$n nodes online after $((SECONDS - t0)) s (shared disk $(cat "$BASE/disk"))"
    if [ "${E2E_LIBVIRT:-0}" = 1 ]; then
        for i in $(seq "$n"); do
            until ex "$i" virsh -c qemu:///system version > /dev/null 2>&1; do
                if [ $((SECONDS - t0)) -gt 180 ]; then log "node$i: libvirtd is not answering"; return 1; fi
                # A libvirtd that died while starting (seen once under load) is started again.
                if ! ex "$i" pgrep -x libvirtd > /dev/null; then
                    log "node$i: libvirtd is not running: starting it again"
                    ex "$i" pgrep -x virtlogd > /dev/null || ex "$i" virtlogd -d -p /run/libvirt/virtlogd.pid
                    ex "$i" libvirtd -d --listen -p /run/libvirt/e2e-libvirtd.pid || true
                fi
                sleep 0.5
            done
        done
        log "libvirtd answers on every node after $((SECONDS - t0)) s"
    fi
}

# Stop every node and remove what `up` made; the lock stays with the caller.
teardown() {
    local i p l kill=0
    [ "${1:-}" = --kill ] && kill=1
    for i in 1 2 3; do
        p=$(init_pid "$i")
        alive "$p" || continue
        if [ $kill = 1 ]; then kill -KILL "$p"; else kill -TERM "$p"; fi
    done
    for i in 1 2 3; do
        p=$(init_pid "$i")
        l=$(cat "$BASE/node$i/launcher.pid" 2>/dev/null)
        if alive "$p" && ! wait_gone "$p" 180; then kill -KILL "$p"; wait_gone "$p" 10; fi
        alive "$l" && wait_gone "$l" 10
        rm -f "$BASE/node$i/init.pid"
    done
    # A node whose init.pid was lost (seen once after a failed `up`) is still
    # found by its command line: this script in init mode, one cluster at a time.
    for p in $(pgrep -f "^/bin/bash ($SELF|$NODE_SCRIPT) init [0-9]+\$"); do
        log "killing a stray node init (PID $p)"
        kill -KILL "$p"
    done
    for i in 1 2 3 c; do
        [ "$i" = c ] && { ip netns del e2e-client 2> /dev/null; continue; }
        ip netns del "e2e-n$i" 2> /dev/null
    done
    ip netns del e2e-hub 2> /dev/null
    # detach our loop device only (the number may have been reused if it is gone)
    if [ -s "$BASE/disk" ] && [ "$(losetup -l -n -O BACK-FILE "$(cat "$BASE/disk")" 2> /dev/null | sed "s/ *$//")" = "$BASE/shared.img" ]; then
        losetup -d "$(cat "$BASE/disk")"
    fi
    rmdir /srv/e2e-* 2> /dev/null
    p=$(cat "$BASE/fence.pid" 2> /dev/null)
    # its own session (setsid): the group takes its `sleep` (which shares fd 9) too
    if alive "$p"; then kill -TERM -- "-$p" 2> /dev/null || kill -TERM "$p"; wait_gone "$p" 5; fi
    rm -f /usr/sbin/fence_e2e
    rm -rf "$BASE"
    return 0
}

down() {
    teardown "$@"
}

# mkfs.ext4 on the shared disk and a PostgreSQL cluster at DIR/pgdata on it, listening on
# every address of whichever node runs it (port 5432, socket in /run/e2e-pg), trusting the
# test network. Mounted in a private mount namespace, so no other namespace sees it.
prep_pg() {
    local dir=$1 disk
    disk=$(cat "$BASE/disk")
    mkfs.ext4 -q -F "$disk"
    mkdir -p "$dir"
    unshare --mount --propagation private "$SELF" prep-pg-inner "$disk" "$dir"
}

prep_pg_inner() {
    local disk=$1 dir=$2
    mount "$disk" "$dir"
    mkdir -p "$dir/pgdata"
    chown postgres:postgres "$dir/pgdata"
    chmod 700 "$dir/pgdata"
    runuser -u postgres -- "$PGBIN/initdb" -D "$dir/pgdata" -A trust -U postgres --no-sync > /dev/null
    cat >> "$dir/pgdata/postgresql.conf" <<'EOF'
# e2e: the floating IP is wherever the cluster puts it
listen_addresses = '*'
port = 5432
unix_socket_directories = '/run/e2e-pg'
EOF
    echo "host all all 203.0.113.0/24 trust" >> "$dir/pgdata/pg_hba.conf"
    umount "$dir"
}

first_live() {
    local i
    for i in $(seq "$(nodes)"); do alive "$(init_pid "$i")" && { echo "$i"; return; }; done
    echo 1
}

case "${1:-}" in
    up)
        # a standalone `up` that fails (or is interrupted) leaves nothing behind
        if [ "${E2E_LOCK_HELD:-0}" = 1 ]; then
            up "${2:-2}"
        else
            LOCKED=0   # interrupted while waiting for the lock: the cluster is someone else's
            trap '[ $LOCKED = 1 ] && { log "interrupted: tearing down"; teardown --kill; }; exit 130' INT TERM
            up "${2:-2}" || { log "up failed: tearing down"; teardown --kill; exit 1; }
        fi
        ;;
    clear-stale-lock) clear_stale_holder ;;
    lock-holder) lock_holder ;;
    init) node_init "$2" ;;
    fence-daemon) fence_daemon ;;
    exec) shift; ex "$@" ;;
    client) shift; ip netns exec e2e-client "$@" ;;
    kill) kill_node "$2" ;;
    stop) stop_node "$2" ;;
    start) start_node "$2" ;;
    partition) ip -n e2e-hub link set "e2e-h$2" down ;;
    heal) ip -n e2e-hub link set "e2e-h$2" up ;;
    disk) cat "$BASE/disk" ;;
    mkfs) mkfs.ext4 -q -F "$(cat "$BASE/disk")" ;;
    prep-pg) prep_pg "$2" ;;
    prep-pg-inner) prep_pg_inner "$2" "$3" ;;
    pid) init_pid "$2" ;;
    status) ex "$(first_live)" crm_mon -1 ;;
    down) down "${2:-}" ;;
    *)
        sed -n '2,/^set -u/p' "$SELF" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
