//! The service user as NSS knows it (files, LDAP, SSSD), through `nix`'s
//! `getpwnam_r`/`getgrnam_r`/`getgrouplist` wrappers: no fork, buffers that
//! grow until the entry fits (a long gecos, an LDAP entry; up to 1 MiB),
//! and every supplementary group kept, however many (up to the kernel's
//! NGROUPS_MAX).

use std::ffi::CString;

use nix::unistd::{self, Gid, Group};

/// A service user: ids and supplementary groups, resolved before any fork
/// (no NSS lookup may run between fork and exec).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

/// Look up a user, and optionally a group name overriding its primary
/// group, like `id` would.
pub fn lookup(name: &str, group: Option<&str>) -> Result<User, String> {
    let pw = unistd::User::from_name(name)
        .map_err(|e| format!("cannot look up user {name}: {e}"))?
        .ok_or_else(|| format!("user {name} does not exist on this node"))?;
    let gid = match group {
        Some(g) => lookup_group(g)?,
        None => pw.gid.as_raw(),
    };
    let cname = CString::new(name).map_err(|_| format!("bad user name {name:?}"))?;
    let mut groups: Vec<u32> = unistd::getgrouplist(&cname, Gid::from_raw(gid))
        .map_err(|e| format!("cannot list the groups of user {name}: {e}"))?
        .into_iter()
        .map(Gid::as_raw)
        .collect();
    if !groups.contains(&gid) {
        groups.push(gid);
    }
    Ok(User {
        name: name.to_string(),
        uid: pw.uid.as_raw(),
        gid,
        groups,
    })
}

fn lookup_group(name: &str) -> Result<u32, String> {
    Group::from_name(name)
        .map_err(|e| format!("cannot look up group {name}: {e}"))?
        .map(|g| g.gid.as_raw())
        .ok_or_else(|| format!("group {name} does not exist on this node"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_resolve() {
        let root = lookup("root", None).unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(root.groups.contains(&0));
        assert!(lookup("dba-no-such-user", None).is_err());
        assert!(lookup("root", Some("dba-no-such-group")).is_err());
    }
}
