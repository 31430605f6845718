#!/bin/bash
# install-deps.sh: every Debian package the tests, the demo and the benchmarks
# use, on a fresh Debian 12 machine, as root, without systemd.
#
#   scripts/install-deps.sh            install what is missing (idempotent)
#
# Daemons are never started by package scripts: a policy-rc.d that says 101
# is put in place first (the harness starts corosync, pacemakerd, libvirtd,
# postgres and mariadbd itself, by hand).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -y -q -o DPkg::Lock::Timeout=900)

if [ ! -x /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
fi

PACKAGES=(
    # the cluster stack, ocf-tester, the heartbeat agents we compare against
    pacemaker pacemaker-cli-utils corosync pcs crmsh resource-agents cluster-glue
    # meta-data validation, process and network tools the tests drive
    libxml2-utils kmod procps psmisc iproute2 tcpdump iputils-ping iputils-arping
    strace time util-linux e2fsprogs xfsprogs fuse3 linux-perf hyperfine
    # filesystem agent: a FUSE filesystem whose daemon the hung-mount test stops
    bindfs
    # vm agent: libvirtd + QEMU (TCG), qemu-utils (the upgrade drops qemu-img)
    libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils
    # drbd agent: the userland and linbit's agent (no kernel module here);
    # /usr/bin/python3 runs the DRBD simulator (tests/drbd-sim)
    drbd-utils python3
    # databases; openssl makes and opens the RSA keys of the MySQL 8 auth tests
    postgresql mariadb-server openssl
    # building the tiny test guest
    busybox-static cpio
)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    "${APT[@]}" update >/dev/null
    "${APT[@]}" install "${missing[@]}" >/tmp/ocf-rs-install-deps.log 2>&1 || {
        tail -30 /tmp/ocf-rs-install-deps.log >&2; exit 1; }
    # Xen's toolstack without its hypervisor (recommends would pull grub-xen-host).
fi
if ! dpkg-query -W -f='${Status}' xen-utils-4.17 2>/dev/null | grep -q 'install ok installed'; then
    "${APT[@]}" install --no-install-recommends xen-utils-4.17 >>/tmp/ocf-rs-install-deps.log 2>&1 || true
fi
echo "install-deps: all packages present"
