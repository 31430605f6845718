//! `ocf:rust:pgsql` and `ocf:rust:mysql`: the heartbeat agents' parameter
//! names, defaults and meanings, mapped onto the one engine code
//! ([`crate::Config`], start, monitor, stop, the record).
//!
//! "Switch the provider, keep the parameters": each agent's `configure`
//! turns the heartbeat parameters into a [`Config`]; what depends on the
//! node (which server program `pgctl` or `binary` stands for, a
//! `[mysqld_safe]` section) is resolved by [`Compat::resolve`] when an
//! action runs. Replication parameters are in the tables (so Pacemaker and
//! pcs take the resource as it is) and refused with ERR_CONFIGURED when
//! they ask for replication ([`refuse_replication`]); stop and probe still
//! find and stop a server that runs ([`stop_unconfigured`]).

pub mod mycnf;
pub mod mysql;
mod mysql_params;
pub mod pgsql;
mod pgsql_params;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ocf::{Context, Deadline, OcfError, OcfResult, ParamSpec, Params, Record, Status};

use crate::config::Config;
use crate::process;
use ocf::user::User;

/// A heartbeat-compatible configuration: the engine's configuration and
/// what is looked up on the node when an action runs.
#[derive(Clone, Debug)]
pub struct Compat {
    pub db: Config,
    pub program: Program,
    /// mysql's `enable_creation`: initialise a missing data directory.
    pub enable_creation: bool,
    /// Parameters accepted without effect, logged on start and validate-all.
    pub ignored: Vec<String>,
    /// [`Compat::resolve`]'s answer, found once per action (the environment
    /// check and the action itself both need it).
    pub resolved: OnceLock<OcfResult<Config>>,
}

/// Which server program the heartbeat parameter stands for.
#[derive(Clone, Debug)]
pub enum Program {
    /// pgsql's `pgctl`: `postgres` is run from pg_ctl's directory. At its
    /// default, the data directory's `PG_VERSION` picks the major version.
    PgCtl { pgctl: String, default: bool },
    /// mysql's `binary`: the server itself, or a mysqld_safe wrapper whose
    /// `[mysqld_safe]` section (in `config`) names the server and options.
    Mysql { binary: String },
}

/// A program as the shell agents find it: a path, or a name on PATH.
pub(crate) fn find_program(value: &str) -> Option<PathBuf> {
    if value.contains('/') {
        Some(PathBuf::from(value)).filter(|p| process::is_executable(p))
    } else if value.starts_with('-') {
        None
    } else {
        ocf::exec::which(value)
    }
}

impl Compat {
    /// The engine's configuration with the server program (and the options
    /// a mysqld_safe section adds) resolved on this node.
    pub fn resolve(&self) -> OcfResult<Config> {
        self.resolved.get_or_init(|| self.resolve_now()).clone()
    }

    fn resolve_now(&self) -> OcfResult<Config> {
        let mut db = self.db.clone();
        match &self.program {
            Program::PgCtl { pgctl, default } => {
                db.binary = Some(pgsql::postgres_program(pgctl, *default, &db.datadir)?);
            }
            Program::Mysql { binary } => {
                let (server, args) = mysql::server_program(binary, db.config.as_deref())?;
                db.binary = Some(server);
                db.additional.splice(0..0, args);
            }
        }
        Ok(db)
    }

    /// [`Compat::resolve`], else the configuration as it is (stop and
    /// probe still look for the server by its data directory).
    pub fn best_effort(&self) -> Config {
        self.resolve().unwrap_or_else(|_| self.db.clone())
    }
}

/// One replication parameter: refused unless unset or at the value that
/// means "no replication".
pub(crate) struct Replication {
    pub spec: &'static ParamSpec,
    /// Values meaning "no replication" besides the empty one.
    pub inert: &'static [&'static str],
}

/// ERR_CONFIGURED naming the first replication parameter that asks for
/// replication. A secret's value is never shown.
pub(crate) fn refuse_replication(p: &Params, table: &[Replication], agent: &str) -> OcfResult<()> {
    for r in table {
        let Some(v) = p.string(r.spec).filter(|_| p.is_set(r.spec)) else {
            continue;
        };
        let inert = r.inert.iter().any(|i| {
            *i == v
                || matches!(
                    (ocf::params::parse_bool(i), ocf::params::parse_bool(v)),
                    (Some(a), Some(b)) if a == b
                )
                || matches!(
                    (i.parse::<i64>(), v.trim().parse::<i64>()),
                    (Ok(a), Ok(b)) if a == b
                )
        });
        if inert {
            continue;
        }
        let shown = if r.spec.secret {
            format!("{} is set", r.spec.name)
        } else {
            format!("{}={v}", r.spec.name)
        };
        return Err(OcfError::configured(format!(
            "{shown}: replication is not supported yet (replication): ocf:rust:{agent} \
             manages one server without replication; keep ocf:heartbeat:{agent} for it, or \
             remove the parameter"
        )));
    }
    Ok(())
}

/// Log the parameters that are accepted without effect, once per start or
/// validate-all (not on every monitor).
pub(crate) fn log_ignored(c: &Compat, ctx: &Context) {
    if matches!(ctx.action.as_str(), "start" | "validate-all") {
        for why in &c.ignored {
            ocf::warn!("{why}");
        }
    }
}

/// May `user` create files in `dir` (the shell agents' `su user -c "test
/// -w dir"`, without the su)?
pub fn writable_by(dir: &Path, user: &User) -> bool {
    let Ok(m) = std::fs::metadata(dir) else {
        return false;
    };
    if user.uid == 0 {
        return true;
    }
    let mode = m.mode();
    if m.uid() == user.uid {
        mode & 0o300 == 0o300
    } else if user.groups.contains(&m.gid()) || m.gid() == user.gid {
        mode & 0o030 == 0o030
    } else {
        mode & 0o003 == 0o003
    }
}

/// The node has what the configuration needs; on start and validate-all
/// also: the service user may write the data directory (else 4, as the
/// heartbeat agents' `test -w` as that user).
pub fn check_environment(c: &Compat, ctx: &Context) -> OcfResult<()> {
    log_ignored(c, ctx);
    let db = c.resolve()?;
    let user = db.service_user()?;
    if c.enable_creation && !db.engine.initialised(&db.datadir) {
        // Start initialises it: the rest of the engine's checks.
        db.resolve_binary()?;
        if let Some(f) = &db.config
            && !f.is_file()
        {
            return Err(OcfError::installed(format!(
                "configuration file {} does not exist",
                f.display()
            )));
        }
        return Ok(());
    }
    db.check_environment()?;
    if matches!(ctx.action.as_str(), "start" | "validate-all") && !writable_by(&db.datadir, &user) {
        return Err(OcfError::new(
            Status::ErrPerm,
            format!(
                "data directory {} is not writable by user {}",
                db.datadir.display(),
                user.name
            ),
        ));
    }
    Ok(())
}

pub fn start(c: &Compat, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let db = c.resolve()?;
    if c.enable_creation && !db.engine.initialised(&db.datadir) {
        mysql::install_db(&db, dl)?;
    }
    crate::start::start(&db, ctx, dl)
}

pub fn stop(c: &Compat, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    crate::stop::stop(&c.best_effort(), ctx, dl)
}

pub fn monitor(c: &Compat, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
    crate::monitor::monitor(&c.resolve()?, ctx, dl)
}

/// The context with the heartbeat parameters renamed to the engine's raw
/// ones (`engine`, `datadir`, `pid`), for a configuration that does not
/// parse (or refuses replication): the server they name is still found.
fn raw_context(ctx: &Context, raw: BTreeMap<String, String>) -> Context {
    let mut c = ctx.clone();
    c.params = raw;
    c
}

pub fn stop_unconfigured(
    cfg: Option<&Compat>,
    rec: Option<&Record>,
    ctx: &Context,
    why: &OcfError,
    dl: &Deadline,
    raw: fn(&BTreeMap<String, String>) -> BTreeMap<String, String>,
) -> OcfResult<()> {
    let db = cfg.map(Compat::best_effort);
    let ctx = raw_context(ctx, raw(&ctx.params));
    crate::stop::stop_unconfigured(db.as_ref(), rec, &ctx, why, dl)
}

pub fn probe_unconfigured(
    cfg: Option<&Compat>,
    rec: Option<&Record>,
    ctx: &Context,
    why: &OcfError,
    dl: &Deadline,
    raw: fn(&BTreeMap<String, String>) -> BTreeMap<String, String>,
) -> OcfResult<Status> {
    let db = cfg.map(Compat::best_effort);
    let ctx = raw_context(ctx, raw(&ctx.params));
    crate::monitor::probe_unconfigured(db.as_ref(), rec, &ctx, why, dl)
}

/// A raw value the way the shell agent would use it: set and not empty,
/// else its default.
pub(crate) fn raw_or<'a>(
    params: &'a BTreeMap<String, String>,
    name: &str,
    default: &'a str,
) -> &'a str {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writable_follows_owner_group_other() {
        let me = User {
            name: "x".into(),
            uid: 4242,
            gid: 4242,
            groups: vec![4242],
        };
        // /tmp: sticky, world-writable.
        assert!(writable_by(Path::new("/tmp"), &me));
        // /usr: root's, 0755.
        assert!(!writable_by(Path::new("/usr"), &me));
        assert!(!writable_by(Path::new("/nonexistent-i16db"), &me));
    }
}
