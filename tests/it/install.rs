//! `ocf-rs install`: the provider directory of symlinks, idempotent, with
//! --dry-run and --uninstall, in a scratch prefix (never /usr/lib/ocf here).

use std::fs;
use std::os::unix::fs::symlink;

use support::{Scratch, bin, run_env};

#[test]
fn install_links_every_agent_idempotently_and_uninstalls() {
    let s = Scratch::new("install");
    let prefix = s.path("ocf");
    let pfx = prefix.to_str().unwrap();
    let binary = fs::canonicalize(bin()).unwrap();
    let agents: Vec<String> = run_env(&bin(), &["list"], &[])
        .stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect();
    let dir = prefix.join("resource.d/acme");

    let dry = run_env(
        &bin(),
        &[
            "install",
            "--prefix",
            pfx,
            "--provider",
            "acme",
            "--dry-run",
        ],
        &[],
    );
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(dry.stdout.contains("would link"), "{dry:?}");
    assert!(!dir.exists(), "--dry-run changed nothing");

    let first = run_env(
        &bin(),
        &["install", "--prefix", pfx, "--provider=acme"],
        &[],
    );
    assert_eq!(first.code, 0, "{first:?}");
    for a in &agents {
        assert_eq!(fs::read_link(dir.join(a)).unwrap(), binary, "{a}");
    }
    let again = run_env(
        &bin(),
        &["install", "--prefix", pfx, "--provider", "acme"],
        &[],
    );
    assert_eq!(again.code, 0);
    assert_eq!(
        again.stdout.matches("(unchanged)").count(),
        agents.len(),
        "{again:?}"
    );

    // The installed link works as an agent: argv[0] selects it.
    let md = run_env(&dir.join("dummy"), &["meta-data"], &[]);
    assert!(md.stdout.contains("<resource-agent name=\"dummy\""));

    // A stale link of ours (to an ocf-rs that moved) is replaced.
    fs::remove_file(dir.join("dummy")).unwrap();
    symlink("/usr/local/sbin/gone/ocf-rs", dir.join("dummy")).unwrap();
    let fixed = run_env(
        &bin(),
        &["install", "--prefix", pfx, "--provider", "acme"],
        &[],
    );
    assert_eq!(fixed.code, 0, "{fixed:?}");
    assert!(fixed.stdout.contains("replace"), "{fixed:?}");
    assert_eq!(fs::read_link(dir.join("dummy")).unwrap(), binary);

    // What is not ours is never touched, by install or uninstall: a real
    // file and a link to something else. The other agents are still linked,
    // and install says so with exit code 3.
    fs::remove_file(dir.join("dummy")).unwrap();
    fs::write(dir.join("dummy"), "#!/bin/sh\n").unwrap();
    fs::remove_file(dir.join("xen")).unwrap();
    symlink("/usr/lib/ocf/resource.d/heartbeat/Xen", dir.join("xen")).unwrap();
    fs::remove_file(dir.join("vm")).unwrap();
    let refused = run_env(
        &bin(),
        &["install", "--prefix", pfx, "--provider", "acme"],
        &[],
    );
    assert_eq!(refused.code, 3, "{refused:?}");
    assert!(
        refused.stderr.contains("dummy exists and is not a symlink"),
        "{refused:?}"
    );
    assert!(
        refused.stderr.contains("xen is a link that is not ours"),
        "{refused:?}"
    );
    assert_eq!(
        fs::read_link(dir.join("vm")).unwrap(),
        binary,
        "the rest is linked"
    );
    let foreign_intact = || {
        assert_eq!(
            fs::read_to_string(dir.join("dummy")).unwrap(),
            "#!/bin/sh\n"
        );
        assert_eq!(
            fs::read_link(dir.join("xen")).unwrap(),
            std::path::Path::new("/usr/lib/ocf/resource.d/heartbeat/Xen")
        );
    };
    foreign_intact();
    let partial = run_env(
        &bin(),
        &[
            "install",
            "--prefix",
            pfx,
            "--provider",
            "acme",
            "--uninstall",
        ],
        &[],
    );
    assert_eq!(partial.code, 0, "{partial:?}");
    assert!(
        partial.stdout.contains("xen is not ours; left alone"),
        "{partial:?}"
    );
    foreign_intact();
    assert!(
        fs::symlink_metadata(dir.join("vm")).is_err(),
        "ours removed"
    );
    fs::remove_file(dir.join("dummy")).unwrap();
    fs::remove_file(dir.join("xen")).unwrap();
    let relinked = run_env(
        &bin(),
        &["install", "--prefix", pfx, "--provider", "acme"],
        &[],
    );
    assert_eq!(relinked.code, 0, "{relinked:?}");

    let un = run_env(
        &bin(),
        &[
            "install",
            "--prefix",
            pfx,
            "--provider",
            "acme",
            "--uninstall",
        ],
        &[],
    );
    assert_eq!(un.code, 0, "{un:?}");
    assert!(
        !dir.exists(),
        "uninstall removed the links and the empty provider directory"
    );

    assert_eq!(
        run_env(&bin(), &["install", "--prefix", "relative"], &[]).code,
        2
    );
    assert_eq!(
        run_env(&bin(), &["install", "--provider", "../x"], &[]).code,
        2
    );
}
