//! The configuration, from validated parameters: syntax only (validate-all
//! at level 0 runs this alone, on whatever node the user typed on).

use std::path::{Path, PathBuf};
use std::time::Duration;

use ocf::{Context, OcfError, OcfResult, Params, Record};

use crate::params::{FAKE, OP_SLEEP, STATE};

/// The dummy resource: where its state lives and how long each action naps.
#[derive(Clone, Debug)]
pub struct Config {
    pub state: PathBuf,
    /// True when `state` is the default under HA_RSCTMP (we may create the dir).
    pub default_state: bool,
    pub op_sleep: Duration,
}

pub fn configure(p: &Params, ctx: &Context) -> OcfResult<Config> {
    let op_sleep = p
        .string(&OP_SLEEP)
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    let (state, default_state) = match p.string(&STATE) {
        Some(s) => (PathBuf::from(s), false),
        None => (default_state_path(ctx), true),
    };
    ocf::debug!("fake={}", p.string(&FAKE).unwrap_or(""));
    Ok(Config {
        state,
        default_state,
        op_sleep: Duration::from_secs_f64(op_sleep),
    })
}

/// A state file in a directory that does not exist cannot be written here.
pub fn check_environment(cfg: &Config) -> OcfResult<()> {
    if cfg.default_state {
        return Ok(()); // HA_RSCTMP is created on start if it is missing
    }
    let dir = cfg.state.parent().unwrap_or(Path::new("/"));
    if !dir.is_dir() {
        return Err(OcfError::args(format!(
            "directory {} of the state file does not exist",
            dir.display()
        )));
    }
    Ok(())
}

/// `$HA_RSCTMP/dummy-<instance>.state`; an anonymous clone's instances share
/// one name per node, so the `:N` suffix is dropped unless globally unique.
fn default_state_path(ctx: &Context) -> PathBuf {
    let unique = ctx.clone_info().is_some_and(|c| c.globally_unique);
    let name = if unique {
        ctx.instance.as_str()
    } else {
        ctx.instance_base()
    };
    let safe: String = name
        .chars()
        .map(|c| if c == '/' { '_' } else { c })
        .collect();
    ctx.rsc_tmp.join(format!("dummy-{safe}.state"))
}

/// The configuration stop and probe use when the parameters do not
/// validate: the state file start recorded (what it really made), else the
/// configured one; `None` when neither names one.
pub fn unconfigured(cfg: Option<&Config>, rec: Option<&Record>) -> Option<Config> {
    let state = rec
        .and_then(|r| r.get_os("state"))
        .map(PathBuf::from)
        .or_else(|| cfg.map(|c| c.state.clone()))?;
    Some(Config {
        state,
        default_state: false,
        op_sleep: Duration::ZERO,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocf::Status;

    fn configure_with(vars: &[(&str, &str)]) -> OcfResult<Config> {
        let c = Context::from_vars(
            "dummy",
            "start",
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let p = Params::parse(&crate::params::PARAMS, &c.params)?;
        configure(&p, &c)
    }

    #[test]
    fn default_state_path_follows_ha_rsctmp_and_clones() {
        let cfg =
            configure_with(&[("OCF_RESOURCE_INSTANCE", "d1:2"), ("HA_RSCTMP", "/tmp/r")]).unwrap();
        assert_eq!(cfg.state, PathBuf::from("/tmp/r/dummy-d1.state"));
        assert!(cfg.default_state);
        let unique = configure_with(&[
            ("OCF_RESOURCE_INSTANCE", "d1:2"),
            ("HA_RSCTMP", "/tmp/r"),
            ("OCF_RESKEY_CRM_meta_clone", "2"),
            ("OCF_RESKEY_CRM_meta_globally_unique", "true"),
        ])
        .unwrap();
        assert_eq!(unique.state, PathBuf::from("/tmp/r/dummy-d1:2.state"));
    }

    #[test]
    fn bad_values_are_rejected() {
        for (k, v) in [
            ("OCF_RESKEY_state", "relative/x"),
            ("OCF_RESKEY_op_sleep", "-1"),
            ("OCF_RESKEY_op_sleep", "soon"),
        ] {
            assert_eq!(
                configure_with(&[(k, v)]).unwrap_err().status,
                Status::ErrConfigured,
                "{k}={v}"
            );
        }
        assert_eq!(
            configure_with(&[("OCF_RESKEY_op_sleep", "0.25")])
                .unwrap()
                .op_sleep,
            Duration::from_millis(250)
        );
    }

    #[test]
    fn the_record_wins_over_the_configuration() {
        let cfg = configure_with(&[("OCF_RESKEY_state", "/a/b")]).unwrap();
        let rec = Record::new().with("state", "/c/d");
        assert_eq!(
            unconfigured(Some(&cfg), Some(&rec)).unwrap().state,
            PathBuf::from("/c/d")
        );
        assert_eq!(
            unconfigured(Some(&cfg), None).unwrap().state,
            PathBuf::from("/a/b")
        );
        assert!(unconfigured(None, None).is_none());
    }
}
