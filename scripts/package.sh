#!/bin/bash
# package.sh: the Debian package, target/debian/ocf-rs_<version>-1_<arch>.deb,
# from this checkout with cargo and dpkg-deb (nothing downloaded but crates).
#
#   scripts/package.sh              cargo build --release, then the .deb
#   scripts/package.sh --lintian    the same, then lintian on it
#
# What it holds: /usr/sbin/ocf-rs (stripped), the manual pages
# ocf_rust_<agent>(7) and ocf-rs(8) written by that binary (`ocf-rs man`, the
# same text as man/), and /usr/share/doc/ocf-rs (copyright in the
# machine-readable format, changelog.Debian.gz, README, compatibility notes).
# The agent links /usr/lib/ocf/resource.d/rust/<agent> are not files of the
# package: postinst makes them with `ocf-rs install`, prerm removes ours with
# `ocf-rs install --uninstall` on removal only (an upgrade keeps them, and the
# binary is replaced by dpkg's rename), and neither touches a name that is not
# our link. Built twice from one commit, the .deb is the same byte for byte
# (every time stamp is the commit's: SOURCE_DATE_EPOCH).
set -euo pipefail
cd "$(dirname "$0")/.."

lintian=0
case "${1:-}" in
    --lintian) lintian=1 ;;
    "") ;;
    *) echo "usage: scripts/package.sh [--lintian]" >&2; exit 2 ;;
esac
for c in cargo python3 dpkg-deb dpkg-shlibdeps strip gzip; do
    command -v "$c" > /dev/null || {
        echo "package.sh: $c not found: run scripts/install-deps.sh" >&2
        exit 1
    }
done

cargo build --release --locked --quiet --bin ocf-rs
# Where cargo put it (CARGO_TARGET_DIR or build.target-dir may move it).
target_dir=$(cargo metadata --format-version 1 --no-deps --offline \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bin=$target_dir/release/ocf-rs
upstream=$("$bin" --version | awk '{print $2}')
version="$upstream-1"
arch=$(dpkg --print-architecture)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2> /dev/null || date +%s)}
commit=$(git describe --always --dirty --abbrev=12 2> /dev/null || echo unknown)
first_year=$(git log --format=%cd --date=format:%Y 2> /dev/null | tail -1)
last_year=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y)
years=${first_year:-$last_year}
[ "$years" = "$last_year" ] || years="$years-$last_year"
maintainer="ocf-rs developers <ocf-rs@example.invalid>"

out=target/debian
root=$out/root
rm -rf "$root" "$out/shlibs"
mkdir -p "$root/DEBIAN" "$root/usr/sbin" "$root/usr/share/man/man7" \
    "$root/usr/share/man/man8" "$root/usr/share/doc/ocf-rs"
chmod 0755 "$root" "$root/DEBIAN"

# The binary, stripped as dh_strip strips.
install -m 0755 "$bin" "$root/usr/sbin/ocf-rs"
strip --remove-section=.comment --remove-section=.note --strip-unneeded "$root/usr/sbin/ocf-rs"

# Manual pages, from the binary (tests/it/man.rs checks man/ is the same text).
agents=$("$bin" list | cut -f1)
for a in $agents; do
    "$bin" man "$a" | gzip -9n > "$root/usr/share/man/man7/ocf_rust_$a.7.gz"
done
"$bin" man ocf-rs | gzip -9n > "$root/usr/share/man/man8/ocf-rs.8.gz"

# Documentation.
doc=$root/usr/share/doc/ocf-rs
gzip -9n < README.md > "$doc/README.md.gz"
gzip -9n < docs/compatibility.md > "$doc/compatibility.md.gz"
{
    echo "ocf-rs ($version) unstable; urgency=medium"
    echo
    echo "  * Built by scripts/package.sh from commit $commit."
    echo
    echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$doc/changelog.Debian.gz"
{
    cat << EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ocf-rs
Upstream-Contact: $maintainer
Comment: /usr/sbin/ocf-rs is statically linked with these Rust crates, each
 under the license its author gives (cargo tree -e normal):
EOF
    cargo tree --locked --offline -e normal --prefix none -f '{p}|{l}' 2> /dev/null \
        | grep -v '(/' | sed 's/ (\*)$//' | sort -u \
        | awk -F'|' '{print " " $1 ": " $2}' | sed 's/^ *$/ ./'
    cat << 'EOF'

Files: *
Copyright: YEARS ocf-rs contributors
License: GPL-2+

License: GPL-2+
 This program is free software; you can redistribute it and/or modify it
 under the terms of the GNU General Public License as published by the Free
 Software Foundation; either version 2 of the License, or (at your option)
 any later version.
 .
 This program is distributed in the hope that it will be useful, but WITHOUT
 ANY WARRANTY; without even the implied warranty of MERCHANTABILITY or
 FITNESS FOR A PARTICULAR PURPOSE. See the GNU General Public License for
 more details.
 .
 On Debian systems, the complete text of the GNU General Public License
 version 2 can be found in /usr/share/common-licenses/GPL-2.
EOF
} | sed "s/^Copyright: YEARS /Copyright: $years /" > "$doc/copyright"

mkdir -p "$root/usr/share/lintian/overrides"
cat > "$root/usr/share/lintian/overrides/ocf-rs" << 'EOF'
# Not meant for the Debian archive: there is no ITP bug to close.
ocf-rs: initial-upload-closes-no-bugs
# The maintainer scripts run this package's own binary: by PATH they would
# find a hand-installed /usr/local/sbin/ocf-rs first (an older build, with
# other agents), as the package test did.
ocf-rs: command-with-path-in-maintainer-script /usr/sbin/ocf-rs *
EOF

# Maintainer scripts.
cat > "$root/DEBIAN/postinst" << 'EOF'
#!/bin/sh
# Link /usr/lib/ocf/resource.d/rust/<agent> to /usr/sbin/ocf-rs for every
# agent (idempotent: links already in place are left as they are, so an
# upgrade never removes one). Exit 3 means some names are held by the
# admin's own files, which ocf-rs leaves alone and has named above: the
# package is still configured.
set -e
case "$1" in
    configure | abort-upgrade | abort-remove | abort-deconfigure)
        rc=0
        /usr/sbin/ocf-rs install --binary /usr/sbin/ocf-rs || rc=$?
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
            exit "$rc"
        fi
        ;;
esac
exit 0
EOF
cat > "$root/DEBIAN/prerm" << 'EOF'
#!/bin/sh
# On removal only (not on upgrade): remove our links, nothing else.
set -e
case "$1" in
    remove | deconfigure)
        if [ -x /usr/sbin/ocf-rs ]; then
            /usr/sbin/ocf-rs install --uninstall --binary /usr/sbin/ocf-rs
        fi
        ;;
esac
exit 0
EOF
cat > "$root/DEBIAN/postrm" << 'EOF'
#!/bin/sh
# Should prerm not have been able to run the binary: remove what is still
# ours, the links to /usr/sbin/ocf-rs, and nothing else.
set -e
case "$1" in
    remove | purge)
        dir=/usr/lib/ocf/resource.d/rust
        if [ -d "$dir" ]; then
            for link in "$dir"/*; do
                if [ -L "$link" ] && [ "$(readlink "$link")" = /usr/sbin/ocf-rs ]; then
                    rm -f "$link"
                fi
            done
            rmdir --ignore-fail-on-non-empty "$dir"
        fi
        ;;
esac
exit 0
EOF
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"

# Depends from the libraries the binary links (libvirt is dlopen'ed by the vm
# agent at run time, so it is a Suggests, not a Depends).
mkdir -p "$out/shlibs/debian"
printf 'Source: ocf-rs\n\nPackage: ocf-rs\nArchitecture: any\n' > "$out/shlibs/debian/control"
depends=$(cd "$out/shlibs" && dpkg-shlibdeps -O "$PWD/../root/usr/sbin/ocf-rs" 2> /dev/null \
    | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "package.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

find "$root" -path "$root/DEBIAN" -prune -o -type d -exec chmod 0755 {} +
find "$root/usr/share" -type f -exec chmod 0644 {} +
size=$(du -s -k --apparent-size "$root/usr" | cut -f1)
cat > "$root/DEBIAN/control" << EOF
Package: ocf-rs
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Recommends: pacemaker-cli-utils
Suggests: libvirt0, drbd-utils
Enhances: pacemaker
Section: admin
Priority: optional
Description: Pacemaker OCF resource agents in one multi-call Rust binary
 Drop-in replacements for resource-agents' IPaddr2, Filesystem,
 VirtualDomain, Xen, PostgreSQL and MySQL agents and for LINBIT's drbd
 agent, under the OCF provider "rust" (ocf:rust:ipaddr, ocf:rust:filesystem,
 ocf:rust:vm, ocf:rust:xen, ocf:rust:pgsql, ocf:rust:mysql, ocf:rust:database,
 ocf:rust:drbd, ocf:rust:dummy). They keep the parameter names of the agents
 they replace, run no shell, validate every parameter before use, keep
 secrets off argv, and budget every action from its own timeout.
 .
 Installing the package links /usr/lib/ocf/resource.d/rust/<agent> to
 /usr/sbin/ocf-rs; every agent has its manual page, ocf_rust_<agent>(7).
EOF
(cd "$root" && find usr -type f -printf '%P\n' | sort | sed 's|^|usr/|' | xargs md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

deb=$out/ocf-rs_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" > /dev/null
echo "$deb"
if [ $lintian = 1 ]; then
    lintian --pedantic -I -E "$deb"
fi
