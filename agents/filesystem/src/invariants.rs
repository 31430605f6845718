//! What must hold for every input of this agent's parsers of outside text,
//! checked with assertions: the fuzz targets (`fuzz/fuzz_targets/mountinfo.rs`,
//! `filesystem_input.rs`) feed them arbitrary bytes, and the bounded property
//! tests in `props.rs` feed them generated ones in CI. A failed assertion is
//! a bug in the parser, never in the input.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::{holders, mountinfo, record, signals};

/// A mount table (any bytes): parsing never panics; every parsed mount's
/// paths survive an encode/decode round trip; the unmount order of any set
/// of roots is finite, without duplicates, made of the table's mounts, and
/// puts every child before its parent.
pub fn mountinfo_table(data: &[u8]) {
    let mounts = mountinfo::parse(data);
    assert!(mounts.len() <= data.split(|&c| c == b'\n').count());
    for m in &mounts {
        for p in [&m.root, &m.mount_point] {
            let raw = p.as_os_str().as_bytes();
            assert_eq!(mountinfo::decode(&mountinfo::encode(raw)), raw);
        }
        let _ = mountinfo::at(&mounts, &m.mount_point);
    }
    let roots: Vec<u32> = mounts.iter().take(4).map(|m| m.id).collect();
    for r in &roots {
        let d = mountinfo::descendants(&mounts, *r);
        assert!(
            d.iter().all(|m| m.id != *r),
            "a mount is not its own descendant"
        );
    }
    let order = mountinfo::unmount_order(&mounts, &roots);
    assert!(order.len() <= mounts.len());
    for (i, m) in order.iter().enumerate() {
        assert!(
            !order[..i].iter().any(|o| std::ptr::eq(*o, *m)),
            "listed twice"
        );
    }
    // In a table a kernel could make (unique IDs, no loop of parents),
    // every child comes before its parent.
    let unique = mounts
        .iter()
        .enumerate()
        .all(|(i, m)| !mounts[..i].iter().any(|o| o.id == m.id));
    if unique && !has_cycle(&mounts) {
        for (i, m) in order.iter().enumerate() {
            assert!(
                !order[i + 1..].iter().any(|c| c.parent == m.id),
                "a child after its parent"
            );
        }
    }
}

fn has_cycle(mounts: &[mountinfo::Mount]) -> bool {
    mounts.iter().any(|m| {
        let mut cur = m.parent;
        for _ in 0..=mounts.len() {
            if cur == m.id {
                return true;
            }
            match mounts.iter().find(|x| x.id == cur) {
                Some(p) => cur = p.parent,
                None => return false,
            }
        }
        true
    })
}

/// One line built from raw fields, escaped as the kernel escapes them,
/// parses back to the same fields.
pub fn mountinfo_line_round_trip(root: &[u8], mount_point: &[u8], source: &[u8], id: u32) {
    let mut line = format!("{id} 1 7:3 ").into_bytes();
    line.extend(mountinfo::encode(root));
    line.push(b' ');
    line.extend(mountinfo::encode(mount_point));
    line.extend_from_slice(b" rw,relatime shared:1 - ext4 ");
    line.extend(mountinfo::encode(source));
    line.extend_from_slice(b" rw");
    let m = mountinfo::parse_line(&line).expect("a well-formed line parses");
    assert_eq!(m.id, id);
    assert_eq!(m.root.as_os_str().as_bytes(), root);
    assert_eq!(m.mount_point.as_os_str().as_bytes(), mount_point);
    assert_eq!(m.source.as_bytes(), source);
    assert_eq!((m.major, m.minor), (7, 3));
}

/// `/proc/<pid>/` text, link targets and the agent's parameters (any
/// bytes): nothing panics, and what comes out keeps its promises.
pub fn filesystem_input(data: &[u8]) {
    // /proc/<pid>/stat, status, maps; a link target against a directory.
    let _ = ocf::procfs::parse_stat(data);
    let _ = holders::status_uids(data);
    for line in data.split(|&c| c == b'\n') {
        if let Some(p) = holders::maps_path(line) {
            assert!(p.starts_with(b"/") && line.ends_with(p));
        }
    }
    let (dir, target) = data.split_at(data.len() / 2);
    let d = Path::new(OsStr::from_bytes(dir));
    if holders::link_is_within(target, d) {
        assert!(target.starts_with(dir.strip_suffix(b"/").unwrap_or(dir)));
        assert!(!dir.is_empty() && dir != b"/");
    }
    let _ = holders::is_cluster_daemon_name(data);
    let _ = record::live_backing_file(data);

    // Parameters are text.
    let text = String::from_utf8_lossy(data);
    if let Ok(sigs) = signals::parse_signals(&text) {
        assert!(!sigs.is_empty() && sigs.iter().all(|s| (1..=64).contains(s)));
        for s in sigs {
            let _ = signals::signal_name(s);
        }
    }
    let _ = crate::parse_device(&text);
    let (a, b) = text.split_at(
        text.char_indices()
            .nth(text.chars().count() / 2)
            .map_or(0, |(i, _)| i),
    );
    for fstype in ["cifs", "nfs4", "ext4", ""] {
        let n = record::normalize_source(&text, fstype);
        assert_eq!(record::normalize_source(&n, fstype), n, "normalizing twice");
        assert!(record::same_source(
            &text,
            OsStr::new(text.as_ref()),
            fstype
        ));
        let _ = record::same_source(a, OsStr::from_bytes(b.as_bytes()), fstype);
    }
    for fstype in ["cifs", "ext4"] {
        let (kept, pw) = crate::split_cifs_password(fstype, &text);
        if fstype == "cifs" {
            let left = kept.split(',').any(|o| {
                let l = o.to_ascii_lowercase();
                (l.starts_with("password=") && l.len() > 9)
                    || (l.starts_with("pass=") && l.len() > 5)
            });
            assert!(!left, "a password left in the options: {kept:?}");
            assert!(pw.as_ref().is_none_or(|p| !p.is_empty()));
        } else {
            assert_eq!((kept.as_str(), pw), (text.as_ref(), None));
        }
    }
    let _ = record::parse_dev(&text);
    let rec = ocf::Record::from_text(&text);
    if let Some(r) = record::Recorded::from_record(&rec) {
        let again =
            record::Recorded::from_record(&ocf::Record::from_text(&r.to_record().to_text()))
                .expect("what we write reads back");
        assert_eq!(again.directory, r.directory);
        assert_eq!(again.mount, r.mount);
    }
    if crate::check_statusfile_prefix(&text).is_ok() && !text.contains('\0') {
        let st = crate::status_file_of(&text, a, Some(b), "node/1");
        assert!(
            st.dirs
                .iter()
                .all(|d| !d.is_empty() && d != "." && d != ".." && !d.contains('/'))
        );
        assert!(!st.name.contains('/') && !st.name.is_empty());
    }
}
