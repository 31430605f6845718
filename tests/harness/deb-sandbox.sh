#!/bin/bash
# deb-sandbox.sh: a private mount namespace in which dpkg can install and
# remove a package without changing anything of the host.
#
#   unshare --mount --propagation private --fork --kill-child -- tests/harness/deb-sandbox.sh [SECONDS]
#
# Run it that way (tests/it/package.rs does): everything below happens in the
# new mount namespace only. A tmpfs at /mnt holds the upper layers of
# overlays on /usr, /etc and /var (what dpkg writes: the binary, the docs and
# manual pages, /var/lib/dpkg, /var/log/dpkg.log, the man-db cache), and a
# tmpfs over /usr/lib/ocf/resource.d gives the package (and Pacemaker's
# crm_resource, run in the same namespace) a provider tree of its own: the
# host's links under /usr/lib/ocf/resource.d/<provider> are neither seen nor
# touched. man-db's trigger is switched off in here (it would rebuild the
# whole index). It prints "ready PID", PID being a process in the namespace
# for `nsenter --target PID --mount`, and then waits SECONDS (default 300);
# when it ends, or is killed, the namespace and all its mounts are gone.
set -euo pipefail
hold=${1:-300}

# Nothing mounted here may reach the host, whatever unshare's defaults are.
mount --make-rprivate /

mount -t tmpfs -o mode=0755,size=512m ocf-rs-deb-sandbox /mnt
for d in usr etc var; do
    mkdir -p "/mnt/$d.upper" "/mnt/$d.work"
    mount -t overlay "ocf-rs-deb-$d" \
        -o "lowerdir=/$d,upperdir=/mnt/$d.upper,workdir=/mnt/$d.work" "/$d"
done
mkdir -p /usr/lib/ocf/resource.d
mount -t tmpfs -o mode=0755,size=16m ocf-rs-deb-resource.d /usr/lib/ocf/resource.d
rm -f /var/lib/man-db/auto-update

echo "ready $$"
exec sleep "$hold"
