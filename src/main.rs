//! `ocf-rs`: every agent in one binary.
//!
//! Pacemaker execs `/usr/lib/ocf/resource.d/rust/<agent> <action>`, a symlink
//! to this binary, so `basename(argv[0])` naming an agent is the hot path: it
//! goes straight to the agent with no CLI parsing at all. Anything else is the
//! tool interface: `ocf-rs <agent> <action>`, `list`, `meta-data`, `doc`,
//! `man`, `install`, `migrate`, `--version`.

mod install;
mod man;
mod migrate;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ocf::AgentInfo;

/// One entry per agent: its published tables and its driver entry point.
struct Entry {
    info: &'static AgentInfo,
    main: fn(&str) -> i32,
}

static AGENTS: &[Entry] = &[
    Entry {
        info: &dummy::INFO,
        main: ocf::run::main::<dummy::Dummy>,
    },
    Entry {
        info: &xen::INFO,
        main: ocf::run::main::<xen::Xen>,
    },
    Entry {
        info: &ipaddr::INFO,
        main: ocf::run::main::<ipaddr::IpAddrAgent>,
    },
    Entry {
        info: &drbd::INFO,
        main: ocf::run::main::<drbd::Drbd>,
    },
    Entry {
        info: &database::INFO,
        main: ocf::run::main::<database::Database>,
    },
    Entry {
        info: &database::PGSQL_INFO,
        main: ocf::run::main::<database::Pgsql>,
    },
    Entry {
        info: &database::MYSQL_INFO,
        main: ocf::run::main::<database::Mysql>,
    },
    Entry {
        info: &filesystem::INFO,
        main: ocf::run::main::<filesystem::Filesystem>,
    },
    Entry {
        info: &vm::INFO,
        main: ocf::run::main::<vm::Vm>,
    },
];

fn agent(name: &str) -> Option<&'static Entry> {
    AGENTS.iter().find(|e| e.info.name == name)
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let base = Path::new(&argv0)
        .file_name()
        .and_then(|b| b.to_str())
        .unwrap_or("");
    if let Some(entry) = agent(base) {
        // The action is argv[1]; the OCF spec says to ignore anything after it.
        let action = args
            .next()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default();
        return exit((entry.main)(&action));
    }
    let rest: Vec<String> = args
        .map(|a: OsString| a.to_string_lossy().into_owned())
        .collect();
    exit(cli(&rest))
}

const USAGE: &str = "\
usage: ocf-rs <agent> <action>          run an OCF action (start, stop, monitor, ...)
       ocf-rs list                      the agents, one per line
       ocf-rs meta-data <agent>         an agent's OCF meta-data
       ocf-rs doc <agent>               an agent's parameter reference (Markdown)
       ocf-rs man <agent>|ocf-rs        a manual page in roff: ocf_rust_<agent>(7) or ocf-rs(8)
       ocf-rs install [--prefix DIR] [--provider NAME] [--binary PATH] [--uninstall] [--dry-run]
                                        link DIR/resource.d/NAME/<agent> to this binary
                                        (defaults: /usr/lib/ocf, rust, this executable)
       ocf-rs migrate [--cib FILE] [--apply] [--provider NAME]
                                        switch ocf:heartbeat/linbit resources to ours
                                        (docs/migrate.md; exit 0 clean, 1 needs the admin)
       ocf-rs --version
Installed as resource.d/<provider>/<agent>, the agent name in argv[0] selects the agent.";

fn usage_error(msg: &str) -> i32 {
    eprintln!("ocf-rs: {msg}\n{USAGE}");
    2
}

fn cli(args: &[String]) -> i32 {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        [] => usage_error("no command given"),
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            0
        }
        ["-V" | "--version" | "version"] => {
            println!("ocf-rs {}", env!("CARGO_PKG_VERSION"));
            0
        }
        ["list"] => {
            for e in AGENTS {
                println!("{}\t{}", e.info.name, e.info.shortdesc);
            }
            0
        }
        ["meta-data", name] => match agent(name) {
            Some(e) => (e.main)("meta-data"),
            None => usage_error(&format!("no agent named {name:?}")),
        },
        ["doc", name] => match agent(name) {
            Some(e) => {
                print!("{}", ocf::metadata::markdown(e.info));
                0
            }
            None => usage_error(&format!("no agent named {name:?}")),
        },
        ["man", name] => match man::page(name) {
            Some(page) => {
                print!("{page}");
                0
            }
            None => usage_error(&format!("no agent named {name:?}")),
        },
        ["install", opts @ ..] => match install::parse(opts) {
            Ok(o) => {
                let names: Vec<&str> = AGENTS.iter().map(|e| e.info.name).collect();
                match install::run(&o, &names) {
                    Ok(0) => 0,
                    Ok(n) => {
                        eprintln!(
                            "ocf-rs install: {n} name(s) held by something not ours, left alone"
                        );
                        3
                    }
                    Err(e) => {
                        eprintln!("ocf-rs install: {e}");
                        1
                    }
                }
            }
            Err(e) => usage_error(&e),
        },
        ["migrate", opts @ ..] => match migrate::parse(opts) {
            Ok(o) => migrate::run(&o),
            Err(e) => usage_error(&e),
        },
        [name, action] => match agent(name) {
            Some(e) => (e.main)(action),
            None => usage_error(&format!("no agent named {name:?}")),
        },
        _ => usage_error(&format!("unknown command {:?}", args.join(" "))),
    }
}

/// The running executable, resolved, for `install` to link to.
fn this_binary() -> Result<PathBuf, String> {
    std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| format!("cannot find this executable: {e}"))
}
