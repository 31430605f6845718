//! Monitor and probe: is the address where the configuration (or, when it
//! does not validate, the record and the raw parameters) says, and usable?
//! Reads addresses and one link; routes only without `nic` and without a
//! record. Forks nothing.

use ocf::{Context, Deadline, OcfError, OcfResult, Status};

use crate::config::{Config, Raw};
use crate::netlink::{self, Addr, Netlink, family_of};
use crate::netns::current_ns;
use crate::record::Started;
use crate::start::announce_address;
use crate::target::{Served, Target, configured_iface, served, serves, visit_started};

/// The same places as [`stop_unconfigured`](crate::stop::stop_unconfigured):
/// 0 when the address is on one of them, 7 when on none.
pub fn probe_unconfigured(
    cfg: Option<&Config>,
    rec: Option<&ocf::Record>,
    ctx: &Context,
    _why: &OcfError,
    dl: &Deadline,
) -> OcfResult<Status> {
    let started = rec.and_then(Started::from_record);
    if let Some(s) = &started
        && let Some(found) = started_present(s, dl)?
    {
        ocf::warn!("{found}, where start added it");
        return Ok(Status::Success);
    }
    if let Some(raw) = Raw::read(cfg, ctx)
        && let Some(found) = raw.present(started.as_ref(), dl)?
    {
        ocf::warn!("{found}, where the parameters name it");
        return Ok(Status::Success);
    }
    Ok(Status::NotRunning)
}

pub fn monitor(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
    let mut nl = netlink::open(dl)?;
    let here = current_ns();
    // The record is read only when the parameters alone cannot say.
    let rec = std::cell::OnceCell::new();
    let rec = || rec.get_or_init(|| Started::load(ctx)).as_ref();
    let iface = configured_iface(
        cfg.ip,
        cfg.prefix,
        cfg.nic.as_deref(),
        if cfg.nic.is_none() { rec() } else { None },
        here,
        &mut nl,
    )?;
    let prefix = cfg.prefix.unwrap_or(0);
    let label = iface.and_then(|i| {
        cfg.iflabel
            .as_ref()
            .and_then(|_| cfg.label_for(&netlink::name_of(i)))
    });
    // A dump raced by another change is read again, unless it shows our
    // address: what it shows was there.
    let addrs = nl
        .addresses_seeking(cfg.family(), |a| {
            iface.is_some_and(|i| serves(a, cfg.ip, i, prefix, label.as_deref()))
        })
        .map_err(|e| netlink::err("read addresses", e))?;
    if let Some(i) = iface {
        match served(cfg.ip, &addrs, i, prefix, label.as_deref()) {
            Served::Yes(a) => return healthy(cfg, ctx, &mut nl, &a, dl),
            Served::Mismatch(why) => return Err(OcfError::generic(why)),
            Served::No => {}
        }
    }
    let where_ = match (&cfg.nic, iface) {
        (Some(n), Some(_)) => n.clone(),
        (Some(n), None) => format!("{n} (no such interface)"),
        (None, Some(i)) => netlink::name_of(i),
        (None, None) => "any interface with a route to it".to_string(),
    };
    // Not where the configuration leads: is what start added still there?
    if let Some(s) = rec()
        && !(s.is_here(here) && Some(s.index) == iface && s.ip == cfg.ip)
        && let Some(found) = started_present(s, dl)?
    {
        return Err(OcfError::generic(format!(
            "{} is not on {where_}, but {found}, where start added it: the configuration changed while it ran",
            cfg.ip
        )));
    }
    Err(OcfError::not_running(format!(
        "{} is not on {where_}",
        cfg.ip
    )))
}

/// Monitor of an address that is where the configuration says: is it usable?
fn healthy(
    cfg: &Config,
    ctx: &Context,
    nl: &mut Netlink,
    a: &Addr,
    dl: &Deadline,
) -> OcfResult<Status> {
    if a.dad_failed() {
        return Err(OcfError::generic(format!(
            "{} failed duplicate address detection on {}",
            cfg.ip,
            netlink::name_of(a.index)
        )));
    }
    let need_link = cfg.check_link_status || cfg.arp_count_refresh > 0;
    if need_link {
        let link = nl.link(a.index).map_err(|e| netlink::err("read link", e))?;
        if cfg.check_link_status && !link.is_usable() {
            let why = format!(
                "{} is down or has no carrier, so {} is not reachable",
                netlink::name_of(a.index),
                cfg.ip
            );
            // A recurring monitor's 7 is followed by a stop here; a probe's
            // is believed: the address would stay, and answer from this
            // node too once the link is back. So a probe says "failed".
            if ctx.is_probe() {
                return Err(OcfError::generic(format!(
                    "{why}, but it is configured here"
                )));
            }
            return Err(OcfError::not_running(why));
        }
        if cfg.arp_count_refresh > 0 {
            let t = Target {
                index: a.index,
                nic: netlink::name_of(a.index),
                prefix: a.prefix,
                broadcast: None,
            };
            match announce_address(cfg, &t, &link, cfg.arp_count_refresh, &dl.share(0.5)) {
                Ok(msg) => ocf::debug!("refresh: {msg}"),
                Err(e) => ocf::warn!("refresh: {e}"),
            }
        }
    }
    Ok(Status::Success)
}

/// Where what start added is now ("198.51.100.10/24 is on eth1"), if anywhere.
pub(crate) fn started_present(s: &Started, dl: &Deadline) -> OcfResult<Option<String>> {
    let Some(_visit) = visit_started(s)? else {
        return Ok(None);
    };
    let mut nl = netlink::open(dl)?;
    let addrs = nl
        .addresses_seeking(family_of(s.ip), |a| a.address == s.ip && a.index == s.index)
        .map_err(|e| netlink::err("read addresses", e))?;
    Ok(addrs
        .iter()
        .find(|a| a.address == s.ip && a.index == s.index)
        .map(|a| {
            format!(
                "{}/{} is on {}{}",
                s.ip,
                a.prefix,
                netlink::name_of(a.index),
                s.netns
                    .as_ref()
                    .map(|n| format!(" in network namespace {n}"))
                    .unwrap_or_default()
            )
        }))
}

impl Raw {
    fn present(&self, rec: Option<&Started>, dl: &Deadline) -> OcfResult<Option<String>> {
        let Some((i, mut nl, _visit)) = self.locate(rec, dl)? else {
            return Ok(None);
        };
        let addrs = nl
            .addresses_seeking(family_of(self.ip), |a| a.address == self.ip && a.index == i)
            .map_err(|e| netlink::err("read addresses", e))?;
        Ok(addrs
            .iter()
            .find(|a| a.address == self.ip && a.index == i)
            .map(|a| format!("{}/{} is on {}", self.ip, a.prefix, netlink::name_of(i))))
    }
}
