#!/bin/bash
# tiny-guest.sh: build (once) the 15 MB Linux guest that the vm agent's
# tests and the multi-node VM scenarios boot under QEMU TCG (this machine's
# KVM cannot boot a stock kernel), cached in /var/tmp/ocf-rs-guest (or $1).
#
#   tests/harness/tiny-guest.sh [DIR]    prints DIR when vmlinuz and initrd.gz are there
#
# The guest is a Debian cloud kernel plus a busybox-static initrd, taken from
# the .debs with dpkg-deb (nothing is installed). Its init, on the serial console:
#   * prints GUEST-UP uptime=<s>, then GUEST-TICK <uptime> every second, so a
#     test can tell a guest that kept running (live migration: the uptime goes
#     on) from one that booted again;
#   * powers off on any input event (the ACPI power button: `virsh shutdown`),
#     printing GUEST-POWEROFF;
#   * with vma_poweroff=N on the kernel command line, powers itself off after
#     N seconds (GUEST-SELF-POWEROFF: shut down from inside, for
#     respect_guest_shutdown);
#   * with vma_noacpi, never loads the button driver, so it ignores ACPI
#     shutdown requests (the destroy path with a real kernel).
# Concurrent callers are serialized with flock; a finished cache is reused.
set -euo pipefail
D=${1:-/var/tmp/ocf-rs-guest}
mkdir -p "$D"
exec 9>"$D/.lock"
flock 9
if [ -s "$D/vmlinuz" ] && [ -s "$D/initrd.gz" ]; then echo "$D"; exit 0; fi
work=$(mktemp -d "$D/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
img=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
if [ -z "$img" ]; then  # a fresh machine may have no package lists yet
    apt-get -q -o DPkg::Lock::Timeout=300 update >/dev/null 2>&1 || true
    img=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
fi
[ -n "$img" ] || { echo "tiny-guest.sh: no linux-image-cloud-amd64 in apt's lists (apt-get update?)" >&2; exit 1; }
# apt-get download warns on stderr as root ("unsandboxed"): keep it out of
# the output, show it only if the download fails.
fetch() { apt-get download "$1" >apt.log 2>&1 || { cat apt.log >&2; exit 1; }; }
if ls "$D"/cache/"$img"_*.deb >/dev/null 2>&1; then cp "$D"/cache/"$img"_*.deb .; else fetch "$img"; fi
if ls "$D"/cache/busybox-static_*.deb >/dev/null 2>&1; then cp "$D"/cache/busybox-static_*.deb .; else fetch busybox-static; fi
mkdir -p "$D/cache"; cp ./*.deb "$D/cache/"
dpkg-deb -x "$img"_*.deb x
dpkg-deb -x busybox-static_*.deb bb
mkdir -p initrd/bin initrd/sbin initrd/proc initrd/sys initrd/dev initrd/lib/modules
cp bb/bin/busybox initrd/bin/
cp "$(find x/lib/modules -name evdev.ko)" "$(find x/lib/modules -name button.ko -path '*acpi*')" initrd/lib/modules/
cat > initrd/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
echo "GUEST-UP uptime=$(cut -d' ' -f1 /proc/uptime)"
if ! grep -q vma_noacpi /proc/cmdline; then
    insmod /lib/modules/evdev.ko; insmod /lib/modules/button.ko
    for e in /dev/input/event*; do ( head -c 1 "$e" >/dev/null; echo GUEST-POWEROFF; poweroff -f ) & done
fi
n=$(sed -n 's/.*vma_poweroff=\([0-9]*\).*/\1/p' /proc/cmdline)
if [ -n "$n" ]; then ( sleep "$n"; echo GUEST-SELF-POWEROFF; poweroff -f ) & fi
while :; do echo "GUEST-TICK $(cut -d' ' -f1 /proc/uptime)"; sleep 1; done
INIT
chmod +x initrd/init
(cd initrd && find . | ../bb/bin/busybox cpio -o -H newc 2>/dev/null | gzip -1 > ../initrd.gz)
cp x/boot/vmlinuz-* "$D/vmlinuz.new" && mv "$D/vmlinuz.new" "$D/vmlinuz"
mv initrd.gz "$D/initrd.gz"
echo "$D"
