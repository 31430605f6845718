//! What this resource keeps on the node (docs/architecture.md, "Truthful
//! state"): the record of the domain start put here, the "stopped here"
//! marker, and the answers built from them. ocf:rust:vm's native Xen
//! backend writes and reads the same record (its `backend=xl` form).
//!
//! The record (`ocf::Record`, in `HA_RSCTMP`) names the xl program, the
//! domain name, and its UUID: the identity a same-named domain of someone
//! else's does not share, and which survives `xl rename`. Start writes it
//! before `xl create`, and completes the UUID once xl has one.

use ocf::{Context, OcfError, OcfResult, Record, Status};

use crate::files::{state_read, state_write};

const BACKEND: &str = "backend";
const XL: &str = "xl";

/// The domain a start (or migrate_from) of this resource put on this node
/// through Xen's xl toolstack (`program`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Started {
    pub program: String,
    pub name: String,
    pub uuid: Option<String>,
}

impl Started {
    /// The same domain with its UUID now known.
    pub fn with_uuid(mut self, u: &str) -> Started {
        if !u.is_empty() {
            self.uuid = Some(u.to_string());
        }
        self
    }

    /// A `backend=xl` record; None for anything else (a libvirt record of
    /// ocf:rust:vm, junk).
    pub fn from_record(r: &Record) -> Option<Started> {
        let name = r.get("name").filter(|n| !n.is_empty())?.to_string();
        let uuid = r.get("uuid").filter(|u| !u.is_empty()).map(str::to_string);
        if r.get(BACKEND)? != XL {
            return None;
        }
        Some(Started {
            program: r.get("xl").filter(|p| !p.is_empty())?.to_string(),
            name,
            uuid,
        })
    }

    pub fn to_record(&self) -> Record {
        let mut r = Record::new()
            .with(BACKEND, XL)
            .with("xl", &self.program)
            .with("name", &self.name);
        if let Some(u) = &self.uuid {
            r.set("uuid", u);
        }
        r
    }

    /// Write (or replace) this resource's record.
    pub fn save(&self, ctx: &Context) {
        self.to_record().save(ctx);
    }

    /// What this resource's record names here, if it is an xl domain.
    pub fn load(ctx: &Context) -> Option<Started> {
        Record::load(ctx).as_ref().and_then(Started::from_record)
    }
}

/// What a look at something of the resource found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// It runs (the text says what and where).
    Running(String),
    Stopped,
    /// Nobody can tell (a hypervisor out of reach, a hung tool).
    Unknown(String),
}

/// A monitor's answer once the domain the record names, when that is not
/// the configured one, has been looked at: a probe calls the resource
/// running when it runs; a recurring monitor fails, so the cluster's stop
/// (which ends it) follows.
pub fn with_recorded(seen: Seen, answer: OcfResult<Status>, ctx: &Context) -> OcfResult<Status> {
    match seen {
        Seen::Stopped => answer,
        Seen::Running(what) if ctx.is_probe() => {
            ocf::warn!("{what}, started here by this resource: it runs");
            Ok(Status::Success)
        }
        Seen::Running(what) => Err(OcfError::generic(format!(
            "{what}, started here by this resource, still runs, but the configuration names \
             another domain or hypervisor now: the cluster must stop it"
        ))),
        Seen::Unknown(why) => Err(OcfError::generic(format!(
            "cannot tell whether the domain this resource started here runs: {why}"
        ))),
    }
}

/// A parameter as Pacemaker passed it, even when the configuration does not
/// validate (empty means unset).
pub fn raw<'a>(ctx: &'a Context, key: &str) -> Option<&'a str> {
    ctx.params
        .get(key)
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
}

/// Can `name` go on xl's command line as one argument? Every xl call that
/// takes a domain name puts `--` before it ([`crate::xl::Xl`]), so a name
/// starting with `-` is read as a name there (start still refuses to
/// create one); a NUL cannot be passed at all, and a newline would break
/// the lines of xl's output we read.
pub fn xl_arg_safe(name: &str) -> bool {
    !name.is_empty() && !name.contains(['\0', '\n'])
}

/// The name of a file under HA_RSCTMP for this resource.
fn state_file(ctx: &Context, suffix: &str) -> String {
    let base = ocf::files::instance_file_name(&["xen", ctx.instance_base()]);
    format!("{base}.{suffix}")
}

/// Where a monitor remembers the utilization it last wrote.
pub fn utilization_cache(ctx: &Context) -> String {
    state_file(ctx, "utilization")
}

/// Present after this node's stop succeeded: an absent domain is then no
/// rebooting guest, and a recurring monitor need not look again. HA_RSCTMP
/// is cleared at boot.
pub fn stopped_marker(ctx: &Context) -> String {
    state_file(ctx, "stopped")
}

pub fn is_marked_stopped(ctx: &Context) -> bool {
    state_read(ctx, &stopped_marker(ctx)).is_some()
}

pub fn mark_stopped(ctx: &Context) {
    state_write(ctx, &stopped_marker(ctx), "");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_junk_is_no_record() {
        let x = Started {
            program: "/usr/sbin/xl".into(),
            name: "web server".into(),
            uuid: None,
        };
        assert_eq!(Started::from_record(&x.to_record()), Some(x.clone()));
        let x = x.with_uuid("u-1");
        assert_eq!(Started::from_record(&x.to_record()), Some(x));
        assert_eq!(Started::from_record(&Record::new().with("name", "a")), None);
        let libvirt = Record::new()
            .with("backend", "libvirt")
            .with("uri", "qemu:///system")
            .with("name", "a");
        assert_eq!(Started::from_record(&libvirt), None, "not an xl domain");
    }

    #[test]
    fn names_on_xl_argv() {
        assert!(xl_arg_safe("web server") && xl_arg_safe("web#1"));
        assert!(xl_arg_safe("-x"), "passed after --");
        assert!(!xl_arg_safe("") && !xl_arg_safe("a\nb") && !xl_arg_safe("a\0b"));
    }
}
