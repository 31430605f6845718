//! `ocf:rust:xen`: a Xen domain managed through the `xl` toolstack, the
//! replacement for `ocf:heartbeat:Xen` with its parameter names. The same
//! code is the native Xen backend of `ocf:rust:vm` (its `xmfile` parameter).
//!
//! Same shape as every agent: parameter and action tables, a `Config` built
//! from validated parameters, an environment check, then the actions. What it
//! does better than the shell agent: every `xl` call is bounded; "not
//! running" is re-checked before a recurring monitor says so (a rebooting
//! guest vanishes for a moment, RA#314); stop escalates to a bounded destroy
//! inside one budget that keeps a reserve for it, and verifies the domain is
//! gone instead of looping until Pacemaker kills it; the mid-migration names
//! of a domain are stopped too.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use ocf::exec::{self, Cmd};
use ocf::params::checks;
use ocf::{
    ActionSpec, AgentInfo, Context, Deadline, OcfError, OcfResult, ParamSpec, Params, Status,
};

use crate::identity::{Seen, Started, raw, xl_arg_safe};
use crate::xl::{self, Lookup, State, Xl};

pub static XMFILE: ParamSpec = ParamSpec::new(
    "xmfile",
    "Xen domain configuration file",
    "Absolute path to the xl configuration file of the domain (the file given to \
     `xl create`). It must exist on every node that may run the domain.",
)
.required()
.unique()
.check(checks::absolute_path);

pub static NAME: ParamSpec = ParamSpec::new(
    "name",
    "Domain name",
    "Name of the domain. Default: the `name` setting in xmfile (read as xl reads it), \
     else the resource name. Letters, digits and . _ - + : @ only, not starting with -, at \
     most 64 characters: \
     start refuses any other name, while stop and probe still find a domain by it and by \
     what start recorded.",
)
.unique()
.check(check_domain_name);

pub static SHUTDOWN_TIMEOUT: ParamSpec = ParamSpec::new(
    "shutdown_timeout",
    "Seconds to wait for a graceful shutdown",
    "How long stop waits for the guest to shut down before it destroys it. 0 destroys at \
     once. Default: two thirds of the stop timeout. Whatever the value, stop keeps a third of \
     its timeout (at least 10 s where the timeout allows) for the destroy, so a stop never \
     outlives its timeout.",
)
.integer(0, 86400);

pub static SHUTDOWN_ACPI: ParamSpec = ParamSpec::new(
    "shutdown_acpi",
    "Shut down with the ACPI power button",
    "Ask the guest to shut down with `xl trigger <domain> power` (an ACPI power-button \
     event, for HVM guests without PV drivers) instead of `xl shutdown`.",
)
.boolean()
.default("false");

pub static NODE_IP_ATTRIBUTE: ParamSpec = ParamSpec::new(
    "node_ip_attribute",
    "Node attribute with the migration address",
    "Name of a node attribute that holds the address live migration sends the domain to; \
     migrate_to reads it for the target node (`crm_attribute --type nodes`). Default: the \
     target node's name. Either must be an IP address or a host name: xl hands it to ssh \
     through a shell, so migrate_to refuses anything else.",
)
.check(check_attribute_name);

pub static AUTOSET_CPU: ParamSpec = ParamSpec::new(
    "autoset_utilization_cpu",
    "Set the cpu utilization from the domain",
    "Put the domain's vCPU count into the resource's utilization attribute `cpu` (for \
     placement-strategy=utilization). Written only when it changes.",
)
.boolean()
.default("false");

pub static AUTOSET_HV_MEMORY: ParamSpec = ParamSpec::new(
    "autoset_utilization_hv_memory",
    "Set the hv_memory utilization from the domain",
    "Put the domain's maximum memory in MiB into the resource's utilization attribute \
     `hv_memory`. Written only when it changes.",
)
.boolean()
.default("false");

pub static MONITOR_SCRIPTS: ParamSpec = ParamSpec::new(
    "monitor_scripts",
    "Extra checks of the guest",
    "Space-separated absolute paths of programs run (without a shell) on every monitor \
     while the domain runs; any failing makes the monitor fail. start and migrate_from wait \
     until they all pass. Each runs under the action's deadline.",
)
.check(check_scripts);

pub static ALLOW_MEM_MANAGEMENT: ParamSpec = ParamSpec::new(
    "allow_mem_management",
    "Share the host's memory between the domains",
    "On start, stop and migration, divide the host's memory (`xl info` total_memory) less \
     reserved_Dom0_memory evenly between the running guest domains: `xl mem-set` for each, \
     and the starting domain gets its share as `xl create ... memory=N` (the xmfile is not \
     edited, unlike ocf:heartbeat:Xen).",
)
.boolean()
.default("false");

pub static RESERVED_DOM0_MEMORY: ParamSpec = ParamSpec::new(
    "reserved_Dom0_memory",
    "Memory kept for Domain-0 (MiB)",
    "With allow_mem_management: the MiB of the host's memory left out of the guests' shares.",
)
.integer(0, 1 << 40)
.default("512");

pub static BINARY: ParamSpec = ParamSpec::new(
    "binary",
    "The xl program",
    "The xl toolstack program, found on PATH unless it is a path.",
)
.default("xl");

pub static PARAMS: [ParamSpec; 11] = [
    XMFILE,
    NAME,
    SHUTDOWN_TIMEOUT,
    SHUTDOWN_ACPI,
    NODE_IP_ATTRIBUTE,
    AUTOSET_CPU,
    AUTOSET_HV_MEMORY,
    MONITOR_SCRIPTS,
    ALLOW_MEM_MANAGEMENT,
    RESERVED_DOM0_MEMORY,
    BINARY,
];

pub static ACTIONS: [ActionSpec; 7] = [
    ActionSpec::new("start", 60),
    ActionSpec::new("stop", 40),
    ActionSpec::new("monitor", 30).interval(10).depth(0),
    ActionSpec::new("migrate_to", 120),
    ActionSpec::new("migrate_from", 120),
    ActionSpec::new("validate-all", 5),
    ActionSpec::new("meta-data", 5),
];

pub static INFO: AgentInfo = AgentInfo {
    name: "xen",
    shortdesc: "Xen domain through the xl toolstack",
    longdesc: "Manages a Xen domain (domU) with the xl toolstack: xl create, shutdown or the \
        ACPI power button, destroy, list and migrate, each bounded by the action's deadline. \
        The replacement for ocf:heartbeat:Xen, with its parameter names. Live migration \
        needs meta allow-migrate=true.",
    params: &PARAMS,
    actions: &ACTIONS,
};

fn check_domain_name(v: &str) -> Result<(), String> {
    if v.len() > 64 {
        return Err("must be at most 64 characters".into());
    }
    if !v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-+:@".contains(&b))
    {
        return Err("may only contain letters, digits and . _ - + : @".into());
    }
    // Read as an option by any tool it reaches without `--` (our own xl
    // calls pass `--`): refused at the source, for start.
    if v.starts_with('-') {
        return Err("must not start with '-'".into());
    }
    Ok(())
}

fn check_attribute_name(v: &str) -> Result<(), String> {
    if v.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        Ok(())
    } else {
        Err("may only contain letters, digits and . _ -".into())
    }
}

fn check_scripts(v: &str) -> Result<(), String> {
    v.split_whitespace().try_for_each(checks::absolute_path)
}

/// The Xen resource, from validated parameters (no files read yet).
#[derive(Clone, Debug)]
pub struct Config {
    pub xmfile: PathBuf,
    pub name: Option<String>,
    pub shutdown_timeout: Option<Duration>,
    pub acpi: bool,
    pub node_ip_attribute: Option<String>,
    pub util_cpu: bool,
    pub util_memory: bool,
    pub monitor_scripts: Vec<PathBuf>,
    /// allow_mem_management: the MiB reserved for Domain-0.
    pub mem_reserved: Option<u64>,
    pub xl: Xl,
    /// The domain's name, resolved once by the environment check.
    domain: OnceLock<String>,
}

impl Config {
    /// Defaults for `xmfile` (ocf:rust:vm's native Xen backend fills in the rest).
    pub fn for_xmfile(xmfile: PathBuf) -> Config {
        Config {
            xmfile,
            name: None,
            shutdown_timeout: None,
            acpi: false,
            node_ip_attribute: None,
            util_cpu: false,
            util_memory: false,
            monitor_scripts: Vec::new(),
            mem_reserved: None,
            xl: Xl {
                program: "xl".into(),
            },
            domain: OnceLock::new(),
        }
    }

    /// The domain's name: the parameter, else `name=` in xmfile as xl reads
    /// it, else the resource; refused (6) when our check refuses it, since
    /// start passes it to `xl create` as `name="..."`.
    pub fn domain_name(&self, ctx: &Context) -> OcfResult<&str> {
        if let Some(n) = self.domain.get() {
            return Ok(n);
        }
        let name = match &self.name {
            Some(n) => n.clone(),
            None => {
                let bytes = crate::files::read_config(&self.xmfile).map_err(|e| {
                    OcfError::installed(format!(
                        "cannot read xmfile {}: {e}",
                        self.xmfile.display()
                    ))
                })?;
                let text = String::from_utf8_lossy(&bytes);
                let name =
                    xl::config_name(&text).unwrap_or_else(|| ctx.instance_base().to_string());
                check_domain_name(&name).map_err(|why| {
                    OcfError::configured(format!(
                        "domain name {name:?} from {} {why}",
                        self.xmfile.display()
                    ))
                })?;
                name
            }
        };
        Ok(self.domain.get_or_init(|| name))
    }

    /// The plan stop and monitor follow: the configured domain, and the one
    /// the record names when that is another (the configuration changed
    /// while it ran).
    fn plan(&self, name: &str, ctx: &Context) -> XlPlan {
        let mut targets = vec![XlTarget::named(name)];
        if let Some(Started::Xl { name, uuid, .. }) = Started::load(ctx) {
            targets.push(XlTarget::recorded(&name, uuid));
        }
        XlPlan {
            xl: self.xl.clone(),
            targets,
            acpi: self.acpi,
            grace: self.shutdown_timeout,
        }
    }
}

/// A domain stop or a monitor looks for through xl.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XlTarget {
    pub name: String,
    pub uuid: Option<String>,
    /// Known only from the record: a same-named domain with another UUID is
    /// someone else's.
    pub strict: bool,
}

impl XlTarget {
    /// A domain the configuration names: ours by name.
    pub fn named(name: &str) -> XlTarget {
        XlTarget {
            name: name.to_string(),
            uuid: None,
            strict: false,
        }
    }

    /// The domain the record names, confirmed by its UUID when known.
    pub fn recorded(name: &str, uuid: Option<String>) -> XlTarget {
        XlTarget {
            name: name.to_string(),
            strict: uuid.is_some(),
            uuid,
        }
    }
}

/// What stop and a probe act on through xl, and how stop asks.
#[derive(Clone, Debug)]
pub struct XlPlan {
    pub xl: Xl,
    pub targets: Vec<XlTarget>,
    pub acpi: bool,
    /// shutdown_timeout; None: two thirds of the stop's timeout.
    pub grace: Option<Duration>,
}

pub struct Xen;

impl ocf::Agent for Xen {
    type Config = Config;

    fn info() -> &'static AgentInfo {
        &INFO
    }

    fn configure(p: &Params, _ctx: &Context) -> OcfResult<Config> {
        Ok(Config {
            xmfile: PathBuf::from(p.string(&XMFILE).unwrap_or_default()),
            name: p.string(&NAME).map(str::to_string),
            shutdown_timeout: p
                .integer(&SHUTDOWN_TIMEOUT)
                .map(|s| Duration::from_secs(s as u64)),
            acpi: p.boolean(&SHUTDOWN_ACPI),
            node_ip_attribute: p.string(&NODE_IP_ATTRIBUTE).map(str::to_string),
            util_cpu: p.boolean(&AUTOSET_CPU),
            util_memory: p.boolean(&AUTOSET_HV_MEMORY),
            monitor_scripts: p
                .string(&MONITOR_SCRIPTS)
                .unwrap_or("")
                .split_whitespace()
                .map(PathBuf::from)
                .collect(),
            mem_reserved: p
                .boolean(&ALLOW_MEM_MANAGEMENT)
                .then(|| p.integer(&RESERVED_DOM0_MEMORY).unwrap_or(512).max(0) as u64),
            xl: Xl {
                program: p.string(&BINARY).unwrap_or("xl").to_string(),
            },
            domain: OnceLock::new(),
        })
    }

    fn check_environment(cfg: &Config, ctx: &Context) -> OcfResult<()> {
        if exec::which(&cfg.xl.program).is_none() {
            return Err(OcfError::installed(format!(
                "the xl toolstack ({}) is not installed",
                cfg.xl.program
            )));
        }
        if !cfg.xmfile.is_file() {
            return Err(OcfError::installed(format!(
                "xmfile {} does not exist on this node",
                cfg.xmfile.display()
            )));
        }
        cfg.domain_name(ctx).map(drop)
    }

    fn start(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        let name = cfg.domain_name(ctx)?.to_string();
        // From here on an absent domain may be ours and rebooting.
        crate::files::state_remove(ctx, &stopped_marker(ctx));
        refuse_over_recorded(cfg, ctx, &name, dl)?;
        let started = Started::Xl {
            program: cfg.xl.program.clone(),
            name: name.clone(),
            uuid: None,
        };
        match cfg.xl.lookup(&name, dl) {
            Lookup::Found { state, .. } if state.is_alive() => {
                ocf::info!("domain {name} is already running");
                record_uuid(cfg, ctx, started, dl);
                return Ok(());
            }
            Lookup::Found { state, .. } => {
                // A shut-down or crashed leftover would make `xl create` fail.
                ocf::info!("domain {name} is {state:?}: destroying the leftover first");
                cfg.xl.destroy(&name, dl).map_err(OcfError::generic)?;
            }
            Lookup::Absent => {}
            Lookup::NoHypervisor(why) => return Err(OcfError::installed(why)),
            Lookup::Unknown(why) => return Err(OcfError::generic(why)),
        }
        let share = share_memory(cfg, 1, dl);
        // Recorded before it exists: a start that fails half-way leaves
        // what stop needs.
        started.save(ctx);
        ocf::deadline::set_phase("xl create");
        cfg.xl
            .create(&cfg.xmfile, &name, share, dl)
            .map_err(OcfError::generic)?;
        ocf::deadline::set_phase("waiting for the domain to run");
        record_uuid(cfg, ctx, started, &dl.cap(Duration::from_secs(5)));
        wait_running(cfg, &name, dl)?;
        update_utilization(cfg, ctx, &name, dl, true);
        ocf::info!("domain {name} started");
        Ok(())
    }

    fn stop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        let name = cfg.domain_name(ctx)?.to_string();
        stop_plan(&cfg.plan(&name, ctx), ctx, dl)?;
        mark_stopped(ctx);
        share_memory(cfg, 0, dl);
        Ok(())
    }

    fn monitor(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
        let name = cfg.domain_name(ctx)?.to_string();
        let mut found = cfg.xl.lookup(&name, dl);
        if found == Lookup::Absent && !ctx.is_probe() && !is_marked_stopped(ctx) {
            // A rebooting guest is briefly gone: look again before saying 7,
            // or it gets started twice (RA#314).
            let recheck = dl.share(0.6);
            for _ in 0..5 {
                if !recheck.sleep(Duration::from_secs(1)) {
                    break;
                }
                found = cfg.xl.lookup(&name, dl);
                if found != Lookup::Absent {
                    ocf::info!("domain {name} is back after a moment away (rebooting?)");
                    break;
                }
            }
        }
        let configured = match found {
            Lookup::Found { state, .. } if state.is_alive() => {
                run_monitor_scripts(cfg, dl)?;
                if !ctx.is_probe() {
                    update_utilization(cfg, ctx, &name, dl, false);
                }
                Ok(Status::Success)
            }
            Lookup::Found {
                state: State::Crashed,
                ..
            } => Err(OcfError::generic(format!("domain {name} has crashed"))),
            Lookup::Found { state, .. } => Err(OcfError::not_running(format!(
                "domain {name} is not running ({state:?})"
            ))),
            Lookup::Absent => Err(OcfError::not_running(format!(
                "domain {name} is not running"
            ))),
            Lookup::NoHypervisor(why) => Err(OcfError::not_running(format!(
                "no Xen hypervisor on this node ({why})"
            ))),
            Lookup::Unknown(why) => Err(OcfError::generic(why)),
        };
        with_recorded(cfg, ctx, &name, configured, dl)
    }

    fn migrate_to(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        let name = cfg.domain_name(ctx)?.to_string();
        let target = ctx.migrate_target().ok_or_else(|| {
            OcfError::generic("migrate_to needs a target node (CRM_meta_migrate_target)")
        })?;
        match cfg.xl.lookup(&name, dl) {
            Lookup::Found { state, .. } if state.is_alive() => {}
            Lookup::Unknown(why) => return Err(OcfError::generic(why)),
            _ => {
                return Err(OcfError::generic(format!(
                    "domain {name} is not running here: nothing to migrate"
                )));
            }
        }
        let address = match &cfg.node_ip_attribute {
            Some(attr) => match ocf::cluster::node_attribute(target, attr, dl) {
                Ok(Some(a)) if !a.is_empty() => a,
                Ok(_) => {
                    return Err(OcfError::generic(format!(
                        "node {target} has no attribute {attr} with its migration address"
                    )));
                }
                Err(e) => return Err(OcfError::generic(format!("reading {attr}: {e}"))),
            },
            None => target.to_string(),
        };
        // xl runs `exec ssh ADDRESS xl migrate-receive` through a shell.
        if let Err(why) = xl::migration_host(&address) {
            let whose = match &cfg.node_ip_attribute {
                Some(attr) => format!("node attribute {attr} of {target}"),
                None => format!("the node name of {target}"),
            };
            return Err(OcfError::args(format!(
                "cannot migrate domain {name}: the migration address ({whose}) {why}"
            )));
        }
        ocf::info!("migrating domain {name} to {target} ({address})");
        ocf::deadline::set_phase("xl migrate");
        cfg.xl
            .migrate(&name, &address, dl)
            .map_err(OcfError::generic)?;
        ocf::info!("domain {name} migrated to {target}");
        // It left this node: the stop that follows has nothing to wait for.
        mark_stopped(ctx);
        ocf::Record::forget(ctx);
        share_memory(cfg, 0, dl);
        Ok(())
    }

    fn migrate_from(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        let name = cfg.domain_name(ctx)?.to_string();
        let source = ctx.migrate_source().ok_or_else(|| {
            OcfError::generic("migrate_from needs a source node (CRM_meta_migrate_source)")
        })?;
        crate::files::state_remove(ctx, &stopped_marker(ctx));
        refuse_over_recorded(cfg, ctx, &name, dl)?;
        let started = Started::Xl {
            program: cfg.xl.program.clone(),
            name: name.clone(),
            uuid: None,
        };
        started.save(ctx);
        ocf::deadline::set_phase("waiting for the migrated domain");
        wait_running(cfg, &name, dl)?;
        record_uuid(cfg, ctx, started, &dl.cap(Duration::from_secs(5)));
        update_utilization(cfg, ctx, &name, dl, true);
        share_memory(cfg, 0, dl);
        ocf::info!("domain {name} arrived from {source}");
        Ok(())
    }

    /// The configuration cannot be used here (xmfile missing, a name we
    /// refuse, a bad parameter, xl gone): stop what the record and the raw
    /// parameters still name, and answer 0 only when none of it runs.
    fn stop_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&ocf::Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<()> {
        let recorded = rec.and_then(Started::from_record);
        let plan = unusable_plan(UnusableXl::xen(cfg, ctx), recorded.as_ref(), ctx);
        stop_unusable(plan, recorded.is_some(), ctx, why, dl)
    }

    /// A probe in the same situation: 7 only when none of it runs.
    fn probe_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&ocf::Record>,
        ctx: &Context,
        _why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<Status> {
        let recorded = rec.and_then(Started::from_record);
        let plan = unusable_plan(UnusableXl::xen(cfg, ctx), recorded.as_ref(), ctx);
        probe_unusable(plan, recorded.is_some(), dl)
    }
}

/// Start must not replace a record whose domain still runs here (another
/// domain, from before the configuration changed): the cluster stops the
/// resource first, and that stop ends both.
fn refuse_over_recorded(cfg: &Config, ctx: &Context, name: &str, dl: &Deadline) -> OcfResult<()> {
    let Some(Started::Xl {
        name: prev, uuid, ..
    }) = Started::load(ctx)
    else {
        return Ok(());
    };
    if prev == name {
        return Ok(());
    }
    let plan = XlPlan {
        xl: cfg.xl.clone(),
        targets: vec![XlTarget::recorded(&prev, uuid)],
        acpi: cfg.acpi,
        grace: None,
    };
    match seen(&plan, &dl.cap(Duration::from_secs(15))) {
        Seen::Stopped => Ok(()),
        Seen::Running(what) | Seen::Unknown(what) => Err(OcfError::generic(format!(
            "{what}: this resource started it here before its configuration changed to \
             domain {name}; stop the resource first (its stop ends both)"
        ))),
    }
}

/// Complete the record with the UUID xl gives the domain (best effort).
fn record_uuid(cfg: &Config, ctx: &Context, started: Started, dl: &Deadline) {
    match cfg.xl.details(started.name(), dl) {
        Ok(xl::Details { uuid: Some(u), .. }) => started.with_uuid(&u).save(ctx),
        Ok(_) => started.save(ctx),
        Err(e) => {
            ocf::debug!("no UUID yet for {}: {e}", started.name());
            started.save(ctx)
        }
    }
}

/// A monitor also answers for the domain the record names when that is
/// not the configured one (the configuration changed while it ran, or the
/// domain was renamed): a probe calls the resource running; a recurring
/// monitor fails, so the cluster's stop (which ends it) follows.
fn with_recorded(
    cfg: &Config,
    ctx: &Context,
    name: &str,
    configured: OcfResult<Status>,
    dl: &Deadline,
) -> OcfResult<Status> {
    let Some(Started::Xl { name: rn, uuid, .. }) = Started::load(ctx) else {
        return configured;
    };
    // The same name: only a domain renamed under us (found by its UUID)
    // can hide behind a "not running".
    let absent = matches!(&configured, Err(e) if e.status == Status::NotRunning);
    if rn == name && !(absent && uuid.is_some()) {
        return configured;
    }
    let plan = XlPlan {
        xl: cfg.xl.clone(),
        targets: vec![XlTarget::recorded(&rn, uuid)],
        acpi: cfg.acpi,
        grace: None,
    };
    crate::identity::with_recorded(seen(&plan, dl), configured, ctx)
}

/// How long stop keeps looking for a domain it did not find at first
/// (ocf:heartbeat:Xen: 5 tries 1 s apart, RA#314), and after the domain
/// went away (a guest that reboots instead of halting comes back at once).
const RECHECK: Duration = Duration::from_secs(5);
const SETTLE: Duration = Duration::from_secs(2);

/// The names the targets go by now. A recorded UUID finds its domain
/// whatever its name (`xl rename`); a same-named domain with another UUID is
/// someone else's and is left alone.
fn resolve(xl: &Xl, targets: &[XlTarget], dl: &Deadline) -> Vec<String> {
    let ids = if targets.iter().any(|t| t.uuid.is_some()) {
        match xl.identities(&dl.cap(Duration::from_secs(10))) {
            Ok(ids) => Some(ids),
            Err(e) => {
                ocf::warn!("{e}; looking for the recorded domain by name only");
                None
            }
        }
    } else {
        None
    };
    let mut names: Vec<String> = Vec::new();
    for t in targets {
        let name = match (&t.uuid, &ids) {
            (Some(u), Some(ids)) => match ids.iter().find(|(_, id)| id.eq_ignore_ascii_case(u)) {
                Some((n, _)) => {
                    if *n != t.name {
                        ocf::info!("domain {} (UUID {u}) is now named {n}", t.name);
                    }
                    n.clone()
                }
                None if t.strict && ids.iter().any(|(n, _)| *n == t.name) => {
                    ocf::warn!(
                        "a domain named {} runs here with another UUID than the {u} \
                         recorded at start: not this resource's, left alone",
                        t.name
                    );
                    continue;
                }
                None => t.name.clone(),
            },
            _ => t.name.clone(),
        };
        if xl_arg_safe(&name) && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Which of the names, and their mid-migration forms, xl shows here.
fn present(xl: &Xl, bases: &[String], dl: &Deadline) -> Result<Vec<(String, State)>, String> {
    let mut here = Vec::new();
    for base in bases {
        for n in names_of(base) {
            match xl.lookup(&n, &dl.cap(Duration::from_secs(10))) {
                Lookup::Found { state, .. } => here.push((n, state)),
                Lookup::Absent | Lookup::NoHypervisor(_) => {}
                Lookup::Unknown(why) => return Err(why),
            }
        }
    }
    Ok(here)
}

fn joined(here: &[(String, State)]) -> String {
    let names: Vec<&str> = here.iter().map(|(n, _)| n.as_str()).collect();
    names.join(", ")
}

/// Does anything of the plan run here (a probe's question)?
pub fn seen(plan: &XlPlan, dl: &Deadline) -> Seen {
    let bases = resolve(&plan.xl, &plan.targets, dl);
    let mut crashed = None;
    for base in &bases {
        for n in names_of(base) {
            match plan.xl.lookup(&n, &dl.cap(Duration::from_secs(10))) {
                Lookup::Found { state, .. } if state.is_alive() => {
                    return Seen::Running(format!("domain {n} ({state:?})"));
                }
                Lookup::Found {
                    state: State::Crashed,
                    ..
                } => crashed = Some(format!("domain {n} has crashed")),
                Lookup::Found { .. } | Lookup::Absent | Lookup::NoHypervisor(_) => {}
                Lookup::Unknown(why) => return Seen::Unknown(why),
            }
        }
    }
    crashed.map_or(Seen::Stopped, Seen::Unknown)
}

/// Stop every domain of the plan: a graceful shutdown for a budgeted share,
/// then destroy, then verify; and before answering 0, keep looking for a
/// while (bounded by the deadline): a rebooting guest is briefly absent and
/// would otherwise come back after a "stopped" and run twice (RA#314).
pub fn stop_plan(plan: &XlPlan, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let bases = resolve(&plan.xl, &plan.targets, dl);
    if bases.is_empty() {
        ocf::info!("no domain of this resource can be named here: nothing to stop");
        return Ok(());
    }
    let shown = bases.join(", ");
    let reserve = crate::destroy_reserve(dl.remaining());
    let grace = plan.grace.unwrap_or_else(|| ctx.timeout.mul_f64(2.0 / 3.0));
    let graceful = dl.keep_back(reserve).cap(grace);
    // After our own stop succeeded (and nothing started since), an absent
    // domain is no rebooting guest.
    let mut window = if is_marked_stopped(ctx) {
        Duration::ZERO
    } else {
        RECHECK
    };
    let mut asked = false;
    let look = |d: &Deadline| -> OcfResult<Vec<(String, State)>> {
        present(&plan.xl, &bases, d)
            .map_err(|why| OcfError::generic(format!("cannot tell whether {shown} runs: {why}")))
    };
    loop {
        ocf::deadline::set_phase("looking for the domain");
        let here = look(dl)?;
        if here.is_empty() {
            ocf::deadline::set_phase("making sure the domain stays away");
            let w = dl.cap(window);
            let back = (!window.is_zero())
                .then(|| {
                    w.poll(Duration::from_millis(500), || {
                        look(&w).ok().filter(|h| !h.is_empty())
                    })
                })
                .flatten();
            match back {
                None => {
                    ocf::info!("domain {shown} is stopped");
                    return Ok(());
                }
                Some(h) => {
                    ocf::warn!("domain {} is back (rebooting?): stopping it", joined(&h));
                    window = SETTLE;
                    continue;
                }
            }
        }
        if dl.expired() {
            return Err(OcfError::generic(format!(
                "domain {} is still there at the end of the stop's time",
                joined(&here)
            )));
        }
        // Only a live guest can hear a shutdown request; a crashed or
        // shut-down leftover goes straight to destroy.
        let base_here: Vec<&String> = here
            .iter()
            .filter(|(n, state)| bases.contains(n) && state.is_alive())
            .map(|(n, _)| n)
            .collect();
        if !asked && !grace.is_zero() && !graceful.expired() && !base_here.is_empty() {
            asked = true;
            ocf::deadline::set_phase("graceful shutdown");
            ocf::info!(
                "shutting down domain {} ({}), waiting up to {:.0}s",
                joined(&here),
                if plan.acpi {
                    "ACPI power button"
                } else {
                    "xl shutdown"
                },
                graceful.remaining().as_secs_f64()
            );
            let mut requested = false;
            for b in base_here {
                match plan.xl.shutdown(b, plan.acpi, &graceful) {
                    Ok(()) => requested = true,
                    Err(e) => ocf::warn!("shutdown request failed ({e}): destroying {b}"),
                }
            }
            if requested {
                let gone = graceful.poll(Duration::from_millis(500), || {
                    look(&graceful.cap(Duration::from_secs(10)))
                        .ok()
                        .filter(|h| h.is_empty())
                        .map(drop)
                });
                if gone.is_some() {
                    ocf::info!("domain {shown} shut down");
                    window = SETTLE;
                    continue;
                }
                ocf::warn!("domain {shown} did not shut down in time: destroying it");
            }
            continue;
        }
        asked = true;
        ocf::deadline::set_phase("xl destroy");
        for (n, _) in &here {
            if let Err(e) = plan.xl.destroy(n, dl) {
                ocf::warn!("{e}");
            }
        }
        ocf::deadline::set_phase("verifying the domain is gone");
        let gone = dl.poll(Duration::from_millis(300), || {
            look(dl).ok().filter(|h| h.is_empty()).map(drop)
        });
        if gone.is_none() {
            return Err(OcfError::generic(format!(
                "domain {} is still there after xl destroy (or xl does not answer)",
                joined(&here)
            )));
        }
        ocf::info!("domain {} destroyed", joined(&here));
        window = SETTLE;
    }
}

/// The xl program and stop settings when the configuration cannot be
/// used: the parsed ones if they parsed, else the raw parameters'.
pub struct UnusableXl {
    pub program: String,
    pub acpi: bool,
    pub grace: Option<Duration>,
    /// The configured name when it parsed (the `name` parameter).
    pub name: Option<String>,
    /// The raw xmfile, for the name xl would read from it.
    pub xmfile: Option<PathBuf>,
}

impl UnusableXl {
    /// From ocf:rust:xen's parameters.
    pub fn xen(cfg: Option<&Config>, ctx: &Context) -> UnusableXl {
        match cfg {
            Some(c) => UnusableXl {
                program: c.xl.program.clone(),
                acpi: c.acpi,
                grace: c.shutdown_timeout,
                name: c.name.clone(),
                xmfile: Some(c.xmfile.clone()),
            },
            None => UnusableXl {
                program: raw(ctx, "binary").unwrap_or("xl").to_string(),
                acpi: raw(ctx, "shutdown_acpi").and_then(ocf::params::parse_bool) == Some(true),
                grace: raw(ctx, "shutdown_timeout")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs),
                name: raw(ctx, "name").map(str::to_string),
                xmfile: raw(ctx, "xmfile").map(PathBuf::from),
            },
        }
    }
}

/// What stop and a probe look for when the configuration cannot be used:
/// the recorded domain (by UUID), and whatever the raw parameters still
/// name: `name`, else the name xl reads from the xmfile, and the resource's
/// own name where ocf:heartbeat:Xen would use it (no `name=` in the file,
/// a name with spaces or '%', or a file it cannot read). None when there
/// is no xl to ask.
pub fn unusable_plan(u: UnusableXl, recorded: Option<&Started>, ctx: &Context) -> Option<XlPlan> {
    let mut targets = Vec::new();
    let mut program = u.program;
    if let Some(Started::Xl {
        program: p,
        name,
        uuid,
    }) = recorded
    {
        targets.push(XlTarget::recorded(name, uuid.clone()));
        if exec::which(&program).is_none() {
            program = p.clone();
        }
    }
    match u.name.filter(|n| xl_arg_safe(n)) {
        Some(n) => targets.push(XlTarget::named(&n)),
        // No xmfile named at all: only the record is left.
        None if u.xmfile.is_none() => {}
        None => {
            let from_file = u
                .xmfile
                .as_ref()
                .and_then(|f| crate::files::read_config(f).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map(|text| xl::config_name(&text));
            let instance = XlTarget::named(ctx.instance_base());
            match from_file {
                Some(Some(n)) => {
                    if xl_arg_safe(&n) {
                        targets.push(XlTarget::named(&n));
                    }
                    if n.contains(|c: char| c.is_whitespace() || c == '%') {
                        targets.push(instance);
                    }
                }
                Some(None) | None => targets.push(instance),
            }
        }
    }
    exec::which(&program)?;
    Some(XlPlan {
        xl: Xl { program },
        targets,
        acpi: u.acpi,
        grace: u.grace,
    })
}

/// Stop with an unusable configuration. Without xl nothing can be looked
/// at: 0 only when nothing was started here.
pub fn stop_unusable(
    plan: Option<XlPlan>,
    recorded: bool,
    ctx: &Context,
    why: &OcfError,
    dl: &Deadline,
) -> OcfResult<()> {
    let Some(plan) = plan else {
        if recorded {
            return Err(OcfError::generic(format!(
                "stop: {}; the domain this resource started here cannot be stopped: \
                 the xl toolstack is not installed",
                why.reason
            )));
        }
        ocf::info!(
            "stop: {}; no xl toolstack and nothing started here: nothing runs",
            why.reason
        );
        return Ok(());
    };
    let names: Vec<&str> = plan.targets.iter().map(|t| t.name.as_str()).collect();
    ocf::warn!(
        "stop: {}; stopping what the record and the parameters still name: {}",
        why.reason,
        names.join(", ")
    );
    stop_plan(&plan, ctx, dl)?;
    mark_stopped(ctx);
    Ok(())
}

/// A probe with an unusable configuration: 7 only when none of it runs.
pub fn probe_unusable(plan: Option<XlPlan>, recorded: bool, dl: &Deadline) -> OcfResult<Status> {
    let Some(plan) = plan else {
        return if recorded {
            Err(OcfError::generic(
                "the xl toolstack is not installed: cannot tell whether the domain this \
                 resource started here runs",
            ))
        } else {
            Ok(Status::NotRunning)
        };
    };
    match seen(&plan, dl) {
        Seen::Running(what) => {
            ocf::warn!("{what}: it runs");
            Ok(Status::Success)
        }
        Seen::Stopped => Ok(Status::NotRunning),
        Seen::Unknown(why) => Err(OcfError::generic(format!(
            "cannot tell whether the domain runs: {why}"
        ))),
    }
}

/// allow_mem_management: give every running guest, and `starting` more
/// about to be created, an equal share of the host's memory less the
/// Domain-0 reserve (ocf:heartbeat:Xen's arithmetic). Returns the share for
/// the domain being created. Best effort, like the shell agent: a failure
/// is logged and the action goes on.
fn share_memory(cfg: &Config, starting: u64, dl: &Deadline) -> Option<u64> {
    let reserved = cfg.mem_reserved?;
    ocf::deadline::set_phase("memory management");
    let budget = dl.share(0.3);
    let plan = cfg.xl.total_memory(&budget).and_then(|total| {
        let running = cfg.xl.running_guests(&budget)?;
        Ok((total, running))
    });
    let (total, running) = match plan {
        Ok(p) => p,
        Err(e) => {
            ocf::warn!("allow_mem_management: {e}; memory left as it is");
            return None;
        }
    };
    let Some(share) = memory_share(total, reserved, running.len() as u64 + starting) else {
        ocf::warn!(
            "allow_mem_management: {total} MiB of memory less {reserved} MiB for Domain-0 \
             leaves nothing to share; memory left as it is"
        );
        return None;
    };
    for dom in &running {
        if let Err(e) = cfg.xl.mem_set(dom, share, &budget) {
            ocf::warn!("allow_mem_management: {e}");
        }
    }
    ocf::info!(
        "allow_mem_management: {share} MiB each for {} running and {starting} starting domain(s)",
        running.len()
    );
    Some(share)
}

/// (total - reserved) / domains, with at least one domain; None when
/// nothing is left.
pub fn memory_share(total_mib: u64, reserved_mib: u64, domains: u64) -> Option<u64> {
    let share = total_mib.checked_sub(reserved_mib)? / domains.max(1);
    (share > 0).then_some(share)
}

/// Poll until the domain runs and its monitor scripts pass, within `dl`.
fn wait_running(cfg: &Config, name: &str, dl: &Deadline) -> OcfResult<()> {
    let mut last = String::from("not seen yet");
    let ok = dl.poll(Duration::from_millis(500), || {
        match cfg.xl.lookup(name, &dl.cap(Duration::from_secs(10))) {
            Lookup::Found { state, .. } if state.is_alive() => match run_monitor_scripts(cfg, dl) {
                Ok(()) => return Some(()),
                Err(e) => last = e.reason,
            },
            other => last = format!("{other:?}"),
        }
        None
    });
    ok.ok_or_else(|| {
        OcfError::generic(format!(
            "domain {name} did not come up within the deadline (last seen: {last})"
        ))
    })
}

fn run_monitor_scripts(cfg: &Config, dl: &Deadline) -> OcfResult<()> {
    for script in &cfg.monitor_scripts {
        let out = exec::run(&Cmd::new(script), dl)
            .map_err(|e| OcfError::generic(format!("monitor script: {e}")))?;
        if !out.success() {
            return Err(OcfError::generic(format!(
                "monitor script {} failed: {}",
                script.display(),
                out.describe()
            )));
        }
    }
    Ok(())
}

/// The names a domain may have here: itself, and mid-migration forms (xm's
/// `migrating-NAME`, xl's `NAME--incoming` and `NAME--migratedaway`).
fn names_of(name: &str) -> [String; 4] {
    [
        name.to_string(),
        format!("migrating-{name}"),
        format!("{name}--incoming"),
        format!("{name}--migratedaway"),
    ]
}

/// Write vCPUs and memory into the resource's utilization, only on change.
/// Monitors compare with a cache under HA_RSCTMP (no CIB access when nothing
/// changed); start and migrate_from (`verify`) compare with the CIB itself,
/// since the resource may have been re-created since the cache was written.
fn update_utilization(cfg: &Config, ctx: &Context, name: &str, dl: &Deadline, verify: bool) {
    if !cfg.util_cpu && !cfg.util_memory {
        return;
    }
    let d = match cfg.xl.details(name, &dl.cap(Duration::from_secs(5))) {
        Ok(d) => d,
        Err(e) => {
            ocf::warn!("utilization not updated: {e}");
            return;
        }
    };
    let mut wanted = Vec::new();
    if cfg.util_cpu {
        wanted.push(("cpu", d.vcpus.to_string()));
    }
    if cfg.util_memory {
        wanted.push(("hv_memory", (d.max_memkb / 1024).to_string()));
    }
    let cache = utilization_cache(ctx);
    let line: String = wanted.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    let rsc = ctx.instance_base();
    let cib_has = |k: &str, v: &str| {
        ocf::cluster::resource_utilization(rsc, k, &dl.cap(Duration::from_secs(5)))
            .is_ok_and(|cur| cur.as_deref() == Some(v))
    };
    let unchanged = if verify {
        wanted.iter().all(|(k, v)| cib_has(k, v))
    } else {
        crate::files::state_read(ctx, &cache).is_some_and(|old| old == line)
    };
    if unchanged {
        crate::files::state_write(ctx, &cache, &line);
        return;
    }
    for (k, v) in &wanted {
        if let Err(e) =
            ocf::cluster::set_resource_utilization(rsc, k, v, &dl.cap(Duration::from_secs(5)))
        {
            ocf::warn!("utilization {k}={v} not written: {e}");
            return;
        }
    }
    ocf::info!(
        "utilization of {rsc} set: {}",
        line.trim().replace('\n', " ")
    );
    crate::files::state_write(ctx, &cache, &line);
}

/// The name of a file under HA_RSCTMP for this resource.
fn state_file(ctx: &Context, suffix: &str) -> String {
    let base = ocf::files::instance_file_name(&["xen", ctx.instance_base()]);
    format!("{base}.{suffix}")
}

fn utilization_cache(ctx: &Context) -> String {
    state_file(ctx, "utilization")
}

/// Present after this node's stop succeeded: an absent domain is then no
/// rebooting guest, and a recurring monitor need not look again. HA_RSCTMP
/// is cleared at boot.
fn stopped_marker(ctx: &Context) -> String {
    state_file(ctx, "stopped")
}

fn is_marked_stopped(ctx: &Context) -> bool {
    crate::files::state_read(ctx, &stopped_marker(ctx)).is_some()
}

fn mark_stopped(ctx: &Context) {
    crate::files::state_write(ctx, &stopped_marker(ctx), "");
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocf::Agent;

    fn configure(vars: &[(&str, &str)]) -> OcfResult<Config> {
        let c = Context::from_vars("xen", "start", vars.iter().copied());
        let p = Params::parse(&PARAMS, &c.params)?;
        Xen::configure(&p, &c)
    }

    #[test]
    fn tables_are_sane() {
        ocf::metadata::check_info(&INFO).unwrap();
    }

    #[test]
    fn memory_is_shared_as_the_shell_agent_does() {
        assert_eq!(memory_share(8704, 512, 2), Some(4096));
        assert_eq!(
            memory_share(8704, 512, 0),
            Some(8192),
            "the last one stopped"
        );
        assert_eq!(memory_share(8704, 512, 3), Some(2730));
        assert_eq!(memory_share(512, 512, 1), None);
        assert_eq!(memory_share(256, 512, 1), None);
        let c = configure(&[
            ("OCF_RESKEY_xmfile", "/etc/xen/vm/sentinel"),
            ("OCF_RESKEY_allow_mem_management", "true"),
        ])
        .unwrap();
        assert_eq!(c.mem_reserved, Some(512));
        let c = configure(&[("OCF_RESKEY_xmfile", "/etc/xen/vm/sentinel")]).unwrap();
        assert_eq!(c.mem_reserved, None);
        assert!(
            configure(&[
                ("OCF_RESKEY_xmfile", "/etc/xen/vm/sentinel"),
                ("OCF_RESKEY_reserved_Dom0_memory", "lots"),
            ])
            .is_err()
        );
    }

    #[test]
    fn parameters_are_validated() {
        let ok = configure(&[
            ("OCF_RESKEY_xmfile", "/etc/xen/vm/sentinel"),
            ("OCF_RESKEY_shutdown_timeout", "5"),
            (
                "OCF_RESKEY_monitor_scripts",
                "/usr/local/bin/a /usr/local/bin/b",
            ),
        ])
        .unwrap();
        assert_eq!(ok.shutdown_timeout, Some(Duration::from_secs(5)));
        assert_eq!(ok.monitor_scripts.len(), 2);
        assert_eq!(ok.xl.program, "xl");
        for (k, v) in [
            ("OCF_RESKEY_xmfile", "vm/sentinel"),
            ("OCF_RESKEY_name", "a b"),
            ("OCF_RESKEY_name", "x\"; rm -rf /"),
            ("OCF_RESKEY_shutdown_timeout", "soon"),
            ("OCF_RESKEY_monitor_scripts", "check.sh"),
            ("OCF_RESKEY_node_ip_attribute", "ip addr"),
        ] {
            let mut vars = vec![("OCF_RESKEY_xmfile", "/etc/xen/vm/x")];
            vars.retain(|(kk, _)| *kk != k);
            vars.push((k, v));
            assert_eq!(
                configure(&vars).unwrap_err().status,
                Status::ErrConfigured,
                "{k}={v}"
            );
        }
        assert_eq!(
            configure(&[]).unwrap_err().status,
            Status::ErrConfigured,
            "xmfile is required"
        );
    }

    /// What stop and a probe look for when the configuration is unusable:
    /// the record, `name`, the name xl reads from the xmfile, and the
    /// resource's name where ocf:heartbeat:Xen would use it.
    #[test]
    fn names_an_unusable_configuration_still_gives() {
        let dir = std::env::temp_dir().join(format!("xen-unusable-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("dom.cfg");
        let c = Context::from_vars("xen", "stop", [("OCF_RESOURCE_INSTANCE", "res1")]);
        let names = |xmfile: Option<&str>, name: Option<&str>, rec: Option<&Started>| {
            let u = UnusableXl {
                program: "sh".into(),
                acpi: false,
                grace: None,
                name: name.map(str::to_string),
                xmfile: xmfile.map(|_| file.clone()),
            };
            if let Some(text) = xmfile {
                std::fs::write(&file, text).unwrap();
            }
            let plan = unusable_plan(u, rec, &c).unwrap();
            plan.targets
                .iter()
                .map(|t| t.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(Some("name = \"web#1\" # x\n"), None, None), ["web#1"]);
        assert_eq!(
            names(Some("name = 'web server'\n"), None, None),
            ["web server", "res1"]
        );
        assert_eq!(names(Some("memory = 64\n"), None, None), ["res1"]);
        // Looked up after `--` (start refuses to create it).
        assert_eq!(names(Some("name = \"-x\"\n"), None, None), ["-x"]);
        assert_eq!(names(Some("name = \"a\"\n"), Some("b"), None), ["b"]);
        let rec = Started::Xl {
            program: "/nonexistent/xl".into(),
            name: "web1".into(),
            uuid: Some("u-1".into()),
        };
        assert_eq!(names(None, None, Some(&rec)), ["web1"], "only the record");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn mid_migration_names() {
        assert_eq!(
            names_of("vm1"),
            ["vm1", "migrating-vm1", "vm1--incoming", "vm1--migratedaway"]
        );
    }
}
