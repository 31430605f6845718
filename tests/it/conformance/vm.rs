//! ocf:rust:vm against ocf:heartbeat:VirtualDomain on the machine's real
//! libvirtd with QEMU (TCG), and for the daemon-down case on a private
//! libvirtd "host" of tests/harness/vm-libvirtd.sh. Each side gets its own
//! domains (`vma-c*`, the BIOS-only guest: it boots at once; where a case
//! needs a guest that answers nothing, it is that guest too), destroyed and
//! undefined on drop.
//!
//! The cases are weighted to stop and probe under configurations one side
//! refuses or that changed while the domain ran: VirtualDomain's ocf-rarun
//! answers "stopped" whenever its validation fails; ours stops and sees what
//! start recorded (name, UUID, hypervisor URI) and what the raw parameters
//! still name.

use std::time::Duration;

use super::runner::{Case, Fixture, Side, Step, probe, run, run_with};
use crate::cases;
use support::Scratch;
use support::vm::{Domain, Guest, PrivateHost, qemu_pids, system_libvirtd, virsh};

pub struct Vm {
    /// The domain the resource runs.
    a: Domain,
    /// Another domain the configuration may be changed to (never started).
    b: Domain,
    uri: String,
    graceful: bool,
    /// Parameters a step changed (an empty value removes one).
    set: Vec<(&'static str, String)>,
    /// Dropped after the domains: a private libvirtd and its leftovers.
    host: Option<PrivateHost>,
    _dir: Scratch,
}

impl Vm {
    fn set(&mut self, k: &'static str, v: String) {
        self.set.retain(|(key, _)| *key != k);
        self.set.push((k, v));
    }

    fn state(&self, d: &Domain) -> String {
        let (code, out) = virsh(&self.uri, None, &["domstate", &d.name]);
        if code == 0 {
            return out.trim().to_string();
        }
        if out.contains("failed to get domain") || out.contains("Domain not found") {
            "absent".into()
        } else {
            "unknown (libvirt does not answer)".into()
        }
    }
}

impl Fixture for Vm {
    fn params(&self) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = vec![
            ("config".into(), self.a.xml_str().into()),
            ("hypervisor".into(), self.uri.clone()),
        ];
        if !self.graceful {
            p.push(("force_stop".into(), "1".into()));
        }
        for (k, v) in &self.set {
            p.retain(|(key, _)| key != k);
            if !v.is_empty() {
                p.push((k.to_string(), v.clone()));
            }
        }
        p
    }

    fn observe(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (label, d) in [("A", &self.a), ("B", &self.b)] {
            out.push(format!("domain {label}: {}", self.state(d)));
            if !qemu_pids(&d.name).is_empty() {
                out.push(format!("QEMU process of {label}: running"));
            }
        }
        out
    }

    fn running(&self) -> bool {
        !qemu_pids(&self.a.name).is_empty() || !qemu_pids(&self.b.name).is_empty()
    }
}

#[derive(Clone, Copy, Default)]
struct Opts {
    /// No force_stop: stop asks the guest first.
    graceful: bool,
    /// The config file begins with a UTF-8 byte-order mark.
    bom: bool,
    /// On a private libvirtd that a step can kill.
    private: bool,
}

fn fixture(side: Side, tag: &str, o: Opts) -> Vm {
    let letter = match side {
        Side::Anchor => 'a',
        Side::Ours => 'o',
    };
    let dir = Scratch::new(&format!("conf-vm-{tag}-{letter}"));
    let host = o
        .private
        .then(|| PrivateHost::up(&format!("c{}{letter}", std::process::id() % 100_000), None));
    let uri = match &host {
        Some(h) => h.uri.clone(),
        None => system_libvirtd().to_string(),
    };
    let name = |x: char| format!("vma-c{}-{tag}-{letter}{x}", std::process::id());
    let mut a = Domain::new(&dir.0, &name('a'), Guest::Bare, &uri);
    let mut b = Domain::new(&dir.0, &name('b'), Guest::Bare, &uri);
    a.hosts = vec![(uri.clone(), None)];
    b.hosts = vec![(uri.clone(), None)];
    if o.bom {
        let text = std::fs::read(&a.xml).unwrap();
        let mut with_bom = b"\xef\xbb\xbf".to_vec();
        with_bom.extend(text);
        std::fs::write(&a.xml, with_bom).unwrap();
    }
    Vm {
        a,
        b,
        uri,
        graceful: o.graceful,
        set: Vec::new(),
        host,
        _dir: dir,
    }
}

const AGENTS: (&str, &str) = ("heartbeat/VirtualDomain", "rust/vm");

macro_rules! make {
    ($f:ident, $tag:literal, $opts:expr) => {
        fn $f(side: Side) -> Vm {
            fixture(side, $tag, $opts)
        }
    };
}

make!(plain, "plain", Opts::default());
make!(
    with_bom,
    "bom",
    Opts {
        bom: true,
        ..Opts::default()
    }
);
make!(
    graceful,
    "graceful",
    Opts {
        graceful: true,
        ..Opts::default()
    }
);
make!(
    private,
    "down",
    Opts {
        private: true,
        ..Opts::default()
    }
);

fn lifecycle() -> Case<Vm> {
    Case::new(
        "vm/lifecycle",
        "probe, start, start, monitor, stop, stop, probe",
        AGENTS,
        plain,
        vec![
            probe(),
            run("start"),
            run("start"),
            run("monitor"),
            run("stop"),
            run("stop"),
            probe(),
        ],
    )
}

/// An unknown shutdown_mode: VirtualDomain never reads it; ours refuses it,
/// yet probe and stop still see and stop the running domain.
fn stop_with_an_unknown_shutdown_mode() -> Case<Vm> {
    Case::new(
        "vm/stop-unknown-shutdown-mode",
        "started, then probe and stop with shutdown_mode=bogus",
        AGENTS,
        plain,
        vec![
            run("start"),
            run_with("probe", &[("shutdown_mode", "bogus")]),
            run_with("stop", &[("shutdown_mode", "bogus")]),
            probe(),
        ],
    )
}

/// migrate_options=--verbose is a virsh option VirtualDomain passes on and
/// ours refuses: probe and stop are still truthful.
fn stop_with_migrate_options_verbose() -> Case<Vm> {
    Case::new(
        "vm/migrate-options-verbose",
        "started, then probe and stop with migrate_options=--verbose",
        AGENTS,
        plain,
        vec![
            run("start"),
            run_with("probe", &[("migrate_options", "--verbose")]),
            run_with("stop", &[("migrate_options", "--verbose")]),
            probe(),
        ],
    )
}

fn config_unset() -> Case<Vm> {
    Case::new(
        "vm/config-unset",
        "started, then probe and stop without the config parameter",
        AGENTS,
        plain,
        vec![
            run("start"),
            run_with("probe", &[("config", "")]),
            run_with("stop", &[("config", "")]),
            probe(),
        ],
    )
    .deviation(
        "VirtualDomain answers 6 to the probe and to the stop (a stop 6 gets the node \
         fenced) and leaves the domain running; ours probes 0 and stops it through the \
         record start left",
        &[0, 0, 0, 7],
    )
}

fn config_file_removed() -> Case<Vm> {
    Case::new(
        "vm/config-removed",
        "the config file is removed while the domain runs; probe and stop",
        AGENTS,
        plain,
        vec![
            run("start"),
            Step::Do("remove the config file", |f| {
                std::fs::remove_file(&f.a.xml).unwrap()
            }),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "VirtualDomain probes 7 and stops 0 with the domain still running (the file it \
         reads the name from is gone); ours probes 0 and stops it by the recorded UUID",
        &[0, 0, 0, 0, 7],
    )
}

fn config_broken_while_running() -> Case<Vm> {
    Case::new(
        "vm/config-broken",
        "the config file is overwritten with garbage while the domain runs",
        AGENTS,
        plain,
        vec![
            run("start"),
            Step::Do("overwrite the config file with garbage", |f| {
                std::fs::write(&f.a.xml, "not xml at all\n").unwrap()
            }),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "VirtualDomain cannot read a name any more: probe 7 and stop 0 with the domain \
         still running; ours probes 0 and stops it by the record",
        &[0, 0, 0, 0, 7],
    )
}

/// A domain XML that begins with a byte-order mark: libvirt reads it, and
/// so do both agents.
fn bom() -> Case<Vm> {
    Case::new(
        "vm/bom",
        "the domain XML begins with a UTF-8 byte-order mark",
        AGENTS,
        with_bom,
        vec![
            probe(),
            run("start"),
            run("monitor"),
            probe(),
            run("stop"),
            probe(),
        ],
    )
}

fn config_names_another_domain() -> Case<Vm> {
    Case::new(
        "vm/config-names-another-domain",
        "started, then config points at another domain's XML; probe, monitor, stop",
        AGENTS,
        plain,
        vec![
            run("start"),
            Step::Do("config now names domain B", |f| {
                let b = f.b.xml_str().to_string();
                f.set("config", b);
            }),
            probe(),
            run("monitor"),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "VirtualDomain looks only at domain B: probe 7, monitor 7, stop 0 with domain A \
         still running; ours sees A through the record (probe 0, recurring monitor 1 so \
         the cluster stops it) and stops it",
        &[0, 0, 0, 1, 0, 7],
    )
}

fn xml_renamed_while_running() -> Case<Vm> {
    Case::new(
        "vm/xml-renamed",
        "the <name> in the config file is edited while the domain runs",
        AGENTS,
        plain,
        vec![
            run("start"),
            Step::Do("rename the domain in its config file", |f| {
                let text = std::fs::read_to_string(&f.a.xml).unwrap();
                let renamed = text.replace(
                    &format!("<name>{}</name>", f.a.name),
                    &format!("<name>{}-renamed</name>", f.a.name),
                );
                std::fs::write(&f.a.xml, renamed).unwrap();
            }),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "VirtualDomain looks for the new name: probe 7 and stop 0 with the domain still \
         running; ours probes 0 and stops the recorded one",
        &[0, 0, 0, 0, 7],
    )
}

fn hypervisor_changed() -> Case<Vm> {
    Case::new(
        "vm/hypervisor-changed",
        "started, then probe and stop with hypervisor=test:///default (another, valid URI)",
        AGENTS,
        plain,
        vec![
            run("start"),
            run_with("probe", &[("hypervisor", "test:///default")]),
            run_with("stop", &[("hypervisor", "test:///default")]),
            probe(),
        ],
    )
    .deviation(
        "VirtualDomain asks only the new hypervisor: probe 7 and stop 0 with the domain \
         still running on the old one; ours also stops it where start recorded it",
        &[0, 0, 0, 7],
    )
}

fn stateless_without_backingfile() -> Case<Vm> {
    Case::new(
        "vm/stateless-without-backingfile",
        "started, then probe and stop with stateless=true and no backingfile",
        AGENTS,
        plain,
        vec![
            run("start"),
            run_with("probe", &[("stateless", "true")]),
            run_with("stop", &[("stateless", "true")]),
            probe(),
        ],
    )
    .deviation(
        "VirtualDomain's validation fails, so ocf-rarun answers probe 7 and stop 0 with \
         the domain still running; ours probes 0 and stops it",
        &[0, 0, 0, 7],
    )
}

fn force_stop_with_snapshot() -> Case<Vm> {
    Case::new(
        "vm/force-stop-with-snapshot",
        "started, then probe and stop with force_stop and snapshot both set",
        AGENTS,
        plain,
        vec![
            run("start"),
            run_with("probe", &[("snapshot", "/var/tmp")]),
            run_with("stop", &[("snapshot", "/var/tmp")]),
            probe(),
        ],
    )
    .deviation(
        "VirtualDomain refuses the pair, then ocf-rarun answers probe 7 and stop 0 with \
         the domain still running; ours refuses it too but probes 0 and stops it",
        &[0, 0, 0, 7],
    )
}

fn bad_migration_speed() -> Case<Vm> {
    Case::new(
        "vm/bad-migration-speed",
        "started, then probe and stop with migration_speed=fast",
        AGENTS,
        plain,
        vec![
            run("start"),
            run_with("probe", &[("migration_speed", "fast")]),
            run_with("stop", &[("migration_speed", "fast")]),
            probe(),
        ],
    )
    .deviation(
        "VirtualDomain's validation fails: probe 7 and stop 0 with the domain still \
         running; ours probes 0 and stops it",
        &[0, 0, 0, 7],
    )
}

/// Started by hand (or by VirtualDomain, before the provider was switched):
/// no record, and a parameter ours refuses. The config file still names the
/// domain, and both agents find it.
fn started_by_hand_with_a_refused_parameter() -> Case<Vm> {
    Case::new(
        "vm/started-by-hand-refused-parameter",
        "the domain runs (virsh create), nothing recorded; probe and stop with \
         shutdown_mode=bogus",
        AGENTS,
        plain,
        vec![
            Step::Do("virsh create the config file", |f| {
                let (code, out) = virsh(&f.uri, None, &["create", f.a.xml_str()]);
                assert_eq!(code, 0, "{out}");
            }),
            run_with("probe", &[("shutdown_mode", "bogus")]),
            run_with("stop", &[("shutdown_mode", "bogus")]),
            probe(),
        ],
    )
}

/// A guest that ignores the shutdown request (no OS to hear it): both
/// destroy it before the stop's timeout.
fn guest_ignores_shutdown() -> Case<Vm> {
    Case::new(
        "vm/guest-ignores-shutdown",
        "graceful stop of a guest that never answers, 12 s timeout",
        AGENTS,
        graceful,
        vec![run("start"), run("stop"), probe()],
    )
    .timeout_ms(12_000)
}

/// libvirtd dies while the domain runs: its QEMU process goes on.
fn libvirtd_down() -> Case<Vm> {
    Case::new(
        "vm/libvirtd-down",
        "libvirtd is stopped while the domain runs; probe, stop, probe",
        AGENTS,
        private,
        vec![
            run("start"),
            Step::Do("stop libvirtd", |f| {
                let host = f.host.as_ref().unwrap();
                host.signal(libc::SIGTERM);
                let uri = host.uri.clone();
                let gone = support::wait_for(Duration::from_secs(20), || {
                    virsh(&uri, None, &["version"]).0 != 0
                });
                assert!(gone, "libvirtd still answers");
            }),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "both probes see the QEMU process (0), but VirtualDomain's stop gives up without \
         libvirtd (1, the domain left running); ours ends the QEMU process it identifies \
         by the recorded UUID and stops 0",
        &[0, 0, 0, 0, 7],
    )
}

cases!(
    lifecycle,
    stop_with_an_unknown_shutdown_mode,
    stop_with_migrate_options_verbose,
    config_unset,
    config_file_removed,
    config_broken_while_running,
    bom,
    config_names_another_domain,
    xml_renamed_while_running,
    hypervisor_changed,
    stateless_without_backingfile,
    force_stop_with_snapshot,
    bad_migration_speed,
    started_by_hand_with_a_refused_parameter,
    guest_ignores_shutdown,
    libvirtd_down,
);
