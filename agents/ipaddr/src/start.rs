//! Start: find the target, record it, add the address (after the LVS and
//! duplicate checks), bring the link up, wait for IPv6 duplicate address
//! detection, and announce the address (gratuitous ARP or unsolicited
//! neighbour advertisements): with arp_bg (the default) the first before
//! start returns and the rest from a detached, bounded child; all logged.

use std::net::IpAddr;
use std::time::Duration;

use ocf::{Context, Deadline, OcfError, OcfResult};

use crate::announce;
use crate::config::Config;
use crate::netlink::{self, Addr, AddressFlags, Netlink, NewAddr};
use crate::netns::current_ns;
use crate::record::Started;
use crate::stop::{remove_from, remove_started};
use crate::target::{Served, Target, resolve_target, served, serves};

pub fn start(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    crate::require_root("start")?;
    let mut nl = netlink::open(dl)?;
    let t = resolve_target(cfg, &mut nl)?;
    let here = current_ns();
    let label = cfg.label_for(&t.nic);

    // One record per instance: an earlier start's address that is still
    // there (someone started it again with other parameters, without a
    // stop) goes first, or nothing would know of it any more.
    if let Some(prev) = Started::load(ctx)
        && !(prev.is_here(here) && prev.index == t.index && prev.ip == cfg.ip)
    {
        let n = remove_started(&prev, dl)?;
        if n > 0 {
            ocf::warn!(
                "removed {}, which an earlier start of {} added, before adding {} to {}",
                prev.describe(),
                ctx.instance,
                cfg.ip,
                t.nic
            );
        }
    }
    // Recorded before the address is added: a start that fails half-way
    // still leaves what stop and a probe need to find it.
    Started {
        ip: cfg.ip,
        prefix: t.prefix,
        index: t.index,
        ifname: t.nic.clone(),
        label: label.clone(),
        netns: cfg.netns.clone(),
        ns: here,
        addrlabel: cfg.addrlabel,
    }
    .to_record()
    .save(ctx);

    let fam = cfg.family();
    let ours = |a: &Addr| serves(a, cfg.ip, t.index, t.prefix, label.as_deref());
    let addrs = nl
        .addresses_seeking(fam, ours)
        .map_err(|e| netlink::err("read addresses", e))?;
    let present = match served(cfg.ip, &addrs, t.index, t.prefix, label.as_deref()) {
        // Failed DAD: there but unusable; add it again, and DAD says why.
        Served::Yes(a) if a.dad_failed() => {
            ocf::warn!(
                "{} failed duplicate address detection on {}; adding it again",
                cfg.ip,
                t.nic
            );
            remove_from(&mut nl, cfg.ip, &addrs, |a| a.index == t.index)?;
            false
        }
        Served::Yes(a) => {
            let usable = nl.link(t.index).is_ok_and(|l| l.is_usable());
            if usable || !cfg.check_link_status {
                if a.tentative() && !cfg.nodad {
                    // Not usable before DAD ends: wait as a fresh start would.
                    wait_for_dad(cfg, &mut nl, &t, dl)?;
                }
                ocf::info!("{} is already on {}", cfg.ip, t.nic);
                return Ok(());
            }
            // Present but the link is down: bring it up below, as a
            // start from scratch would.
            ocf::info!("{} is on {}, but the link is down", cfg.ip, t.nic);
            true
        }
        Served::Mismatch(why) => {
            ocf::warn!("{why}; replacing it");
            remove_from(&mut nl, cfg.ip, &addrs, |a| a.index == t.index)?;
            false
        }
        Served::No => false,
    };
    let link = nl
        .link(t.index)
        .map_err(|e| netlink::err(&format!("read link {}", t.nic), e))?;
    if !present {
        add_address(cfg, &mut nl, &t, &addrs, &link, dl)?;
    }
    if !link.is_up() {
        ocf::info!("bringing {} up", t.nic);
        nl.set_up(t.index)
            .map_err(|e| netlink::err(&format!("set {} up", t.nic), e))?;
    }
    let link = if cfg.check_link_status {
        ocf::deadline::set_phase("waiting for the link");
        let limit = dl.share(0.3).cap(Duration::from_secs(3));
        let l = limit.poll(Duration::from_millis(50), || {
            nl.link(t.index).ok().filter(|l| l.is_usable())
        });
        match l {
            Some(l) => l,
            None => {
                return Err(OcfError::generic(format!(
                    "{} is down or has no carrier (check_link_status=true): {} would not be reachable",
                    t.nic, cfg.ip
                )));
            }
        }
    } else {
        nl.link(t.index)
            .map_err(|e| netlink::err(&format!("read link {}", t.nic), e))?
    };

    if !cfg.v4() && !cfg.nodad {
        wait_for_dad(cfg, &mut nl, &t, dl)?;
    }

    // arp_bg (IPaddr2's default): the first announcement before start
    // returns, the rest in the background, so what is ordered after the
    // address starts at once.
    ocf::deadline::set_phase("announcing the address");
    let now = if cfg.arp_bg {
        cfg.arp_count.min(1)
    } else {
        cfg.arp_count
    };
    match announce_address(
        cfg,
        &t,
        &link,
        now,
        &dl.keep_back(Duration::from_millis(300)),
    ) {
        Ok(msg) => ocf::info!("{msg}"),
        Err(e) => return Err(OcfError::generic(e)),
    }

    let addrs = nl
        .addresses_seeking(fam, ours)
        .map_err(|e| netlink::err("read addresses", e))?;
    match served(cfg.ip, &addrs, t.index, t.prefix, label.as_deref()) {
        Served::Yes(_) => {}
        Served::No => {
            return Err(OcfError::generic(format!(
                "{} vanished from {} during start",
                cfg.ip, t.nic
            )));
        }
        Served::Mismatch(why) => return Err(OcfError::generic(why)),
    }
    if now < cfg.arp_count {
        announce_in_background(cfg, &t, &link, cfg.arp_count - now, dl);
    }
    Ok(())
}

/// The rest of the announcements, from a detached child (arp_bg): one every
/// `arp_interval`, each only while the address is still on its interface
/// (a stop or a move in between ends them: a late announcement would pull
/// the traffic back to a node that no longer has the address), logged, and
/// bounded by its count: the child cannot outlive `rest` intervals and a
/// second. Should the fork fail, they are sent here, as without arp_bg.
fn announce_in_background(
    cfg: &Config,
    t: &Target,
    link: &netlink::Link,
    rest: u32,
    dl: &Deadline,
) {
    let bound = cfg.arp_interval * rest + Duration::from_secs(1);
    let label = cfg.label_for(&t.nic);
    let detached = ocf::exec::detach(bound, || {
        let dl = Deadline::after(bound);
        let mut sent = 0;
        for _ in 0..rest {
            if !dl.sleep(cfg.arp_interval) {
                break;
            }
            let here = netlink::open(&dl).ok().and_then(|mut nl| {
                nl.addresses_seeking(cfg.family(), |a| {
                    serves(a, cfg.ip, t.index, t.prefix, label.as_deref())
                })
                .ok()
            });
            let still_ours = here.is_some_and(|addrs| {
                matches!(
                    served(cfg.ip, &addrs, t.index, t.prefix, label.as_deref()),
                    Served::Yes(_)
                )
            });
            if !still_ours {
                ocf::info!(
                    "{} left {}: {} announcements not sent (arp_bg)",
                    cfg.ip,
                    t.nic,
                    rest - sent
                );
                return;
            }
            if let Err(e) = announce_address(cfg, t, link, 1, &dl) {
                ocf::warn!("{e} (arp_bg)");
                return;
            }
            sent += 1;
        }
        ocf::info!(
            "sent the other {sent} announcements of {} on {} (arp_bg)",
            cfg.ip,
            t.nic
        );
    });
    match detached {
        Ok(pid) => ocf::info!(
            "{} more announcements of {} on {} in the background (arp_bg, pid {pid})",
            rest,
            cfg.ip,
            t.nic
        ),
        Err(e) => {
            ocf::warn!("cannot announce in the background ({e}): announcing now");
            match announce_address(
                cfg,
                t,
                link,
                rest,
                &dl.keep_back(Duration::from_millis(300)),
            ) {
                Ok(msg) => ocf::info!("{msg}"),
                Err(e) => ocf::warn!("{e}"),
            }
        }
    }
}

/// Start's add phase: take the address off lo (LVS), check for a duplicate
/// (run_arping), then add it.
pub(crate) fn add_address(
    cfg: &Config,
    nl: &mut Netlink,
    t: &Target,
    addrs: &[Addr],
    link: &netlink::Link,
    dl: &Deadline,
) -> OcfResult<()> {
    if cfg.lvs_support
        && let Some(lo) = netlink::index_of("lo")
        && addrs.iter().any(|a| a.index == lo && a.address == cfg.ip)
    {
        ocf::info!("lvs_support: removing {} from lo", cfg.ip);
        remove_from(nl, cfg.ip, addrs, |a| a.index == lo)?;
    }
    if cfg.run_arping
        && let (IpAddr::V4(ip4), Some(mac)) = (cfg.ip, link.mac())
    {
        ocf::deadline::set_phase("duplicate address check");
        if !link.is_up() {
            nl.set_up(t.index)
                .map_err(|e| netlink::err(&format!("set {} up", t.nic), e))?;
        }
        let wait = dl
            .remaining()
            .mul_f64(0.25)
            .min(Duration::from_millis(1500));
        match announce::probe_duplicate(t.index, mac, ip4, wait) {
            Ok(Some(other)) => {
                return Err(OcfError::generic(format!(
                    "{} is already in use on {} by {} (run_arping); not adding it",
                    cfg.ip,
                    t.nic,
                    announce::mac_string(&other)
                )));
            }
            Ok(None) => ocf::info!("run_arping: nobody answers for {} on {}", cfg.ip, t.nic),
            Err(e) => {
                return Err(OcfError::generic(format!(
                    "run_arping: cannot probe on {}: {e}",
                    t.nic
                )));
            }
        }
    }

    if let (Some(label), IpAddr::V6(ip6)) = (cfg.addrlabel, cfg.ip) {
        ocf::info!("lvs_ipv6_addrlabel: label {label} for {ip6}/128");
        match nl.add_addrlabel(ip6, label) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            // IPaddr2 goes on too: the address still works, only its source selection does not.
            Err(e) => ocf::warn!("lvs_ipv6_addrlabel: cannot add label {label} for {ip6}: {e}"),
        }
    }

    ocf::deadline::set_phase("adding the address");
    let mut flags = AddressFlags::empty();
    if cfg.nodad && !cfg.v4() {
        flags |= AddressFlags::Nodad;
    }
    if cfg.noprefixroute {
        flags |= AddressFlags::Noprefixroute;
    }
    let new = NewAddr {
        index: t.index,
        address: cfg.ip,
        prefix: t.prefix,
        broadcast: t.broadcast,
        label: cfg.label_for(&t.nic),
        flags,
        preferred_lft: cfg.preferred_lft,
    };
    ocf::info!(
        "adding {}/{} to {}{}{}",
        cfg.ip,
        t.prefix,
        t.nic,
        t.broadcast
            .map(|b| format!(" broadcast {b}"))
            .unwrap_or_default(),
        new.label
            .as_ref()
            .map(|l| format!(" label {l}"))
            .unwrap_or_default()
    );
    match nl.add_address(&new) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            ocf::info!("{} appeared meanwhile", cfg.ip)
        }
        Err(e) => {
            return Err(netlink::err(
                &format!("add {}/{} to {}", cfg.ip, t.prefix, t.nic),
                e,
            ));
        }
    }
    Ok(())
}

/// IPv6: wait within the start budget for DAD to leave "tentative".
pub(crate) fn wait_for_dad(
    cfg: &Config,
    nl: &mut Netlink,
    t: &Target,
    dl: &Deadline,
) -> OcfResult<()> {
    ocf::deadline::set_phase("waiting for IPv6 duplicate address detection");
    let limit =
        dl.keep_back(Duration::from_millis(500) + cfg.arp_interval.min(Duration::from_secs(1)));
    let state = limit.poll(Duration::from_millis(50), || {
        let addrs = nl
            .addresses_seeking(cfg.family(), |a| a.address == cfg.ip && a.index == t.index)
            .ok()?;
        let a = addrs
            .iter()
            .find(|a| a.address == cfg.ip && a.index == t.index)?;
        if a.dad_failed() {
            Some(Err(()))
        } else if !a.tentative() {
            Some(Ok(()))
        } else {
            None
        }
    });
    match state {
        Some(Ok(())) => Ok(()),
        Some(Err(())) => {
            let _ = nl.del_address(t.index, cfg.ip, t.prefix);
            Err(OcfError::generic(format!(
                "duplicate address detection failed (dadfailed): another host on {} uses {}; address removed",
                t.nic, cfg.ip
            )))
        }
        None => Err(OcfError::generic(format!(
            "{} is still tentative on {}: duplicate address detection did not finish within the start timeout",
            cfg.ip, t.nic
        ))),
    }
}

/// Gratuitous ARP or unsolicited NA, `count` rounds. Ok carries the log line.
pub(crate) fn announce_address(
    cfg: &Config,
    t: &Target,
    link: &netlink::Link,
    count: u32,
    dl: &Deadline,
) -> Result<String, String> {
    if count == 0 {
        return Ok("arp_count=0: no announcement".into());
    }
    if link.no_arp() {
        return Ok(format!("{} has NOARP: no announcement", t.nic));
    }
    let Some(mac) = link.mac() else {
        return Ok(format!("{} has no MAC address: no announcement", t.nic));
    };
    let res = match cfg.ip {
        IpAddr::V4(ip) => {
            announce::gratuitous_arp(t.index, mac, ip, cfg.arp_mode, count, cfg.arp_interval, dl)
                .map(|n| {
                    format!(
                        "sent {n} gratuitous ARP {} packets for {ip} on {} from {}",
                        cfg.arp_mode.word(),
                        t.nic,
                        announce::mac_string(&mac)
                    )
                })
        }
        IpAddr::V6(ip) => announce::unsolicited_na(t.index, mac, ip, count, cfg.arp_interval, dl)
            .map(|n| {
                format!(
                    "sent {n} unsolicited neighbour advertisements for {ip} on {}",
                    t.nic
                )
            }),
    };
    res.map_err(|e| format!("cannot announce {} on {}: {e}", cfg.ip, t.nic))
}
