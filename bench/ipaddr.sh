#!/bin/bash
# bench/ipaddr.sh: ocf:rust:ipaddr against ocf:heartbeat:IPaddr2, same
# parameters, same run, inside a network namespace pair of its own
# (ipa-bench, ipa-benchp; a veth, TEST-NET addresses only). Prints Markdown.
#
#   bench/ipaddr.sh [RUNS]        (default 300; start+stop uses RUNS/3)
#
# Cases:
#  * monitor of a running IPv4 address (nic + cidr_netmask given), with
#    /bin/true as the floor and ocf:rust:dummy's monitor as the floor of
#    the shared core (process start, environment, watchdog thread);
#  * start followed by stop (arp_count=1, so neither agent sleeps between
#    announcements; IPaddr2 sends its ARP in the background, ours does it
#    synchronously). Both calls run under one /bin/sh, whose own cost is
#    the floor row of that table;
#  * monitor of an IPv6 address with 1,000 other IPv6 addresses on the
#    interface.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-300}
cycles=$(( runs / 3 ))
cargo build --release --quiet
ns=ipa-bench peer=ipa-benchp
work=$(mktemp -d /var/tmp/ocf-rs-bench-ipaddr.XXXXXX)
cleanup() { ip netns del $ns 2>/dev/null || true; ip netns del $peer 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cleanup; work=$(mktemp -d /var/tmp/ocf-rs-bench-ipaddr.XXXXXX)
ip netns add $ns; ip netns add $peer
ip link add ipa0 netns $ns type veth peer name ipa0p netns $peer
ip -n $ns link set lo up; ip -n $ns link set ipa0 up; ip -n $peer link set ipa0p up
ip -n $ns addr add 198.51.100.1/24 brd + dev ipa0
ip -n $peer addr add 198.51.100.2/24 dev ipa0p
ip -n $ns -6 addr add 2001:db8:9::1/64 dev ipa0 nodad

ours=$work/ipaddr
ln -s "$PWD/target/release/ocf-rs" "$ours"
hb=/usr/lib/ocf/resource.d/heartbeat/IPaddr2
rows=$work/rows.jsonl
base=(--env OCF_RESKEY_CRM_meta_timeout=20000 --env OCF_RESOURCE_INSTANCE=bench)
mon=("${base[@]}" --env OCF_RESKEY_CRM_meta_interval=10000)
v4() { echo --env OCF_RESKEY_ip=$1 --env OCF_RESKEY_cidr_netmask=24 --env OCF_RESKEY_nic=ipa0; }
run_in() { # run_in AGENT ACTION k=v...
    local a=$1 act=$2; shift 2
    env -i PATH="$PATH" OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=bench "$@" \
        ip netns exec $ns "$a" "$act" >/dev/null 2>&1
}
# The measurements run inside the namespace: measure.py itself is started
# there once (its --netns needs Python 3.12's os.setns; Debian 12 has 3.11).
m() { ip netns exec $ns bench/measure.py --out "$rows" "$@"; }

# --- monitor, IPv4, running
run_in "$ours" start OCF_RESKEY_ip=198.51.100.50 OCF_RESKEY_cidr_netmask=24 OCF_RESKEY_nic=ipa0
run_in $hb start OCF_RESKEY_ip=198.51.100.51 OCF_RESKEY_cidr_netmask=24 OCF_RESKEY_nic=ipa0
m --label "floor: /bin/true" --runs "$runs" "${mon[@]}" -- /bin/true
m --label "ocf:rust:ipaddr monitor" --runs "$runs" "${mon[@]}" $(v4 198.51.100.50) -- "$ours" monitor
m --label "ocf:heartbeat:IPaddr2 monitor" --runs "$runs" "${mon[@]}" $(v4 198.51.100.51) -- $hb monitor
# The shared core's own floor: the reference agent's monitor (a stat).
ln -s "$PWD/target/release/ocf-rs" "$work/dummy"; touch "$work/d.state"
m --label "ocf:rust:dummy monitor (core floor)" --runs "$runs" "${mon[@]}" --env OCF_RESKEY_state="$work/d.state" \
    -- "$work/dummy" monitor
run_in "$ours" stop OCF_RESKEY_ip=198.51.100.50 OCF_RESKEY_nic=ipa0
run_in $hb stop OCF_RESKEY_ip=198.51.100.51 OCF_RESKEY_cidr_netmask=24 OCF_RESKEY_nic=ipa0
title="($(date -u +%F), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
bench/report.py "$rows" --ours "ocf:rust:ipaddr monitor" --floor "floor: /bin/true" \
    --title "ipaddr monitor, IPv4, nic and cidr_netmask given $title"
echo

# --- start + stop, IPv4
rows=$work/cycle.jsonl
cyc=("${base[@]}" --env OCF_RESKEY_arp_count=1)
m --label "floor: sh -c 'true; true'" --runs "$cycles" "${cyc[@]}" -- /bin/sh -c '/bin/true start; /bin/true stop'
m --label "ocf:rust:ipaddr start+stop" --runs "$cycles" "${cyc[@]}" $(v4 198.51.100.52) \
    -- /bin/sh -c '"$0" start && "$0" stop' "$ours"
m --label "ocf:heartbeat:IPaddr2 start+stop" --runs "$cycles" "${cyc[@]}" $(v4 198.51.100.53) \
    -- /bin/sh -c '"$0" start && "$0" stop' $hb
bench/report.py "$rows" --ours "ocf:rust:ipaddr start+stop" --floor "floor: sh -c 'true; true'" \
    --title "ipaddr start+stop, IPv4, arp_count=1 $title"
echo

# --- monitor with 1,000 addresses on the interface (IPv6)
rows=$work/many.jsonl
for i in $(seq 1 1000); do printf 'addr add 2001:db8:9::%x:%x/64 dev ipa0 nodad\n' $((i / 256 + 1)) $((i % 256)); done \
    > "$work/batch"
ip -n $ns -batch "$work/batch"
n=$(ip -n $ns -6 -o addr show dev ipa0 | wc -l)
v6() { echo --env OCF_RESKEY_ip=$1 --env OCF_RESKEY_cidr_netmask=64 --env OCF_RESKEY_nic=ipa0; }
run_in "$ours" start OCF_RESKEY_ip=2001:db8:9::50 OCF_RESKEY_cidr_netmask=64 OCF_RESKEY_nic=ipa0 OCF_RESKEY_nodad=true
run_in $hb start OCF_RESKEY_ip=2001:db8:9::51 OCF_RESKEY_cidr_netmask=64 OCF_RESKEY_nic=ipa0 OCF_RESKEY_nodad=true
m --label "floor: /bin/true" --runs "$runs" "${mon[@]}" -- /bin/true
m --label "ocf:rust:ipaddr monitor" --runs "$runs" "${mon[@]}" $(v6 2001:db8:9::50) -- "$ours" monitor
m --label "ocf:heartbeat:IPaddr2 monitor" --runs "$runs" "${mon[@]}" $(v6 2001:db8:9::51) -- $hb monitor
bench/report.py "$rows" --ours "ocf:rust:ipaddr monitor" --floor "floor: /bin/true" \
    --title "ipaddr monitor, IPv6, $n addresses on the interface $title"
