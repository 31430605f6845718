//! `migrate_options`: the `virsh migrate` options VirtualDomain passes to
//! virsh, read into what libvirt's API takes (flags and typed
//! parameters), so a value that works with VirtualDomain works here.
//!
//! Every option of virsh 9.0's `migrate` is in one of four tables: a flag
//! (`--p2p`), a typed parameter (`--listen-address ADDR`), virsh's own
//! behaviour with no API equivalent for one blocking call (`--verbose`,
//! `--timeout`: logged at migrate_to and ignored), or refused, because
//! VirtualDomain breaks with it too (`--dname` renames the domain on the
//! target, so neither agent finds it; `--desturi`/`--domain` are given by
//! the agent itself). An option in no table is refused: virsh would refuse
//! it at migration time, in the middle of a failover.

use std::path::PathBuf;

use crate::libvirt as lv;

/// A typed parameter's value (`virTypedParameter`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Str(String),
    Int(i32),
    ULLong(u64),
    /// A file whose content is the value (`--xml FILE`), read at migrate_to.
    File(PathBuf),
}

/// What `migrate_options` asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrateOptions {
    /// `VIR_MIGRATE_*` flags.
    pub flags: u64,
    /// `--migrateuri`.
    pub uri: Option<String>,
    /// Typed parameters (`VIR_MIGRATE_PARAM_*` name, value), in order.
    pub params: Vec<(&'static str, Value)>,
    /// virsh's own options, named for the log: they have no effect here.
    pub ignored: Vec<String>,
}

/// Options that are libvirt flags.
const FLAGS: &[(&str, u64)] = &[
    ("--live", lv::MIGRATE_LIVE),
    ("--offline", lv::MIGRATE_OFFLINE),
    ("--p2p", lv::MIGRATE_PEER2PEER),
    ("--tunnelled", lv::MIGRATE_PEER2PEER | lv::MIGRATE_TUNNELLED),
    ("--tunneled", lv::MIGRATE_PEER2PEER | lv::MIGRATE_TUNNELLED),
    ("--persistent", lv::MIGRATE_PERSIST_DEST),
    ("--undefinesource", lv::MIGRATE_UNDEFINE_SOURCE),
    ("--suspend", lv::MIGRATE_PAUSED),
    ("--copy-storage-all", lv::MIGRATE_NON_SHARED_DISK),
    ("--copy-storage-inc", lv::MIGRATE_NON_SHARED_INC),
    (
        "--copy-storage-synchronous-writes",
        lv::MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES,
    ),
    ("--change-protection", lv::MIGRATE_CHANGE_PROTECTION),
    ("--unsafe", lv::MIGRATE_UNSAFE),
    ("--compressed", lv::MIGRATE_COMPRESSED),
    ("--abort-on-error", lv::MIGRATE_ABORT_ON_ERROR),
    ("--auto-converge", lv::MIGRATE_AUTO_CONVERGE),
    ("--rdma-pin-all", lv::MIGRATE_RDMA_PIN_ALL),
    ("--postcopy", lv::MIGRATE_POSTCOPY),
    ("--postcopy-resume", lv::MIGRATE_POSTCOPY_RESUME),
    ("--tls", lv::MIGRATE_TLS),
    ("--parallel", lv::MIGRATE_PARALLEL),
    ("--zerocopy", lv::MIGRATE_ZEROCOPY),
];

/// How a valued option's word becomes parameters.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    /// A comma-separated list: one string parameter per item.
    List,
    Int,
    ULLong,
    File,
}

/// Options that are typed parameters (libvirt-domain.h's
/// `VIR_MIGRATE_PARAM_*`).
const PARAMS: &[(&str, &str, Kind)] = &[
    ("--bandwidth", "bandwidth", Kind::ULLong),
    ("--postcopy-bandwidth", "bandwidth.postcopy", Kind::ULLong),
    ("--graphicsuri", "graphics_uri", Kind::Str),
    ("--listen-address", "listen_address", Kind::Str),
    ("--migrate-disks", "migrate_disks", Kind::List),
    ("--disks-port", "disks_port", Kind::Int),
    ("--disks-uri", "disks_uri", Kind::Str),
    ("--comp-methods", "compression", Kind::List),
    ("--comp-mt-level", "compression.mt.level", Kind::Int),
    ("--comp-mt-threads", "compression.mt.threads", Kind::Int),
    ("--comp-mt-dthreads", "compression.mt.dthreads", Kind::Int),
    (
        "--comp-xbzrle-cache",
        "compression.xbzrle.cache",
        Kind::ULLong,
    ),
    ("--comp-zlib-level", "compression.zlib.level", Kind::Int),
    ("--comp-zstd-level", "compression.zstd.level", Kind::Int),
    (
        "--auto-converge-initial",
        "auto_converge.initial",
        Kind::Int,
    ),
    (
        "--auto-converge-increment",
        "auto_converge.increment",
        Kind::Int,
    ),
    ("--parallel-connections", "parallel.connections", Kind::Int),
    ("--tls-destination", "tls.destination", Kind::Str),
    ("--xml", "destination_xml", Kind::File),
    ("--persistent-xml", "persistent_xml", Kind::File),
];

/// virsh's own behaviour, with whether the option takes a value. A
/// migration here is one bounded API call inside the action's deadline.
const VIRSH_ONLY: &[(&str, bool)] = &[
    ("--verbose", false),
    ("--async", false),
    ("--direct", false),
    ("--timeout", true),
    ("--timeout-suspend", false),
    ("--timeout-postcopy", false),
    ("--postcopy-after-precopy", false),
];

/// Options VirtualDomain fails with as well, and why.
const REFUSED: &[(&str, &str)] = &[
    (
        "--dname",
        "renames the domain on the target, where the agent then cannot find it",
    ),
    ("--desturi", "the agent gives the target URI itself"),
    ("--domain", "the agent names the domain itself"),
];

/// `virsh migrate` options (words separated by blanks; a value as the next
/// word or after `=`).
pub fn parse(v: &str) -> Result<MigrateOptions, String> {
    let mut out = MigrateOptions::default();
    let mut words = v.split_whitespace();
    while let Some(w) = words.next() {
        let (opt, inline) = match w.split_once('=') {
            Some((o, val)) => (o, Some(val.to_string())),
            None => (w, None),
        };
        let mut value = |what: &str| {
            inline
                .clone()
                .or_else(|| words.next().map(str::to_string))
                .filter(|u| !u.is_empty())
                .ok_or(format!("{what} needs a value"))
        };
        if let Some((_, f)) = FLAGS.iter().find(|(o, _)| *o == opt) {
            out.flags |= f;
        } else if opt == "--migrateuri" {
            out.uri = Some(value(opt)?);
        } else if let Some((_, name, kind)) = PARAMS.iter().find(|(o, _, _)| *o == opt) {
            let v = value(opt)?;
            let bad = || format!("{opt} takes a number, not {v:?}");
            match kind {
                Kind::Str => out.params.push((name, Value::Str(v.clone()))),
                Kind::List => {
                    for item in v.split(',').filter(|i| !i.is_empty()) {
                        out.params.push((name, Value::Str(item.to_string())));
                    }
                }
                Kind::Int => out
                    .params
                    .push((name, Value::Int(v.parse().map_err(|_| bad())?))),
                Kind::ULLong => out
                    .params
                    .push((name, Value::ULLong(v.parse().map_err(|_| bad())?))),
                Kind::File => {
                    if !v.starts_with('/') {
                        return Err(format!("{opt} needs an absolute path, not {v:?}"));
                    }
                    out.params.push((name, Value::File(PathBuf::from(&v))));
                }
            }
        } else if let Some((_, valued)) = VIRSH_ONLY.iter().find(|(o, _)| *o == opt) {
            let shown = if *valued {
                format!("{opt} {}", value(opt)?)
            } else {
                opt.to_string()
            };
            out.ignored.push(shown);
        } else if let Some((_, why)) = REFUSED.iter().find(|(o, _)| *o == opt) {
            return Err(format!("{opt} {why}"));
        } else {
            return Err(format!("unsupported migrate option {opt:?}"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_uri_and_values() {
        let o = parse("--p2p --auto-converge --migrateuri=tcp://x:1").unwrap();
        assert_eq!(o.flags, lv::MIGRATE_PEER2PEER | lv::MIGRATE_AUTO_CONVERGE);
        assert_eq!(o.uri.as_deref(), Some("tcp://x:1"));
        assert_eq!(
            parse("--migrateuri tcp://y").unwrap().uri.as_deref(),
            Some("tcp://y")
        );
        assert!(parse("--migrateuri").is_err());
        let o = parse(
            "--verbose --compressed --comp-methods xbzrle,mt --comp-mt-level=3 \
             --bandwidth 500 --listen-address 0.0.0.0 --timeout 30 --xml /etc/x.xml",
        )
        .unwrap();
        assert_eq!(o.flags, lv::MIGRATE_COMPRESSED);
        assert_eq!(
            o.params,
            vec![
                ("compression", Value::Str("xbzrle".into())),
                ("compression", Value::Str("mt".into())),
                ("compression.mt.level", Value::Int(3)),
                ("bandwidth", Value::ULLong(500)),
                ("listen_address", Value::Str("0.0.0.0".into())),
                ("destination_xml", Value::File("/etc/x.xml".into())),
            ]
        );
        assert_eq!(o.ignored, vec!["--verbose", "--timeout 30"]);
    }

    #[test]
    fn what_virtualdomain_fails_with_is_refused_with_a_reason() {
        for (v, why) in [
            ("--dname other", "renames"),
            ("--bogus", "unsupported"),
            ("--bandwidth fast", "number"),
            ("--xml relative.xml", "absolute"),
            ("--timeout", "needs a value"),
            ("--desturi qemu://x/system", "target URI"),
        ] {
            let e = parse(v).unwrap_err();
            assert!(e.contains(why), "{v}: {e}");
        }
    }

    #[test]
    fn every_option_of_virsh_migrate_is_in_a_table() {
        // `virsh migrate --help` of libvirt 9.0 (Debian 12), its options, and
        // those newer versions added (--comp-zlib-level, --comp-zstd-level, --async).
        let virsh = "--live --offline --p2p --direct --tunnelled --persistent \
            --undefinesource --suspend --copy-storage-all --copy-storage-inc \
            --copy-storage-synchronous-writes --change-protection --unsafe --verbose \
            --compressed --auto-converge --rdma-pin-all --abort-on-error --postcopy \
            --postcopy-after-precopy --postcopy-resume --zerocopy --migrateuri \
            --graphicsuri --listen-address --dname --timeout --timeout-suspend \
            --timeout-postcopy --xml --migrate-disks --disks-port --disks-uri \
            --comp-methods --comp-mt-level --comp-mt-threads --comp-mt-dthreads \
            --comp-xbzrle-cache --comp-zlib-level --comp-zstd-level \
            --auto-converge-initial --auto-converge-increment --persistent-xml --tls \
            --postcopy-bandwidth --parallel --parallel-connections --bandwidth \
            --tls-destination --async --desturi --domain";
        for o in virsh.split_whitespace() {
            let known = FLAGS.iter().any(|(f, _)| *f == o)
                || o == "--migrateuri"
                || PARAMS.iter().any(|(p, _, _)| *p == o)
                || VIRSH_ONLY.iter().any(|(p, _)| *p == o)
                || REFUSED.iter().any(|(p, _)| *p == o);
            assert!(known, "{o} is in no table");
        }
    }
}
