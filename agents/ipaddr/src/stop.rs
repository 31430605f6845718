//! Stop: remove the address from where the configuration leads and from
//! where start put it (the record), and, when the parameters do not
//! validate, from what the record and the raw parameters still name. 0
//! only when none of them holds it any more.

use std::net::IpAddr;

use ocf::{Context, Deadline, OcfError, OcfResult};

use crate::config::{Config, Raw};
use crate::netlink::{self, Addr, AddressFlags, Netlink, NewAddr, family_of};
use crate::netns::current_ns;
use crate::record::Started;
use crate::target::{configured_iface, visit_started};

/// Removes the address from the interface the configuration leads to
/// and, when the configuration no longer leads there (nic, ip or the
/// namespace changed, the interface was renamed), from where start put
/// it. 0 only when neither holds it any more.
pub fn stop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    crate::require_root("stop")?;
    let mut nl = netlink::open(dl)?;
    let here = current_ns();
    let rec = Started::load(ctx);
    let iface = configured_iface(
        cfg.ip,
        cfg.prefix,
        cfg.nic.as_deref(),
        rec.as_ref(),
        here,
        &mut nl,
    )?;
    let fam = cfg.family();
    let removed = match iface {
        Some(i) => {
            let addrs = nl
                .addresses(fam)
                .map_err(|e| netlink::err("read addresses", e))?;
            remove_from(&mut nl, cfg.ip, &addrs, |a| a.index == i)?
        }
        None => 0,
    };
    let mut from_record = 0;
    if let Some(s) = &rec
        && !(s.is_here(here) && Some(s.index) == iface && s.ip == cfg.ip)
    {
        from_record = remove_started(s, dl)?;
        if from_record > 0 {
            ocf::warn!(
                "removed {}, which start added: the configuration no longer leads there",
                s.describe()
            );
        }
    }
    if removed == 0 && from_record == 0 {
        ocf::info!("{} was not configured: {} is stopped", cfg.ip, ctx.instance);
    }
    // LVS: the address moves to lo only from an interface that had it.
    if cfg.lvs_support
        && removed > 0
        && let Some(lo) = netlink::index_of("lo")
    {
        ocf::info!("lvs_support: keeping {}/32 on lo", cfg.ip);
        let keep = NewAddr {
            index: lo,
            address: cfg.ip,
            prefix: 32,
            broadcast: None,
            label: None,
            flags: AddressFlags::empty(),
            preferred_lft: None,
        };
        match nl.add_address(&keep) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => ocf::warn!("lvs_support: cannot add {}/32 to lo: {e}", cfg.ip),
        }
    }
    if let (Some(label), IpAddr::V6(ip6)) = (cfg.addrlabel, cfg.ip) {
        del_addrlabel(&mut nl, ip6, label);
    }
    if let Some(s) = &rec
        && let (Some(label), IpAddr::V6(ip6), true) = (s.addrlabel, s.ip, s.is_here(here))
    {
        del_addrlabel(&mut nl, ip6, label);
    }
    if cfg.flush_routes && removed > 0 {
        let file = if cfg.v4() {
            "/proc/sys/net/ipv4/route/flush"
        } else {
            "/proc/sys/net/ipv6/route/flush"
        };
        if let Err(e) = std::fs::write(file, "1") {
            ocf::warn!("flush_routes: cannot write {file}: {e}");
        }
    }
    if let Some(i) = iface {
        let left = nl
            .addresses(fam)
            .map_err(|e| netlink::err("read addresses", e))?;
        if left.iter().any(|a| a.address == cfg.ip && a.index == i) {
            return Err(OcfError::generic(format!(
                "{} is still on {} after removal",
                cfg.ip,
                netlink::name_of(i)
            )));
        }
    }
    Ok(())
}

/// The parameters do not validate (or their namespace is missing): stop
/// what start recorded, wherever it is now, and what the parameters that
/// still read name; 0 only when neither is left.
pub fn stop_unconfigured(
    cfg: Option<&Config>,
    rec: Option<&ocf::Record>,
    ctx: &Context,
    why: &OcfError,
    dl: &Deadline,
) -> OcfResult<()> {
    crate::require_root("stop")?;
    let started = rec.and_then(Started::from_record);
    let mut n = 0;
    if let Some(s) = &started {
        n += remove_started(s, dl)?;
    }
    if let Some(raw) = Raw::read(cfg, ctx) {
        n += raw.remove(started.as_ref(), dl)?;
    }
    if n > 0 {
        ocf::info!(
            "stop: {}; removed the address start added, so {} is stopped",
            why.reason,
            ctx.instance
        );
    } else {
        ocf::info!(
            "stop: {}; the address is on none of the interfaces start or the parameters name, so {} is stopped",
            why.reason,
            ctx.instance
        );
    }
    Ok(())
}

/// Remove what start added, with any prefix, from the interface start put
/// it on, wherever that is now; an error when it stays.
pub(crate) fn remove_started(s: &Started, dl: &Deadline) -> OcfResult<usize> {
    let Some(_visit) = visit_started(s)? else {
        ocf::info!(
            "the network namespace of {} is gone, and the address with it",
            s.describe()
        );
        return Ok(0);
    };
    let mut nl = netlink::open(dl)?;
    let fam = family_of(s.ip);
    let addrs = nl
        .addresses(fam)
        .map_err(|e| netlink::err("read addresses", e))?;
    let n = remove_from(&mut nl, s.ip, &addrs, |a| a.index == s.index)?;
    if let (Some(label), IpAddr::V6(ip6)) = (s.addrlabel, s.ip) {
        del_addrlabel(&mut nl, ip6, label);
    }
    let left = nl
        .addresses(fam)
        .map_err(|e| netlink::err("read addresses", e))?;
    if left.iter().any(|a| a.address == s.ip && a.index == s.index) {
        return Err(OcfError::generic(format!(
            "{} is still there after removal",
            s.describe()
        )));
    }
    Ok(n)
}

/// Delete every instance of `ip` among `addrs` that `pick` selects.
pub(crate) fn remove_from(
    nl: &mut Netlink,
    ip: IpAddr,
    addrs: &[Addr],
    pick: impl Fn(&Addr) -> bool,
) -> OcfResult<usize> {
    let mut n = 0;
    for a in addrs.iter().filter(|a| a.address == ip && pick(a)) {
        let nic = netlink::name_of(a.index);
        match nl.del_address(a.index, ip, a.prefix) {
            Ok(()) => {
                ocf::info!("removed {ip}/{} from {nic}", a.prefix);
                n += 1;
            }
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {}
            Err(e) => {
                return Err(netlink::err(
                    &format!("remove {ip}/{} from {nic}", a.prefix),
                    e,
                ));
            }
        }
    }
    Ok(n)
}

pub(crate) fn del_addrlabel(nl: &mut Netlink, ip6: std::net::Ipv6Addr, label: u32) {
    match nl.del_addrlabel(ip6, label) {
        Ok(()) => ocf::info!("lvs_ipv6_addrlabel: removed label {label} of {ip6}/128"),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
        Err(e) => ocf::warn!("lvs_ipv6_addrlabel: cannot remove label of {ip6}: {e}"),
    }
}

impl Raw {
    fn remove(&self, rec: Option<&Started>, dl: &Deadline) -> OcfResult<usize> {
        let Some((i, mut nl, _visit)) = self.locate(rec, dl)? else {
            return Ok(0);
        };
        let fam = family_of(self.ip);
        let addrs = nl
            .addresses(fam)
            .map_err(|e| netlink::err("read addresses", e))?;
        let n = remove_from(&mut nl, self.ip, &addrs, |a| a.index == i)?;
        let left = nl
            .addresses(fam)
            .map_err(|e| netlink::err("read addresses", e))?;
        if left.iter().any(|a| a.address == self.ip && a.index == i) {
            return Err(OcfError::generic(format!(
                "{} is still on {} after removal",
                self.ip,
                netlink::name_of(i)
            )));
        }
        Ok(n)
    }
}
