#!/bin/bash
# tiny-guest.sh: a 15 MB Linux guest for the VM scenarios (QEMU TCG; this
# machine's KVM cannot boot a stock kernel).
#
#   tests/harness/tiny-guest.sh [DIR]      (default /var/tmp/e2e-guest-image)
#
# Leaves DIR/vmlinuz and DIR/initrd.gz; cached: a second run does nothing.
# The guest's init (busybox) prints "E2E-GUEST-UP" on its serial console,
# then "E2E-TICK <uptime>" every second, so a test can tell a guest that kept
# running (live migration: the uptime goes on) from one that booted again.
# It powers off when the ACPI power button is pressed (`virsh shutdown`).
# Sources: Debian's cloud kernel and busybox-static, fetched with
# `apt-get download` and unpacked with dpkg-deb (nothing is installed).
set -euo pipefail
D=${1:-/var/tmp/e2e-guest-image}
[ -s "$D/vmlinuz" ] && [ -s "$D/initrd.gz" ] && exit 0
mkdir -p "$D"
cd "$D"
img=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
ls "$img"_*.deb > /dev/null 2>&1 || apt-get download "$img" > /dev/null
ls busybox-static_*.deb > /dev/null 2>&1 || apt-get download busybox-static > /dev/null
rm -rf x bb initrd
dpkg-deb -x "$img"_*.deb x
dpkg-deb -x busybox-static_*.deb bb
mkdir -p initrd/bin initrd/proc initrd/sys initrd/dev initrd/lib/modules
cp bb/bin/busybox initrd/bin/
# the power button: evdev + the ACPI button driver (modules in the cloud kernel)
cp "$(find x/lib/modules -name evdev.ko)" "$(find x/lib/modules -name button.ko -path '*acpi*')" \
    initrd/lib/modules/
cat > initrd/init <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "E2E-GUEST-UP uptime=$(cut -d' ' -f1 /proc/uptime)"
insmod /lib/modules/evdev.ko
insmod /lib/modules/button.ko
# any event on an input device (the power button) powers the guest off
for e in /dev/input/event*; do ( head -c 1 "$e" > /dev/null; echo E2E-GUEST-POWEROFF; poweroff -f ) & done
while :; do echo "E2E-TICK $(cut -d' ' -f1 /proc/uptime)"; sleep 1; done
EOF
chmod +x initrd/init
(cd initrd && find . | ../bb/bin/busybox cpio -o -H newc 2> /dev/null | gzip -1 > ../initrd.gz.new)
cp x/boot/vmlinuz-* vmlinuz.new
mv vmlinuz.new vmlinuz
mv initrd.gz.new initrd.gz
rm -rf x bb initrd ./*.deb
