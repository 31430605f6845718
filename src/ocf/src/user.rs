//! Users and groups through NSS (`getpwnam_r`, `getgrnam_r`,
//! `getgrouplist`, by way of nix), like `id` would look them up, without a
//! fork. The buffers grow until the entry fits (a long gecos, an LDAP
//! entry) and every supplementary group is kept, however many.

use nix::unistd::{Group, User as NixUser, getgrouplist};
use std::ffi::CString;

/// A service user: ids and every group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups, the primary one included.
    pub groups: Vec<u32>,
}

/// Look up `name`, with `group` (a group name) overriding its primary
/// group when given. `Err` says what is missing, for an exit reason.
pub fn lookup(name: &str, group: Option<&str>) -> Result<User, String> {
    let u = NixUser::from_name(name)
        .map_err(|e| format!("cannot look up user {name}: {e}"))?
        .ok_or_else(|| format!("user {name} does not exist on this node"))?;
    let gid = match group {
        Some(g) => group_id(g)?,
        None => u.gid.as_raw(),
    };
    let cname = CString::new(name).map_err(|_| format!("bad user name {name:?}"))?;
    let mut groups: Vec<u32> = getgrouplist(&cname, nix::unistd::Gid::from_raw(gid))
        .map_err(|e| format!("cannot list the groups of user {name}: {e}"))?
        .into_iter()
        .map(|g| g.as_raw())
        .collect();
    if !groups.contains(&gid) {
        groups.push(gid);
    }
    Ok(User {
        name: name.to_string(),
        uid: u.uid.as_raw(),
        gid,
        groups,
    })
}

/// The uid of `name`, `None` when there is no such user (or NSS fails).
pub fn uid(name: &str) -> Option<u32> {
    NixUser::from_name(name)
        .ok()
        .flatten()
        .map(|u| u.uid.as_raw())
}

/// The id of group `name`.
pub fn group_id(name: &str) -> Result<u32, String> {
    Group::from_name(name)
        .map_err(|e| format!("cannot look up group {name}: {e}"))?
        .map(|g| g.gid.as_raw())
        .ok_or_else(|| format!("group {name} does not exist on this node"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_nobody() {
        let root = lookup("root", None).unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(root.groups.contains(&0));
        assert_eq!(uid("nobody"), Some(65534));
        assert_eq!(uid("no-such-user-here"), None);
        let e = lookup("no-such-user-here", None).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        assert_eq!(lookup("root", Some("nogroup")).unwrap().gid, 65534);
        assert!(group_id("no-such-group-here").is_err());
    }
}
