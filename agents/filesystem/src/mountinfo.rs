//! `/proc/self/mountinfo`, parsed by hand: the kernel answers, nothing is
//! forked and nothing is stat()ed, so a hung mount elsewhere in the table
//! (a dead NFS server, a stopped FUSE daemon) cannot block us.
//!
//! Line format (proc(5)): `id parent major:minor root mount_point options
//! [optional fields...] - fstype source super_options`. Paths escape space,
//! tab, newline and backslash as `\NNN` octal.
//!
//! Everything is bytes until it is a path: a directory name need not be
//! UTF-8, and a path decoded lossily names nothing we can unmount.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// One mount as the kernel lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub id: u32,
    pub parent: u32,
    pub major: u32,
    pub minor: u32,
    /// The path inside the filesystem that is mounted here (`/` unless a bind).
    pub root: PathBuf,
    pub mount_point: PathBuf,
    pub options: String,
    pub fstype: String,
    /// As the kernel lists it: a device path, `host:/export`, a bind or
    /// FUSE source directory (bytes, like any path).
    pub source: OsString,
}

impl Mount {
    /// The source as a path (a device node, a bind or FUSE source).
    pub fn source_path(&self) -> &Path {
        Path::new(&self.source)
    }
    /// The source for a log line.
    pub fn source_text(&self) -> std::borrow::Cow<'_, str> {
        self.source.to_string_lossy()
    }
}

/// Decode `\NNN` octal escapes. Only values up to `\377` are escapes (a
/// larger one would overflow a byte: the panic fuzzing found elsewhere).
pub fn decode(field: &[u8]) -> Vec<u8> {
    let b = field;
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let digits = &b[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let v = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if v <= 0o377 {
                    out.push(v as u8);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The kernel's escaping (`mangle` in fs/proc_namespace.c): space, tab,
/// newline and backslash as `\NNN`. The inverse of [`decode`] for tests,
/// fuzzing and fake tables.
pub fn encode(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    for &c in raw {
        if matches!(c, b' ' | b'\t' | b'\n' | b'\\') {
            out.extend_from_slice(format!("\\{c:03o}").as_bytes());
        } else {
            out.push(c);
        }
    }
    out
}

fn path(field: &[u8]) -> PathBuf {
    PathBuf::from(OsString::from_vec(decode(field)))
}

fn text(field: &[u8]) -> String {
    String::from_utf8_lossy(&decode(field)).into_owned()
}

fn number(field: &[u8]) -> Option<u32> {
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// Parse one line; `None` for anything malformed (skipped, never a panic).
/// Six fields, then optional fields up to a field that is exactly `-`
/// (proc(5)): found by position, not as the text ` - `, which an escaped
/// path field of `-` alone would also make.
pub fn parse_line(line: &[u8]) -> Option<Mount> {
    let mut f = line.split(|&c| c == b' ');
    let id = number(f.next()?)?;
    let parent = number(f.next()?)?;
    let dev = f.next()?;
    let colon = dev.iter().position(|&c| c == b':')?;
    let (major, minor) = (number(&dev[..colon])?, number(&dev[colon + 1..])?);
    let root = path(f.next()?);
    let mount_point = path(f.next()?);
    let options = text(f.next()?);
    f.by_ref().find(|x| *x == b"-")?;
    let fstype = text(f.next()?);
    let source = OsString::from_vec(decode(f.next().unwrap_or(b"")));
    Some(Mount {
        id,
        parent,
        major,
        minor,
        root,
        mount_point,
        options,
        fstype,
        source,
    })
}

/// Parse a whole table, in the kernel's order (parents before children).
pub fn parse(table: &[u8]) -> Vec<Mount> {
    table
        .split(|&c| c == b'\n')
        .filter_map(parse_line)
        .collect()
}

/// Read this process's mount table.
pub fn read() -> std::io::Result<Vec<Mount>> {
    Ok(parse(&std::fs::read("/proc/self/mountinfo")?))
}

/// True when `p` is `dir` or lies below it (component-wise, not by string).
pub fn is_within(p: &Path, dir: &Path) -> bool {
    p.starts_with(dir)
}

/// The mounts stacked on `dir`, bottom first.
pub fn at<'a>(mounts: &'a [Mount], dir: &Path) -> Vec<&'a Mount> {
    mounts.iter().filter(|m| m.mount_point == dir).collect()
}

/// Every mount whose chain of parents reaches `id` (submounts and mounts
/// stacked on top), in an order they can be unmounted by path: children
/// before their parents, and otherwise the most recent first, so a mount
/// stacked on top goes before the submounts it hides.
pub fn descendants(mounts: &[Mount], id: u32) -> Vec<&Mount> {
    let mut all = unmount_order(mounts, &[id]);
    all.retain(|m| m.id != id);
    all
}

/// Is `m` below `id` (its chain of parents reaches `id`)?
fn is_below(mounts: &[Mount], m: &Mount, id: u32) -> bool {
    let mut cur = m.parent;
    // A bounded walk: a malformed table cannot loop us forever.
    for _ in 0..=mounts.len() {
        if cur == id {
            return true;
        }
        match mounts.iter().find(|x| x.id == cur) {
            Some(p) if p.parent != p.id => cur = p.parent,
            _ => return false,
        }
    }
    false
}

/// The mounts `roots` and everything below each of them, in an order they
/// can be unmounted by path (see [`descendants`]); the roots themselves go
/// after whatever sits on them.
pub fn unmount_order<'a>(mounts: &'a [Mount], roots: &[u32]) -> Vec<&'a Mount> {
    let mut left: Vec<&Mount> = mounts
        .iter()
        .filter(|m| roots.contains(&m.id) || roots.iter().any(|&r| is_below(mounts, m, r)))
        .collect();
    let mut out = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let leaf = left
            .iter()
            .rposition(|m| !left.iter().any(|c| c.parent == m.id))
            .unwrap_or(left.len() - 1);
        out.push(left.remove(leaf));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    const TABLE: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 7:3 / /mnt/fsa\\040data rw,relatime shared:5 - xfs /dev/loop3 rw,attr2
31 30 0:40 / /mnt/fsa\\040data/sub rw - tmpfs tmpfs rw
32 31 0:41 / /mnt/fsa\\040data/sub/deeper rw - tmpfs tmpfs rw
33 22 7:3 /export /srv/bound rw - xfs /dev/loop3 rw
34 30 0:42 / /mnt/fsa\\040data rw - tmpfs over rw
bad line without separator
35 22 0:50 / /net rw master:3 - nfs4 srv:/exp/a\\134b rw,vers=4.2
";

    #[test]
    fn parses_fields_and_decodes_escapes() {
        let m = parse(TABLE.as_bytes());
        assert_eq!(m.len(), 7, "the malformed line is skipped");
        let dash = parse(b"40 1 7:3 / - rw shared:2 - ext4 /dev/loop3 rw\n");
        assert_eq!(
            dash[0].mount_point,
            PathBuf::from("-"),
            "a field of '-' alone"
        );
        assert_eq!(dash[0].fstype, "ext4");
        let non_utf8 = parse(b"41 1 0:9 / /mnt/a\xff\\040b rw - tmpfs t\xfe rw\n");
        assert_eq!(
            non_utf8[0].mount_point.as_os_str().as_bytes(),
            b"/mnt/a\xff b"
        );
        assert_eq!(non_utf8[0].source.as_bytes(), b"t\xfe");
        assert_eq!(m[1].mount_point, PathBuf::from("/mnt/fsa data"));
        assert_eq!((m[1].major, m[1].minor), (7, 3));
        assert_eq!(m[1].fstype, "xfs");
        assert_eq!(m[1].source, "/dev/loop3");
        assert_eq!(m[4].root, PathBuf::from("/export"));
        assert_eq!(m[6].source, "srv:/exp/a\\b");
        assert_eq!(m[6].fstype, "nfs4");
    }

    #[test]
    fn decode_is_total() {
        assert_eq!(decode(b"a\\040b"), b"a b");
        assert_eq!(decode(b"\\011\\012\\134"), b"\t\n\\");
        assert_eq!(decode(b"\\666"), b"\\666", "beyond a byte: left alone");
        assert_eq!(decode(b"end\\04"), b"end\\04");
        assert_eq!(decode(b"\\"), b"\\");
        assert_eq!(decode(b"\\9999"), b"\\9999");
        assert_eq!(decode(b""), b"");
        assert_eq!(decode(&encode(b"a b\\c\td\ne\xff")), b"a b\\c\td\ne\xff");
    }

    #[test]
    fn stacked_and_nested_mounts_are_descendants_deepest_first() {
        let m = parse(TABLE.as_bytes());
        let ids: Vec<u32> = descendants(&m, 30).iter().map(|x| x.id).collect();
        assert_eq!(ids, [34, 32, 31]);
        assert!(descendants(&m, 32).is_empty());
        assert_eq!(at(&m, Path::new("/mnt/fsa data")).len(), 2);
        assert!(is_within(Path::new("/mnt/a/b"), Path::new("/mnt/a")));
        assert!(!is_within(Path::new("/mnt/ab"), Path::new("/mnt/a")));
    }

    /// Two copies of one device stacked on one directory, a submount of
    /// the lower one and another filesystem elsewhere: every copy and what
    /// sits on it, top first.
    #[test]
    fn unmount_order_of_several_roots() {
        let m = parse(
            b"22 1 8:1 / / rw - ext4 /dev/vda rw\n\
             30 22 7:3 / /mnt/x rw - ext4 /dev/loop3 rw\n\
             31 30 0:40 / /mnt/x/sub rw - tmpfs t rw\n\
             32 30 7:3 / /mnt/x rw - ext4 /dev/loop3 rw\n\
             33 22 0:41 / /other rw - tmpfs o rw\n",
        );
        let ids: Vec<u32> = unmount_order(&m, &[30, 32]).iter().map(|x| x.id).collect();
        assert_eq!(ids, [32, 31, 30]);
        assert!(unmount_order(&m, &[99]).is_empty());
    }

    #[test]
    fn a_parent_loop_does_not_hang() {
        let m = parse(b"1 2 0:1 / /a rw - tmpfs t rw\n2 1 0:2 / /b rw - tmpfs t rw\n");
        assert!(descendants(&m, 9).is_empty());
    }

    #[test]
    fn this_machine_has_a_root_mount() {
        let m = read().unwrap();
        assert!(m.iter().any(|x| x.mount_point == Path::new("/")));
    }
}
