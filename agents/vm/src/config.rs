//! `Config` from the validated parameters (syntax only): which backend, and
//! its settings; the domain XML read once; the node check.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ocf::exec;
use ocf::{Context, OcfError, OcfResult, ParamSpec, Params};

use crate::domxml::{self, DomainXml};
use crate::libvirt as lv;
use crate::migrate_options::MigrateOptions;
use crate::params::*;
use crate::{files, secrets};

/// The URI libvirt falls back on when nothing else names one; also what a
/// record of an older version without a URI meant.
pub const DEFAULT_URI: &str = "qemu:///system";

/// The hypervisor URI when `hypervisor` is not given: libvirt's own
/// default, as `virsh uri` (which VirtualDomain asks) answers it for root:
/// `LIBVIRT_DEFAULT_URI`, then `uri_default` in /etc/libvirt/libvirt.conf,
/// then qemu:///system.
pub fn default_uri() -> String {
    default_uri_from(
        std::env::var("LIBVIRT_DEFAULT_URI").ok().as_deref(),
        Path::new(LIBVIRT_CONF),
    )
}

/// The client configuration libvirt reads for root.
const LIBVIRT_CONF: &str = "/etc/libvirt/libvirt.conf";

fn default_uri_from(env: Option<&str>, conf: &Path) -> String {
    if let Some(u) = env.map(str::trim).filter(|u| !u.is_empty()) {
        return u.to_string();
    }
    ocf::files::read_regular(conf, 64 * 1024, None)
        .ok()
        .and_then(|b| uri_default(&String::from_utf8_lossy(&b)))
        .unwrap_or_else(|| DEFAULT_URI.to_string())
}

/// `uri_default = "..."` of a libvirt client configuration (virConf:
/// `#` comments, `key = "string"` settings; the last one counts).
fn uri_default(conf: &str) -> Option<String> {
    conf.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim() == "uri_default")
        .filter_map(|(_, v)| {
            let v = v.trim();
            let quote = v.chars().next().filter(|c| *c == '"' || *c == '\'')?;
            let inner = &v[1..];
            inner.find(quote).map(|end| inner[..end].to_string())
        })
        .rfind(|u| !u.is_empty())
}

/// The virtual machine, and the backend that manages it.
#[allow(clippy::large_enum_variant)] // one per process, never moved around
pub enum Config {
    /// `config`: a libvirt domain XML, at the `hypervisor` URI.
    Libvirt(LibvirtConfig),
    /// `xmfile`: the native Xen backend, ocf:rust:xen's code (the vm
    /// parameters that mean something to it mapped onto its own). `uri` is
    /// the `hypervisor` parameter: the URI a record of an older version
    /// names.
    Xl { xl: xen::Config, uri: String },
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Config::Libvirt(c) => c.fmt(f),
            Config::Xl { xl, uri } => f
                .debug_struct("Xl")
                .field("xl", xl)
                .field("uri", &shown(uri))
                .finish(),
        }
    }
}

impl Config {
    /// The `hypervisor` parameter (or the default).
    pub fn uri(&self) -> &str {
        match self {
            Config::Libvirt(c) => &c.uri,
            Config::Xl { uri, .. } => uri,
        }
    }

    /// The libvirt configuration, if that is the backend.
    pub fn libvirt(&self) -> Option<&LibvirtConfig> {
        match self {
            Config::Libvirt(c) => Some(c),
            Config::Xl { .. } => None,
        }
    }
}

/// The virtual machine through libvirt: its validated parameters, and
/// (after the environment check) what its XML file says. Its `Debug`
/// leaves the XML text out: it holds the guest's VNC/SPICE passwords.
pub struct LibvirtConfig {
    pub config: PathBuf,
    pub uri: String,
    pub force_stop: bool,
    pub transport: Option<String>,
    pub user: Option<String>,
    pub downtime_ms: u64,
    pub speed: u64,
    pub suffix: Option<String>,
    pub migrateuri: Option<String>,
    pub migrateport: Option<u16>,
    /// `migrate_options` read: flags, typed parameters, virsh's own options.
    pub migrate: MigrateOptions,
    pub remoteuri: Option<String>,
    pub util_cpu: bool,
    /// hv_memory.
    pub util_memory: bool,
    pub util_host_memory: bool,
    /// Utilization attributes to remove (unset_utilization_* without autoset).
    pub util_unset: Vec<&'static str>,
    pub save_config: bool,
    pub sync_config: bool,
    pub snapshot: Option<PathBuf>,
    pub shutdown_mode: u32,
    pub start_resources: bool,
    /// backingfile: the image the qcow2 overlay is based on.
    pub backing: Option<PathBuf>,
    pub stateless: bool,
    /// copyindirs: copied into a fresh overlay before it boots.
    pub copyindirs: Vec<PathBuf>,
    pub monitor_scripts: Vec<PathBuf>,
    pub respect_guest_shutdown: bool,
    domain: OnceLock<(DomainXml, String)>,
}

impl std::fmt::Debug for LibvirtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("config", &self.config)
            .field("uri", &shown(&self.uri))
            .field("domain", &self.domain.get().map(|(d, _)| d))
            .field("remoteuri", &self.remoteuri.as_deref().map(shown))
            .field("migrateuri", &self.migrateuri.as_deref().map(shown))
            .finish_non_exhaustive()
    }
}

/// A URI as we show it: a password in its user part masked.
pub fn shown(uri: &str) -> String {
    secrets::redact(uri).into_owned()
}

impl LibvirtConfig {
    /// The parsed XML and its text; set by the environment check.
    pub fn dom(&self) -> OcfResult<&(DomainXml, String)> {
        match self.domain.get() {
            Some(d) => Ok(d),
            None => self.load_domain(),
        }
    }

    pub fn name(&self) -> OcfResult<&str> {
        Ok(self.dom()?.0.name.as_str())
    }

    /// Read and parse the config file once.
    pub fn load_domain(&self) -> OcfResult<&(DomainXml, String)> {
        if let Some(d) = self.domain.get() {
            return Ok(d);
        }
        let bytes = match files::read_config(&self.config) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(OcfError::installed(format!(
                    "config file {} does not exist on this node",
                    self.config.display()
                )));
            }
            Err(e) => {
                return Err(OcfError::installed(format!(
                    "cannot read config file {}: {e}",
                    self.config.display()
                )));
            }
        };
        let usable = domxml::decode(&bytes).and_then(|t| domxml::parse(t).map(|d| (d, t)));
        let (parsed, text) = usable.map_err(|why| {
            OcfError::args(format!(
                "config file {} is not a usable domain XML: {why}",
                self.config.display()
            ))
        })?;
        let text = text.to_string();
        Ok(self.domain.get_or_init(|| (parsed, text)))
    }

    /// The node check: the XML file, libvirt itself, the programs and
    /// directories the parameters name.
    pub fn check_environment(&self) -> OcfResult<()> {
        self.load_domain()?;
        lv::load().map_err(|e| OcfError::installed(format!("libvirt is not available: {e}")))?;
        for s in &self.monitor_scripts {
            if !(s.is_absolute() && is_executable(s)) {
                return Err(OcfError::installed(format!(
                    "monitor script {} is missing, not executable or not on PATH",
                    s.display()
                )));
            }
        }
        if let Some(b) = &self.backing {
            if !b.is_file() {
                return Err(OcfError::installed(format!(
                    "backingfile {} does not exist on this node",
                    b.display()
                )));
            }
            if exec::which("qemu-img").is_none() {
                return Err(OcfError::installed(
                    "backingfile is set but qemu-img is not installed",
                ));
            }
            if !self.copyindirs.is_empty() && exec::which("virt-copy-in").is_none() {
                return Err(OcfError::installed(
                    "copyindirs is set but virt-copy-in (libguestfs-tools) is not installed",
                ));
            }
        }
        if self.sync_config && exec::which("csync2").is_none() {
            return Err(OcfError::installed(
                "sync_config_on_stop is set but csync2 is not installed",
            ));
        }
        if let Some(dir) = &self.snapshot
            && !dir.is_dir()
        {
            return Err(OcfError::installed(format!(
                "snapshot directory {} does not exist",
                dir.display()
            )));
        }
        Ok(())
    }
}

/// The configuration from the parameters, syntax only: `config` selects
/// libvirt, `xmfile` the native Xen backend.
pub fn configure(p: &Params) -> OcfResult<Config> {
    let mut migrate = crate::migrate_options::parse(p.string(&MIGRATE_OPTIONS).unwrap_or(""))
        .map_err(OcfError::configured)?;
    // migrateuri wins over --migrateuri in migrate_options, as in VirtualDomain.
    let option_uri = migrate.uri.take();
    let number = |s: &ParamSpec| {
        p.string(s)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let cfg = LibvirtConfig {
        config: PathBuf::from(p.string(&CONFIG).unwrap_or_default()),
        uri: p
            .string(&HYPERVISOR)
            .map_or_else(default_uri, str::to_string),
        force_stop: p.boolean(&FORCE_STOP),
        transport: p.string(&MIGRATION_TRANSPORT).map(str::to_string),
        user: p.string(&MIGRATION_USER).map(str::to_string),
        downtime_ms: number(&MIGRATION_DOWNTIME),
        speed: number(&MIGRATION_SPEED),
        suffix: p.string(&MIGRATION_NETWORK_SUFFIX).map(str::to_string),
        migrateuri: p.string(&MIGRATEURI).map(str::to_string).or(option_uri),
        migrateport: p.string(&MIGRATEPORT).and_then(|v| v.trim().parse().ok()),
        migrate,
        remoteuri: p.string(&REMOTEURI).map(str::to_string),
        util_cpu: p.boolean(&AUTOSET_CPU),
        util_memory: p.boolean(&AUTOSET_HV_MEMORY),
        util_host_memory: p.boolean(&AUTOSET_HOST_MEMORY),
        util_unset: [
            (&UNSET_CPU, &AUTOSET_CPU, "cpu"),
            (&UNSET_HOST_MEMORY, &AUTOSET_HOST_MEMORY, "host_memory"),
            (&UNSET_HV_MEMORY, &AUTOSET_HV_MEMORY, "hv_memory"),
        ]
        .into_iter()
        .filter(|(unset, autoset, _)| p.boolean(unset) && !p.boolean(autoset))
        .map(|(_, _, name)| name)
        .collect(),
        // sync_config_on_stop implies save_config_on_stop, as in VirtualDomain.
        save_config: p.boolean(&SAVE_CONFIG_ON_STOP) || p.boolean(&SYNC_CONFIG_ON_STOP),
        sync_config: p.boolean(&SYNC_CONFIG_ON_STOP),
        snapshot: p.string(&SNAPSHOT).map(PathBuf::from),
        shutdown_mode: parse_shutdown_mode(p.string(&SHUTDOWN_MODE).unwrap_or(""))
            .map_err(OcfError::configured)?,
        start_resources: p.boolean(&START_RESOURCES),
        backing: p.string(&BACKINGFILE).map(PathBuf::from),
        stateless: p.boolean(&STATELESS),
        copyindirs: p
            .string(&COPYINDIRS)
            .unwrap_or("")
            .split_whitespace()
            .map(PathBuf::from)
            .collect(),
        monitor_scripts: p
            .string(&MONITOR_SCRIPTS)
            .unwrap_or("")
            .split_whitespace()
            .map(exec::program_path)
            .collect(),
        respect_guest_shutdown: p.boolean(&RESPECT_GUEST_SHUTDOWN),
        domain: OnceLock::new(),
    };
    let xl = match (p.string(&CONFIG), p.string(&XMFILE)) {
        (Some(_), None) => None,
        (None, Some(xmfile)) => Some(crate::xmfile::config(&cfg, xmfile)?),
        (Some(_), Some(_)) => {
            return Err(OcfError::configured(
                "give either config (libvirt) or xmfile (native Xen), not both",
            ));
        }
        (None, None) => {
            return Err(OcfError::configured(
                "required parameter 'config' is not set (or 'xmfile' for native Xen)",
            ));
        }
    };
    if cfg.stateless && cfg.backing.is_none() {
        return Err(OcfError::configured(
            "stateless=true needs a backingfile to start from",
        ));
    }
    if cfg.force_stop && cfg.snapshot.is_some() {
        return Err(OcfError::configured(
            "force_stop and snapshot cannot be used together (a snapshot needs a \
             running guest to save)",
        ));
    }
    Ok(match xl {
        None => Config::Libvirt(cfg),
        Some(xl) => Config::Xl { xl, uri: cfg.uri },
    })
}

/// The node check before every action.
pub fn check_environment(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    use ocf::Agent;
    match cfg {
        Config::Libvirt(c) => c.check_environment(),
        Config::Xl { xl, .. } => xen::Xen::check_environment(xl, ctx),
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_uri_is_libvirts_own() {
        let t = std::env::temp_dir().join(format!("vm-libvirt-conf-{}", std::process::id()));
        std::fs::write(
            &t,
            "# uri_default = \"xen:///system\"\n uri_default = 'qemu:///session' # a comment\n",
        )
        .unwrap();
        assert_eq!(
            default_uri_from(Some("test:///default"), &t),
            "test:///default"
        );
        assert_eq!(default_uri_from(Some(" "), &t), "qemu:///session");
        assert_eq!(
            default_uri_from(None, Path::new("/nonexistent")),
            DEFAULT_URI
        );
        std::fs::write(&t, "uri_aliases = [\"x=qemu:///system\"]\n").unwrap();
        assert_eq!(default_uri_from(None, &t), DEFAULT_URI);
        std::fs::remove_file(&t).unwrap();
    }

    use super::*;
    use crate::Vm;
    use crate::migrate::migration;
    use crate::tests::{TempXml, XML, cfg_with, configure, ctx, libvirt};
    use ocf::{Agent, Status};

    #[test]
    fn bad_values_are_configuration_errors() {
        let t = TempXml::new("bad", XML);
        let cf = t.0.to_str().unwrap();
        for (k, v) in [
            ("OCF_RESKEY_config", "relative.xml"),
            ("OCF_RESKEY_hypervisor", "not a uri"),
            ("OCF_RESKEY_shutdown_mode", "acpi,reboot"),
            ("OCF_RESKEY_migrate_options", "--live --bogus"),
            ("OCF_RESKEY_migration_speed", "fast"),
            ("OCF_RESKEY_migration_transport", "carrier-pigeon"),
            ("OCF_RESKEY_migration_user", "a b"),
            ("OCF_RESKEY_monitor_scripts", "/bin/true bin/relative"),
        ] {
            let vars = [("OCF_RESKEY_config", cf), (k, v)];
            let vars = if k == "OCF_RESKEY_config" {
                &vars[1..]
            } else {
                &vars[..]
            };
            assert_eq!(
                configure(vars).unwrap_err().status,
                Status::ErrConfigured,
                "{k}={v}"
            );
        }
        let both = configure(&[
            ("OCF_RESKEY_config", cf),
            ("OCF_RESKEY_force_stop", "true"),
            ("OCF_RESKEY_snapshot", "/var/tmp"),
        ])
        .unwrap_err();
        assert_eq!(both.status, Status::ErrConfigured);
        assert!(both.reason.contains("force_stop and snapshot"));
        // shutdown_mode is used, not a dead parameter (VirtualDomain's bug).
        let c = configure(&[
            ("OCF_RESKEY_config", cf),
            ("OCF_RESKEY_shutdown_mode", "agent,acpi"),
        ])
        .unwrap();
        let c = libvirt(c);
        assert_eq!(c.shutdown_mode, lv::SHUTDOWN_AGENT | lv::SHUTDOWN_ACPI);
    }

    #[test]
    fn sync_config_on_stop_implies_saving_and_needs_csync2() {
        let (_t, c) = cfg_with("sync", &[("OCF_RESKEY_sync_config_on_stop", "true")]);
        assert!(c.save_config && c.sync_config);
        let c = Config::Libvirt(c);
        if ocf::exec::which("csync2").is_none() {
            let e = Vm::check_environment(&c, &ctx("monitor", &[])).unwrap_err();
            assert_eq!(e.status, Status::ErrInstalled);
            assert!(e.reason.contains("csync2"), "{}", e.reason);
        }
        let (_t, c) = cfg_with("nosync", &[]);
        assert!(!c.save_config && !c.sync_config);
    }

    #[test]
    fn a_missing_or_broken_config_file_is_node_local() {
        let c = configure(&[("OCF_RESKEY_config", "/nonexistent/vma.xml")]).unwrap();
        let e = Vm::check_environment(&c, &ctx("monitor", &[])).unwrap_err();
        assert_eq!(e.status, Status::ErrInstalled);
        let t = TempXml::new("broken", "<domain><name>x</domain>");
        let c = configure(&[("OCF_RESKEY_config", t.0.to_str().unwrap())]).unwrap();
        let e = Vm::check_environment(&c, &ctx("monitor", &[])).unwrap_err();
        assert_eq!(e.status, Status::ErrArgs);
    }

    /// Issue 14: the XML text (VNC password and all) is never in `Debug`, and
    /// a URI's password is masked there and in what we show.
    #[test]
    fn debug_and_shown_uris_keep_secrets_out() {
        let t = TempXml::new(
            "secret",
            "<domain type='qemu'><name>vma-unit</name><devices>\
             <graphics type='vnc' passwd='Pw0rdXyz'/></devices></domain>",
        );
        let cfg = configure(&[
            ("OCF_RESKEY_config", t.0.to_str().unwrap()),
            ("OCF_RESKEY_remoteuri", "qemu+tcp://bob:Hunter22@%n/system"),
        ])
        .unwrap();
        cfg.libvirt().unwrap().load_domain().unwrap();
        let dbg = format!("{cfg:?}");
        assert!(dbg.contains("vma-unit"), "{dbg}");
        assert!(
            !dbg.contains("Pw0rdXyz") && !dbg.contains("Hunter22"),
            "{dbg}"
        );
        let m = migration(cfg.libvirt().unwrap(), "node2");
        assert_eq!(shown(&m.remote_uri), "qemu+tcp://bob:***@node2/system");
    }
}
