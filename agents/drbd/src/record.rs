//! What start recorded here (`ocf::Record`: the resource, its minors, the
//! drbdsetup it used), and what a stop or probe can still identify safely
//! when the configuration does not validate.

use ocf::exec::{self, Cmd};
use ocf::{Context, Deadline, OcfError, OcfResult, ParamSpec};

use crate::config::{Config, READ_CAP};
use crate::kernel::{module_version_with, sys_block_path};
use crate::params::{
    DRBD_RESOURCE, DRBDADM, DRBDCONF, DRBDSETUP, check_drbdconf, check_program, check_resource_name,
};
use crate::state::{self, ResourceState};
use crate::tools::{adm, run_tool};

/// What start recorded here (`ocf::Record`): the resource name, its minors
/// and the drbdsetup it used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub resource: String,
    pub drbdsetup: Option<String>,
    pub minors: Vec<u32>,
    pub v9: Option<bool>,
}

impl Recorded {
    pub fn load(ctx: &Context) -> Option<Recorded> {
        Recorded::from(&ocf::Record::load(ctx)?)
    }

    /// A record whose resource name we would refuse is not ours.
    pub fn from(rec: &ocf::Record) -> Option<Recorded> {
        let resource = rec.get("resource")?.to_string();
        check_resource_name(&resource).ok()?;
        Some(Recorded {
            resource,
            drbdsetup: rec
                .get("drbdsetup")
                .filter(|p| check_program(p).is_ok())
                .map(str::to_string),
            minors: parse_minors(rec.get("minors").unwrap_or("")),
            v9: rec.get("v9").map(|v| v == "yes"),
        })
    }
}

/// Minor numbers, one per word (`drbdadm sh-minor` lines, the record's list).
pub fn parse_minors(text: &str) -> Vec<u32> {
    let mut m: Vec<u32> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter_map(|w| w.parse().ok())
        .collect();
    m.sort_unstable();
    m.dedup();
    m
}

fn show_minors(m: &[u32]) -> String {
    m.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// Record, before start creates anything, the resource, its minors (from
/// drbd.conf: `drbdadm sh-minor`) and the drbdsetup that can take it down.
pub fn record_intent(cfg: &Config, ctx: &Context, v9: bool, dl: &Deadline) -> ocf::Record {
    let minors = adm(cfg, &["sh-minor", &cfg.resource], &dl.cap(READ_CAP))
        .map(|o| parse_minors(&o.stdout_str()))
        .unwrap_or_default();
    let setup = exec::which(&cfg.drbdsetup)
        .map(|p| p.into_os_string())
        .unwrap_or_else(|| cfg.drbdsetup.clone().into());
    let mut rec = ocf::Record::new()
        .with("resource", &cfg.resource)
        .with("drbdsetup", setup)
        .with("v9", if v9 { "yes" } else { "no" });
    if !minors.is_empty() {
        rec.set("minors", show_minors(&minors));
    }
    rec.save(ctx);
    rec
}

/// Complete the record with the minors the kernel reports (they are what a
/// renamed resource keeps).
pub fn record_minors(ctx: &Context, rec: &mut ocf::Record, st: &ResourceState) {
    let minors: Vec<u32> = parse_minors(
        &st.volumes
            .iter()
            .filter_map(|v| v.minor.map(|m| m.to_string()))
            .collect::<Vec<_>>()
            .join(","),
    );
    if !minors.is_empty() && rec.get("minors") != Some(show_minors(&minors).as_str()) {
        rec.set("minors", show_minors(&minors));
        rec.save(ctx);
    }
}

/// DRBD 9: the resource other than `known` that holds exactly the minors
/// start recorded (`drbdsetup rename-resource` keeps them). One
/// `events2 --now all`, only when the recorded name is gone.
pub fn renamed(
    setup: &str,
    rec: &Recorded,
    known: &[String],
    v9: bool,
    dl: &Deadline,
) -> OcfResult<Option<String>> {
    if !v9 || rec.minors.is_empty() {
        return Ok(None);
    }
    let cmd = Cmd::new(setup).args(["events2", "--now", "all"]);
    let Ok(out) = run_tool(cmd, &dl.cap(READ_CAP)) else {
        return Ok(None);
    };
    let Some((name, _)) = state::minors_by_resource(&out.stdout_str())
        .into_iter()
        .find(|(name, minors)| *minors == rec.minors && !known.contains(name))
    else {
        return Ok(None);
    };
    // A name from the kernel goes back to drbdadm/drbdsetup only when it
    // cannot read as an option (or as `all`); otherwise it is never passed
    // on, and what runs is not called stopped either.
    check_resource_name(&name).map_err(|why| {
        OcfError::generic(format!(
            "DRBD resource {name:?} holds the minors {} start recorded for {}, but its name {why}: \
             take it down by hand",
            show_minors(&rec.minors),
            rec.resource
        ))
    })?;
    Ok(Some(name))
}

/// Stop and probe without a usable configuration: what can still be
/// identified safely.
pub struct Unconfigured {
    /// The recorded resource; without a record (nothing started here since
    /// the last stop or reboot, or started by linbit's agent before a
    /// switch), the one the parameter names when it is a name we accept.
    /// Never both: with a record, another resource the parameter now names
    /// was not started by this instance.
    pub names: Vec<String>,
    pub rec: Option<Recorded>,
    /// The first usable drbdsetup: the recorded one, the parameter's, PATH's.
    pub drbdsetup: Option<String>,
    pub drbdadm: Option<String>,
    /// drbd.conf, for `drbdadm sh-minor` when nothing was recorded.
    pub drbdconf: Option<String>,
}

impl Unconfigured {
    pub fn new(cfg: Option<&Config>, rec: Option<&ocf::Record>, ctx: &Context) -> Unconfigured {
        let rec = rec.and_then(Recorded::from);
        let raw = |spec: &ParamSpec| ctx.params.get(spec.name).cloned();
        let param = cfg
            .map(|c| c.resource.clone())
            .or_else(|| raw(&DRBD_RESOURCE))
            .filter(|r| check_resource_name(r).is_ok());
        let names: Vec<String> = match &rec {
            Some(r) => vec![r.resource.clone()],
            None => param.into_iter().collect(),
        };
        let program = |spec: &ParamSpec, from_cfg: Option<String>, fallback: &str| {
            let mut candidates: Vec<String> = vec![];
            candidates.extend(from_cfg.or_else(|| raw(spec)));
            candidates.push(fallback.to_string());
            candidates
        };
        let mut setups: Vec<String> = rec.iter().filter_map(|r| r.drbdsetup.clone()).collect();
        setups.extend(program(
            &DRBDSETUP,
            cfg.map(|c| c.drbdsetup.clone()),
            "drbdsetup",
        ));
        let usable = |list: Vec<String>| {
            list.into_iter()
                .filter(|p| check_program(p).is_ok())
                .find(|p| exec::which(p).is_some())
        };
        Unconfigured {
            names,
            rec,
            drbdsetup: usable(setups),
            drbdadm: usable(program(&DRBDADM, cfg.map(|c| c.drbdadm.clone()), "drbdadm")),
            drbdconf: cfg
                .map(|c| c.drbdconf.clone())
                .or_else(|| raw(&DRBDCONF))
                .or_else(|| DRBDCONF.default.map(str::to_string))
                .filter(|c| check_drbdconf(c).is_ok()),
        }
    }

    pub fn module_version(&self, dl: &Deadline) -> Option<u32> {
        module_version_with(self.drbdadm.as_deref(), dl)
    }

    /// The resource's minors: recorded, or else from drbd.conf (`drbdadm
    /// sh-minor`, when drbdadm and drbd.conf still work).
    pub fn minors(&self, dl: &Deadline) -> Vec<u32> {
        if let Some(r) = self.rec.as_ref().filter(|r| !r.minors.is_empty()) {
            return r.minors.clone();
        }
        let (Some(adm), Some(conf), Some(name)) =
            (&self.drbdadm, &self.drbdconf, self.names.first())
        else {
            return vec![];
        };
        let cmd = Cmd::new(adm).args(["-c", conf.as_str(), "sh-minor", name.as_str()]);
        run_tool(cmd, &dl.cap(READ_CAP))
            .map(|o| parse_minors(&o.stdout_str()))
            .unwrap_or_default()
    }

    /// Without drbdsetup, /sys/block says whether minors exist: Some(true)
    /// when one of the resource's minors does (or, when they are unknown,
    /// any DRBD minor), Some(false) when none does, None when /sys/block
    /// cannot be read.
    pub fn minors_in_kernel(&self, dl: &Deadline) -> Option<bool> {
        let dir = sys_block_path();
        let entries = std::fs::read_dir(&dir).ok()?;
        let names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let minors = self.minors(dl);
        Some(if minors.is_empty() {
            names.iter().any(|n| {
                n.strip_prefix("drbd")
                    .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            })
        } else {
            minors.iter().any(|m| names.contains(&format!("drbd{m}")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_read_defensively() {
        let rec = ocf::Record::new()
            .with("resource", "r0")
            .with("drbdsetup", "/usr/sbin/drbdsetup")
            .with("minors", "3,1, 2")
            .with("v9", "yes");
        let r = Recorded::from(&rec).unwrap();
        assert_eq!(r.resource, "r0");
        assert_eq!(r.minors, [1, 2, 3]);
        assert_eq!(r.drbdsetup.as_deref(), Some("/usr/sbin/drbdsetup"));
        assert_eq!(r.v9, Some(true));
        // A name we would refuse is never acted on; a bad program is dropped.
        assert!(Recorded::from(&rec.clone().with("resource", "all")).is_none());
        assert!(Recorded::from(&rec.clone().with("resource", "-x")).is_none());
        let odd = Recorded::from(&rec.clone().with("drbdsetup", "bin/x;y")).unwrap();
        assert_eq!(odd.drbdsetup, None);
        assert_eq!(parse_minors("0\n1\n\n"), [0, 1]);
        assert!(parse_minors("").is_empty());
    }
}
