//! What start added, and where: the record start writes before it adds the
//! address (`HA_RSCTMP/ocf-rs-ipaddr-<instance>.record`).
//!
//! The identity of our address is (namespace, interface index, address):
//! a namespace is known by its nsfs inode, which outlives its name in
//! `/run/netns` as long as anything holds it; an interface index survives a
//! rename and is not reused while its namespace lives. The interface name
//! and the prefix are kept for log lines and for the label.

use std::net::IpAddr;

use ocf::{Context, Record};

use crate::netns::NsId;

/// What one start put on this node (the record, parsed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Started {
    pub ip: IpAddr,
    pub prefix: u8,
    pub index: u32,
    /// The interface's name when start chose it.
    pub ifname: String,
    pub label: Option<String>,
    /// `network_namespace` at start, if any.
    pub netns: Option<String>,
    /// The namespace start ran in (None: a record without it, read as "here").
    pub ns: Option<NsId>,
    /// The IPv6 address label start added (lvs_ipv6_addrlabel).
    pub addrlabel: Option<u32>,
}

impl Started {
    pub fn to_record(&self) -> Record {
        let mut r = Record::new()
            .with("ip", self.ip.to_string())
            .with("prefix", self.prefix.to_string())
            .with("ifindex", self.index.to_string())
            .with("ifname", &self.ifname);
        if let Some(l) = &self.label {
            r.set("label", l);
        }
        if let Some(n) = &self.netns {
            r.set("netns", n);
        }
        if let Some(ns) = self.ns {
            r.set("netns_dev", ns.dev.to_string());
            r.set("netns_ino", ns.ino.to_string());
        }
        if let Some(l) = self.addrlabel {
            r.set("addrlabel", l.to_string());
        }
        r
    }

    /// None when the record does not name an address and an interface.
    pub fn from_record(r: &Record) -> Option<Started> {
        let ns = match (r.get_u64("netns_dev"), r.get_u64("netns_ino")) {
            (Some(dev), Some(ino)) => Some(NsId { dev, ino }),
            _ => None,
        };
        Some(Started {
            ip: r.get("ip")?.parse().ok()?,
            prefix: r.get_u64("prefix").and_then(|p| u8::try_from(p).ok())?,
            index: r
                .get_u64("ifindex")
                .and_then(|i| u32::try_from(i).ok())
                .filter(|i| *i > 0)?,
            ifname: r.get("ifname").unwrap_or_default().to_string(),
            label: r.get("label").map(str::to_string),
            netns: r.get("netns").map(str::to_string),
            ns,
            addrlabel: r.get_u64("addrlabel").and_then(|l| u32::try_from(l).ok()),
        })
    }

    pub fn load(ctx: &Context) -> Option<Started> {
        Record::load(ctx).and_then(|r| Started::from_record(&r))
    }

    /// Is this in the namespace the thread is in now?
    pub fn is_here(&self, here: Option<NsId>) -> bool {
        self.ns.is_none() || self.ns == here
    }

    /// "198.51.100.10/24 on eth0 (namespace web)", for log lines.
    pub fn describe(&self) -> String {
        format!(
            "{}/{} on {}{}",
            self.ip,
            self.prefix,
            if self.ifname.is_empty() {
                format!("if#{}", self.index)
            } else {
                self.ifname.clone()
            },
            self.netns
                .as_ref()
                .map(|n| format!(" (network namespace {n})"))
                .unwrap_or_default()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The record keeps every part of the identity, and a record that does not
    /// name an address and an interface is no record.
    #[test]
    fn record_round_trip() {
        let s = Started {
            ip: "2001:db8::10".parse().unwrap(),
            prefix: 64,
            index: 7,
            ifname: "eth1".into(),
            label: None,
            netns: Some("web".into()),
            ns: Some(NsId {
                dev: 4,
                ino: 4026532281,
            }),
            addrlabel: Some(99),
        };
        let text = s.to_record().to_text();
        let back = Started::from_record(&ocf::Record::from_text(&text)).unwrap();
        assert_eq!(back, s);
        let v4 = Started {
            ip: "198.51.100.10".parse().unwrap(),
            prefix: 24,
            index: 2,
            ifname: "eth0".into(),
            label: Some("eth0:vip".into()),
            netns: None,
            ns: None,
            addrlabel: None,
        };
        assert_eq!(Started::from_record(&v4.to_record()).unwrap(), v4);
        for junk in [
            "ip=198.51.100.10\n",
            "ip=x\nprefix=24\nifindex=2\n",
            "ip=198.51.100.10\nprefix=24\nifindex=0\n",
        ] {
            assert_eq!(
                Started::from_record(&ocf::Record::from_text(junk)),
                None,
                "{junk}"
            );
        }
    }
}
