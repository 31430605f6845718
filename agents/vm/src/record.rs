//! What ocf:rust:vm records when it puts a domain on this node, and what it
//! can still identify from the raw parameters when the configuration does
//! not validate (docs/architecture.md, "Truthful state"): stop and a probe
//! must never call a running domain stopped.
//!
//! The record (`ocf::Record`, in `HA_RSCTMP`) names the backend (a libvirt
//! URI, or the xl program: the xen crate's [`xen::record::Started`]), the
//! domain name, and its UUID: the identity a same-named domain of someone
//! else's does not share, and which survives a rename. Start writes it
//! before it defines or creates the domain, and completes the UUID once the
//! hypervisor has one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ocf::files::TrustedDir;
use ocf::{Context, Deadline, OcfError, OcfResult, Record, Status};
pub use xen::record::{Seen, raw};
use xen::stop::{XlPlan, XlTarget};
use xen::unusable::UnusableXl;
use xen::xl::Xl;

use crate::config::{Config, DEFAULT_URI, LibvirtConfig};
use crate::hypervisor::{DomainView, HvError, HvResult, Hypervisor};
use crate::libvirt as lv;
use crate::monitor::seen_libvirt;
use crate::params::{check_uri, parse_shutdown_mode};
use crate::stop::StopHow;
use crate::{domxml, files, qemu};

const BACKEND: &str = "backend";
const LIBVIRT: &str = "libvirt";

/// The domain a start (or migrate_from) of this resource put on this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Started {
    /// Through libvirt, at `uri`.
    Libvirt {
        uri: String,
        name: String,
        uuid: Option<String>,
    },
    /// Through Xen's xl toolstack (the native Xen backend's record).
    Xl(xen::record::Started),
}

impl Started {
    pub fn name(&self) -> &str {
        match self {
            Started::Libvirt { name, .. } => name,
            Started::Xl(x) => &x.name,
        }
    }

    pub fn uuid(&self) -> Option<&str> {
        match self {
            Started::Libvirt { uuid, .. } => uuid.as_deref(),
            Started::Xl(x) => x.uuid.as_deref(),
        }
    }

    /// The same domain with its UUID now known.
    pub fn with_uuid(self, u: &str) -> Started {
        match self {
            Started::Libvirt { uri, name, uuid } => Started::Libvirt {
                uri,
                name,
                uuid: if u.is_empty() {
                    uuid
                } else {
                    Some(u.to_string())
                },
            },
            Started::Xl(x) => Started::Xl(x.with_uuid(u)),
        }
    }

    /// The xl domain, if that is what the record names.
    pub fn xl(&self) -> Option<&xen::record::Started> {
        match self {
            Started::Xl(x) => Some(x),
            Started::Libvirt { .. } => None,
        }
    }

    pub fn from_record(r: &Record) -> Option<Started> {
        if r.get(BACKEND)? != LIBVIRT {
            return xen::record::Started::from_record(r).map(Started::Xl);
        }
        Some(Started::Libvirt {
            uri: r.get("uri").filter(|u| !u.is_empty())?.to_string(),
            name: r.get("name").filter(|n| !n.is_empty())?.to_string(),
            uuid: r.get("uuid").filter(|u| !u.is_empty()).map(str::to_string),
        })
    }

    pub fn to_record(&self) -> Record {
        match self {
            Started::Libvirt { uri, name, uuid } => {
                let mut r = Record::new()
                    .with(BACKEND, LIBVIRT)
                    .with("uri", uri)
                    .with("name", name);
                if let Some(u) = uuid {
                    r.set("uuid", u);
                }
                r
            }
            Started::Xl(x) => x.to_record(),
        }
    }

    /// Write (or replace) this resource's record.
    pub fn save(&self, ctx: &Context) {
        self.to_record().save(ctx);
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

/// A libvirt domain stop or a monitor acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub uri: String,
    pub name: String,
    /// Its UUID when known (from the record): found by it whatever its name.
    pub uuid: Option<String>,
    /// Known only from the record: a same-named domain with another UUID is
    /// someone else's and is left alone.
    pub strict: bool,
}

impl Target {
    /// A domain the configuration names: ours by name, as VirtualDomain has it.
    pub fn named(uri: &str, name: &str) -> Target {
        Target {
            uri: uri.to_string(),
            name: name.to_string(),
            uuid: None,
            strict: false,
        }
    }

    /// The domain the record names, confirmed by its UUID when known.
    pub fn recorded(uri: &str, name: &str, uuid: Option<String>) -> Target {
        Target {
            uri: uri.to_string(),
            name: name.to_string(),
            strict: uuid.is_some(),
            uuid,
        }
    }

    pub fn same_place(&self, other: &Target) -> bool {
        self.uri == other.uri && self.name == other.name
    }

    pub fn guest(&self) -> qemu::Guest<'_> {
        qemu::Guest {
            name: &self.name,
            uuid: self.uuid.as_deref(),
        }
    }
}

/// Find the target's domain: by its UUID when known, else by name.
/// `Ok(None)`: nothing of it is defined there.
pub fn find(
    hv: &dyn Hypervisor,
    t: &Target,
    dl: &Deadline,
) -> HvResult<Option<(String, DomainView)>> {
    if let Some(u) = &t.uuid {
        match hv.lookup_uuid(u, dl) {
            Ok(found) => return Ok(Some(found)),
            Err(HvError::NoDomain) => {}
            Err(e) => return Err(e),
        }
    }
    match hv.lookup(&t.name, dl) {
        Ok(v) if t.strict && !v.uuid.is_empty() => {
            ocf::warn!(
                "{} at {} has UUID {}, not the {} recorded when this resource started it: \
                 someone else's, left alone",
                t.name,
                t.uri,
                v.uuid,
                t.uuid.as_deref().unwrap_or_default()
            );
            Ok(None)
        }
        Ok(v) => Ok(Some((t.name.clone(), v))),
        Err(HvError::NoDomain) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Start (and migrate_from) must not replace a record whose domain still
/// runs here (another domain, or another hypervisor, from before the
/// configuration changed): the cluster stops the resource first, and that
/// stop ends both. `here`: the libvirt domain about to start (None for the
/// native Xen backend, which checks its own records).
pub fn refuse_over_recorded(ctx: &Context, here: Option<&Target>, dl: &Deadline) -> OcfResult<()> {
    let Some(prev) = Started::recorded(ctx, ocf::Record::load(ctx).as_ref(), DEFAULT_URI) else {
        return Ok(());
    };
    let seen = match &prev {
        Started::Libvirt { uri, name, uuid } => {
            let t = Target::recorded(uri, name, uuid.clone());
            if here.is_some_and(|h| h.same_place(&t)) {
                return Ok(());
            }
            seen_libvirt(&t, &dl.cap(Duration::from_secs(15)))
        }
        Started::Xl(_) if here.is_none() => return Ok(()),
        Started::Xl(x) => xen::stop::seen(
            &xl_plan(x, StopHow::default()),
            &dl.cap(Duration::from_secs(15)),
        ),
    };
    match seen {
        Seen::Stopped => Ok(()),
        Seen::Running(what) | Seen::Unknown(what) => Err(OcfError::generic(format!(
            "{what}: this resource started it here before its configuration changed; stop \
             the resource first (its stop ends both)"
        ))),
    }
}

/// The xl plan for a domain an Xl record names (the backend was switched
/// from `xmfile` to `config` while it ran).
pub fn xl_plan(rec: &xen::record::Started, how: StopHow) -> XlPlan {
    XlPlan {
        xl: Xl {
            program: rec.program.clone(),
        },
        targets: vec![XlTarget::recorded(&rec.name, rec.uuid.clone())],
        acpi: how.mode & lv::SHUTDOWN_ACPI != 0,
        grace: how.force.then_some(Duration::ZERO),
    }
}

/// The xl domain the record names, to stop beside the configured libvirt one.
pub fn xl_plan_of(rec: &Started, cfg: &LibvirtConfig) -> Option<XlPlan> {
    let x = rec.xl()?;
    ocf::warn!(
        "this resource started {} here through xl: stopping it too",
        x.name
    );
    Some(xl_plan(x, cfg.plain_how()))
}

/// A monitor also answers for the domain the record names when that is not
/// the configured one (the configuration changed while it ran): a probe
/// calls the resource running; a recurring monitor fails, so the cluster's
/// stop, which ends both, follows. `configured`: the libvirt domain the
/// configuration names (None for the native Xen backend, which checks its
/// own records).
pub fn with_recorded(
    ctx: &Context,
    configured: Option<&Target>,
    uri: &str,
    answer: OcfResult<Status>,
    dl: &Deadline,
) -> OcfResult<Status> {
    let legacy_uri = if uri.is_empty() { DEFAULT_URI } else { uri };
    let Some(rec) = Started::recorded(ctx, ocf::Record::load(ctx).as_ref(), legacy_uri) else {
        return answer;
    };
    let seen = match &rec {
        Started::Libvirt { uri, name, uuid } => {
            let t = Target::recorded(uri, name, uuid.clone());
            if let Some(c) = configured {
                if c.same_place(&t) {
                    return answer;
                }
                // The recorded UUID running at the configured URI: one
                // daemon spelled two ways (qemu:///system, qemu+unix:///system).
                let at_configured = Target {
                    uri: c.uri.clone(),
                    ..t.clone()
                };
                if t.uuid.is_some()
                    && answer.is_ok()
                    && matches!(
                        seen_libvirt(&at_configured, &dl.cap(dl.remaining() / 3)),
                        Seen::Running(_)
                    )
                {
                    return answer;
                }
            }
            seen_libvirt(&t, &dl.cap(dl.remaining() / 2))
        }
        Started::Xl(_) if configured.is_none() => return answer,
        Started::Xl(x) => {
            xen::stop::seen(&xl_plan(x, StopHow::default()), &dl.cap(dl.remaining() / 2))
        }
    };
    xen::record::with_recorded(seen, answer, ctx)
}

/// What stop and a probe look for when the configuration cannot be used.
pub struct Unusable {
    pub libvirt: Vec<(Target, StopHow<'static>)>,
    pub xl: Option<XlPlan>,
    /// The record names an xl domain (so "no xl here" is no answer).
    pub xl_recorded: bool,
}

impl Unusable {
    pub fn is_empty(&self) -> bool {
        self.libvirt.is_empty() && self.xl.is_none() && !self.xl_recorded
    }

    pub fn describe(&self) -> String {
        let mut v: Vec<String> = self
            .libvirt
            .iter()
            .map(|(t, _)| format!("{} at {}", t.name, t.uri))
            .collect();
        if let Some(p) = &self.xl {
            v.extend(p.targets.iter().map(|t| format!("{} through xl", t.name)));
        }
        v.join(", ")
    }
}

/// The record (by UUID), the legacy name file, and what the raw parameters
/// still name: the domain in the `config` file at the `hypervisor` URI (or
/// the default), and for `xmfile` what xl would read from it.
pub fn unusable_plan(cfg: Option<&Config>, rec: Option<&Record>, ctx: &Context) -> Unusable {
    let uri = match cfg {
        Some(c) => Some(c.uri().to_string()),
        None => match raw(ctx, "hypervisor") {
            None => Some(crate::config::default_uri()),
            Some(u) if check_uri(u).is_ok() => Some(u.to_string()),
            Some(u) => {
                ocf::warn!("hypervisor {u:?} is no libvirt URI: only the record is used");
                None
            }
        },
    };
    let recorded = Started::recorded(ctx, rec, uri.as_deref().unwrap_or(DEFAULT_URI));
    let how = match cfg {
        Some(c) => c.plain_how(),
        None => StopHow {
            force: raw(ctx, "force_stop").and_then(ocf::params::parse_bool) == Some(true),
            mode: raw(ctx, "shutdown_mode")
                .and_then(|m| parse_shutdown_mode(m).ok())
                .unwrap_or(0),
            snapshot: None,
            save: None,
        },
    };
    let mut libvirt: Vec<(Target, StopHow)> = Vec::new();
    if let Some(Started::Libvirt { uri, name, uuid }) = &recorded {
        libvirt.push((Target::recorded(uri, name, uuid.clone()), how));
    }
    if let (Some(uri), Some(path)) = (&uri, raw(ctx, "config"))
        && let Some(name) = read_domain_name(Path::new(path))
    {
        let t = Target::named(uri, &name);
        if !libvirt.iter().any(|(r, _)| r.same_place(&t)) {
            libvirt.push((t, how));
        }
    }
    let xl_recorded = matches!(recorded, Some(Started::Xl(_)));
    let configured_xl = match cfg {
        Some(Config::Xl { xl, .. }) => Some(xl),
        _ => None,
    };
    let xmfile = match cfg {
        Some(_) => configured_xl.map(|x| x.xmfile.clone()),
        None => raw(ctx, "xmfile").map(PathBuf::from),
    };
    let xl = if xl_recorded || xmfile.is_some() {
        let u = match configured_xl {
            Some(x) => UnusableXl::xen(Some(x), ctx),
            None => UnusableXl {
                program: "xl".into(),
                acpi: how.mode & lv::SHUTDOWN_ACPI != 0,
                grace: how.force.then_some(Duration::ZERO),
                name: None,
                xmfile,
            },
        };
        xen::unusable::unusable_plan(u, recorded.as_ref().and_then(Started::xl), ctx)
    } else {
        None
    };
    Unusable {
        libvirt,
        xl,
        xl_recorded,
    }
}

/// The domain name in a config file, read the way the agent reads it (a
/// file that is not UTF-8 is read lossily: the name is what matters here).
fn read_domain_name(path: &Path) -> Option<String> {
    let bytes = files::read_config(path).ok()?;
    domxml::parse(&String::from_utf8_lossy(&bytes))
        .ok()
        .map(|d| d.name)
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
        let x = Started::Xl(xen::record::Started {
            program: "/usr/sbin/xl".into(),
            name: "web server".into(),
            uuid: None,
        });
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
}
