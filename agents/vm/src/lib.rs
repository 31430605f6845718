//! `ocf:rust:vm`: a libvirt virtual machine (KVM/QEMU, or anything libvirt
//! drives), the replacement for `ocf:heartbeat:VirtualDomain` with its
//! parameter names.
//!
//! * libvirt is dlopen'ed ([`libvirt`]); every call is bounded by the
//!   action's deadline ([`backend::bounded`]).
//! * Start defines the domain from the XML file and boots it; stop shuts it
//!   down gracefully for a budgeted share of the timeout, keeping at least a
//!   third (and 10 s where the timeout allows) for destroy, then undefines it
//!   and re-reads its state before answering 0. When libvirtd is down or
//!   hung, the domain's QEMU process found in `/proc` decides: gone means
//!   stopped; still there means monitor says 1 (never 7) and stop ends it.
//! * Monitor re-checks "not running" briefly outside probes (RA#314), writes
//!   utilization only when it changes, and with `respect_guest_shutdown`
//!   turns a guest's own clean power-off into `target-role=Stopped`.
//! * Xen: `hypervisor=xen:///system` goes through libvirt's libxl driver like
//!   any other URI (with `xl` to ask when libvirtd cannot be reached); an
//!   `xmfile` instead of `config` selects the native `xl` backend, the same
//!   code as `ocf:rust:xen` ([`xen`]).

pub mod backend;
pub mod domxml;
pub mod files;
pub mod identity;
pub mod libvirt;
#[cfg(test)]
mod proptests;
pub mod qemu;
pub mod secrets;
pub mod xen;
pub mod xl;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use ocf::exec::{self, Cmd};
use ocf::params::checks;
use ocf::{
    ActionSpec, AgentInfo, Context, Deadline, OcfError, OcfResult, ParamSpec, Params, Status,
};

use backend::{Backend, DomState, DomainView, HvError, HvResult, Libvirt, Migration, Shutoff};
use domxml::DomainXml;
use identity::{Seen, Started, raw};
use libvirt as lv;

/// The hypervisor URI when none is given (VirtualDomain asks virsh, which
/// answers this for root).
pub const DEFAULT_URI: &str = "qemu:///system";

pub static CONFIG: ParamSpec = ParamSpec::new(
    "config",
    "Domain XML file",
    "Absolute path to the libvirt domain XML of this virtual machine. The domain's \
     name is read from its name element. The file must exist on every node that \
     may run the VM; where it is missing, or no longer names the domain start \
     started, probe and stop go by what start recorded (name, UUID, hypervisor). \
     Give either config or xmfile.",
)
.unique()
.check(checks::absolute_path);

pub static XMFILE: ParamSpec = ParamSpec::new(
    "xmfile",
    "Xen xl configuration file (native Xen backend)",
    "Absolute path to an xl domain configuration file. Given instead of config, it \
     selects the native Xen backend: the domain is managed with xl (create, shutdown, \
     destroy, list, migrate) exactly as ocf:rust:xen does, with force_stop, \
     shutdown_mode=acpi, autoset_utilization_* and monitor_scripts honoured. For Xen \
     through libvirt, give config and hypervisor=xen:///system instead.",
)
.unique()
.check(checks::absolute_path);

pub static HYPERVISOR: ParamSpec = ParamSpec::new(
    "hypervisor",
    "Hypervisor URI",
    "The libvirt connection URI of the local hypervisor.",
)
.default("qemu:///system")
.check(check_uri);

pub static FORCE_STOP: ParamSpec = ParamSpec::new(
    "force_stop",
    "Always force-stop",
    "Stop the domain with destroy (pulling the plug) instead of a graceful shutdown \
     first. Not allowed together with snapshot.",
)
.boolean()
.default("false");

pub static MIGRATION_TRANSPORT: ParamSpec = ParamSpec::new(
    "migration_transport",
    "Remote hypervisor transport",
    "The transport used to reach the target's hypervisor during a live migration \
     (qemu+TRANSPORT://TARGET/system). Empty: the transport of the hypervisor \
     URI, if any.",
)
.choice(&["ssh", "tcp", "tls", "libssh", "libssh2", "unix", "ext"]);

pub static MIGRATION_USER: ParamSpec = ParamSpec::new(
    "migration_user",
    "Remote hypervisor user",
    "The user name put into the target's hypervisor URI (user@target). Ignored when \
     remoteuri is set.",
)
.check(check_user);

pub static MIGRATION_DOWNTIME: ParamSpec = ParamSpec::new(
    "migration_downtime",
    "Maximum downtime of a live migration (ms)",
    "The longest the guest may be paused at the end of a live migration, in \
     milliseconds. 0 keeps the hypervisor's default.",
)
.integer(0, 3_600_000)
.default("0");

pub static MIGRATION_SPEED: ParamSpec = ParamSpec::new(
    "migration_speed",
    "Live migration bandwidth (MiB/s)",
    "Bandwidth limit of a live migration in MiB/s. 0 means no limit.",
)
.integer(0, 1_000_000)
.default("0");

pub static MIGRATION_NETWORK_SUFFIX: ParamSpec = ParamSpec::new(
    "migration_network_suffix",
    "Migration network host name suffix",
    "Appended to the first label of the target node's name to reach it on a \
     dedicated migration network: with suffix '-mig', node2.example.com becomes \
     node2-mig.example.com, in the remote hypervisor URI and the migration URI.",
)
.check(check_suffix);

pub static MIGRATEURI: ParamSpec = ParamSpec::new(
    "migrateuri",
    "Migration data URI",
    "The URI the migration data goes to (e.g. tcp://%n-mig:49152). %n is replaced \
     by the target node's name. Default: chosen by libvirt, or tcp://TARGET-WITH-SUFFIX \
     when migration_network_suffix is set.",
)
.check(check_no_space);

pub static MIGRATEPORT: ParamSpec = ParamSpec::new(
    "migrateport",
    "Port of the migration URI",
    "The port of the migration URI the agent builds when migration_network_suffix \
     is set (tcp://TARGET-WITH-SUFFIX:PORT). Unset: libvirt picks a free port \
     (49152-49215). Not used with migrateuri, which names its own port.",
)
.integer(1, 65535);

pub static MIGRATE_OPTIONS: ParamSpec = ParamSpec::new(
    "migrate_options",
    "Extra migration options",
    "virsh migrate options to apply to live migrations, separated by spaces. \
     Supported: --p2p --tunnelled --persistent --undefinesource --copy-storage-all \
     --copy-storage-inc --unsafe --compressed --abort-on-error --auto-converge \
     --postcopy --tls --migrateuri=URI.",
)
.check(check_migrate_options);

pub static REMOTEURI: ParamSpec = ParamSpec::new(
    "remoteuri",
    "Target hypervisor URI",
    "The libvirt URI of the target's hypervisor for live migrations \
     (e.g. qemu+ssh://%n/system). %n is replaced by the target node's name. \
     Overrides migration_transport, migration_user and migration_network_suffix \
     for this URI.",
)
.check(check_no_space);

pub static AUTOSET_CPU: ParamSpec = ParamSpec::new(
    "autoset_utilization_cpu",
    "Set the cpu utilization",
    "Put the domain's number of vCPUs into the resource's 'cpu' utilization \
     attribute. Written only when the value changes.",
)
.boolean()
.default("true");

pub static AUTOSET_HV_MEMORY: ParamSpec = ParamSpec::new(
    "autoset_utilization_hv_memory",
    "Set the hv_memory utilization",
    "Put the domain's maximum memory in MiB into the resource's 'hv_memory' \
     utilization attribute. Written only when the value changes.",
)
.boolean()
.default("true");

pub static AUTOSET_HOST_MEMORY: ParamSpec = ParamSpec::new(
    "autoset_utilization_host_memory",
    "Set the host_memory utilization",
    "Put the domain's maximum memory in MiB into the resource's 'host_memory' \
     utilization attribute. Written only when the value changes.",
)
.boolean()
.default("true");

pub static UNSET_CPU: ParamSpec = ParamSpec::new(
    "unset_utilization_cpu",
    "Remove the cpu utilization",
    "With autoset_utilization_cpu off: remove the resource's 'cpu' utilization \
     attribute (one set by hand or by an earlier configuration). Removed once, \
     not on every monitor.",
)
.boolean()
.default("false");

pub static UNSET_HOST_MEMORY: ParamSpec = ParamSpec::new(
    "unset_utilization_host_memory",
    "Remove the host_memory utilization",
    "With autoset_utilization_host_memory off: remove the resource's 'host_memory' \
     utilization attribute. Removed once, not on every monitor.",
)
.boolean()
.default("false");

pub static UNSET_HV_MEMORY: ParamSpec = ParamSpec::new(
    "unset_utilization_hv_memory",
    "Remove the hv_memory utilization",
    "With autoset_utilization_hv_memory off: remove the resource's 'hv_memory' \
     utilization attribute. Removed once, not on every monitor.",
)
.boolean()
.default("false");

pub static SAVE_CONFIG_ON_STOP: ParamSpec = ParamSpec::new(
    "save_config_on_stop",
    "Save the configuration on stop",
    "Before stopping (and before a live migration), write the domain's persistent \
     XML, as libvirt holds it (with its VNC/SPICE passwords), back to the config file: \
     atomically, with the old file's owner and mode and never readable by others while \
     written. A config path that is a link keeps its link and its target is rewritten. \
     Nothing is saved (a warning, the stop goes on) when the file's directory, or the \
     link's, is not root's or is writable by others.",
)
.boolean()
.default("false");

pub static SYNC_CONFIG_ON_STOP: ParamSpec = ParamSpec::new(
    "sync_config_on_stop",
    "Save the configuration on stop and sync it with csync2",
    "Implies save_config_on_stop. When saving changed the config file, run \
     `csync2 -x FILE` so that every node gets it (csync2 must be installed and \
     set up; a failed sync is logged, the stop goes on).",
)
.boolean()
.default("false");

pub static SNAPSHOT: ParamSpec = ParamSpec::new(
    "snapshot",
    "Snapshot directory",
    "Directory where stop saves the domain's memory (DIR/NAME.state) instead of \
     shutting it down; the next start restores from it and removes it.",
)
.check(checks::absolute_path);

pub static SHUTDOWN_MODE: ParamSpec = ParamSpec::new(
    "shutdown_mode",
    "Graceful shutdown mode",
    "How a graceful stop asks the guest to shut down: one or more of acpi, agent, \
     initctl, signal, paravirt, separated by commas. Empty: the hypervisor's default.",
)
.check(check_shutdown_mode);

pub static START_RESOURCES: ParamSpec = ParamSpec::new(
    "start_resources",
    "Start networks and pools",
    "Start the libvirt virtual networks and storage pools the domain XML refers to \
     (interfaces of type network, disks of type volume) if they are not active.",
)
.boolean()
.default("false");

pub static BACKINGFILE: ParamSpec = ParamSpec::new(
    "backingfile",
    "Backing image (copy-on-write mode)",
    "Run the guest on a qcow2 overlay of this image, which is never written: start creates \
     the overlay next to the config file (web.xml -> web.qcow2; the domain XML must use it as \
     its disk) when it is missing, or on every start with stateless=true.",
)
.check(checks::absolute_path);

pub static STATELESS: ParamSpec = ParamSpec::new(
    "stateless",
    "Start from the backing image every time",
    "With backingfile: create a fresh overlay on every start, so that nothing the guest \
     wrote survives a restart. Without backingfile it is a configuration error.",
)
.boolean()
.default("false");

pub static MONITOR_SCRIPTS: ParamSpec = ParamSpec::new(
    "monitor_scripts",
    "Extra monitor programs",
    "Absolute paths of programs, separated by spaces, run (without a shell or \
     arguments) after every successful monitor, each under the monitor's deadline. \
     A non-zero exit fails the monitor. Start and migrate_from wait until they pass.",
)
.check(check_scripts);

pub static RESPECT_GUEST_SHUTDOWN: ParamSpec = ParamSpec::new(
    "respect_guest_shutdown",
    "Leave a VM stopped when its guest shut down",
    "When a recurring monitor finds that the guest powered itself off cleanly (an \
     administrator shut it down from inside), set the resource's target-role to \
     Stopped through Pacemaker's tools, so the cluster stops it instead of starting \
     it again, and log that it did. A crash or a killed emulator is still recovered.",
)
.boolean()
.default("false");

pub static PARAMS: [ParamSpec; 28] = [
    CONFIG,
    XMFILE,
    HYPERVISOR,
    FORCE_STOP,
    MIGRATION_TRANSPORT,
    MIGRATION_USER,
    MIGRATION_DOWNTIME,
    MIGRATION_SPEED,
    MIGRATION_NETWORK_SUFFIX,
    MIGRATEURI,
    MIGRATEPORT,
    MIGRATE_OPTIONS,
    REMOTEURI,
    AUTOSET_CPU,
    AUTOSET_HOST_MEMORY,
    AUTOSET_HV_MEMORY,
    UNSET_CPU,
    UNSET_HOST_MEMORY,
    UNSET_HV_MEMORY,
    SAVE_CONFIG_ON_STOP,
    SYNC_CONFIG_ON_STOP,
    SNAPSHOT,
    SHUTDOWN_MODE,
    START_RESOURCES,
    BACKINGFILE,
    STATELESS,
    MONITOR_SCRIPTS,
    RESPECT_GUEST_SHUTDOWN,
];

pub static ACTIONS: [ActionSpec; 7] = [
    ActionSpec::new("start", 90),
    ActionSpec::new("stop", 90),
    ActionSpec::new("monitor", 30).interval(10).depth(0),
    ActionSpec::new("migrate_to", 120),
    ActionSpec::new("migrate_from", 60),
    ActionSpec::new("validate-all", 10),
    ActionSpec::new("meta-data", 5),
];

pub static INFO: AgentInfo = AgentInfo {
    name: "vm",
    shortdesc: "A libvirt virtual machine (KVM/QEMU and other libvirt drivers)",
    longdesc: "Manages a virtual machine through libvirt: start defines it from its XML \
        file and boots it, stop shuts it down gracefully and destroys it if the guest \
        does not stop in time (always within the stop timeout), monitor reads its state, \
        and migrate_to/migrate_from live-migrate it (set allow-migrate=true). The \
        parameters are those of ocf:heartbeat:VirtualDomain. libvirt is loaded at run \
        time: on a node without it the agent answers 'not installed', and probe and \
        stop look for the domain's QEMU process. Whatever the configuration says, stop \
        and probe never call a domain this resource started stopped while it runs.",
    params: &PARAMS,
    actions: &ACTIONS,
};

// ---- syntax checks (configure-time, no environment) ----

fn check_uri(v: &str) -> Result<(), String> {
    let Some((scheme, rest)) = v.split_once(':') else {
        return Err("must be a libvirt URI such as qemu:///system".into());
    };
    let scheme_ok = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.');
    if !scheme_ok || !rest.starts_with('/') || v.chars().any(char::is_whitespace) {
        return Err("must be a libvirt URI such as qemu:///system".into());
    }
    Ok(())
}

fn check_user(v: &str) -> Result<(), String> {
    if v.chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        Ok(())
    } else {
        Err("must be a plain user name".into())
    }
}

fn check_suffix(v: &str) -> Result<(), String> {
    if v.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        Ok(())
    } else {
        Err("may only hold letters, digits, '-' and '.'".into())
    }
}

fn check_no_space(v: &str) -> Result<(), String> {
    if v.chars().any(char::is_whitespace) {
        Err("must not contain spaces".into())
    } else {
        Ok(())
    }
}

fn check_migrate_options(v: &str) -> Result<(), String> {
    parse_migrate_options(v).map(drop)
}

fn check_shutdown_mode(v: &str) -> Result<(), String> {
    parse_shutdown_mode(v).map(drop)
}

fn check_scripts(v: &str) -> Result<(), String> {
    for s in v.split_whitespace() {
        if !s.starts_with('/') {
            return Err(format!("{s:?} is not an absolute path"));
        }
    }
    Ok(())
}

/// `virsh migrate` options as libvirt flags, plus a `--migrateuri`.
pub fn parse_migrate_options(v: &str) -> Result<(u64, Option<String>), String> {
    let mut flags = 0;
    let mut uri = None;
    let mut words = v.split_whitespace();
    while let Some(w) = words.next() {
        let (opt, value) = match w.split_once('=') {
            Some((o, val)) => (o, Some(val.to_string())),
            None => (w, None),
        };
        flags |= match opt {
            "--live" => lv::MIGRATE_LIVE,
            "--p2p" => lv::MIGRATE_PEER2PEER,
            "--tunnelled" | "--tunneled" => lv::MIGRATE_PEER2PEER | lv::MIGRATE_TUNNELLED,
            "--persistent" => lv::MIGRATE_PERSIST_DEST,
            "--undefinesource" => lv::MIGRATE_UNDEFINE_SOURCE,
            "--copy-storage-all" => lv::MIGRATE_NON_SHARED_DISK,
            "--copy-storage-inc" => lv::MIGRATE_NON_SHARED_INC,
            "--unsafe" => lv::MIGRATE_UNSAFE,
            "--compressed" => lv::MIGRATE_COMPRESSED,
            "--abort-on-error" => lv::MIGRATE_ABORT_ON_ERROR,
            "--auto-converge" => lv::MIGRATE_AUTO_CONVERGE,
            "--postcopy" => lv::MIGRATE_POSTCOPY,
            "--tls" => lv::MIGRATE_TLS,
            "--migrateuri" => {
                let u = value
                    .or_else(|| words.next().map(str::to_string))
                    .filter(|u| !u.is_empty())
                    .ok_or("--migrateuri needs a value")?;
                uri = Some(u);
                0
            }
            other => return Err(format!("unsupported migrate option {other:?}")),
        };
    }
    Ok((flags, uri))
}

/// `acpi,agent` as libvirt shutdown flags.
pub fn parse_shutdown_mode(v: &str) -> Result<u32, String> {
    let mut flags = 0;
    for m in v.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        flags |= match m {
            "acpi" => lv::SHUTDOWN_ACPI,
            "agent" => lv::SHUTDOWN_AGENT,
            "initctl" => lv::SHUTDOWN_INITCTL,
            "signal" => lv::SHUTDOWN_SIGNAL,
            "paravirt" => lv::SHUTDOWN_PARAVIRT,
            other => {
                return Err(format!(
                    "unknown mode {other:?} (use acpi, agent, initctl, signal, paravirt)"
                ));
            }
        };
    }
    Ok(flags)
}

/// The virtual machine: its validated parameters, and (after the
/// environment check) what its XML file says. Its `Debug` leaves the XML
/// text out: it holds the guest's VNC/SPICE passwords.
pub struct Config {
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
    pub migrate_flags: u64,
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
    pub monitor_scripts: Vec<PathBuf>,
    pub respect_guest_shutdown: bool,
    /// Set when `xmfile` selects the native Xen backend: every action goes to it.
    pub xl: Option<xen::Config>,
    domain: OnceLock<(DomainXml, String)>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("config", &self.config)
            .field("uri", &shown(&self.uri))
            .field("domain", &self.domain.get().map(|(d, _)| d))
            .field("remoteuri", &self.remoteuri.as_deref().map(shown))
            .field("migrateuri", &self.migrateuri.as_deref().map(shown))
            .field("xl", &self.xl)
            .finish_non_exhaustive()
    }
}

/// A URI as we show it: a password in its user part masked.
pub fn shown(uri: &str) -> String {
    secrets::redact(uri).into_owned()
}

impl Config {
    /// The parsed XML and its text; set by the environment check.
    fn dom(&self) -> OcfResult<&(DomainXml, String)> {
        match self.domain.get() {
            Some(d) => Ok(d),
            None => load_domain(self),
        }
    }

    fn name(&self) -> OcfResult<&str> {
        Ok(self.dom()?.0.name.as_str())
    }
}

/// Read and parse the config file once.
fn load_domain(cfg: &Config) -> OcfResult<&(DomainXml, String)> {
    if let Some(d) = cfg.domain.get() {
        return Ok(d);
    }
    let bytes = match files::read_config(&cfg.config) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(OcfError::installed(format!(
                "config file {} does not exist on this node",
                cfg.config.display()
            )));
        }
        Err(e) => {
            return Err(OcfError::installed(format!(
                "cannot read config file {}: {e}",
                cfg.config.display()
            )));
        }
    };
    let usable = domxml::decode(&bytes).and_then(|t| domxml::parse(t).map(|d| (d, t)));
    let (parsed, text) = usable.map_err(|why| {
        OcfError::args(format!(
            "config file {} is not a usable domain XML: {why}",
            cfg.config.display()
        ))
    })?;
    let text = text.to_string();
    Ok(cfg.domain.get_or_init(|| (parsed, text)))
}

pub struct Vm;

impl ocf::Agent for Vm {
    type Config = Config;

    fn info() -> &'static AgentInfo {
        &INFO
    }

    fn configure(p: &Params, _ctx: &Context) -> OcfResult<Config> {
        let (migrate_flags, option_uri) =
            parse_migrate_options(p.string(&MIGRATE_OPTIONS).unwrap_or(""))
                .map_err(OcfError::configured)?;
        let number = |s: &ParamSpec| {
            p.string(s)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        let cfg = Config {
            config: PathBuf::from(p.string(&CONFIG).unwrap_or_default()),
            uri: p.string(&HYPERVISOR).unwrap_or(DEFAULT_URI).to_string(),
            force_stop: p.boolean(&FORCE_STOP),
            transport: p.string(&MIGRATION_TRANSPORT).map(str::to_string),
            user: p.string(&MIGRATION_USER).map(str::to_string),
            downtime_ms: number(&MIGRATION_DOWNTIME),
            speed: number(&MIGRATION_SPEED),
            suffix: p.string(&MIGRATION_NETWORK_SUFFIX).map(str::to_string),
            migrateuri: option_uri.or_else(|| p.string(&MIGRATEURI).map(str::to_string)),
            migrateport: p.string(&MIGRATEPORT).and_then(|v| v.trim().parse().ok()),
            migrate_flags,
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
            monitor_scripts: p
                .string(&MONITOR_SCRIPTS)
                .unwrap_or("")
                .split_whitespace()
                .map(PathBuf::from)
                .collect(),
            respect_guest_shutdown: p.boolean(&RESPECT_GUEST_SHUTDOWN),
            xl: None,
            domain: OnceLock::new(),
        };
        let cfg = match (p.string(&CONFIG), p.string(&XMFILE)) {
            (Some(_), None) => cfg,
            (None, Some(xmfile)) => native_xen(cfg, xmfile)?,
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
        Ok(cfg)
    }

    fn check_environment(cfg: &Config, ctx: &Context) -> OcfResult<()> {
        if let Some(x) = &cfg.xl {
            return xen::Xen::check_environment(x, ctx);
        }
        load_domain(cfg)?;
        lv::api().map_err(|e| OcfError::installed(format!("libvirt is not available: {e}")))?;
        for s in &cfg.monitor_scripts {
            if !is_executable(s) {
                return Err(OcfError::installed(format!(
                    "monitor script {} is missing or not executable",
                    s.display()
                )));
            }
        }
        if let Some(b) = &cfg.backing {
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
        }
        if cfg.sync_config && exec::which("csync2").is_none() {
            return Err(OcfError::installed(
                "sync_config_on_stop is set but csync2 is not installed",
            ));
        }
        if let Some(dir) = &cfg.snapshot
            && !dir.is_dir()
        {
            return Err(OcfError::installed(format!(
                "snapshot directory {} does not exist",
                dir.display()
            )));
        }
        Ok(())
    }

    fn start(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        if let Some(x) = &cfg.xl {
            refuse_over_recorded(ctx, None, dl)?;
            return xen::Xen::start(x, ctx, dl);
        }
        files::state_remove(ctx, &utilization_cache(ctx));
        let hv = connect(cfg, &dl.cap(Duration::from_secs(30)))?;
        let (dom, _) = cfg.dom()?;
        let here = Target::named(&cfg.uri, &dom.name);
        refuse_over_recorded(ctx, Some(&here), dl)?;
        // Recorded before the domain is defined: a start that fails half-way
        // leaves what stop needs.
        let started = Started::Libvirt {
            uri: cfg.uri.clone(),
            name: dom.name.clone(),
            uuid: dom.uuid.clone(),
        };
        started.save(ctx);
        identity::forget_legacy(ctx);
        if local_hypervisor(&cfg.uri) {
            systemd_ordering(Path::new("/"), dl);
        }
        let uuid = start_on(&hv, cfg, ctx, dl)?;
        started.with_uuid(&uuid).save(ctx);
        wait_for_scripts(cfg, dl)
    }

    fn stop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        let recorded = Started::recorded(ctx, ocf::Record::load(ctx).as_ref(), &cfg.uri);
        let mut libvirt = Vec::new();
        let mut other_xl = None;
        match (&cfg.xl, &recorded) {
            (None, _) => {
                files::state_remove(ctx, &utilization_cache(ctx));
                let configured = Target::named(&cfg.uri, cfg.name()?);
                libvirt.push((configured.clone(), cfg.how()));
                match &recorded {
                    Some(Started::Libvirt { uri, name, uuid }) => {
                        let t = Target::recorded(uri, name, uuid.clone());
                        if !t.same_place(&configured) {
                            ocf::warn!(
                                "the configuration names {} at {}, but this resource started {} \
                                 at {} here: stopping both",
                                configured.name,
                                configured.uri,
                                t.name,
                                t.uri
                            );
                            libvirt.push((t, cfg.plain_how()));
                        }
                    }
                    Some(xl_rec @ Started::Xl { .. }) => other_xl = xl_plan_of(xl_rec, cfg),
                    None => {}
                }
            }
            (Some(_), Some(Started::Libvirt { uri, name, uuid })) => {
                ocf::warn!(
                    "this resource started {name} at {uri} through libvirt: stopping it too"
                );
                libvirt.push((Target::recorded(uri, name, uuid.clone()), cfg.plain_how()));
            }
            (Some(_), _) => {}
        }
        let mut result = Ok(());
        if !libvirt.is_empty() {
            let part = if cfg.xl.is_some() || other_xl.is_some() {
                dl.share(0.5)
            } else {
                dl.cap(dl.remaining())
            };
            result = stop_targets(&libvirt, &part);
        }
        if let Some(plan) = &other_xl {
            result = result.and(xen::stop_plan(plan, ctx, dl));
        }
        if let Some(x) = &cfg.xl {
            result = result.and(xen::Xen::stop(x, ctx, dl));
        }
        if result.is_ok() {
            identity::forget_legacy(ctx);
        }
        result
    }

    /// Something is wrong (a parameter our table refuses, the config file
    /// gone or unreadable, libvirt or a monitor script missing), yet a VM
    /// may still run here: stop what the record names (by UUID) and what
    /// the raw parameters still name, and answer 0 only when none of it
    /// runs (RA#137, RA#1293).
    fn stop_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&ocf::Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<()> {
        if let Some(c) = cfg
            && c.xl.is_none()
            && load_domain(c).is_ok()
        {
            // Only a node check failed: the domain is known, stop it as usual.
            ocf::warn!("stop: {}; stopping {} anyway", why.reason, c.name()?);
            return Self::stop(c, ctx, dl);
        }
        let plan = unusable_plan(cfg, rec, ctx);
        if plan.is_empty() {
            ocf::info!(
                "stop: {}; nothing of this resource is recorded or named here, so nothing of \
                 it runs",
                why.reason
            );
            identity::forget_legacy(ctx);
            return Ok(());
        }
        ocf::warn!(
            "stop: {}; stopping what the record and the parameters still name: {}",
            why.reason,
            plan.describe()
        );
        let mut result = Ok(());
        if !plan.libvirt.is_empty() {
            let part = if plan.xl.is_some() {
                dl.share(0.5)
            } else {
                dl.cap(dl.remaining())
            };
            result = stop_targets(&plan.libvirt, &part);
        }
        if plan.xl.is_some() || plan.xl_recorded {
            result = result.and(xen::stop_unusable(plan.xl, plan.xl_recorded, ctx, why, dl));
        }
        if result.is_ok() {
            identity::forget_legacy(ctx);
        }
        result
    }

    /// A probe in the same situation: 7 only when nothing the record or
    /// the raw parameters name runs here; 0 when something does.
    fn probe_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&ocf::Record>,
        ctx: &Context,
        _why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<Status> {
        let plan = unusable_plan(cfg, rec, ctx);
        let mut unknown = None;
        for (t, _) in &plan.libvirt {
            match seen_libvirt(t, &dl.share(0.5)) {
                Seen::Running(what) => {
                    ocf::warn!("{what}: it runs");
                    return Ok(Status::Success);
                }
                Seen::Stopped => {}
                Seen::Unknown(why) => unknown = Some(why),
            }
        }
        if plan.xl.is_some() || plan.xl_recorded {
            match xen::probe_unusable(plan.xl, plan.xl_recorded, dl) {
                Ok(Status::NotRunning) => {}
                Ok(s) => return Ok(s),
                Err(e) => unknown = Some(e.reason),
            }
        }
        match unknown {
            Some(why) => Err(OcfError::generic(format!(
                "cannot tell whether this resource runs here: {why}"
            ))),
            None => Ok(Status::NotRunning),
        }
    }

    fn monitor(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
        if let Some(x) = &cfg.xl {
            let configured = xen::Xen::monitor(x, ctx, dl);
            return with_recorded(ctx, None, "", configured, dl);
        }
        let connect_dl = dl.share(0.5);
        let hv = Libvirt::connect(&cfg.uri, &connect_dl);
        let hv_ref = hv.as_ref().map(|h| h as &dyn Backend).map_err(Clone::clone);
        let configured = monitor_on(hv_ref, cfg, ctx, dl);
        let name = cfg.name()?;
        with_recorded(
            ctx,
            Some(&Target::named(&cfg.uri, name)),
            &cfg.uri,
            configured,
            dl,
        )
    }

    fn migrate_to(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        if let Some(x) = &cfg.xl {
            return xen::Xen::migrate_to(x, ctx, dl);
        }
        let name = cfg.name()?.to_string();
        let target = ctx.migrate_target().ok_or_else(|| {
            OcfError::generic(format!(
                "migrate_to of {name}: no target node (CRM_meta_migrate_target is not set)"
            ))
        })?;
        // The node name becomes the host of the remote URI (which libvirt
        // may hand to ssh) and of the migration URI: an address or a host
        // name only.
        let host = with_suffix(target, cfg.suffix.as_deref());
        if let Err(why) = xl::migration_host(&host) {
            return Err(OcfError::args(format!(
                "migrate_to of {name}: the target's host {why}"
            )));
        }
        let hv = connect(cfg, &dl.cap(Duration::from_secs(30)))?;
        let view = hv.lookup(&name, dl).map_err(|e| match e {
            HvError::NoDomain => OcfError::generic(format!(
                "migrate_to: {name} is not running here, nothing to migrate"
            )),
            e => OcfError::generic(format!("migrate_to: {e}")),
        })?;
        if !view.state.is_active() {
            return Err(OcfError::generic(format!(
                "migrate_to: {name} is {} here, nothing to migrate",
                view.state
            )));
        }
        if cfg.save_config {
            save_config(&hv, cfg, &name, &dl.cap(Duration::from_secs(10)));
        }
        let m = migration(cfg, target);
        ocf::info!(
            "{name}: live migration to {target} ({}{})",
            shown(&m.remote_uri),
            m.migrate_uri
                .as_deref()
                .map(|u| format!(", data over {}", shown(u)))
                .unwrap_or_default()
        );
        let t = std::time::Instant::now();
        hv.migrate(&name, &m, dl).map_err(|e| {
            OcfError::generic(format!("live migration of {name} to {target} failed: {e}"))
        })?;
        // The record stays until the stop that follows finds nothing here.
        ocf::info!(
            "{name}: live migration to {target} succeeded in {:.1}s",
            t.elapsed().as_secs_f64()
        );
        Ok(())
    }

    fn migrate_from(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        if let Some(x) = &cfg.xl {
            refuse_over_recorded(ctx, None, dl)?;
            return xen::Xen::migrate_from(x, ctx, dl);
        }
        let (dom, _) = cfg.dom()?;
        let name = dom.name.clone();
        let hv = connect(cfg, &dl.cap(Duration::from_secs(30)))?;
        refuse_over_recorded(ctx, Some(&Target::named(&cfg.uri, &name)), dl)?;
        // Recorded before it arrives: a domain that lands after a timeout is
        // still found by stop.
        let started = Started::Libvirt {
            uri: cfg.uri.clone(),
            name: name.clone(),
            uuid: dom.uuid.clone(),
        };
        started.save(ctx);
        identity::forget_legacy(ctx);
        let running = |d: &Deadline| {
            hv.lookup(&name, d)
                .ok()
                .filter(|v| v.state.is_active())
                .map(|v| v.uuid)
        };
        let Some(source) = ctx.migrate_source() else {
            if let Some(uuid) = running(dl) {
                started.with_uuid(&uuid).save(ctx);
                ocf::info!("migrate_from: {name} already runs here");
                return wait_for_scripts(cfg, dl);
            }
            return Err(OcfError::generic(format!(
                "migrate_from of {name}: no source node (CRM_meta_migrate_source is not \
                 set) and the domain does not run here"
            )));
        };
        let arrived = dl.poll(Duration::from_millis(250), || {
            running(&dl.cap(Duration::from_secs(5)))
        });
        let Some(uuid) = arrived else {
            return Err(OcfError::generic(format!(
                "migrate_from: {name} did not arrive from {source} in time"
            )));
        };
        started.with_uuid(&uuid).save(ctx);
        ocf::info!("{name}: live migration from {source} succeeded");
        wait_for_scripts(cfg, dl)
    }
}

/// `xmfile` given: the native Xen backend, with the vm parameters that mean
/// something to it mapped onto ocf:rust:xen's; libvirt-only ones refused.
fn native_xen(cfg: Config, xmfile: &str) -> OcfResult<Config> {
    let libvirt_only = [
        (cfg.snapshot.is_some(), "snapshot"),
        (cfg.sync_config, "sync_config_on_stop"),
        (cfg.save_config, "save_config_on_stop"),
        (cfg.start_resources, "start_resources"),
        (cfg.backing.is_some(), "backingfile"),
        (cfg.respect_guest_shutdown, "respect_guest_shutdown"),
    ];
    if let Some((_, name)) = libvirt_only.iter().find(|(set, _)| *set) {
        return Err(OcfError::configured(format!(
            "'{name}' needs libvirt (config=...), not the native Xen backend (xmfile=...)"
        )));
    }
    if cfg.shutdown_mode & !lv::SHUTDOWN_ACPI != 0 {
        return Err(OcfError::configured(
            "with xmfile, shutdown_mode can only be empty or acpi",
        ));
    }
    let mut xl = xen::Config::for_xmfile(PathBuf::from(xmfile));
    xl.shutdown_timeout = cfg.force_stop.then_some(Duration::ZERO);
    xl.acpi = cfg.shutdown_mode & lv::SHUTDOWN_ACPI != 0;
    xl.util_cpu = cfg.util_cpu;
    xl.util_memory = cfg.util_memory;
    xl.monitor_scripts = cfg.monitor_scripts.clone();
    Ok(Config {
        xl: Some(xl),
        ..cfg
    })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Connect, mapping failure to a plain error (1): start and migrations
/// cannot proceed without the hypervisor. A Xen URI on a node without a
/// Xen hypervisor (as xl says) is 5: this node cannot run it at all.
fn connect(cfg: &Config, dl: &Deadline) -> OcfResult<Libvirt> {
    Libvirt::connect(&cfg.uri, dl).map_err(|e| {
        let reason = format!("cannot connect to {}: {e}", shown(&cfg.uri));
        if local_xen(&cfg.uri) && no_xen_here(dl) {
            return OcfError::installed(format!("{reason}; no Xen hypervisor on this node"));
        }
        OcfError::generic(reason)
    })
}

/// How often a graceful stop repeats its shutdown request.
const RESEND_SHUTDOWN: Duration = Duration::from_secs(5);

/// Time kept back from a stop's budget for destroy: a third of it, and no
/// less than 10 s where the budget allows (seapath#306: destroy can take
/// 10-17 s; VirtualDomain kept 5).
pub fn destroy_reserve(total: Duration) -> Duration {
    let third = total / 3;
    let ten = Duration::from_secs(10).min(total * 2 / 3);
    third.max(ten)
}

// ---- what stop and monitor act on ----

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

    fn guest(&self) -> qemu::Guest<'_> {
        qemu::Guest {
            name: &self.name,
            uuid: self.uuid.as_deref(),
        }
    }
}

/// How stop asks a domain to go.
#[derive(Clone, Copy, Debug, Default)]
pub struct StopHow<'a> {
    pub force: bool,
    /// libvirt shutdown flags (0: the hypervisor's default).
    pub mode: u32,
    /// Save the memory here instead of shutting down (the configured domain).
    pub snapshot: Option<&'a Path>,
    /// save_config_on_stop: write libvirt's XML back (the configured domain).
    pub save: Option<&'a Config>,
}

impl Config {
    /// Everything the configuration asks of stop, for its own domain.
    fn how(&self) -> StopHow<'_> {
        StopHow {
            force: self.force_stop,
            mode: self.shutdown_mode,
            snapshot: self.snapshot.as_deref(),
            save: self.save_config.then_some(self),
        }
    }

    /// For a domain the record names that is not the configured one.
    fn plain_how(&self) -> StopHow<'static> {
        StopHow {
            force: self.force_stop,
            mode: self.shutdown_mode,
            snapshot: None,
            save: None,
        }
    }
}

/// Find the target's domain: by its UUID when known, else by name.
/// `Ok(None)`: nothing of it is defined there.
fn find(hv: &dyn Backend, t: &Target, dl: &Deadline) -> HvResult<Option<(String, DomainView)>> {
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

/// Stop each target, each with an equal share of the time left; the first
/// failure is the answer, after every target had its turn.
fn stop_targets(list: &[(Target, StopHow)], dl: &Deadline) -> OcfResult<()> {
    let mut result = Ok(());
    for (i, (t, how)) in list.iter().enumerate() {
        let part = dl.share(1.0 / (list.len() - i) as f64);
        let reserve = destroy_reserve(part.remaining());
        // Connecting gets at most a quarter of the time: a hung libvirtd
        // must leave enough for ending QEMU ourselves.
        let connect_dl = part.cap(part.remaining() / 4);
        let r = match Libvirt::connect(&t.uri, &connect_dl) {
            Ok(hv) => stop_on(&hv, t, how, &part, reserve),
            Err(e) => {
                ocf::warn!("stop: {e}");
                stop_without_hypervisor(t, &e, &part)
            }
        };
        result = result.and(r);
    }
    result
}

/// Does the target's domain run? Through libvirt, else by its QEMU
/// process (or, for Xen, what xl says).
fn seen_libvirt(t: &Target, dl: &Deadline) -> Seen {
    let hv = Libvirt::connect(&t.uri, &dl.share(0.5));
    let found = hv
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|h| find(h, t, &dl.share(0.8)));
    match found {
        Ok(Some((name, v))) if v.state == DomState::Crashed => {
            Seen::Unknown(format!("{name} at {} has crashed", t.uri))
        }
        Ok(Some((name, v))) if v.state.is_active() => {
            Seen::Running(format!("domain {name} ({}) at {}", v.state, t.uri))
        }
        Ok(_) => Seen::Stopped,
        Err(e) => seen_without_hypervisor(t, &e, dl),
    }
}

/// libvirt cannot be asked (daemon down or hung, library missing): the
/// QEMU process in /proc, or xl for a local Xen, still tells.
fn seen_without_hypervisor(t: &Target, why: &HvError, dl: &Deadline) -> Seen {
    let name = &t.name;
    if local_xen(&t.uri) {
        if exec::which("xl").is_none() {
            return Seen::Stopped; // no Xen toolstack: no Xen domain here
        }
        return match xl_tool().lookup(name, &dl.cap(Duration::from_secs(10))) {
            xl::Lookup::Found { state, .. } if state.is_alive() => {
                Seen::Running(format!("{why}; xl shows {name} running"))
            }
            xl::Lookup::Found { .. } | xl::Lookup::Absent | xl::Lookup::NoHypervisor(_) => {
                Seen::Stopped
            }
            xl::Lookup::Unknown(e) => Seen::Unknown(format!("{why}; xl: {e}")),
        };
    }
    if local_qemu(&t.uri) {
        return match qemu::pids_of(t.guest()).first() {
            None => Seen::Stopped,
            Some(pid) => Seen::Running(format!("{why}; the QEMU process {pid} of {name} runs")),
        };
    }
    Seen::Unknown(format!("cannot check {name}: {why}"))
}

/// Start (and migrate_from) must not replace a record whose domain still
/// runs here (another domain, or another hypervisor, from before the
/// configuration changed): the cluster stops the resource first, and that
/// stop ends both. `here`: the libvirt domain about to start (None for the
/// native Xen backend, which checks its own records).
fn refuse_over_recorded(ctx: &Context, here: Option<&Target>, dl: &Deadline) -> OcfResult<()> {
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
        Started::Xl { .. } if here.is_none() => return Ok(()),
        Started::Xl {
            program,
            name,
            uuid,
        } => xen::seen(
            &xl_plan(program, name, uuid.clone(), StopHow::default()),
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
fn xl_plan(program: &str, name: &str, uuid: Option<String>, how: StopHow) -> xen::XlPlan {
    xen::XlPlan {
        xl: xl::Xl {
            program: program.to_string(),
        },
        targets: vec![xen::XlTarget::recorded(name, uuid)],
        acpi: how.mode & lv::SHUTDOWN_ACPI != 0,
        grace: how.force.then_some(Duration::ZERO),
    }
}

fn xl_plan_of(rec: &Started, cfg: &Config) -> Option<xen::XlPlan> {
    match rec {
        Started::Xl {
            program,
            name,
            uuid,
        } => {
            ocf::warn!("this resource started {name} here through xl: stopping it too");
            Some(xl_plan(program, name, uuid.clone(), cfg.plain_how()))
        }
        Started::Libvirt { .. } => None,
    }
}

/// A monitor also answers for the domain the record names when that is not
/// the configured one (the configuration changed while it ran): a probe
/// calls the resource running; a recurring monitor fails, so the cluster's
/// stop, which ends both, follows. `configured`: the libvirt domain the
/// configuration names (None for the native Xen backend, which checks its
/// own records).
fn with_recorded(
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
        Started::Xl { .. } if configured.is_none() => return answer,
        Started::Xl {
            program,
            name,
            uuid,
        } => xen::seen(
            &xl_plan(program, name, uuid.clone(), StopHow::default()),
            &dl.cap(dl.remaining() / 2),
        ),
    };
    identity::with_recorded(seen, answer, ctx)
}

/// What stop and a probe look for when the configuration cannot be used.
struct Unusable {
    libvirt: Vec<(Target, StopHow<'static>)>,
    xl: Option<xen::XlPlan>,
    /// The record names an xl domain (so "no xl here" is no answer).
    xl_recorded: bool,
}

impl Unusable {
    fn is_empty(&self) -> bool {
        self.libvirt.is_empty() && self.xl.is_none() && !self.xl_recorded
    }

    fn describe(&self) -> String {
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
fn unusable_plan(cfg: Option<&Config>, rec: Option<&ocf::Record>, ctx: &Context) -> Unusable {
    let uri = match cfg {
        Some(c) => Some(c.uri.clone()),
        None => match raw(ctx, "hypervisor") {
            None => Some(DEFAULT_URI.to_string()),
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
    let xl_recorded = matches!(recorded, Some(Started::Xl { .. }));
    let xmfile = match cfg {
        Some(c) => c.xl.as_ref().map(|x| x.xmfile.clone()),
        None => raw(ctx, "xmfile").map(PathBuf::from),
    };
    let xl = if xl_recorded || xmfile.is_some() {
        let u = match cfg.and_then(|c| c.xl.as_ref()) {
            Some(x) => xen::UnusableXl::xen(Some(x), ctx),
            None => xen::UnusableXl {
                program: "xl".into(),
                acpi: how.mode & lv::SHUTDOWN_ACPI != 0,
                grace: how.force.then_some(Duration::ZERO),
                name: None,
                xmfile,
            },
        };
        xen::unusable_plan(u, recorded.as_ref(), ctx)
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

// ---- start ----

/// Define and boot (or restore) the configured domain; the UUID it runs with.
fn start_on(hv: &dyn Backend, cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<String> {
    let (dom, xml) = cfg.dom()?;
    let name = dom.name.as_str();
    let call_dl = dl.cap(Duration::from_secs(60));
    match hv.lookup(name, &call_dl) {
        Ok(v) => {
            if let Some(want) = &dom.uuid
                && !v.uuid.is_empty()
                && !v.uuid.eq_ignore_ascii_case(want)
            {
                return Err(OcfError::args(format!(
                    "a domain named {name} is already defined here with UUID {}, but {} \
                     says {want}: undefine the other one first",
                    v.uuid,
                    cfg.config.display()
                )));
            }
            if v.state.is_active() {
                ocf::info!("{name} is already running ({})", v.state);
                return Ok(v.uuid);
            }
            if dom.uuid.is_none() && v.persistent {
                // The XML carries no UUID, so defining it would clash with
                // the inactive leftover: replace it.
                hv.undefine(name, &call_dl).map_err(|e| {
                    OcfError::generic(format!("cannot replace the inactive {name}: {e}"))
                })?;
            }
        }
        Err(HvError::NoDomain) => {}
        Err(e) => return Err(OcfError::generic(format!("start of {name}: {e}"))),
    }
    if cfg.start_resources {
        for n in &dom.networks {
            hv.start_network(n, &call_dl)
                .map_err(|e| OcfError::generic(e.to_string()))?;
        }
        for p in &dom.pools {
            hv.start_pool(p, &call_dl)
                .map_err(|e| OcfError::generic(e.to_string()))?;
        }
    }
    // libvirtd writes and reads memory images there as root: a directory
    // others may change could hold anyone's image (restored as our guest)
    // or a link where libvirt writes.
    let snapshot_dir = match &cfg.snapshot {
        Some(dir) => Some((
            dir.clone(),
            files::checked_dir(dir).map_err(|e| {
                OcfError::perm(format!("snapshot directory cannot be used safely: {e}"))
            })?,
        )),
        None => None,
    };
    if let Some(backing) = &cfg.backing {
        prepare_overlay(backing, &overlay_path(&cfg.config), cfg.stateless, dl)?;
    }
    hv.define(xml, &call_dl).map_err(|e| match e {
        HvError::Failed(m) => OcfError::args(format!(
            "libvirt refuses the domain in {}: {m}",
            cfg.config.display()
        )),
        e => OcfError::generic(format!("defining {name}: {e}")),
    })?;
    let mut restored = false;
    if let Some((dir, dir_fd)) = &snapshot_dir {
        let file = snapshot_name(name);
        let state = dir.join(&file);
        match files::entry(dir_fd, &file) {
            Ok(Some(rustix::fs::FileType::RegularFile)) => {
                match hv.restore(&state.to_string_lossy(), &call_dl) {
                    Ok(()) => {
                        ocf::info!("{name} restored from {}", state.display());
                        restored = true;
                        let _ = files::remove_in(dir_fd, &file);
                    }
                    Err(e) => {
                        // Never restore this memory image later over a disk
                        // that a fresh boot has changed.
                        let aside = format!("{file}.failed");
                        ocf::warn!(
                            "cannot restore {name} from {} ({e}); booting it afresh and \
                             moving the image to {aside}",
                            state.display(),
                        );
                        let _ = files::rename_in(dir_fd, &file, &aside);
                    }
                }
            }
            Ok(Some(_)) => ocf::warn!(
                "{} is not a regular file: not restored from, booting {name} afresh",
                state.display()
            ),
            Ok(None) => {}
            Err(e) => ocf::warn!("cannot look at {}: {e}", state.display()),
        }
    }
    if !restored {
        hv.boot(name, &call_dl)
            .map_err(|e| OcfError::generic(format!("cannot start {name}: {e}")))?;
    }
    let up = dl.poll(Duration::from_millis(200), || {
        hv.lookup(name, &dl.cap(Duration::from_secs(10)))
            .ok()
            .filter(|v| v.state.is_active())
    });
    let Some(v) = up else {
        return Err(OcfError::generic(format!(
            "{name} was started but is not running"
        )));
    };
    ocf::info!("{name} started ({}, {})", v.state, ctx.instance);
    Ok(v.uuid)
}

/// The memory image's file name in the snapshot directory (VirtualDomain's
/// NAME.state; a `/` cannot be in a file name, a leading `.` would hide it).
fn snapshot_name(name: &str) -> String {
    format!("{}.state", ocf::files::instance_file_name(&[name]))
}

/// Poll the monitor scripts until they all pass (start, migrate_from).
fn wait_for_scripts(cfg: &Config, dl: &Deadline) -> OcfResult<()> {
    if cfg.monitor_scripts.is_empty() {
        return Ok(());
    }
    let mut last = None;
    let ok = dl.poll(Duration::from_secs(1), || match run_scripts(cfg, dl) {
        Ok(()) => Some(()),
        Err(e) => {
            last = Some(e);
            None
        }
    });
    match ok {
        Some(()) => Ok(()),
        None => Err(last.unwrap_or_else(|| OcfError::generic("monitor scripts did not pass"))),
    }
}

fn run_scripts(cfg: &Config, dl: &Deadline) -> OcfResult<()> {
    for s in &cfg.monitor_scripts {
        match exec::run(&Cmd::new(s), dl) {
            Ok(out) if out.success() => {}
            Ok(out) => {
                return Err(OcfError::generic(format!(
                    "monitor script {} failed: {}",
                    s.display(),
                    out.describe()
                )));
            }
            Err(e) => {
                return Err(OcfError::generic(format!(
                    "monitor script {}: {e}",
                    s.display()
                )));
            }
        }
    }
    Ok(())
}

// ---- stop ----

/// Stop the target's domain on `hv`: graceful for a budgeted share (or a
/// snapshot, or straight to destroy with force), then destroy, undefine,
/// and re-read the state before answering.
fn stop_on(
    hv: &dyn Backend,
    t: &Target,
    how: &StopHow,
    dl: &Deadline,
    reserve: Duration,
) -> OcfResult<()> {
    let (name, first) = match find(hv, t, &dl.cap(dl.remaining() / 4)) {
        Ok(Some(found)) => found,
        Ok(None) => {
            ocf::info!("{} is not defined at {}: already stopped", t.name, t.uri);
            return Ok(());
        }
        Err(e) => return stop_without_hypervisor(t, &e, dl),
    };
    let look = |d: &Deadline| hv.lookup(&name, d);
    if first.state.is_active() {
        if let Some(cfg) = how.save {
            save_config(
                hv,
                cfg,
                &name,
                &dl.keep_back(reserve).cap(Duration::from_secs(10)),
            );
        }
        let graceful = dl.keep_back(reserve);
        let mut gone = false;
        if let Some(dir) = how.snapshot {
            ocf::deadline::set_phase("saving the domain's memory");
            match files::checked_dir(dir) {
                Ok(dir_fd) => {
                    let file = snapshot_name(&name);
                    let path = dir.join(&file);
                    match hv.save(&name, &path.to_string_lossy(), &graceful) {
                        Ok(()) => {
                            ocf::info!("{name} saved to {}", path.display());
                            gone = true;
                        }
                        Err(e) => {
                            ocf::warn!("cannot save {name} to {}: {e}", path.display());
                            let _ = files::remove_in(&dir_fd, &file);
                        }
                    }
                }
                // Stop must still stop: a shutdown instead of a memory
                // image libvirtd would write where others can plant links.
                Err(e) => ocf::warn!(
                    "snapshot: not saving {name}'s memory ({e}); shutting it down instead"
                ),
            }
        }
        if !gone && !how.force && !graceful.expired() {
            ocf::deadline::set_phase("graceful shutdown");
            ocf::info!(
                "{name}: asking the guest to shut down ({:.0}s, then destroy)",
                graceful.remaining().as_secs_f64()
            );
            match hv.shutdown(&name, how.mode, &graceful) {
                Ok(()) => {
                    let mut asked = std::time::Instant::now();
                    let outcome = graceful.poll(Duration::from_millis(250), || {
                        match look(&graceful.cap(Duration::from_secs(5))) {
                            Ok(v) if !v.state.is_active() => Some(Ok(())),
                            Err(HvError::NoDomain) => Some(Ok(())),
                            // libvirtd stopped answering: QEMU runs with
                            // -no-shutdown and will not exit by itself.
                            Err(e) if e.is_unreachable() && !graceful.expired() => Some(Err(e)),
                            _ => {
                                // A guest still booting misses the request
                                // (no ACPI handler yet): ask again.
                                if asked.elapsed() >= RESEND_SHUTDOWN && !graceful.expired() {
                                    asked = std::time::Instant::now();
                                    let _ = hv.shutdown(
                                        &name,
                                        how.mode,
                                        &graceful.cap(Duration::from_secs(5)),
                                    );
                                }
                                None
                            }
                        }
                    });
                    if let Some(Err(e)) = outcome {
                        return stop_without_hypervisor(t, &e, dl);
                    }
                    gone = outcome.is_some();
                    if gone {
                        ocf::info!("{name}: the guest shut down");
                    } else {
                        ocf::warn!("{name}: the guest did not shut down in time");
                    }
                }
                Err(HvError::NoDomain) => gone = true,
                Err(e) if e.is_unreachable() => {
                    return stop_without_hypervisor(t, &e, dl);
                }
                Err(e) => ocf::warn!("{name}: graceful shutdown refused: {e}"),
            }
        }
        if !gone {
            ocf::deadline::set_phase("destroy");
            // Keep a little for ending QEMU ourselves if destroy hangs.
            let fallback = if local_qemu(&t.uri) {
                (dl.remaining() / 4).min(Duration::from_secs(5))
            } else {
                Duration::ZERO
            };
            let destroy_dl = dl.keep_back(fallback);
            match hv.destroy(&name, &destroy_dl) {
                Ok(()) => ocf::info!("{name} destroyed"),
                Err(HvError::NoDomain) => {}
                Err(HvError::Failed(m)) => ocf::warn!("{name}: destroy: {m}"),
                Err(e) => return stop_without_hypervisor(t, &e, dl),
            }
        }
    }
    // Undefine what start defined, then re-read the state (RA#1293).
    ocf::deadline::set_phase("verifying the domain is gone");
    let end = dl.cap(dl.remaining());
    let verdict = end.poll(Duration::from_millis(200), || {
        match look(&end.cap(Duration::from_secs(5))) {
            Err(HvError::NoDomain) => Some(Ok(())),
            Ok(v) if !v.state.is_active() => {
                if v.persistent
                    && let Err(e) = hv.undefine(&name, &end.cap(Duration::from_secs(5)))
                {
                    ocf::warn!("{name} is stopped but could not be undefined: {e}");
                }
                Some(Ok(()))
            }
            Ok(_) => None,
            Err(e) if e.is_unreachable() => Some(Err(e)),
            Err(_) => None,
        }
    });
    match verdict {
        Some(Ok(())) => {
            ocf::info!("{name} is stopped");
            Ok(())
        }
        Some(Err(e)) => stop_without_hypervisor(t, &e, dl),
        None => Err(OcfError::generic(format!(
            "{name} is still running after destroy"
        ))),
    }
}

/// Does `uri` name a hypervisor on this host (no host part)?
pub fn local_hypervisor(uri: &str) -> bool {
    uri.split_once("://").is_some_and(|(_, rest)| {
        let host = rest.split(['/', '?']).next().unwrap_or("");
        host.is_empty() || host == "localhost"
    })
}

/// The drop-in that orders Pacemaker's `resource-agents-deps.target` after
/// libvirtd and pulls in `virt-guest-shutdown.target`, so at node shutdown
/// systemd stops Pacemaker (which stops or migrates the VMs) before libvirtd
/// and libvirt-guests kill them (RA#1087, PR RA#1105).
pub const SYSTEMD_DROPIN: &str = "\
# Written by ocf:rust:vm: stop cluster VMs before libvirtd at shutdown (RA#1087).
[Unit]
After=libvirtd.service
Wants=virt-guest-shutdown.target
After=virt-guest-shutdown.target
";

/// On a systemd node (`<root>/run/systemd/system` exists), install
/// [`SYSTEMD_DROPIN`] under `<root>/run/systemd/system` if it is not there
/// yet and reload systemd, bounded. Returns the path when it wrote it.
pub fn systemd_ordering(root: &Path, dl: &Deadline) -> Option<PathBuf> {
    let units = root.join("run/systemd/system");
    if !units.is_dir() {
        return None;
    }
    let dir = units.join("resource-agents-deps.target.d");
    let file = dir.join("ocf-rs-vm-libvirt.conf");
    // Written as root into a directory systemd trusts: relative to checked
    // directories, never through a link, replaced atomically.
    let written = ocf::files::TrustedDir::open(&units, None)
        .and_then(|u| u.subdir("resource-agents-deps.target.d", Some(0o755)))
        .and_then(|d| {
            let current = d.read("ocf-rs-vm-libvirt.conf", 4096).ok();
            if current.as_deref() == Some(SYSTEMD_DROPIN.as_bytes()) {
                return Ok(false);
            }
            d.replace("ocf-rs-vm-libvirt.conf", SYSTEMD_DROPIN.as_bytes(), 0o644)
                .map(|()| true)
        });
    match written {
        Ok(true) => {}
        Ok(false) => return None,
        Err(e) => {
            ocf::warn!("cannot write {}: {e}", file.display());
            return None;
        }
    }
    if root == Path::new("/") {
        let reload = Cmd::new("systemctl").arg("daemon-reload");
        if let Err(e) = exec::run(&reload, &dl.cap(Duration::from_secs(10))) {
            ocf::warn!("systemctl daemon-reload: {e}");
        }
    }
    ocf::info!("installed {} (RA#1087)", file.display());
    Some(file)
}

/// Is `uri` a QEMU driver on this host (so its emulators are in our /proc)?
pub fn local_qemu(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return false;
    };
    let driver = scheme.split('+').next().unwrap_or("");
    let host = rest.split(['/', '?']).next().unwrap_or("");
    matches!(driver, "qemu" | "kvm") && (host.is_empty() || host == "localhost")
}

/// Is `uri` libvirt's Xen (libxl) driver on this host, where `xl` can be
/// asked about a domain when libvirt cannot?
pub fn local_xen(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    scheme.split('+').next() == Some("xen") && (host.is_empty() || host == "localhost")
}

/// The xl toolstack, for Xen URIs when libvirt does not answer.
fn xl_tool() -> xl::Xl {
    xl::Xl {
        program: "xl".into(),
    }
}

/// Xen cannot run here at all: no xl, or xl finds no hypervisor.
fn no_xen_here(dl: &Deadline) -> bool {
    exec::which("xl").is_none()
        || matches!(
            xl_tool().lookup("Domain-0", &dl.cap(Duration::from_secs(5))),
            xl::Lookup::NoHypervisor(_)
        )
}

/// libvirt is unreachable during stop: decide by the QEMU process (found by
/// the recorded UUID when there is one), or for Xen by what xl says.
fn stop_without_hypervisor(t: &Target, why: &HvError, dl: &Deadline) -> OcfResult<()> {
    let name = t.name.as_str();
    if local_xen(&t.uri) {
        ocf::deadline::set_phase("stopping through xl without libvirt");
        let xl = xl_tool();
        let gone = |d: &Deadline| {
            exec::which("xl").is_none()
                || matches!(
                    xl.lookup(name, d),
                    xl::Lookup::Absent | xl::Lookup::NoHypervisor(_)
                )
        };
        if gone(&dl.cap(Duration::from_secs(10))) {
            ocf::info!("{name}: {why}; xl shows no such domain, so it is stopped");
            return Ok(());
        }
        ocf::warn!("{name}: {why}; destroying it with xl");
        if let Err(e) = xl.destroy(name, dl) {
            ocf::warn!("{e}");
        }
        return match dl.poll(Duration::from_millis(300), || gone(dl).then_some(())) {
            Some(()) => Ok(()),
            None => Err(OcfError::generic(format!(
                "cannot stop {name}: {why}, and xl still shows it after destroy"
            ))),
        };
    }
    if !local_qemu(&t.uri) {
        return Err(OcfError::generic(format!(
            "cannot stop {name}: {why}, and its emulator is not on this host to check"
        )));
    }
    ocf::deadline::set_phase("ending QEMU without libvirt");
    if qemu::pids_of(t.guest()).is_empty() {
        ocf::info!("{name}: {why}; no QEMU process of it runs, so it is stopped");
        return Ok(());
    }
    ocf::warn!("{name}: {why}; ending its QEMU process directly");
    if qemu::kill(t.guest(), Duration::from_secs(5), dl) {
        ocf::info!("{name}: its QEMU process is gone, so it is stopped");
        Ok(())
    } else {
        Err(OcfError::generic(format!(
            "{name}: {why}, and its QEMU process survived SIGKILL"
        )))
    }
}

/// save_config_on_stop: write libvirt's persistent XML back to the config
/// file when it differs, then (sync_config_on_stop) hand the file to csync2.
/// Where backingfile's overlay lives: next to the config file, named after
/// it up to its first dot (web.xml -> web.qcow2). VirtualDomain cuts the
/// whole path at its first dot, so a dot in a directory name breaks it.
pub fn overlay_path(config: &Path) -> PathBuf {
    let file = config
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = file.split('.').next().unwrap_or_default();
    config.with_file_name(format!("{stem}.qcow2"))
}

/// backingfile: (re)create the qcow2 overlay the domain runs on, when it is
/// missing or empty, or always with `stateless`. The backing format is read
/// from the image and passed with -F: qemu-img refuses -b without it since
/// QEMU 6.1, which breaks VirtualDomain's plain `qemu-img create -b`.
fn prepare_overlay(
    backing: &Path,
    overlay: &Path,
    stateless: bool,
    dl: &Deadline,
) -> OcfResult<()> {
    // qemu-img writes the overlay as root by its path: only in a directory
    // no one else can change (a link there is root's own doing).
    let (dir, file) = files::split(overlay).map_err(|e| OcfError::configured(e.to_string()))?;
    let dir_fd = files::checked_dir(&dir).map_err(|e| {
        OcfError::perm(format!(
            "backingfile: the overlay {} cannot be made safely: {e}",
            overlay.display()
        ))
    })?;
    let present = fs::metadata(overlay).is_ok_and(|m| m.len() > 0);
    if present && !stateless {
        ocf::info!("using the overlay {} (stateless=false)", overlay.display());
        return Ok(());
    }
    ocf::deadline::set_phase("creating the overlay");
    let step_dl = dl.cap(Duration::from_secs(30));
    let info = exec::run(
        &Cmd::new("qemu-img")
            .args(["info", "--output=json", "-U"])
            .arg(backing.as_os_str()),
        &step_dl,
    )
    .map_err(|e| OcfError::generic(format!("qemu-img info {}: {e}", backing.display())))?;
    if !info.success() {
        return Err(OcfError::generic(format!(
            "qemu-img info {}: {}",
            backing.display(),
            info.describe()
        )));
    }
    let format = image_format(&info.stdout_str()).ok_or_else(|| {
        OcfError::generic(format!("qemu-img info {}: no format", backing.display()))
    })?;
    // A fresh file of ours that only root can read until libvirt hands it
    // to the guest's user: the guest's writes are nobody else's business
    // (qemu-img would create it world-readable). Whatever had the name
    // (the old overlay, an empty leftover, a link) is removed, never
    // followed.
    files::remove_in(&dir_fd, &file)
        .and_then(|()| files::create_empty(&dir_fd, &file, 0o600))
        .map_err(|e| {
            OcfError::generic(format!(
                "cannot make a fresh overlay {}: {e}",
                overlay.display()
            ))
        })?;
    let out = exec::run(
        &Cmd::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-F", &format, "-b"])
            .arg(backing.as_os_str())
            .arg(overlay.as_os_str()),
        &step_dl,
    )
    .map_err(|e| OcfError::generic(format!("qemu-img create {}: {e}", overlay.display())))?;
    if !out.success() {
        return Err(OcfError::generic(format!(
            "cannot create the overlay {} on {}: {}",
            overlay.display(),
            backing.display(),
            out.describe()
        )));
    }
    ocf::info!(
        "created the overlay {} on {} ({format})",
        overlay.display(),
        backing.display()
    );
    Ok(())
}

/// The top image's `format` in `qemu-img info --output=json` (a plain
/// word: it goes on qemu-img's argv).
pub fn image_format(json: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let f = v["format"].as_str()?;
    (!f.is_empty()
        && f.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then(|| f.to_string())
}

fn save_config(hv: &dyn Backend, cfg: &Config, name: &str, dl: &Deadline) {
    if write_config(hv, cfg, name, dl) && cfg.sync_config {
        sync_config(cfg, dl);
    }
}

/// `csync2 -x FILE`, bounded; a failure is only logged (VirtualDomain does the same).
fn sync_config(cfg: &Config, dl: &Deadline) {
    let file = cfg.config.display().to_string();
    ocf::info!("syncing {file} to the other nodes with csync2 -x");
    let cmd = Cmd::new("csync2").arg("-x").arg(&file);
    match exec::run(&cmd, dl) {
        Ok(out) if out.success() => {}
        Ok(out) => ocf::warn!("csync2 -x {file} failed: {}", out.describe()),
        Err(e) => ocf::warn!("csync2 -x {file} failed: {e}"),
    }
}

/// Did the file change? The XML holds the guest's VNC/SPICE passwords
/// (it is read with the secure flag): it goes only into the config file,
/// through [`files::save`] (a checked directory, never through a link, the
/// old file's owner and mode, never readable by others while written), and
/// never into a log line or an exit reason.
fn write_config(hv: &dyn Backend, cfg: &Config, name: &str, dl: &Deadline) -> bool {
    let xml = match hv.config_xml(name, dl) {
        Ok(x) => x,
        Err(e) => {
            ocf::warn!("save_config_on_stop: cannot read the XML of {name}: {e}");
            return false;
        }
    };
    match domxml::parse(&xml) {
        Ok(d) if d.name == name => {}
        _ => {
            ocf::warn!("save_config_on_stop: libvirt's XML of {name} does not parse; not saved");
            return false;
        }
    }
    match files::save(&cfg.config, xml.as_bytes()) {
        Ok(files::Saved::Unchanged) => {
            ocf::debug!("{name}: the config file already holds libvirt's XML");
            false
        }
        Ok(files::Saved::Written(path)) => {
            if path == cfg.config {
                ocf::info!("saved the configuration of {name} to {}", path.display());
            } else {
                ocf::info!(
                    "saved the configuration of {name} to {} (the target of the link {})",
                    path.display(),
                    cfg.config.display()
                );
            }
            true
        }
        Err(e) => {
            ocf::warn!(
                "save_config_on_stop: not saved to {}: {e}",
                cfg.config.display()
            );
            false
        }
    }
}

// ---- monitor ----

fn monitor_on(
    hv: Result<&dyn Backend, HvError>,
    cfg: &Config,
    ctx: &Context,
    dl: &Deadline,
) -> OcfResult<Status> {
    let name = cfg.name()?.to_string();
    let look = |d: &Deadline| hv.clone().and_then(|h| h.lookup(&name, d));
    let mut view = look(&dl.share(0.5));
    let stopped = |v: &Result<backend::DomainView, HvError>| match v {
        Ok(v) => !v.state.is_active(),
        Err(e) => *e == HvError::NoDomain,
    };
    if stopped(&view) && !ctx.is_probe() {
        // A rebooting guest can vanish for a moment (RA#314): look again.
        let recheck = dl.cap((dl.remaining() / 3).min(Duration::from_secs(2)));
        while stopped(&view) && recheck.sleep(Duration::from_millis(500)) {
            view = look(&recheck.cap(Duration::from_secs(2)));
            if !stopped(&view) {
                ocf::info!("{name} is back after a moment");
            }
        }
    }
    match view {
        Ok(v) if v.state == DomState::Crashed => {
            Err(OcfError::generic(format!("{name} has crashed")))
        }
        Ok(v) if v.state.is_active() => {
            if let Ok(h) = hv {
                running_extras(h, cfg, ctx, &name, dl)?;
            }
            Ok(Status::Success)
        }
        Ok(v) => {
            if v.state == DomState::ShutOff(Shutoff::GuestShutdown)
                && cfg.respect_guest_shutdown
                && !ctx.is_probe()
            {
                respect_shutdown(ctx, &name, dl);
            }
            Err(OcfError::not_running(format!("{name} is {}", v.state)))
        }
        Err(HvError::NoDomain) => Err(OcfError::not_running(format!(
            "{name} is not running (not defined)"
        ))),
        Err(e) => match seen_without_hypervisor(&Target::named(&cfg.uri, &name), &e, dl) {
            Seen::Stopped => Err(OcfError::not_running(format!(
                "{e}; {name} does not run here"
            ))),
            // It runs, but cannot be managed: a probe says so; a recurring
            // monitor fails, and the stop that follows ends it (RA#1613).
            Seen::Running(what) if ctx.is_probe() => {
                ocf::warn!("cannot check {name} through libvirt: {what}");
                Ok(Status::Success)
            }
            Seen::Running(what) => Err(OcfError::generic(format!(
                "cannot check {name} through libvirt: {what}"
            ))),
            Seen::Unknown(why) => Err(OcfError::generic(why)),
        },
    }
}

/// What a monitor does for a running domain beyond its state.
fn running_extras(
    hv: &dyn Backend,
    cfg: &Config,
    ctx: &Context,
    name: &str,
    dl: &Deadline,
) -> OcfResult<()> {
    run_scripts(cfg, dl)?;
    let wants_any =
        cfg.util_cpu || cfg.util_memory || cfg.util_host_memory || !cfg.util_unset.is_empty();
    if wants_any && under_pacemaker(ctx) {
        update_utilization(hv, cfg, ctx, name, dl);
    }
    Ok(())
}

/// Pacemaker passes `crm_feature_set`; ocf-tester and hand runs do not.
fn under_pacemaker(ctx: &Context) -> bool {
    ctx.params.contains_key("crm_feature_set")
}

/// The utilization attributes to set, as `name=value` pairs.
pub fn utilization(cfg: &Config, size: backend::Size) -> Vec<(&'static str, String)> {
    let mut v = Vec::new();
    if cfg.util_cpu {
        v.push(("cpu", size.vcpus.to_string()));
    }
    if cfg.util_host_memory {
        v.push(("host_memory", size.memory_mib.to_string()));
    }
    if cfg.util_memory {
        v.push(("hv_memory", size.memory_mib.to_string()));
    }
    v
}

/// Where this node remembers the utilization it last wrote. Start and stop
/// remove it, so a re-created resource (or a replaced CIB) gets it again.
fn utilization_cache(ctx: &Context) -> String {
    let base = ocf::files::instance_file_name(&["vm", &ctx.instance]);
    format!("{base}.utilization")
}

/// Write utilization only when it differs from what this node last wrote
/// (cached under HA_RSCTMP): VirtualDomain writes the CIB on every monitor.
fn update_utilization(hv: &dyn Backend, cfg: &Config, ctx: &Context, name: &str, dl: &Deadline) {
    let Ok(size) = hv.size(name, &dl.share(0.5)) else {
        return;
    };
    let wanted = utilization(cfg, size);
    let mut line: String = wanted.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    line.extend(cfg.util_unset.iter().map(|k| format!("-{k}\n")));
    let cache = utilization_cache(ctx);
    if files::state_read(ctx, &cache).is_some_and(|c| c == line) {
        return;
    }
    for (k, v) in &wanted {
        if let Err(e) = ocf::cluster::set_resource_utilization(&ctx.instance, k, v, &dl.share(0.5))
        {
            ocf::warn!("cannot set utilization {k}={v}: {e}");
            return;
        }
    }
    for k in &cfg.util_unset {
        if let Err(e) = ocf::cluster::delete_resource_utilization(&ctx.instance, k, &dl.share(0.5))
        {
            ocf::warn!("cannot remove utilization {k}: {e}");
            return;
        }
    }
    let set: Vec<String> = wanted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let removed = if cfg.util_unset.is_empty() {
        String::new()
    } else {
        format!("; removed: {}", cfg.util_unset.join(" "))
    };
    ocf::info!(
        "{name}: utilization of {} set: {}{removed}",
        ctx.instance,
        set.join(" ")
    );
    files::state_write(ctx, &cache, &line);
}

fn respect_shutdown(ctx: &Context, name: &str, dl: &Deadline) {
    let rsc = ctx.instance_base();
    match ocf::cluster::set_resource_meta(rsc, "target-role", "Stopped", &dl.share(0.8)) {
        Ok(()) => ocf::info!(
            "{name}: the guest shut itself down cleanly; respect_guest_shutdown set \
             target-role=Stopped on {rsc} so the cluster leaves it stopped"
        ),
        Err(e) => ocf::warn!(
            "{name}: the guest shut itself down, but target-role=Stopped could not be set \
             on {rsc}: {e}"
        ),
    }
}

// ---- migration ----

/// `node2.example.com` + `-mig` -> `node2-mig.example.com`.
pub fn with_suffix(node: &str, suffix: Option<&str>) -> String {
    match suffix {
        None | Some("") => node.to_string(),
        Some(s) => match node.split_once('.') {
            Some((first, rest)) => format!("{first}{s}.{rest}"),
            None => format!("{node}{s}"),
        },
    }
}

/// The target's hypervisor URI, from `remoteuri` or from the local URI.
pub fn remote_uri(cfg: &Config, target: &str) -> String {
    if let Some(r) = &cfg.remoteuri {
        return r.replace("%n", target);
    }
    let host = with_suffix(target, cfg.suffix.as_deref());
    let (scheme, rest) = cfg.uri.split_once("://").unwrap_or((&cfg.uri, ""));
    let (driver, transport) = match scheme.split_once('+') {
        Some((d, t)) => (d, Some(t)),
        None => (scheme, None),
    };
    let transport = cfg.transport.as_deref().or(transport);
    // Keep the path, drop the local authority and any query (?socket=...).
    let after_host = rest.find('/').map_or("/system", |i| &rest[i..]);
    let path = after_host.split('?').next().unwrap_or("/system");
    let user = cfg
        .user
        .as_deref()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let port = rest
        .split('/')
        .next()
        .and_then(|auth| auth.rsplit_once('@').map_or(Some(auth), |(_, h)| Some(h)))
        .and_then(|h| h.rsplit_once(':').map(|(_, p)| format!(":{p}")))
        .unwrap_or_default();
    match transport {
        Some(t) => format!("{driver}+{t}://{user}{host}{port}{path}"),
        None => format!("{driver}://{user}{host}{port}{path}"),
    }
}

/// Everything `migrate_to` hands to the backend.
pub fn migration(cfg: &Config, target: &str) -> Migration {
    let migrate_uri = match (&cfg.migrateuri, &cfg.suffix) {
        (Some(u), _) => Some(u.replace("%n", target)),
        (None, Some(_)) => Some(format!(
            "tcp://{}{}",
            with_suffix(target, cfg.suffix.as_deref()),
            cfg.migrateport.map(|p| format!(":{p}")).unwrap_or_default()
        )),
        (None, None) => None,
    };
    Migration {
        remote_uri: remote_uri(cfg, target),
        migrate_uri,
        flags: lv::MIGRATE_LIVE
            | lv::MIGRATE_PERSIST_DEST
            | lv::MIGRATE_UNDEFINE_SOURCE
            | cfg.migrate_flags,
        bandwidth: cfg.speed,
        downtime_ms: cfg.downtime_ms,
    }
}

#[cfg(test)]
mod tests;
