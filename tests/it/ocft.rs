//! resource-agents' own test suite, ocft, against our agents: every case file
//! of /usr/share/resource-agents/ocft/configs for an agent we replace runs
//! through scripts/ocft.sh with only `Agent` and `AgentRoot` changed (and the
//! environment adaptation the script's header lists, the same as for the
//! heartbeat agents). Every case must pass, except the deliberate deviations
//! listed in [`DEVIATIONS`] — the one place they are — each of which is also
//! a row of docs/compatibility.md. A listed deviation is applied to the case
//! (our answer is expected instead of the case file's), so a deviation that
//! stops deviating fails its case too and the list stays true.
//!
//! The heartbeat baseline is `scripts/ocft.sh --side both` (its table is in
//! docs/compatibility.md); CI runs ours only.

use std::process::Command;

use support::{provider, repo, require, system_install};

/// One case where we answer differently from what the case file expects, on
/// purpose. `case` is ocft's number of the case in its file (from 0).
struct Deviation {
    file: &'static str,
    case: u32,
    action: &'static str,
    expected: &'static str,
    ours: &'static str,
    /// Applied: the case runs expecting `ours` (and must pass). Not applied:
    /// the case must fail exactly there, with `ours` (used where the rest of
    /// the case checks what the case file's answer would have left, and the
    /// heartbeat agent fails the case the same way).
    applied: bool,
    why: &'static str,
}

const NO_ROUTE: &str = "no route to the address on this node: 5 (this node cannot run it; \
    Pacemaker bans it here and starts it elsewhere), not 1 (a soft error retried in place); \
    upstream IPaddr2 answers 5 too since 2025 (4a228f3d8); the case files date from 2012";

/// The deliberate deviations: the ONE list (docs/compatibility.md, section
/// "ocft", has a row for each, by `File#case`).
const DEVIATIONS: &[Deviation] = &[
    Deviation {
        file: "IPaddr2v4",
        case: 8,
        action: "start",
        expected: "OCF_ERR_GENERIC",
        ours: "OCF_ERR_INSTALLED",
        applied: true,
        why: NO_ROUTE,
    },
    Deviation {
        file: "IPaddr2v4",
        case: 9,
        action: "start",
        expected: "OCF_ERR_GENERIC",
        ours: "OCF_ERR_INSTALLED",
        applied: true,
        why: NO_ROUTE,
    },
    Deviation {
        file: "IPaddr2v4",
        case: 10,
        action: "start",
        expected: "OCF_ERR_GENERIC",
        ours: "OCF_ERR_INSTALLED",
        applied: true,
        why: NO_ROUTE,
    },
    Deviation {
        file: "IPaddr2v4",
        case: 12,
        action: "start",
        expected: "OCF_ERR_GENERIC",
        ours: "OCF_ERR_INSTALLED",
        applied: true,
        why: NO_ROUTE,
    },
    Deviation {
        file: "IPaddr2v4",
        case: 15,
        action: "start",
        expected: "OCF_ERR_GENERIC",
        ours: "OCF_ERR_INSTALLED",
        applied: true,
        why: NO_ROUTE,
    },
    Deviation {
        file: "IPaddr2v4",
        case: 19,
        action: "start",
        expected: "OCF_ERR_GENERIC",
        ours: "OCF_ERR_INSTALLED",
        applied: true,
        why: NO_ROUTE,
    },
    Deviation {
        file: "IPaddr2v6",
        case: 6,
        action: "start",
        expected: "OCF_ERR_GENERIC",
        ours: "OCF_ERR_INSTALLED",
        applied: true,
        why: NO_ROUTE,
    },
    Deviation {
        file: "IPaddr2v6",
        case: 10,
        action: "start",
        expected: "OCF_ERR_GENERIC",
        ours: "OCF_ERR_INSTALLED",
        applied: true,
        why: NO_ROUTE,
    },
    Deviation {
        file: "IPaddr2v6",
        case: 11,
        action: "start",
        expected: "OCF_ERR_GENERIC",
        ours: "OCF_ERR_INSTALLED",
        applied: true,
        why: NO_ROUTE,
    },
    Deviation {
        file: "IPaddr2v6",
        case: 13,
        action: "start",
        expected: "OCF_ERR_GENERIC",
        ours: "OCF_SUCCESS",
        applied: false,
        why: "cidr_netmask=80 given for an address in an on-link /64, no nic: a valid \
              configuration (the prefix is explicit), started as the heartbeat agent starts it \
              (it fails this case the same way); the case file predates findif accepting it",
    },
    Deviation {
        file: "IPaddr2v6",
        case: 14,
        action: "start",
        expected: "OCF_ERR_GENERIC",
        ours: "OCF_ERR_INSTALLED",
        applied: true,
        why: NO_ROUTE,
    },
    Deviation {
        file: "IPaddr2v6",
        case: 15,
        action: "start",
        expected: "OCF_ERR_GENERIC",
        ours: "OCF_ERR_INSTALLED",
        applied: true,
        why: NO_ROUTE,
    },
    Deviation {
        file: "Xen",
        case: 2,
        action: "start",
        expected: "OCF_ERR_INSTALLED",
        ours: "OCF_ERR_CONFIGURED",
        applied: true,
        why: "xmfile unset: a required parameter missing is wrong on every node, 6 (banned \
              from the cluster), not 5 (Pacemaker would try each node in turn)",
    },
];

/// Our agent for a case file (the runner maps the same way).
fn ours(file: &str) -> &'static str {
    match file {
        "Filesystem" => "filesystem",
        "VirtualDomain" => "vm",
        "IPaddr2v4" | "IPaddr2v6" => "ipaddr",
        "Xen" => "xen",
        "pgsql" => "pgsql",
        "mysql" => "mysql",
        _ => panic!("no agent of ours for {file}"),
    }
}

/// Run scripts/ocft.sh for `file` on `side`; (exit code, output).
fn runner(file: &str, side: &str) -> (i32, String) {
    require("ocft");
    system_install();
    let mut args: Vec<String> = vec![
        "-k".into(),
        "10".into(),
        "280".into(),
        repo().join("scripts/ocft.sh").display().to_string(),
        "--side".into(),
        side.into(),
        "--provider".into(),
        provider(),
    ];
    for d in DEVIATIONS.iter().filter(|d| d.file == file && d.applied) {
        args.push("--deviate".into());
        args.push(format!(
            "{}:{}:{}:{}:{}",
            d.file, d.case, d.action, d.expected, d.ours
        ));
    }
    args.push(file.into());
    let out = Command::new("timeout")
        .args(&args)
        .output()
        .expect("cannot run scripts/ocft.sh");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// Every case passed (or failed exactly as its listed deviation says), the
/// total is complete and nothing outlived the run.
fn assert_all_pass(file: &str, side: &str) {
    let (rc, out) = runner(file, side);
    println!("{out}");
    let mut failed = Vec::new();
    let mut total = None;
    let mut lines = out.lines().peekable();
    let mut seen_failing = 0;
    while let Some(line) = lines.next() {
        let w: Vec<&str> = line.splitn(7, ' ').collect();
        match w.as_slice() {
            ["CASE", f, s, n, verdict, _, summary] if *f == file && *s == side => {
                let mut detail = String::new();
                while let Some(l) = lines.next_if(|l| l.starts_with("    ")) {
                    detail.push_str(l);
                    detail.push('\n');
                }
                let n: u32 = n.parse().unwrap();
                let listed = (side == "ours")
                    .then(|| DEVIATIONS.iter().find(|d| d.file == file && d.case == n))
                    .flatten();
                match listed {
                    Some(d) if !d.applied => {
                        let want = format!("unexpected value: '{}'", d.ours);
                        if *verdict == "FAIL" && detail.contains(&want) {
                            seen_failing += 1;
                        } else {
                            failed.push(format!(
                                "case {n} '{summary}': the listed deviation ({} answers {} \
                                 where the case expects {}) no longer holds ({verdict}); if \
                                 the agent changed on purpose, remove it from DEVIATIONS and \
                                 docs/compatibility.md",
                                d.action, d.ours, d.expected
                            ));
                        }
                    }
                    Some(d) if *verdict != "PASS" => failed.push(format!(
                        "case {n} '{summary}': the listed deviation ({} answers {} where the \
                         case expects {}) no longer holds; if the agent changed on purpose, \
                         remove it from DEVIATIONS and docs/compatibility.md",
                        d.action, d.ours, d.expected
                    )),
                    None if *verdict != "PASS" => {
                        failed.push(format!("case {n} '{summary}' {verdict}"))
                    }
                    _ => {}
                }
            }
            ["TOTAL", f, s, passed, all] if *f == file && *s == side => {
                total = Some((passed.parse::<u32>().unwrap(), all.parse::<u32>().unwrap()));
            }
            _ if line.starts_with("LEFTOVER") || line.contains("NOTFOUND") => {
                failed.push(line.to_string());
            }
            _ => {}
        }
    }
    assert!(
        failed.is_empty(),
        "ocft {file} against {side}: {failed:#?}\n(the output above has each case's details)"
    );
    let (passed, all) = total.unwrap_or_else(|| panic!("no TOTAL line for {file}:\n{out}"));
    assert_ne!(all, 0, "{file}: no case ran");
    assert_eq!(passed + seen_failing, all, "{file}: {passed}/{all}");
    // the runner's own verdict: 0 only when every case passed
    assert_eq!(
        rc == 0,
        seen_failing == 0,
        "scripts/ocft.sh {file} exited {rc}"
    );
}

fn run_case_file(file: &str) {
    assert_all_pass(file, "ours");
}

#[test]
fn ocft_filesystem() {
    run_case_file("Filesystem");
}

#[test]
fn ocft_virtualdomain() {
    run_case_file("VirtualDomain");
}

#[test]
fn ocft_ipaddr2v4() {
    run_case_file("IPaddr2v4");
}

#[test]
fn ocft_ipaddr2v6() {
    run_case_file("IPaddr2v6");
}

#[test]
fn ocft_xen() {
    run_case_file("Xen");
}

#[test]
fn ocft_pgsql() {
    run_case_file("pgsql");
}

#[test]
fn ocft_mysql() {
    run_case_file("mysql");
}

/// Each deviation has its row in docs/compatibility.md (by `File#case`), and
/// each has a reason; no two name the same case.
#[test]
fn ocft_deviations_are_documented() {
    let doc = std::fs::read_to_string(repo().join("docs/compatibility.md")).unwrap();
    for (i, d) in DEVIATIONS.iter().enumerate() {
        let id = format!("`{}#{}`", d.file, d.case);
        assert!(
            doc.lines()
                .any(|l| l.starts_with('|') && l.contains(&id) && l.contains(d.ours)),
            "docs/compatibility.md has no row for {id} answering {}",
            d.ours
        );
        assert!(!d.why.is_empty());
        assert!(
            !DEVIATIONS[..i]
                .iter()
                .any(|e| e.file == d.file && e.case == d.case),
            "{id} is listed twice"
        );
        ours(d.file);
    }
}
