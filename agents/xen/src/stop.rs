//! Stop: what it acts on (the configured domain, the one the record names,
//! their mid-migration names), a graceful shutdown for a budgeted share,
//! then a bounded destroy, then a check that the domain stays away.

use std::time::Duration;

use ocf::{Context, Deadline, OcfError, OcfResult};

use crate::config::Config;
use crate::record::{Seen, is_marked_stopped, mark_stopped, xl_arg_safe};
use crate::start::share_memory;
use crate::xl::{Lookup, State, Xl};

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

pub fn stop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let name = cfg.domain_name(ctx)?.to_string();
    stop_plan(&cfg.plan(&name, ctx), ctx, dl)?;
    mark_stopped(ctx);
    share_memory(cfg, 0, dl);
    Ok(())
}

/// Time kept back from a stop's budget for destroy: a third of it, and no
/// less than 10 s where the budget allows (seapath#306: destroy can take
/// 10-17 s; VirtualDomain kept 5). ocf:rust:vm keeps the same for libvirt.
pub fn destroy_reserve(total: Duration) -> Duration {
    let third = total / 3;
    let ten = Duration::from_secs(10).min(total * 2 / 3);
    third.max(ten)
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
    let reserve = destroy_reserve(dl.remaining());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mid_migration_names() {
        assert_eq!(
            names_of("vm1"),
            ["vm1", "migrating-vm1", "vm1--incoming", "vm1--migratedaway"]
        );
    }

    #[test]
    fn destroy_keeps_a_third_and_ten_seconds_where_possible() {
        let s = Duration::from_secs;
        assert_eq!(destroy_reserve(s(90)), s(30));
        assert_eq!(destroy_reserve(s(20)), s(10));
        assert_eq!(destroy_reserve(s(12)), s(8));
        assert_eq!(destroy_reserve(s(60)), s(20));
    }
}
