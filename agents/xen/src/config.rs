//! `Config` from the validated parameters (syntax only), and the node
//! check that runs before every action.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use ocf::exec;
use ocf::{Context, OcfError, OcfResult, Params};

use crate::params::*;
use crate::record::Started;
use crate::stop::{XlPlan, XlTarget};
use crate::xl::{self, Xl};

/// The Xen resource, from validated parameters (no files read yet).
#[derive(Clone, Debug)]
pub struct Config {
    pub xmfile: PathBuf,
    pub name: Option<String>,
    pub shutdown_timeout: Option<Duration>,
    pub acpi: bool,
    pub node_ip_attribute: Option<String>,
    pub util_cpu: bool,
    pub util_memory: bool,
    pub monitor_scripts: Vec<PathBuf>,
    /// allow_mem_management: the MiB reserved for Domain-0.
    pub mem_reserved: Option<u64>,
    pub xl: Xl,
    /// The domain's name, resolved once by the environment check.
    domain: OnceLock<String>,
}

impl Config {
    /// Defaults for `xmfile` (ocf:rust:vm's native Xen backend fills in the rest).
    pub fn for_xmfile(xmfile: PathBuf) -> Config {
        Config {
            xmfile,
            name: None,
            shutdown_timeout: None,
            acpi: false,
            node_ip_attribute: None,
            util_cpu: false,
            util_memory: false,
            monitor_scripts: Vec::new(),
            mem_reserved: None,
            xl: Xl {
                program: "xl".into(),
            },
            domain: OnceLock::new(),
        }
    }

    /// The domain's name: the parameter, else `name=` in xmfile as xl reads
    /// it, else the resource; refused (6) when our check refuses it, since
    /// start passes it to `xl create` as `name="..."`.
    pub fn domain_name(&self, ctx: &Context) -> OcfResult<&str> {
        if let Some(n) = self.domain.get() {
            return Ok(n);
        }
        let name = match &self.name {
            Some(n) => n.clone(),
            None => {
                let bytes = crate::files::read_config(&self.xmfile).map_err(|e| {
                    OcfError::installed(format!(
                        "cannot read xmfile {}: {e}",
                        self.xmfile.display()
                    ))
                })?;
                let text = String::from_utf8_lossy(&bytes);
                let name =
                    xl::config_name(&text).unwrap_or_else(|| ctx.instance_base().to_string());
                check_domain_name(&name).map_err(|why| {
                    OcfError::configured(format!(
                        "domain name {name:?} from {} {why}",
                        self.xmfile.display()
                    ))
                })?;
                name
            }
        };
        Ok(self.domain.get_or_init(|| name))
    }

    /// The plan stop and monitor follow: the configured domain, and the one
    /// the record names when that is another (the configuration changed
    /// while it ran).
    pub fn plan(&self, name: &str, ctx: &Context) -> XlPlan {
        let mut targets = vec![XlTarget::named(name)];
        if let Some(Started { name, uuid, .. }) = Started::load(ctx) {
            targets.push(XlTarget::recorded(&name, uuid));
        }
        XlPlan {
            xl: self.xl.clone(),
            targets,
            acpi: self.acpi,
            grace: self.shutdown_timeout,
        }
    }
}

pub fn configure(p: &Params) -> OcfResult<Config> {
    Ok(Config {
        xmfile: PathBuf::from(p.string(&XMFILE).unwrap_or_default()),
        name: p.string(&NAME).map(str::to_string),
        shutdown_timeout: p
            .integer(&SHUTDOWN_TIMEOUT)
            .map(|s| Duration::from_secs(s as u64)),
        acpi: p.boolean(&SHUTDOWN_ACPI),
        node_ip_attribute: p.string(&NODE_IP_ATTRIBUTE).map(str::to_string),
        util_cpu: p.boolean(&AUTOSET_CPU),
        util_memory: p.boolean(&AUTOSET_HV_MEMORY),
        monitor_scripts: p
            .string(&MONITOR_SCRIPTS)
            .unwrap_or("")
            .split_whitespace()
            .map(ocf::exec::program_path)
            .collect(),
        mem_reserved: p
            .boolean(&ALLOW_MEM_MANAGEMENT)
            .then(|| p.integer(&RESERVED_DOM0_MEMORY).unwrap_or(512).max(0) as u64),
        xl: Xl {
            program: p.string(&BINARY).unwrap_or("xl").to_string(),
        },
        domain: OnceLock::new(),
    })
}

pub fn check_environment(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    if exec::which(&cfg.xl.program).is_none() {
        return Err(OcfError::installed(format!(
            "the xl toolstack ({}) is not installed",
            cfg.xl.program
        )));
    }
    if !cfg.xmfile.is_file() {
        return Err(OcfError::installed(format!(
            "xmfile {} does not exist on this node",
            cfg.xmfile.display()
        )));
    }
    cfg.domain_name(ctx).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::configure_vars;
    use ocf::Status;

    #[test]
    fn parameters_are_validated() {
        let configure = configure_vars;
        let ok = configure(&[
            ("OCF_RESKEY_xmfile", "/etc/xen/vm/sentinel"),
            ("OCF_RESKEY_shutdown_timeout", "5"),
            (
                "OCF_RESKEY_monitor_scripts",
                "/usr/local/bin/a /usr/local/bin/b",
            ),
        ])
        .unwrap();
        assert_eq!(ok.shutdown_timeout, Some(Duration::from_secs(5)));
        assert_eq!(ok.monitor_scripts.len(), 2);
        assert_eq!(ok.xl.program, "xl");
        for (k, v) in [
            ("OCF_RESKEY_xmfile", "vm/sentinel"),
            ("OCF_RESKEY_name", "a b"),
            ("OCF_RESKEY_name", "x\"; rm -rf /"),
            ("OCF_RESKEY_shutdown_timeout", "soon"),
            ("OCF_RESKEY_monitor_scripts", "bin/check.sh"),
            ("OCF_RESKEY_node_ip_attribute", "ip addr"),
        ] {
            let mut vars = vec![("OCF_RESKEY_xmfile", "/etc/xen/vm/x")];
            vars.retain(|(kk, _)| *kk != k);
            vars.push((k, v));
            assert_eq!(
                configure(&vars).unwrap_err().status,
                Status::ErrConfigured,
                "{k}={v}"
            );
        }
        assert_eq!(
            configure(&[]).unwrap_err().status,
            Status::ErrConfigured,
            "xmfile is required"
        );
    }
}
