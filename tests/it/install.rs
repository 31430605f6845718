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

    // A stale link is replaced; a real file is never touched.
    fs::remove_file(dir.join("dummy")).unwrap();
    symlink("/nonexistent/old-ocf-rs", dir.join("dummy")).unwrap();
    let fixed = run_env(
        &bin(),
        &["install", "--prefix", pfx, "--provider", "acme"],
        &[],
    );
    assert!(fixed.stdout.contains("replace"), "{fixed:?}");
    assert_eq!(fs::read_link(dir.join("dummy")).unwrap(), binary);
    fs::remove_file(dir.join("dummy")).unwrap();
    fs::write(dir.join("dummy"), "#!/bin/sh\n").unwrap();
    let refused = run_env(
        &bin(),
        &["install", "--prefix", pfx, "--provider", "acme"],
        &[],
    );
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("not a symlink"), "{refused:?}");
    assert_eq!(
        fs::read_to_string(dir.join("dummy")).unwrap(),
        "#!/bin/sh\n"
    );
    fs::remove_file(dir.join("dummy")).unwrap();

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
