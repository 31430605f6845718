//! What ocf:rust:vm and ocf:rust:xen record when they put a domain on this
//! node, and what they can still identify from the raw parameters when the
//! configuration does not validate (docs/architecture.md, "Truthful
//! state"): stop and a probe must never call a running domain stopped.
//!
//! The record (`ocf::Record`, in `HA_RSCTMP`) names the backend (a libvirt
//! URI, or the xl program), the domain name, and its UUID: the identity a
//! same-named domain of someone else's does not share, and which survives a
//! rename. Start writes it before it defines or creates the domain, and
//! completes the UUID once the hypervisor has one.

use ocf::files::TrustedDir;
use ocf::{Context, OcfError, OcfResult, Record, Status};

const BACKEND: &str = "backend";
const LIBVIRT: &str = "libvirt";
const XL: &str = "xl";

/// The domain a start (or migrate_from) of this resource put on this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Started {
    /// Through libvirt, at `uri`.
    Libvirt {
        uri: String,
        name: String,
        uuid: Option<String>,
    },
    /// Through Xen's xl toolstack (`program`).
    Xl {
        program: String,
        name: String,
        uuid: Option<String>,
    },
}

impl Started {
    pub fn name(&self) -> &str {
        match self {
            Started::Libvirt { name, .. } | Started::Xl { name, .. } => name,
        }
    }

    pub fn uuid(&self) -> Option<&str> {
        match self {
            Started::Libvirt { uuid, .. } | Started::Xl { uuid, .. } => uuid.as_deref(),
        }
    }

    /// The same domain with its UUID now known.
    pub fn with_uuid(mut self, u: &str) -> Started {
        if !u.is_empty() {
            match &mut self {
                Started::Libvirt { uuid, .. } | Started::Xl { uuid, .. } => {
                    *uuid = Some(u.to_string())
                }
            }
        }
        self
    }

    pub fn from_record(r: &Record) -> Option<Started> {
        let name = r.get("name").filter(|n| !n.is_empty())?.to_string();
        let uuid = r.get("uuid").filter(|u| !u.is_empty()).map(str::to_string);
        match r.get(BACKEND)? {
            LIBVIRT => Some(Started::Libvirt {
                uri: r.get("uri").filter(|u| !u.is_empty())?.to_string(),
                name,
                uuid,
            }),
            XL => Some(Started::Xl {
                program: r.get("xl").filter(|p| !p.is_empty())?.to_string(),
                name,
                uuid,
            }),
            _ => None,
        }
    }

    pub fn to_record(&self) -> Record {
        let mut r = match self {
            Started::Libvirt { uri, name, .. } => Record::new()
                .with(BACKEND, LIBVIRT)
                .with("uri", uri)
                .with("name", name),
            Started::Xl { program, name, .. } => Record::new()
                .with(BACKEND, XL)
                .with("xl", program)
                .with("name", name),
        };
        if let Some(u) = self.uuid() {
            r.set("uuid", u);
        }
        r
    }

    /// Write (or replace) this resource's record.
    pub fn save(&self, ctx: &Context) {
        self.to_record().save(ctx);
    }

    /// What this resource's record names here, if anything usable.
    pub fn load(ctx: &Context) -> Option<Started> {
        Record::load(ctx).as_ref().and_then(Started::from_record)
    }

    /// The record the driver loaded, else the name file ocf-rs wrote before
    /// records existed (a node upgraded while its VMs run), at `legacy_uri`.
    pub fn recorded(ctx: &Context, rec: Option<&Record>, legacy_uri: &str) -> Option<Started> {
        rec.and_then(Started::from_record).or_else(|| {
            legacy_name(ctx).map(|name| Started::Libvirt {
                uri: legacy_uri.to_string(),
                name,
                uuid: None,
            })
        })
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

/// The name file of ocf-rs versions before the record:
/// `$HA_RSCTMP/vm-<instance>.domain`, holding the domain name alone.
fn legacy_file(ctx: &Context) -> String {
    format!("vm-{}.domain", ctx.instance.replace('/', "_"))
}

pub fn legacy_name(ctx: &Context) -> Option<String> {
    let dir = TrustedDir::open(&ctx.rsc_tmp, None).ok()?;
    let bytes = dir.read(&legacy_file(ctx), 4096).ok()?;
    let name = String::from_utf8(bytes).ok()?.trim().to_string();
    (!name.is_empty() && !name.contains('\0')).then_some(name)
}

/// Remove the legacy name file (after a stop that left nothing running).
pub fn forget_legacy(ctx: &Context) {
    if let Ok(dir) = TrustedDir::open(&ctx.rsc_tmp, None) {
        let _ = dir.remove(&legacy_file(ctx));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(dir: &std::path::Path) -> Context {
        Context::from_vars(
            "vm",
            "stop",
            [
                ("HA_RSCTMP".to_string(), dir.display().to_string()),
                ("OCF_RESOURCE_INSTANCE".to_string(), "web".to_string()),
            ],
        )
    }

    #[test]
    fn records_round_trip_and_junk_is_no_record() {
        let lv = Started::Libvirt {
            uri: "qemu:///system".into(),
            name: "web1".into(),
            uuid: None,
        }
        .with_uuid("6a2c3d4e-0000-4000-8000-000000000001");
        assert_eq!(Started::from_record(&lv.to_record()), Some(lv.clone()));
        assert_eq!(lv.uuid(), Some("6a2c3d4e-0000-4000-8000-000000000001"));
        let x = Started::Xl {
            program: "/usr/sbin/xl".into(),
            name: "web server".into(),
            uuid: None,
        };
        assert_eq!(Started::from_record(&x.to_record()), Some(x));
        assert_eq!(Started::from_record(&Record::new().with("name", "a")), None);
        let no_uri = Record::new().with("backend", "libvirt").with("name", "a");
        assert_eq!(Started::from_record(&no_uri), None);
    }

    #[test]
    fn the_legacy_name_file_is_read_then_forgotten() {
        let d = std::env::temp_dir().join(format!("vma-identity-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let c = ctx(&d);
        assert_eq!(Started::recorded(&c, None, "qemu:///system"), None);
        std::fs::write(d.join("vm-web.domain"), "vma-old\n").unwrap();
        assert_eq!(
            Started::recorded(&c, None, "qemu:///system"),
            Some(Started::Libvirt {
                uri: "qemu:///system".into(),
                name: "vma-old".into(),
                uuid: None
            })
        );
        forget_legacy(&c);
        assert_eq!(legacy_name(&c), None);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn names_on_xl_argv() {
        assert!(xl_arg_safe("web server") && xl_arg_safe("web#1"));
        assert!(xl_arg_safe("-x"), "passed after --");
        assert!(!xl_arg_safe("") && !xl_arg_safe("a\nb") && !xl_arg_safe("a\0b"));
    }
}
