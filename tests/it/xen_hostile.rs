//! Issue 14, ocf:rust:xen (and ocf:rust:vm's xmfile backend): hostile names
//! and migration addresses, against the xl SIMULATOR (tests/sim/xl: there
//! is no Xen hypervisor on the test machines). The simulator records every
//! argv exactly, parses options as xl does (`--` ends them), and runs
//! `xl migrate`'s host through /bin/sh and an ssh stand-in as xl does, so
//! a value that reached it would run its command here.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use support::xen::{SimHost, domain_config};
use support::{AgentLink, Outcome, Scratch, agent_link, ocf};

struct Rig {
    dir: Scratch,
    agent: AgentLink,
    host: SimHost,
    node2: SimHost,
    cfg: String,
    xl: String,
    rsctmp: String,
}

fn rig(tag: &str, dom: &str) -> Rig {
    let dir = Scratch::new(&format!("xenh-{tag}"));
    let host = SimHost::new(&dir.0, "node1");
    let node2 = SimHost::new(&dir.0, "node2");
    let cfg = domain_config(&dir, dom).to_string_lossy().into_owned();
    let xl = host.xl.to_string_lossy().into_owned();
    let rsctmp = dir.path("rsctmp").to_string_lossy().into_owned();
    Rig {
        dir,
        agent: agent_link("xen"),
        host,
        node2,
        cfg,
        xl,
        rsctmp,
    }
}

impl Rig {
    fn run(&self, action: &str, extra: &[(&str, &str)], env: &[(&str, &str)]) -> Outcome {
        let mut p = vec![("xmfile", self.cfg.as_str()), ("binary", self.xl.as_str())];
        p.extend_from_slice(extra);
        let mut e = vec![
            ("OCF_RESOURCE_INSTANCE", "sentinel"),
            ("HA_RSCTMP", self.rsctmp.as_str()),
        ];
        e.extend_from_slice(env);
        let out = ocf(&self.agent, action, &p, &e);
        println!("{action} -> {}\n{}", out.code, out.stderr);
        out
    }

    /// A program that leaves `marker` behind if anything ever runs it.
    fn tripwire(&self) -> (PathBuf, PathBuf) {
        let marker = self.dir.path("pwned");
        let prog = self.dir.path("evil");
        std::fs::write(&prog, format!("#!/bin/sh\ntouch '{}'\n", marker.display())).unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        (prog, marker)
    }
}

/// A migration target (the node name, as Pacemaker passes it) that is not
/// an address or a host name never reaches `xl migrate`: shell syntax and
/// an ssh option would run a command here, as xl runs the host through a
/// shell and ssh. migrate_to refuses with 2 and says why, the domain stays,
/// and a proper target still works.
#[test]
fn simulated_hostile_migration_targets_never_reach_xl() {
    let r = rig("target", "sentinel");
    let (evil, marker) = r.tripwire();
    assert_eq!(r.run("start", &[], &[]).code, 0);
    let hostile = [
        format!("node2;{}", evil.display()),
        format!("node2|{}", evil.display()),
        format!("-oProxyCommand={}", evil.display()),
        format!("$({})", evil.display()),
        format!("node2 -oProxyCommand={}", evil.display()),
        "node2\n".to_string(),
    ];
    for target in &hostile {
        let out = r.run(
            "migrate_to",
            &[],
            &[("OCF_RESKEY_CRM_meta_migrate_target", target.as_str())],
        );
        assert_eq!(out.code, 2, "{target:?}: {out:?}");
        let reason = out.reason().unwrap();
        assert!(
            reason.contains("neither an IP address nor a host name"),
            "{reason}"
        );
        assert!(!marker.exists(), "{target:?} ran a command");
        assert!(r.host.has("sentinel"), "the domain stays");
    }
    let migrates = r
        .host
        .argv()
        .into_iter()
        .filter(|a| a.iter().any(|w| w == "migrate"))
        .count();
    assert_eq!(migrates, 0, "no xl migrate was run: {:?}", r.host.argv());
    // The simulator really runs what reaches it (so the test above means
    // something): xl itself, handed such a host, runs the command.
    let (rc, out) = r.host.xl(&[
        "migrate",
        "--",
        "sentinel",
        &format!("node2|{}", evil.display()),
    ]);
    assert!(marker.exists(), "the stand-in ran it ({rc}: {out})");
    std::fs::remove_file(&marker).unwrap();
    // A proper target still migrates, with `--` before the name.
    let ok = r.run(
        "migrate_to",
        &[],
        &[("OCF_RESKEY_CRM_meta_migrate_target", "node2")],
    );
    assert_eq!(ok.code, 0, "{ok:?}");
    assert!(r.node2.has("sentinel") && !r.host.has("sentinel"));
    let last = r
        .host
        .argv()
        .into_iter()
        .rfind(|a| a[1] == "migrate")
        .unwrap();
    assert_eq!(last[1..], ["migrate", "--", "sentinel", "node2"]);
    assert!(!marker.exists());
    let _ = r.node2.xl(&["destroy", "--", "sentinel"]);
}

/// A domain name that begins with `-`: start refuses it (as a parameter or
/// from the xmfile: 6 with one clear reason, no xl call); one that runs
/// anyway (created by hand) is still seen by a probe and ended by stop,
/// and every xl call that names it has `--` before it.
#[test]
fn simulated_names_starting_with_a_dash_are_refused_or_passed_after_double_dash() {
    let r = rig("dash", "sentinel");
    let v = r.run("validate-all", &[("name", "-x")], &[]);
    assert_eq!(v.code, 6, "{v:?}");
    assert!(
        v.reason().unwrap().contains("must not start with '-'"),
        "{v:?}"
    );
    std::fs::write(&r.cfg, "name = \"-x\"\nmemory = 128\nvcpus = 1\n").unwrap();
    let st = r.run("start", &[], &[]);
    assert_eq!(st.code, 6, "{st:?}");
    assert!(
        st.reason().unwrap().contains("must not start with '-'"),
        "{st:?}"
    );
    assert!(r.host.argv().iter().all(|a| !a.contains(&"-x".to_string())));
    // Created by hand (xl reads the name from the file).
    let (rc, out) = r.host.xl(&["create", &r.cfg]);
    assert_eq!(rc, 0, "{out}");
    assert!(r.host.xl(&["list", "--", "-x"]).0 == 0);
    let probe = r.run("monitor", &[], &[]);
    assert_eq!(probe.code, 0, "it runs: {probe:?}");
    let stop = r.run("stop", &[("shutdown_timeout", "0")], &[]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(r.host.xl(&["list", "--", "-x"]).0 != 0, "stopped");
    for a in r.host.argv() {
        if let Some(i) = a.iter().position(|w| w == "-x") {
            assert!(a[..i].contains(&"--".to_string()), "{a:?}");
        }
    }
    assert!(
        r.host
            .argv()
            .iter()
            .any(|a| a[1..] == ["destroy", "--", "-x"]),
        "{:?}",
        r.host.argv()
    );
}
