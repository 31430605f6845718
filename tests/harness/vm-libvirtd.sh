#!/bin/bash
# vm-libvirtd.sh: the libvirtd instances the vm agent's tests talk to, started
# by hand (no systemd), as env-lab section 7 describes.
#
#   vm-libvirtd.sh system            make sure the machine's libvirtd answers on
#                                    qemu:///system (reuse a running one; else
#                                    start virtlogd + libvirtd and leave them up,
#                                    as a node's own service)
#   vm-libvirtd.sh up NAME [IP]      a private libvirtd "host" vma-NAME in its own
#                                    mount (+UTS) namespace with its own /etc,/run,
#                                    /var/lib,/var/cache,/var/log libvirt under
#                                    /var/tmp/vma-virt/NAME and a distinct host_uuid.
#                                    With IP: also its own netns vma-NAME on the
#                                    bridge of netns vma-hub, listening on tcp.
#                                    Prints the URI to reach it from the host.
#   vm-libvirtd.sh down NAME         destroy its domains, kill its daemons by PID,
#                                    remove its netns (and vma-hub when unused)
#   vm-libvirtd.sh pid NAME          the PID of its libvirtd
set -u
SELF=$(readlink -f "$0")
BASE=/var/tmp/vma-virt
LOCK=/run/vma-libvirtd.lock

wait_uri() {  # URI NETNS SECONDS
    local t0=$SECONDS
    until ${2:+ip netns exec "$2"} timeout 5 virsh -c "$1" version >/dev/null 2>&1; do
        [ $((SECONDS - t0)) -gt "$3" ] && return 1
        sleep 0.5
    done
}

host_daemon() {  # host_daemon NAME: is a NAME process running in our own mount namespace?
    local me p
    me=$(readlink /proc/self/ns/mnt)
    for p in $(pgrep -x "$1"); do
        [ "$(readlink "/proc/$p/ns/mnt" 2>/dev/null)" = "$me" ] && return 0
    done
    return 1
}

system() {
    exec 9>"$LOCK"; flock 9
    # virtlogd first, and by process, not by socket: a virtlogd that was
    # killed leaves its socket behind, and libvirtd then starts but every
    # domain start fails with "Failed to connect socket to virtlogd-sock".
    if ! host_daemon virtlogd; then
        rm -f /run/libvirt/virtlogd-sock /run/libvirt/virtlogd-admin-sock
        virtlogd -d 9>&-
        for _ in $(seq 50); do [ -S /run/libvirt/virtlogd-sock ] && break; sleep 0.1; done
    fi
    if timeout 10 virsh -c qemu:///system version >/dev/null 2>&1; then return 0; fi
    # One that is still starting (capability probing takes ~8 s) is waited
    # for, never doubled. 9>&-: the daemons must not inherit the lock.
    host_daemon libvirtd || libvirtd -d -p /run/vma-libvirtd.pid 9>&-
    wait_uri qemu:///system "" 90 || { echo "libvirtd did not answer on qemu:///system" >&2; return 1; }
}

host_init() {  # inside unshare: private mounts, then the daemons
    local r=$BASE/$1 d
    mount --make-rprivate /
    hostname "vma-$1"
    for d in etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt cache:/var/cache/libvirt log:/var/log/libvirt; do
        mount --bind "$r/${d%%:*}" "${d#*:}"
    done
    ip link set lo up 2>/dev/null
    virtlogd -d -p /run/libvirt/virtlogd.pid
    if [ -n "${2:-}" ]; then libvirtd -d --listen -p /run/libvirt/vma-libvirtd.pid
    else libvirtd -d -p /run/libvirt/vma-libvirtd.pid; fi
    exec sleep infinity
}

up() {
    local name=$1 ip=${2:-} r=$BASE/$1 uuid ns=""
    down "$name" >/dev/null 2>&1
    rm -rf "$r"; mkdir -p "$r"/{run,lib,cache,log/qemu}
    cp -a /etc/libvirt "$r/etc"
    cp -a /var/lib/libvirt/. "$r/lib/" 2>/dev/null
    uuid=$(cat /proc/sys/kernel/random/uuid)
    {
        echo "# vma test host $name"
        echo "host_uuid = \"$uuid\""
        if [ -n "$ip" ]; then
            echo 'listen_tls = 0'; echo 'listen_tcp = 1'; echo 'auth_tcp = "none"'
            echo "listen_addr = \"$ip\""
        fi
    } >> "$r/etc/libvirtd.conf"
    # every instance shares the host's cgroup tree: keep the private ones out of it
    echo 'cgroup_controllers = [ ]' >> "$r/etc/qemu.conf"
    if [ -n "$ip" ]; then
        ns=vma-$name
        if ! ip netns list | grep -qw vma-hub; then
            ip netns add vma-hub; ip -n vma-hub link set lo up
            ip -n vma-hub link add br0 type bridge; ip -n vma-hub link set br0 up
        fi
        ip netns add "$ns"
        ip link add "vma-v$name" netns vma-hub type veth peer name eth0 netns "$ns"
        ip -n vma-hub link set "vma-v$name" master br0 up
        ip -n "$ns" link set lo up; ip -n "$ns" link set eth0 up
        ip -n "$ns" addr add "$ip/24" dev eth0
        setsid ip netns exec "$ns" unshare --mount --uts --propagation private \
            "$SELF" init "$name" "$ip" > "$r/init.out" 2>&1 < /dev/null &
    else
        setsid unshare --mount --uts --propagation private \
            "$SELF" init "$name" > "$r/init.out" 2>&1 < /dev/null &
    fi
    echo $! > "$r/init.pid"
    local uri
    if [ -n "$ip" ]; then uri="qemu+tcp://$ip/system"; else uri="qemu+unix:///system?socket=$r/run/libvirt-sock"; fi
    echo "$uri" > "$r/uri"
    wait_uri "$uri" "$ns" 120 || { echo "vma-$name: libvirtd did not answer" >&2; cat "$r/init.out" >&2; return 1; }
    echo "$uri"
}

down() {
    local name=$1 r=$BASE/$1 f p uri ns=vma-$1
    [ -d "$r" ] || return 0
    uri=$(cat "$r/uri" 2>/dev/null)
    if [ -n "$uri" ] && [ -s "$r/run/vma-libvirtd.pid" ]; then
        p=$(cat "$r/run/vma-libvirtd.pid"); kill -CONT "$p" 2>/dev/null
        local nsx=""; ip netns list | grep -qw "$ns" && nsx="ip netns exec $ns"
        for d in $($nsx timeout 10 virsh -c "$uri" list --all --name 2>/dev/null); do
            $nsx timeout 20 virsh -c "$uri" destroy "$d" >/dev/null 2>&1
            $nsx timeout 10 virsh -c "$uri" undefine "$d" >/dev/null 2>&1
        done
    fi
    # qemu processes of this host whose daemon is gone: their pid files are ours
    for f in "$r"/run/qemu/*.pid; do [ -s "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null; done
    for f in "$r/run/vma-libvirtd.pid" "$r/run/virtlogd.pid"; do
        [ -s "$f" ] && { kill -CONT "$(cat "$f")" 2>/dev/null; kill -TERM "$(cat "$f")" 2>/dev/null; }
    done
    p=$(cat "$r/init.pid" 2>/dev/null) && kill -TERM "$p" 2>/dev/null
    sleep 0.5
    for f in "$r/run/vma-libvirtd.pid" "$r/run/virtlogd.pid"; do
        [ -s "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
    done
    ip netns del "$ns" 2>/dev/null
    if ip netns list | grep -qw vma-hub && ! ip netns list | grep -v vma-hub | grep -q '^vma-'; then
        ip netns del vma-hub 2>/dev/null
    fi
    rm -rf "$r"
}

case "${1:-}" in
    system) system ;;
    up) up "$2" "${3:-}" ;;
    init) host_init "$2" "${3:-}" ;;
    down) down "$2" ;;
    pid) cat "$BASE/$2/run/vma-libvirtd.pid" ;;
    *) echo "usage: $0 system | up NAME [IP] | down NAME | pid NAME" >&2; exit 2 ;;
esac
