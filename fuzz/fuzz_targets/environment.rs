//! The environment Pacemaker hands an agent: `KEY=VALUE` lines (any bytes)
//! become a Context, and every agent's validate-all at level 0 (parameter
//! parsing, validation and configure: syntax only, nothing run) must answer
//! with a status, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocf::{Agent, Context, Deadline};

fn validate<A: Agent>(agent: &str, vars: &[(String, String)]) {
    let ctx = Context::from_vars(agent, "validate-all", vars.iter().cloned());
    let _ = ocf::run::dispatch::<A>(&ctx, &Deadline::after(std::time::Duration::from_secs(5)));
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let vars: Vec<(String, String)> = text
        .split('\n')
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    validate::<dummy::Dummy>("dummy", &vars);
    validate::<ipaddr::IpAddrAgent>("ipaddr", &vars);
    validate::<filesystem::Filesystem>("filesystem", &vars);
    validate::<database::Database>("database", &vars);
    validate::<vm::Vm>("vm", &vars);
    validate::<xen::Xen>("xen", &vars);
    validate::<drbd::Drbd>("drbd", &vars);
});
