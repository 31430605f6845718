#!/bin/bash
# install-deps.sh: every Debian package the tests, the demo and the benchmarks
# use, on a fresh Debian 12 machine, as root, without systemd.
#
#   scripts/install-deps.sh            install what is missing (idempotent)
#   scripts/install-deps.sh --check    only check; exit 1 naming what is missing
#
# It converges: after every install it checks again, every package AND every
# command the tests run, because one install can remove what another needs
# (the machine image has a backported qemu-utils; Debian 12's qemu-system-x86
# removes it, and qemu-img with it). What is missing is installed again, up to
# three rounds; then it stops with one line naming what is still missing.
#
# Daemons are never started by package scripts: a policy-rc.d that says 101
# is put in place first (the harness starts corosync, pacemakerd, libvirtd,
# postgres and mariadbd itself, by hand).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -y -q -o DPkg::Lock::Timeout=900)
LOG=/var/log/ocf-rs-install-deps.log

PACKAGES=(
    # the cluster stack, ocf-tester, the heartbeat agents we compare against
    pacemaker pacemaker-cli-utils corosync pcs crmsh resource-agents cluster-glue
    # meta-data validation, process and network tools the tests drive
    libxml2-utils kmod procps psmisc iproute2 tcpdump iputils-ping iputils-arping
    strace time util-linux e2fsprogs xfsprogs fuse3 linux-perf hyperfine
    # filesystem agent: a FUSE filesystem whose daemon the hung-mount test stops
    bindfs
    # vm agent: libvirtd + QEMU (TCG), qemu-utils (installing qemu-system-x86
    # removes the image's backported qemu-utils: the second round puts it back)
    libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils
    # drbd agent: the userland and linbit's agent (no kernel module here);
    # /usr/bin/python3 runs the DRBD simulator (tests/sim/drbd)
    drbd-utils python3
    # databases; openssl makes and opens the RSA keys of the MySQL 8 auth tests
    postgresql mariadb-server openssl
    # building the tiny test guest
    busybox-static cpio
    # the Debian package (scripts/package.sh) and its checks: dpkg-shlibdeps,
    # strip, lintian; groff and man-db format the manual pages in the tests
    dpkg-dev binutils lintian groff-base man-db
)

# Every command the tests, the harness scripts and the benchmarks run, with the
# package that provides it: a package can be "installed" and still lack the
# command (a diverted or removed file), and this is what a test would hit.
COMMANDS=(
    corosync:corosync pacemakerd:pacemaker crm_resource:pacemaker-cli-utils
    crm_mon:pacemaker-cli-utils crm_attribute:pacemaker-cli-utils cibadmin:pacemaker-cli-utils
    pcs:pcs crm:crmsh ocf-tester:resource-agents ocft:resource-agents
    xmllint:libxml2-utils ip:iproute2 tcpdump:tcpdump ping:iputils-ping arping:iputils-arping
    strace:strace pgrep:procps fuser:psmisc nsenter:util-linux unshare:util-linux
    losetup:util-linux mount:mount blkid:util-linux mkfs.ext4:e2fsprogs mkfs.xfs:xfsprogs
    fusermount3:fuse3 bindfs:bindfs hyperfine:hyperfine
    qemu-img:qemu-utils qemu-system-x86_64:qemu-system-x86 virsh:libvirt-clients
    libvirtd:libvirt-daemon-system virtlogd:libvirt-daemon-system
    drbdadm:drbd-utils drbdsetup:drbd-utils python3:python3
    psql:postgresql-client-15 /usr/lib/postgresql/15/bin/pg_ctl:postgresql-15
    mariadb:mariadb-client mariadbd:mariadb-server mariadb-install-db:mariadb-server
    openssl:openssl busybox:busybox-static cpio:cpio
    dpkg-deb:dpkg dpkg-shlibdeps:dpkg-dev strip:binutils lintian:lintian
    groff:groff-base man:man-db
)
# Installed without their recommends: Xen's toolstack without its hypervisor
# (the recommends would pull grub-xen-host); the tests run the real `xl`.
BARE_PACKAGES=(xen-utils-4.17)
BARE_COMMANDS=(xl:xen-utils-4.17)

installed() { dpkg-query -W -f='${Status}' "$1" 2> /dev/null | grep -q 'install ok installed'; }
have_command() {
    case $1 in
        /*) [ -x "$1" ] ;;
        *) PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v "$1" > /dev/null ;;
    esac
}

# What is missing now: packages not installed, and the packages of commands
# not found. Prints "package" or "package(command)" words.
missing_now() {
    local p c out=()
    for p in "${PACKAGES[@]}" "${BARE_PACKAGES[@]}"; do installed "$p" || out+=("$p"); done
    for c in "${COMMANDS[@]}" "${BARE_COMMANDS[@]}"; do
        have_command "${c%%:*}" || out+=("${c#*:}(${c%%:*})")
    done
    echo "${out[@]}"
}

is_bare() { local b; for b in "${BARE_PACKAGES[@]}"; do [ "$b" = "$1" ] && return 0; done; return 1; }

# apt-get install WORDS... (package or package(command)); BARE packages
# without recommends. Says what apt removed on the way.
apt_install() {
    local w p normal=() bare=() before
    for w in "$@"; do
        p=${w%%(*}
        if is_bare "$p"; then bare+=("$p"); else normal+=("$p"); fi
    done
    before=0
    [ -f "$LOG" ] && before=$(wc -l < "$LOG")
    if [ ${#normal[@]} -gt 0 ] && ! "${APT[@]}" install "${normal[@]}" >> "$LOG" 2>&1; then
        tail -30 "$LOG" >&2
        echo "install-deps: apt-get install ${normal[*]} failed (log: $LOG)" >&2
        return 1
    fi
    if [ ${#bare[@]} -gt 0 ] && ! "${APT[@]}" install --no-install-recommends "${bare[@]}" >> "$LOG" 2>&1; then
        tail -30 "$LOG" >&2
        echo "install-deps: apt-get install ${bare[*]} failed (log: $LOG)" >&2
        return 1
    fi
    tail -n +"$((before + 1))" "$LOG" | grep -A2 'will be REMOVED' | sed 's/^/install-deps: apt: /' || true
}

if [ ! -x /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
fi

if [ "${1:-}" = --check ]; then
    m=$(missing_now)
    [ -z "$m" ] && { echo "install-deps: nothing missing"; exit 0; }
    echo "install-deps: missing: $m" >&2
    exit 1
fi

updated=0
for round in 1 2 3; do
    m=$(missing_now)
    [ -z "$m" ] && break
    pkgs=$(for w in $m; do echo "${w%%(*}"; done | sort -u | tr '\n' ' ')
    echo "install-deps: round $round: installing $pkgs"
    if [ $updated = 0 ]; then "${APT[@]}" update > /dev/null; updated=1; fi
    # shellcheck disable=SC2086 # one word per package
    apt_install $pkgs || exit 1
done
m=$(missing_now)
if [ -n "$m" ]; then
    echo "install-deps: still missing after 3 rounds: $m (log: $LOG)" >&2
    exit 1
fi
echo "install-deps: all packages and commands present"
