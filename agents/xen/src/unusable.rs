//! Stop and probe when the configuration cannot be used (the xmfile gone, a
//! name we refuse, a bad parameter, xl uninstalled): what the record and
//! the raw parameters still name, never "stopped" while it runs.

use std::path::PathBuf;
use std::time::Duration;

use ocf::exec;
use ocf::{Context, Deadline, OcfError, OcfResult, Status};

use crate::config::Config;
use crate::record::{Seen, Started, mark_stopped, raw, xl_arg_safe};
use crate::stop::{XlPlan, XlTarget, seen, stop_plan};
use crate::xl::{self, Xl};

/// The configuration cannot be used here (xmfile missing, a name we
/// refuse, a bad parameter, xl gone): stop what the record and the raw
/// parameters still name, and answer 0 only when none of it runs.
pub fn stop_unconfigured(
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
pub fn probe_unconfigured(
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
    if let Some(Started {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let rec = Started {
            program: "/nonexistent/xl".into(),
            name: "web1".into(),
            uuid: Some("u-1".into()),
        };
        assert_eq!(names(None, None, Some(&rec)), ["web1"], "only the record");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
