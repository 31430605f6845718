//! The parameter table: it drives parsing, validation, the meta-data and
//! docs/agents/dummy.md, so a name cannot drift between them.

use ocf::ParamSpec;
use ocf::params::checks;

pub static STATE: ParamSpec = ParamSpec::new(
    "state",
    "State file",
    "Location of the state file whose presence means the resource is running. \
     Default: $HA_RSCTMP/dummy-<instance>.state, with HA_RSCTMP=/run/resource-agents \
     and the :N suffix of an anonymous clone instance left out.",
)
.unique()
.check(checks::absolute_path);

pub static FAKE: ParamSpec = ParamSpec::new(
    "fake",
    "Fake attribute",
    "A parameter that does nothing; change it to see how the cluster reacts to a \
     parameter change (a restart, since this agent has no reload-agent).",
)
.default("dummy");

pub static OP_SLEEP: ParamSpec = ParamSpec::new(
    "op_sleep",
    "Seconds to sleep in each action",
    "Number of seconds (decimals allowed) every action sleeps before doing its work. \
     The sleep ignores the action's deadline on purpose: it shows how a timeout is \
     handled (the action ends with exit code 1 and a reason naming the phase \
     'op_sleep' just before the operation timeout).",
)
.default("0")
.check(check_seconds);

pub static PARAMS: [ParamSpec; 3] = [STATE, FAKE, OP_SLEEP];

/// `op_sleep`: a number of seconds, decimals allowed, up to a day.
fn check_seconds(v: &str) -> Result<(), String> {
    match v.trim().parse::<f64>() {
        Ok(s) if (0.0..=86400.0).contains(&s) => Ok(()),
        _ => Err("must be a number of seconds from 0 to 86400".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sane() {
        ocf::params::check_table(&PARAMS).unwrap();
    }
}
