#!/bin/bash
# ocft.sh: resource-agents' own ocft case files (/usr/share/resource-agents/ocft/configs)
# against our agents and against the heartbeat agents they replace.
#
#   scripts/ocft.sh [--side ours|heartbeat|both] [--provider P]
#                   [--deviate FILE:N:ACTION:EXPECTED:OURS]... [CASEFILE...]
#
# CASEFILE is one of Filesystem VirtualDomain IPaddr2v4 IPaddr2v6 Xen pgsql mysql
# (default: all). For "ours" the case file runs with only `Agent` (the heartbeat
# name mapped to ours) and `AgentRoot` (/usr/lib/ocf/resource.d/$P, P from
# --provider, else $OCF_RS_TEST_PROVIDER, else rust) changed; "heartbeat" runs it
# as shipped. Both get the same environment adaptation (ADAPTATION below). With
# --side both (the default) it ends with the table of docs/compatibility.md.
#
# --deviate makes one deliberate deviation explicit: in case N (0-based, as ocft
# numbers them) of FILE, our side expects OURS (an OCF_* name) where the case
# file expects EXPECTED from `AgentRun ACTION` (its first such line in the case).
# The case then runs on to its end (the checks after that action, the
# restoration of the environment) instead of failing there, and still fails if
# the agent answers anything but OURS. tests/it/ocft.rs holds the list.
#
# Output, one line per case (tests/it/ocft.rs parses it):
#   CASE <file> <side> <n> PASS|FAIL|NOTRUN <exit code> <summary>
#   TOTAL <file> <side> <passed> <total>
#   LEFTOVER <file> <side> <what>        (something outlived the run: a failure)
# and the output of each failed case, indented, after its line.
#
# How a run is bounded and isolated:
#   * ocft compiles the case file into one script per case (`ocft make`); we run
#     those scripts ourselves, as `ocft test` would (setup, cases in order,
#     cleanup), each under `timeout` ($OCFT_CASE_LIMIT s, default 150). Inside a
#     script every agent action already has a limit: ocft's agent_run runs the
#     agent in its own session and kills that session after HangTimeout (20 s
#     in these case files), so an action cannot hang the run either.
#   * ocft writes its cases into the fixed /var/lib/resource-agents/ocft/cases
#     and the agents' output into $HA_RSCTMP/.ocft_runlog. Each run happens in a
#     private mount namespace with fresh tmpfs on /var/lib/resource-agents/ocft
#     and /run/resource-agents: two runs (ours and the baseline, or two case
#     files) never see each other's files, and everything there disappears with
#     the namespace. (The empty mount point /var/lib/resource-agents/ocft is
#     created once and stays, as ocft itself would leave it.)
#   * Case files that use a machine-wide resource (the distribution's default
#     PostgreSQL cluster and MariaDB data directory) take a lock,
#     /run/ocf-rs-ocft-<file>.lock, so two runs take turns.
#   * Scratch files live in /var/tmp/o16-ocft.*, removed at exit; network
#     namespaces are named o16-*, libvirt domains and xl domains o16-*.
#
# ADAPTATION (the minimum each case file needs on a lab machine, same for both sides):
#   all             InstallPackage dropped: the packages are installed
#                   (scripts/install-deps.sh); apt-get in every case would take
#                   the dpkg lock and minutes.
#   IPaddr2v4/v6    run in a fresh network namespace with eth0 and eth1 (the
#                   ends of two veth pairs, up).
#   VirtualDomain   OCFT_config points at a diskless QEMU domain (the tiny
#                   guest: kernel + initrd, TCG), defined by the agent from it.
#   Xen             OCFT_xmfile points at a PV guest config, and `xl` on PATH is
#                   the xl simulator (tests/sim/xl) with a private state dir.
#   mysql           its SETUP-AGENT block (systemd or /etc/init.d/mysql) is
#                   dropped; /var/log/mysql exists (owned by mysql), a fresh
#                   tmpfs in each run (heartbeat's "invalid user" case chowns
#                   the log to nobody, which would decide the next run).
#   pgsql           none (it uses the default cluster pg_conftool names).
set -u
SELF=$(readlink -f "$0")
REPO=$(cd "$(dirname "$SELF")/.." && pwd)
CONFIGS=/usr/share/resource-agents/ocft/configs
CASES=/var/lib/resource-agents/ocft/cases
ALL="Filesystem VirtualDomain IPaddr2v4 IPaddr2v6 Xen pgsql mysql"
LIMIT=${OCFT_CASE_LIMIT:-150}

ours_name() {
    case "$1" in
        Filesystem) echo filesystem ;;
        VirtualDomain) echo vm ;;
        IPaddr2v4 | IPaddr2v6) echo ipaddr ;;
        Xen) echo xen ;;
        pgsql) echo pgsql ;;
        mysql) echo mysql ;;
        *) return 1 ;;
    esac
}

# --- inside the namespaces: compile and run one case file -------------------
# inner WORK FILE SIDE
inner() {
    local work=$1 file=$2 side=$3 sh n rc summary passed=0 total=0 stop=
    mount -t tmpfs -o mode=0755 ocft-cases /var/lib/resource-agents/ocft || exit 3
    mkdir -p "$CASES"
    mount -t tmpfs -o mode=1755 ocft-rsctmp /run/resource-agents || exit 3
    if [ "$file" = mysql ]; then
        # A fresh log directory for each run: the heartbeat agent's own
        # "invalid user" case chowns the log to nobody, which would decide
        # the next run's first cases.
        mount -t tmpfs -o mode=0750 ocft-mysql-log /var/log/mysql || exit 3
        chown mysql:mysql /var/log/mysql || exit 3
    fi
    ocft make -d "$work/configs" "$file" >"$work/make.log" 2>&1 || {
        echo "ERROR $file $side ocft make failed:"; sed 's/^/    /' "$work/make.log"; exit 3; }
    cd "$CASES" || exit 3
    if [ -x "setup_$file.sh" ]; then
        timeout -k 5 "$LIMIT" "./setup_$file.sh" >"$work/setup.out" 2>&1
        rc=$?
        if [ $rc -ne 0 ]; then
            echo "SETUP $file $side failed ($rc):"; sed 's/^/    /' "$work/setup.out"
            stop=setup
        fi
    fi
    for sh in $(ls -1 [0-9]*_"$file".sh 2>/dev/null | sort -n); do
        n=${sh%%_*}
        summary=$(sed -n 's/^# Summary: //p' "$sh" | head -1)
        total=$((total + 1))
        if [ -n "$stop" ]; then
            echo "CASE $file $side $n NOTRUN - $summary"
            continue
        fi
        timeout -k 5 "$LIMIT" "./$sh" >"$work/case.out" 2>&1
        rc=$?
        if [ $rc -eq 0 ]; then
            passed=$((passed + 1))
            echo "CASE $file $side $n PASS 0 $summary"
        else
            echo "CASE $file $side $n FAIL $rc $summary"
            # what the failing check said, without ocft's colours
            sed -e 's/\x1b\[[0-9;]*m//g' -e '/ocft_runlog: No such file/d' -e 's/^/    /' "$work/case.out" | tail -n 25
            # what the agent said in its last action (ocft writes it into
            # $HA_RSCTMP/.ocft_runlog but shows /tmp/.ocft_runlog)
            [ -s /run/resource-agents/.ocft_runlog ] &&
                sed -e 's/^/    | /' /run/resource-agents/.ocft_runlog | tail -n 15
            # ocft's own rule: 2 ends this case file, 3 everything
            case $rc in 2 | 3) stop="exit $rc" ;; esac
        fi
    done
    if [ -x "cleanup_$file.sh" ]; then
        timeout -k 5 "$LIMIT" "./cleanup_$file.sh" >"$work/cleanup.out" 2>&1 ||
            { echo "CLEANUP $file $side failed:"; sed 's/^/    /' "$work/cleanup.out"; }
    fi
    # What must not outlive the run inside this mount namespace.
    if [ "$file" = Filesystem ]; then
        local fs=/run/resource-agents/ocft-Filesystem-fs dir=/run/resource-agents/ocft-Filesystem-mnt
        mountpoint -q "$dir" 2>/dev/null && echo "LEFTOVER $file $side mount on $dir"
        [ -n "$(losetup -j "$fs" 2>/dev/null)" ] && echo "LEFTOVER $file $side loop device $(losetup -j "$fs")"
    fi
    echo "TOTAL $file $side $passed $total"
}

if [ "${1:-}" = --inner ]; then
    shift
    inner "$@"
    exit $?
fi

# --- outside: adapt the case file, make its environment, run, clean up -------
side=both
provider=${OCF_RS_TEST_PROVIDER:-rust}
files=()
deviations=()
while [ $# -gt 0 ]; do
    case "$1" in
        --side) side=$2; shift 2 ;;
        --provider) provider=$2; shift 2 ;;
        --deviate) deviations+=("$2"); shift 2 ;;
        -h | --help) sed -n '2,/^set -u/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) files+=("$1"); shift ;;
    esac
done
[ ${#files[@]} -eq 0 ] && read -r -a files <<<"$ALL"
case $side in
    ours) sides=(ours) ;;
    heartbeat) sides=(heartbeat) ;;
    both) sides=(heartbeat ours) ;;
    *) echo "--side ours|heartbeat|both" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "ocft needs root" >&2; exit 2; }
command -v ocft >/dev/null || { echo "ocft is not installed (resource-agents)" >&2; exit 2; }

WORKS=()
NETNS=()
DOMAINS=()
cleanup() {
    local d ns
    for d in "${DOMAINS[@]}"; do
        virsh -q -c qemu:///system destroy "$d" >/dev/null 2>&1
        virsh -q -c qemu:///system undefine "$d" >/dev/null 2>&1
    done
    for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
    for d in "${WORKS[@]}"; do rm -rf "$d"; done
}

# adapt FILE SIDE WORK: the case file as it runs here, into WORK/configs/FILE
adapt() {
    local file=$1 side=$2 work=$3 agent root
    mkdir -p "$work/configs"
    local src=$CONFIGS/$file dst=$work/configs/$file
    cp "$src" "$dst"
    # InstallPackage: see ADAPTATION.
    sed -i '/^[[:blank:]]*InstallPackage[[:blank:]]/d' "$dst"
    if [ "$side" = ours ]; then
        agent=$(ours_name "$file") || return 1
        root=/usr/lib/ocf/resource.d/$provider
        sed -i -e "s|^\([[:blank:]]*Agent[[:blank:]]\+\).*|\1$agent|" \
            -e "s|^\([[:blank:]]*AgentRoot[[:blank:]]\+\).*|\1$root|" "$dst"
    fi
    if [ "$side" = ours ]; then
        local d f n action expected ours
        for d in "${deviations[@]}"; do
            IFS=: read -r f n action expected ours <<<"$d"
            [ "$f" = "$file" ] || continue
            awk -v n="$n" -v a="$action" -v e="$expected" -v o="$ours" '
                /^CASE[[:blank:]]/ { c++ }
                !done && c == n + 1 && $1 == "AgentRun" && $2 == a && $3 == e {
                    sub(e, o); done = 1 }
                { print }
                END { exit !done }' "$dst" >"$dst.new" || {
                echo "DEVIATE $file $side $n NOTFOUND: no 'AgentRun $action $expected' in case $n"
                return 1
            }
            mv "$dst.new" "$dst"
            echo "DEVIATE $file $side $n $action $expected -> $ours"
        done
    fi
    case $file in
        VirtualDomain) sed -i "s|^\([[:blank:]]*OCFT_config=\).*|\1$work/o16-vm.xml|" "$dst" ;;
        Xen) sed -i "s|^\([[:blank:]]*OCFT_xmfile=\).*|\1$work/o16-xen.cfg|" "$dst" ;;
        mysql)
            # drop the SETUP-AGENT block: from its line up to the next statement
            # that starts a line (the block's own lines are indented)
            awk '/^SETUP-AGENT/ {skip = 1; next} skip && /^[^[:blank:]]/ {skip = 0} !skip' \
                "$dst" >"$dst.new" && mv "$dst.new" "$dst"
            ;;
    esac
}

# servers_in DIR NAME...: PIDs of processes called NAME whose working directory
# is in DIR (a database server runs in its data directory; other tests' servers
# elsewhere are not ours to report)
servers_in() {
    local dir=$1 name p
    shift
    for name in "$@"; do
        for p in $(pgrep -x "$name"); do
            case "$(readlink "/proc/$p/cwd" 2>/dev/null)/" in "${dir%/}"/*) echo "$p" ;; esac
        done
    done
}

# one FILE SIDE: prints the CASE/TOTAL lines, returns 0 when every case passed
# and nothing was left behind. A subshell: its EXIT trap removes what it made.
one() (
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    local file=$1 side=$2 work ns= pre=() lock= rc out
    work=$(mktemp -d /var/tmp/o16-ocft.XXXXXX)
    WORKS+=("$work")
    chmod 755 "$work"
    if [ "$side" = ours ]; then
        local agent
        agent=$(ours_name "$file")
        if [ ! -e "/usr/lib/ocf/resource.d/$provider/$agent" ]; then
            echo "NOAGENT $file $side /usr/lib/ocf/resource.d/$provider/$agent does not exist"
            return 1
        fi
    fi
    adapt "$file" "$side" "$work" || return 1
    local tag=o16-${side:0:2}-$$
    case $file in
        IPaddr2v4 | IPaddr2v6)
            ns=$tag-${file#IPaddr2}
            ip netns add "$ns" || return 1
            NETNS+=("$ns")
            ip -n "$ns" link set lo up
            ip -n "$ns" link add eth0 type veth peer name peer0
            ip -n "$ns" link add eth1 type veth peer name peer1
            local l
            for l in eth0 peer0 eth1 peer1; do ip -n "$ns" link set "$l" up; done
            pre=(ip netns exec "$ns")
            ;;
        VirtualDomain)
            "$REPO/tests/harness/vm-libvirtd.sh" system >/dev/null || { echo "ERROR libvirtd"; return 1; }
            local g
            g=$("$REPO/tests/harness/tiny-guest.sh" /var/tmp/ocf-rs-guest) || { echo "ERROR tiny guest"; return 1; }
            DOMAINS+=("$tag")
            cat >"$work/o16-vm.xml" <<XML
<domain type='qemu'>
  <name>$tag</name>
  <memory unit='MiB'>96</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>$g/vmlinuz</kernel><initrd>$g/initrd.gz</initrd><cmdline>console=ttyS0 quiet panic=-1</cmdline></os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot><on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'><source path='$work/o16-vm.console'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
XML
            ;;
        Xen)
            mkdir -p "$work/bin" "$work/xl/host"
            printf '#!/bin/sh\n# xl SIMULATOR (scripts/ocft.sh)\nXL_SIM_DIR=%s XL_SIM_ROOT=%s exec %s "$@"\n' \
                "$work/xl/host" "$work/xl" "$REPO/tests/sim/xl" >"$work/bin/xl"
            chmod 755 "$work/bin/xl"
            printf 'name = "%s"\nkernel = "/boot/vmlinuz-xen"\nmemory = 256\nvcpus = 1\n' "$tag" >"$work/o16-xen.cfg"
            pre=(env "PATH=$work/bin:$PATH")
            ;;
        mysql)
            install -d -o mysql -g mysql -m 0750 /var/log/mysql
            lock=/run/ocf-rs-ocft-$file.lock
            ;;
        pgsql) lock=/run/ocf-rs-ocft-$file.lock ;;
    esac
    mkdir -p /var/lib/resource-agents/ocft
    local run=("${pre[@]}" unshare --mount --propagation private "$SELF" --inner "$work" "$file" "$side")
    if [ -n "$lock" ]; then
        run=(flock -w 900 "$lock" "${run[@]}")
    fi
    out=$("${run[@]}" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    # What must not outlive the run outside the namespace.
    case $file in
        VirtualDomain)
            if [ "$(virsh -q -c qemu:///system domstate "$tag" 2>/dev/null)" = running ]; then
                echo "LEFTOVER $file $side domain $tag running"; rc=1
            fi
            ;;
        Xen)
            if "$work/bin/xl" list "$tag" >/dev/null 2>&1; then
                echo "LEFTOVER $file $side xl domain $tag"; rc=1
            fi
            ;;
        pgsql)
            if [ -n "$(servers_in /var/lib/postgresql/ postgres)" ]; then
                echo "LEFTOVER $file $side postgres running: $(servers_in /var/lib/postgresql/ postgres)"; rc=1
            fi
            ;;
        mysql)
            if [ -n "$(servers_in /var/lib/mysql mariadbd mysqld)" ]; then
                echo "LEFTOVER $file $side mysqld running: $(servers_in /var/lib/mysql mariadbd mysqld)"; rc=1
            fi
            ;;
    esac
    grep -q '^LEFTOVER' <<<"$out" && rc=1
    grep -q "^TOTAL $file $side \([0-9]*\) \1$" <<<"$out" || rc=1
    return $rc
)

status=0
declare -A score
for file in "${files[@]}"; do
    ours_name "$file" >/dev/null || { echo "unknown case file $file (one of: $ALL)" >&2; exit 2; }
    for s in "${sides[@]}"; do
        t0=$SECONDS
        out=$(one "$file" "$s")
        rc=$?
        printf '%s\n' "$out"
        echo "TIME $file $s $((SECONDS - t0))s"
        [ $rc -eq 0 ] || status=1
        score[$file.$s]=$(sed -n "s/^TOTAL $file $s \([0-9]*\) \([0-9]*\)$/\1\/\2/p" <<<"$out")
        [ -n "${score[$file.$s]}" ] || score[$file.$s]="no run"
    done
done
if [ "$side" = both ]; then
    echo
    echo "| case file | heartbeat | ours |"
    echo "|---|---|---|"
    for file in "${files[@]}"; do
        echo "| $file | ${score[$file.heartbeat]} | ${score[$file.ours]} (\`$(ours_name "$file")\`) |"
    done
fi
exit $status
