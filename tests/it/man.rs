//! The manual pages cannot drift from the code: man/ocf_rust_<agent>.7 for
//! every agent and man/ocf-rs.8 are what `ocf-rs man` writes from the tables
//! (`python3 scripts/update-docs.py` regenerates them), no page is left for an
//! agent that is gone, and groff formats each one without a warning, as
//! `man -l` shows it, with every parameter and action of the agent.

use std::fs;
use std::process::{Command, Stdio};

use support::{bin, repo, require, run_env};

/// Run `program args` on nothing, with `env`; (exit code, stdout, stderr).
fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_page_is_generated_current_and_formats_without_warnings() {
    require("groff");
    require("man");
    let agents: Vec<String> = run_env(&bin(), &["list"], &[])
        .stdout
        .lines()
        .filter_map(|l| l.split('\t').next())
        .map(str::to_string)
        .collect();
    let mut expected: Vec<(String, String)> = agents
        .iter()
        .map(|a| (format!("ocf_rust_{a}.7"), a.clone()))
        .collect();
    expected.push(("ocf-rs.8".into(), "ocf-rs".into()));

    let dir = repo().join("man");
    let mut present: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    let mut want: Vec<String> = expected.iter().map(|(f, _)| f.clone()).collect();
    want.sort();
    assert_eq!(
        present, want,
        "man/ has a page too many or too few: run python3 scripts/update-docs.py"
    );

    for (file, name) in &expected {
        let path = dir.join(file);
        let committed = fs::read_to_string(&path).unwrap();
        let generated = run_env(&bin(), &["man", name], &[]);
        assert_eq!(generated.code, 0, "{generated:?}");
        assert!(
            committed == generated.stdout,
            "{} is out of date: run python3 scripts/update-docs.py",
            path.display()
        );
        let p = path.to_str().unwrap();
        for args in [
            vec!["-ww", "-z", "-man", p],
            vec!["-ww", "-z", "-man", "-Tutf8", p],
        ] {
            let (code, _, err) = run("groff", &args, &[]);
            assert!(code == 0 && err.is_empty(), "groff {args:?}: {err}");
        }
        // What an admin sees: man's own formatting, every warning on.
        let (code, shown, err) = run(
            "man",
            &["--warnings=all", "-l", p],
            &[("MANWIDTH", "80"), ("MAN_KEEP_FORMATTING", "")],
        );
        assert!(code == 0 && err.is_empty(), "man -l {p}: {err}");
        let title = if name == "ocf-rs" {
            "ocf-rs - Pacemaker OCF resource agents".to_string()
        } else {
            format!("ocf_rust_{name} - ")
        };
        assert!(
            shown.contains(&title),
            "{file} shows no NAME line:\n{shown}"
        );
        if name != "ocf-rs" {
            let md = run_env(&bin(), &["meta-data", name], &[]).stdout;
            for (tag, open) in [
                ("parameter", "<parameter name=\""),
                ("action", "<action name=\""),
            ] {
                for chunk in md.split(open).skip(1) {
                    let n = chunk.split('"').next().unwrap();
                    assert!(
                        shown.lines().any(|l| l.trim_start().starts_with(n)),
                        "{file} does not show the {tag} {n}"
                    );
                }
            }
        } else {
            for a in &agents {
                assert!(
                    shown.contains(&format!("ocf:rust:{a}")),
                    "ocf-rs.8 lacks {a}"
                );
            }
        }
    }
}
