//! ocf:rust:xen against ocf:heartbeat:Xen, both driving the xl SIMULATOR
//! (tests/sim/xl: there is no Xen hypervisor on the test machines). Each
//! side gets its own simulated host, reached as `xl` on PATH (the heartbeat
//! agent finds its tool with `which xl`). What is left on the node is read
//! from the simulator's own state, so a rebooting guest (which `xl list`
//! hides for a moment) still counts as running.
//!
//! The cases are weighted to stop and probe with domain names our check
//! refuses (spaces, over 64 characters, `#` inside quotes), configurations
//! changed while the domain ran, and a guest that reboots during the stop.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;

use super::runner::{Case, Fixture, Side, Step, probe, run, run_with};
use crate::cases;
use support::Scratch;
use support::xen::SimHost;

pub struct Xen {
    host: SimHost,
    bin: PathBuf,
    xmfile: PathBuf,
    /// The name the xmfile gives the domain.
    name: String,
    set: Vec<(&'static str, String)>,
    _dir: Scratch,
}

impl Xen {
    fn xl(&self, args: &[&str]) {
        let (code, out) = self.host.xl(args);
        assert_eq!(code, 0, "xl {args:?}: {out}");
    }

    /// (name, state) of every domain the simulated host holds.
    fn domains(&self) -> Vec<(String, String)> {
        // Any call lets the simulator's clock tick (finished shutdowns go).
        let _ = self.host.xl(&["list"]);
        let mut v: Vec<(String, String)> = fs::read_dir(self.host.state.join("domains"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                    .filter_map(|e| {
                        let j = fs::read_to_string(e.path()).ok()?;
                        Some((
                            json_str(&j, "name")?,
                            json_str(&j, "state").unwrap_or_else(|| "running".into()),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// A string field of the simulator's one-line JSON (`"key": "value"`; the
/// names used here hold no quotes).
fn json_str(j: &str, key: &str) -> Option<String> {
    let start = j.find(&format!("\"{key}\": \""))? + key.len() + 5;
    let len = j[start..].find('"')?;
    Some(j[start..start + len].to_string())
}

impl Fixture for Xen {
    fn params(&self) -> Vec<(String, String)> {
        let mut p = vec![("xmfile".to_string(), self.xmfile.display().to_string())];
        for (k, v) in &self.set {
            p.retain(|(key, _)| key != k);
            if !v.is_empty() {
                p.push((k.to_string(), v.clone()));
            }
        }
        p
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![(
            "PATH".into(),
            format!(
                "{}:{}",
                self.bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )]
    }

    fn observe(&self) -> Vec<String> {
        self.domains()
            .into_iter()
            .map(|(n, s)| format!("domain {n}: {s}"))
            .collect()
    }

    fn running(&self) -> bool {
        !self.domains().is_empty()
    }
}

fn fixture(side: Side, tag: &str, name: &str) -> Xen {
    let dir = Scratch::new(&format!("conf-xen-{tag}-{}", side.label()));
    let host = SimHost::new(&dir.0, "node1");
    let bin = dir.path("bin");
    fs::create_dir_all(&bin).unwrap();
    symlink(&host.xl, bin.join("xl")).unwrap();
    let xmfile = dir.path("domain.cfg");
    write_xmfile(&xmfile, name);
    Xen {
        host,
        bin,
        xmfile,
        name: name.to_string(),
        set: Vec::new(),
        _dir: dir,
    }
}

fn write_xmfile(path: &PathBuf, name: &str) {
    fs::write(
        path,
        format!(
            "# PV guest for the xl SIMULATOR\nname = \"{name}\"\nkernel = \"/boot/vmlinuz-xen\"\n\
             memory = 256\nvcpus = 1\n"
        ),
    )
    .unwrap();
}

const AGENTS: (&str, &str) = ("heartbeat/Xen", "rust/xen");

/// 70 characters: over the 64 our check allows; xl does not mind.
const LONG: &str = "web-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789";

macro_rules! make {
    ($f:ident, $tag:literal, $name:expr) => {
        fn $f(side: Side) -> Xen {
            fixture(side, $tag, $name)
        }
    };
}

make!(web1, "web1", "web1");
make!(spaced, "spaced", "web server");
make!(long, "long", LONG);
make!(hashed, "hashed", "web#1");

/// `xl create` of the xmfile by hand (an admin, or ocf:heartbeat:Xen before
/// the provider was switched): nothing recorded.
fn create_by_hand(f: &mut Xen) {
    let file = f.xmfile.display().to_string();
    f.xl(&["create", &file]);
    assert!(f.host.has(&f.name), "{}", f.name);
}

fn lifecycle() -> Case<Xen> {
    Case::new(
        "xen/lifecycle",
        "probe, start, monitor, stop, stop, probe (SIMULATOR)",
        AGENTS,
        web1,
        vec![
            probe(),
            run("start"),
            run("monitor"),
            run("stop"),
            run("stop"),
            probe(),
        ],
    )
}

/// RA#314: the guest reboots just as stop looks for it. Both agents look
/// again (heartbeat: 5 tries 1 s apart) and stop it when it is back.
fn reboot_during_stop() -> Case<Xen> {
    Case::new(
        "xen/reboot-during-stop",
        "the guest is rebooting (gone for 2 s) when stop begins (SIMULATOR)",
        AGENTS,
        web1,
        vec![
            run("start"),
            Step::Do("the guest reboots", |f| f.xl(&["sim-reboot", "web1", "2"])),
            run("stop"),
            probe(),
        ],
    )
}

/// A domain named "web server" (xl accepts it; our check does not) runs,
/// created by hand. The heartbeat agent drops a name with a space and
/// looks for the resource's name instead.
fn name_with_a_space() -> Case<Xen> {
    Case::new(
        "xen/name-with-space",
        "a domain named \"web server\" created from the xmfile by hand; probe, stop (SIMULATOR)",
        AGENTS,
        spaced,
        vec![
            Step::Do("xl create", create_by_hand),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "ocf:heartbeat:Xen replaces a name with a space by the resource's name: probe 7 \
         and stop 0 with \"web server\" still running; ours refuses to start it but \
         probes 0 and stops it by the name xl reads from the xmfile",
        &[0, 0, 0, 7],
    )
}

fn name_over_64_characters() -> Case<Xen> {
    Case::new(
        "xen/name-over-64",
        "a domain with a 70-character name created by hand; probe, stop (SIMULATOR)",
        AGENTS,
        long,
        vec![
            Step::Do("xl create", create_by_hand),
            probe(),
            run("stop"),
            probe(),
        ],
    )
}

fn hash_inside_quotes() -> Case<Xen> {
    Case::new(
        "xen/hash-in-name",
        "name = \"web#1\" in the xmfile, created by hand; probe, stop (SIMULATOR)",
        AGENTS,
        hashed,
        vec![
            Step::Do("xl create", create_by_hand),
            probe(),
            run("stop"),
            probe(),
        ],
    )
}

fn xmfile_removed() -> Case<Xen> {
    Case::new(
        "xen/xmfile-removed",
        "the xmfile is removed while the domain runs; probe, stop (SIMULATOR)",
        AGENTS,
        web1,
        vec![
            run("start"),
            Step::Do("remove the xmfile", |f| fs::remove_file(&f.xmfile).unwrap()),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "without the xmfile ocf:heartbeat:Xen looks for a domain named after the resource: \
         probe 7 and stop 0 with web1 still running; ours probes 0 and stops it by the \
         record start left",
        &[0, 0, 0, 0, 7],
    )
}

fn xmfile_edited_to_a_refused_name() -> Case<Xen> {
    Case::new(
        "xen/xmfile-renamed-to-refused-name",
        "the xmfile's name becomes \"web server\" while web1 runs; probe, stop (SIMULATOR)",
        AGENTS,
        web1,
        vec![
            run("start"),
            Step::Do("name = \"web server\" in the xmfile", |f| {
                write_xmfile(&f.xmfile, "web server")
            }),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "ocf:heartbeat:Xen now looks for the resource's name: probe 7 and stop 0 with web1 \
         still running; ours probes 0 and stops web1 by the record",
        &[0, 0, 0, 0, 7],
    )
}

fn name_parameter_changed() -> Case<Xen> {
    Case::new(
        "xen/name-changed",
        "started as web1, then probe and stop with name=web2 (SIMULATOR)",
        AGENTS,
        web1,
        vec![
            run("start"),
            run_with("probe", &[("name", "web2")]),
            run_with("stop", &[("name", "web2")]),
            probe(),
        ],
    )
    .deviation(
        "ocf:heartbeat:Xen looks only at web2: probe 7 and stop 0 with web1 still running; \
         ours also stops the domain start recorded",
        &[0, 0, 0, 7],
    )
}

/// `xl rename` while it runs: the UUID start recorded still finds it.
fn renamed_domain() -> Case<Xen> {
    Case::new(
        "xen/renamed",
        "xl rename web1 web1-new while it runs; probe, monitor, stop (SIMULATOR)",
        AGENTS,
        web1,
        vec![
            run("start"),
            Step::Do("xl rename", |f| f.xl(&["rename", "web1", "web1-new"])),
            probe(),
            run("monitor"),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "ocf:heartbeat:Xen looks for web1 only: probe 7, monitor 7, stop 0 with the renamed \
         domain running; ours finds it by the recorded UUID (probe 0, recurring monitor 1 \
         so the cluster stops it) and stops it",
        &[0, 0, 0, 1, 0, 7],
    )
}

fn bad_shutdown_timeout() -> Case<Xen> {
    Case::new(
        "xen/bad-shutdown-timeout",
        "started, then probe and stop with shutdown_timeout=soon (SIMULATOR)",
        AGENTS,
        web1,
        vec![
            run("start"),
            run_with("probe", &[("shutdown_timeout", "soon")]),
            run_with("stop", &[("shutdown_timeout", "soon")]),
            probe(),
        ],
    )
    .deviation(
        "ocf:heartbeat:Xen exits 6 on the probe and on the stop (a stop 6 gets the node \
         fenced), the domain left running; ours refuses the value too but probes 0 and \
         stops the recorded domain",
        &[0, 0, 0, 7],
    )
}

fn guest_ignores_shutdown() -> Case<Xen> {
    Case::new(
        "xen/guest-ignores-shutdown",
        "the guest ignores xl shutdown; stop with shutdown_timeout=2 (SIMULATOR)",
        AGENTS,
        web1,
        vec![
            run("start"),
            Step::Do("the guest ignores shutdown", |f| {
                f.xl(&["sim-set", "web1", "ignore_shutdown=1"])
            }),
            run_with("stop", &[("shutdown_timeout", "2")]),
            probe(),
        ],
    )
}

/// The domain is destroyed behind the cluster's back: both monitors look
/// again for a few seconds, then say 7.
fn destroyed_behind_our_back() -> Case<Xen> {
    Case::new(
        "xen/destroyed-by-hand",
        "xl destroy by hand, then monitor, stop, probe (SIMULATOR)",
        AGENTS,
        web1,
        vec![
            run("start"),
            Step::Do("xl destroy", |f| f.xl(&["destroy", "web1"])),
            run("monitor"),
            run("stop"),
            probe(),
        ],
    )
}

cases!(
    lifecycle,
    reboot_during_stop,
    name_with_a_space,
    name_over_64_characters,
    hash_inside_quotes,
    xmfile_removed,
    xmfile_edited_to_a_refused_name,
    name_parameter_changed,
    renamed_domain,
    bad_shutdown_timeout,
    guest_ignores_shutdown,
    destroyed_behind_our_back,
);
