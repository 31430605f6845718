//! The decisions of docs/compatibility.md's "Parameters" section that a
//! switching admin should see, machine-readable: for each anchor agent, the
//! parameters ours accepts without effect (`Ignored`: their row there starts
//! with "accepted") and those it treats differently in a way worth a look
//! (`Differs`). Refusals are not listed here: they come from the agent's
//! own table and `configure` (see plan.rs). A test keeps this list and the
//! document agreeing.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Treatment {
    /// Accepted, no effect here.
    Ignored,
    /// Same purpose, different handling.
    Differs,
}

pub struct Note {
    /// The anchor's type (`IPaddr2`, `pgsql`, `drbd`, ...).
    pub anchor: &'static str,
    pub params: &'static [&'static str],
    pub treatment: Treatment,
    pub text: &'static str,
}

use Treatment::{Differs, Ignored};

pub static NOTES: &[Note] = &[
    Note {
        anchor: "IPaddr2",
        params: &["mac", "clusterip_hash", "unique_clone_address"],
        treatment: Ignored,
        text: "only for a load-sharing clone (CLUSTERIP), which ocf:rust:ipaddr refuses",
    },
    Note {
        anchor: "IPaddr2",
        params: &["arp_sender", "send_arp_opts"],
        treatment: Ignored,
        text: "ARP and NA are sent from raw sockets, no send_arp tool; -A/-U in send_arp_opts is read as arp_mode",
    },
    Note {
        anchor: "Filesystem",
        params: &["force_unmount"],
        treatment: Differs,
        text: "true and safe are one: /proc is always scanned the safe way",
    },
    Note {
        anchor: "VirtualDomain",
        params: &["migrate_options"],
        treatment: Differs,
        text: "passed to libvirt's API, not to virsh: virsh's own options (--verbose, --timeout, ...) are ignored; --dname, --desturi, --domain and unknown options are refused",
    },
    Note {
        anchor: "VirtualDomain",
        params: &["migrateuri"],
        treatment: Differs,
        text: "%n leaves migration_user out (VirtualDomain's user@host is no URI QEMU accepts)",
    },
    Note {
        anchor: "VirtualDomain",
        params: &["monitor_scripts"],
        treatment: Differs,
        text: "absolute paths or names on PATH; a relative path with a '/' is refused",
    },
    Note {
        anchor: "Xen",
        params: &["node_ip_attribute"],
        treatment: Differs,
        text: "the address must be an IP address or a host name",
    },
    Note {
        anchor: "pgsql",
        params: &["psql"],
        treatment: Ignored,
        text: "the monitor speaks the PostgreSQL protocol itself",
    },
    Note {
        anchor: "pgsql",
        params: &["ctl_opt"],
        treatment: Ignored,
        text: "pg_ctl is not run: postgres is started directly (a warning on start)",
    },
    Note {
        anchor: "pgsql",
        params: &["pglibs"],
        treatment: Ignored,
        text: "LD_LIBRARY_PATH for pg_ctl and psql, which are not run",
    },
    Note {
        anchor: "pgsql",
        params: &["start_opt"],
        treatment: Differs,
        text: "split at whitespace with no shell: quotes are not interpreted",
    },
    Note {
        anchor: "pgsql",
        params: &["pgctl"],
        treatment: Differs,
        text: "pg_ctl is not run: postgres from its directory is",
    },
    Note {
        anchor: "mysql",
        params: &["client_binary"],
        treatment: Ignored,
        text: "the monitor speaks the MySQL protocol itself",
    },
    Note {
        anchor: "mysql",
        params: &["binary"],
        treatment: Differs,
        text: "a mysqld_safe wrapper is not run: the server it names is started directly",
    },
    Note {
        anchor: "mysql",
        params: &["additional_parameters"],
        treatment: Differs,
        text: "split at whitespace with no shell: quotes are not interpreted",
    },
    Note {
        anchor: "mysql",
        params: &["log"],
        treatment: Differs,
        text: "an existing file must belong to the service user (never chowned through a link)",
    },
    Note {
        anchor: "mysql",
        params: &["test_table"],
        treatment: Differs,
        text: "queried on every monitor (heartbeat: only at depth 10); must be a [schema.]table name",
    },
    Note {
        anchor: "drbd",
        params: &["stop_outdates_secondary"],
        treatment: Differs,
        text: "takes effect here (linbit's agent never acts on it)",
    },
];

/// The notes for one anchor parameter.
pub fn for_param(anchor: &str, param: &str) -> impl Iterator<Item = &'static Note> {
    let (anchor, param) = (anchor.to_string(), param.to_string());
    NOTES
        .iter()
        .filter(move |n| n.anchor == anchor && n.params.contains(&param.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = include_str!("../../docs/compatibility.md");

    /// The decision cell of each parameter row of an anchor's table.
    fn rows(anchor: &str) -> Vec<(Vec<String>, String)> {
        let params = &DOC[DOC.find("## Parameters: every anchor parameter").unwrap()..];
        let heading = format!("### {anchor} (");
        let start = params
            .find(&heading)
            .unwrap_or_else(|| panic!("no section {heading}"));
        let body = &params[start + heading.len()..];
        let body = &body[..body.find("\n### ").unwrap_or(body.len())];
        body.lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let cells: Vec<&str> = l.split(" | ").collect();
                let names = cells[0]
                    .trim_start_matches("| ")
                    .split(", ")
                    .map(|c| c.trim().trim_matches('`').to_string())
                    .collect();
                (names, cells[1..].join(" | "))
            })
            .collect()
    }

    const ANCHORS: [&str; 7] = [
        "IPaddr2",
        "Filesystem",
        "VirtualDomain",
        "Xen",
        "pgsql",
        "mysql",
        "drbd",
    ];

    #[test]
    fn every_accepted_without_effect_row_is_listed_and_nothing_else() {
        for anchor in ANCHORS {
            for (names, decision) in rows(anchor) {
                let accepted = decision.starts_with("accepted");
                for name in names {
                    let ignored = for_param(anchor, &name).any(|n| n.treatment == Ignored);
                    assert_eq!(
                        accepted,
                        ignored,
                        "{anchor} {name}: the document says {decision:?}, the list {}",
                        if ignored { "Ignored" } else { "not Ignored" }
                    );
                }
            }
        }
    }

    #[test]
    fn every_listed_parameter_has_its_row() {
        for n in NOTES {
            assert!(ANCHORS.contains(&n.anchor), "{}", n.anchor);
            let rows = rows(n.anchor);
            for p in n.params {
                assert!(
                    rows.iter().any(|(names, _)| names.iter().any(|x| x == p)),
                    "{} {p}: no row in docs/compatibility.md",
                    n.anchor
                );
            }
        }
    }
}
