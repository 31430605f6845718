//! `ocf`: the shared library of every ocf-rs agent.
//!
//! | module | what it owns |
//! |---|---|
//! | [`exit`] | OCF exit statuses and the error type; the exit-reason line |
//! | [`env`] | the environment parsed into a [`Context`] |
//! | [`params`] | typed parameter tables: parsing, validation, defaults |
//! | [`procfs`] | processes as `/proc` shows them: stat, cmdline, cwd, fds, maps, namespaces |
//! | [`metadata`] | the meta-data XML and the Markdown reference |
//! | [`man`] | the manual pages in roff, from the same tables |
//! | [`deadline`] | deadlines from `CRM_meta_timeout`, phase budgets, the watchdog |
//! | [`exec`] | running tools by argv with a deadline, in their own process group |
//! | [`log`] | `ocf_log`-compatible logging |
//! | [`net`] | name resolution under a deadline |
//! | [`cluster`] | bounded calls to `crm_attribute`/`crm_resource` |
//! | [`files`] | files as root: a checked directory descriptor, `O_NOFOLLOW`, mode at creation |
//! | [`record`] | what start started here, for stop and probe when the configuration does not validate |
//! | [`run`] | the [`Agent`] trait and the driver's rule table |
//! | [`secret`] | masking secrets (`password=`, ...) in every line we show |
//! | [`user`] | users and groups through NSS (ids, every supplementary group) |
//! | [`xml`] | reading XML through one parser (roxmltree) with small typed helpers |

pub mod cluster;
pub mod deadline;
pub mod env;
pub mod exec;
pub mod exit;
pub mod files;
pub mod log;
pub mod man;
pub mod metadata;
pub mod net;
pub mod params;
pub mod procfs;
pub mod record;
pub mod run;
pub mod secret;
pub mod user;
pub mod xml;

pub use deadline::Deadline;
pub use env::Context;
pub use exit::{OcfError, OcfResult, Status};
pub use metadata::{ActionSpec, AgentInfo};
pub use params::{ParamSpec, Params};
pub use record::Record;
pub use run::Agent;
