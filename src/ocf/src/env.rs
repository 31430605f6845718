//! The environment Pacemaker (or ocf-tester, or crm_resource) gives an agent,
//! parsed once into a [`Context`].
//!
//! Facts this relies on: parameters arrive as `OCF_RESKEY_<name>`, meta
//! attributes as `OCF_RESKEY_CRM_meta_<name>` with `-` turned into `_`, the
//! timeout and interval in milliseconds, and `OCF_CHECK_LEVEL` unprefixed.
//! `crm_resource --force-check` sets no interval, so "unset" means a probe.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

const RESKEY: &str = "OCF_RESKEY_";
const META: &str = "CRM_meta_";

/// Pacemaker's default when an operation has no timeout (`PCMK_DEFAULT_ACTION_TIMEOUT_MS`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// Everything an action needs to know about how it was called.
#[derive(Clone, Default)]
pub struct Context {
    /// The agent's type name (`dummy`, `vm`, ...).
    pub agent: String,
    /// The action (`start`, `monitor`, ...), exactly as given in argv[1].
    pub action: String,
    /// `OCF_RESOURCE_INSTANCE`, including a `:N` clone suffix if there is one.
    pub instance: String,
    /// Instance parameters (`OCF_RESKEY_<name>`), without the `CRM_meta_` ones.
    pub params: BTreeMap<String, String>,
    /// Meta attributes (`OCF_RESKEY_CRM_meta_<name>`), keyed by `<name>`.
    pub meta: BTreeMap<String, String>,
    /// The operation timeout (`CRM_meta_timeout`, ms); 20 s if unset.
    pub timeout: Duration,
    /// The monitor interval (`CRM_meta_interval`, ms); zero if unset.
    pub interval: Duration,
    /// `OCF_CHECK_LEVEL` (or `OCF_RESKEY_OCF_CHECK_LEVEL`), 0 if unset.
    pub check_level: u32,
    /// `HA_RSCTMP`: where agents keep per-resource state (tmpfs, cleared at boot).
    pub rsc_tmp: PathBuf,
    /// `OCF_TESTER_FAIL_HAVE_BINARY`: ocf-tester's "pretend nothing is installed".
    pub fail_have_binary: bool,
}

/// Parameters whose names say they hold a secret show as `<hidden>`: the
/// raw environment has no table to say which are secret.
impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let params: BTreeMap<&str, &str> = self
            .params
            .iter()
            .map(|(k, v)| {
                let shown = if crate::params::looks_secret(k) {
                    "<hidden>"
                } else {
                    v.as_str()
                };
                (k.as_str(), shown)
            })
            .collect();
        f.debug_struct("Context")
            .field("agent", &self.agent)
            .field("action", &self.action)
            .field("instance", &self.instance)
            .field("params", &params)
            .field("meta", &self.meta)
            .field("timeout", &self.timeout)
            .field("interval", &self.interval)
            .field("check_level", &self.check_level)
            .field("rsc_tmp", &self.rsc_tmp)
            .field("fail_have_binary", &self.fail_have_binary)
            .finish()
    }
}

impl Context {
    /// Read the process environment.
    pub fn from_env(agent: &str, action: &str) -> Context {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        Context::from_vars(agent, action, vars)
    }

    /// Build a context from explicit variables (what the tests use).
    pub fn from_vars<I, K, V>(agent: &str, action: &str, vars: I) -> Context
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut ctx = Context {
            agent: agent.to_string(),
            action: action.to_string(),
            timeout: DEFAULT_TIMEOUT,
            rsc_tmp: PathBuf::from("/run/resource-agents"),
            ..Context::default()
        };
        let mut instance = None;
        let mut check_level = None;
        let mut check_level_reskey = None;
        for (k, v) in vars {
            let (k, v) = (k.into(), v.into());
            if let Some(name) = k.strip_prefix(RESKEY) {
                if let Some(meta) = name.strip_prefix(META) {
                    ctx.meta.insert(meta.to_string(), v);
                } else if name == "OCF_CHECK_LEVEL" {
                    check_level_reskey = Some(v);
                } else if !name.is_empty() {
                    ctx.params.insert(name.to_string(), v);
                }
                continue;
            }
            match k.as_str() {
                "OCF_RESOURCE_INSTANCE" => instance = Some(v),
                "OCF_CHECK_LEVEL" => check_level = Some(v),
                "HA_RSCTMP" if !v.is_empty() => ctx.rsc_tmp = PathBuf::from(v),
                "OCF_TESTER_FAIL_HAVE_BINARY" => ctx.fail_have_binary = v == "1",
                _ => {}
            }
        }
        // ocf-shellfuncs: "RESOURCE_ID" for meta-data, "default" in init-script mode.
        ctx.instance = instance
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "default".into());
        ctx.check_level = check_level
            .or(check_level_reskey)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if let Some(ms) = ctx.meta_u64("timeout").filter(|ms| *ms > 0) {
            ctx.timeout = Duration::from_millis(ms);
        }
        ctx.interval = Duration::from_millis(ctx.meta_u64("interval").unwrap_or(0));
        ctx
    }

    fn meta_u64(&self, name: &str) -> Option<u64> {
        self.meta.get(name).and_then(|v| v.trim().parse().ok())
    }

    fn meta_str(&self, name: &str) -> Option<&str> {
        self.meta
            .get(name)
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
    }

    fn meta_bool(&self, name: &str) -> bool {
        self.meta
            .get(name)
            .is_some_and(|v| crate::params::parse_bool(v) == Some(true))
    }

    /// A probe is a monitor with interval 0 (or none at all, as crm_resource sends).
    pub fn is_probe(&self) -> bool {
        self.action == "monitor" && self.interval.is_zero()
    }

    /// The check level to run when the agent implements `implemented` (in
    /// any order): the requested one, else the next lower one (OCF spec).
    pub fn effective_check_level(&self, implemented: &[u32]) -> u32 {
        implemented
            .iter()
            .copied()
            .filter(|l| *l <= self.check_level)
            .max()
            .unwrap_or(0)
    }

    /// The instance name without a `:N` clone suffix, for naming state files.
    pub fn instance_base(&self) -> &str {
        match self.instance.rsplit_once(':') {
            Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
            _ => &self.instance,
        }
    }

    /// `CRM_meta_on_node`: this node's name as the cluster knows it.
    pub fn on_node(&self) -> Option<&str> {
        self.meta_str("on_node")
    }

    /// `CRM_meta_migrate_source` (set for migrate_to and migrate_from).
    pub fn migrate_source(&self) -> Option<&str> {
        self.meta_str("migrate_source")
    }

    /// `CRM_meta_migrate_target` (set for migrate_to and migrate_from).
    pub fn migrate_target(&self) -> Option<&str> {
        self.meta_str("migrate_target")
    }

    /// Clone settings, when the resource is a clone.
    pub fn clone_info(&self) -> Option<CloneInfo> {
        let max = self.meta_u64("clone_max");
        let index = self.meta_u64("clone");
        if max.is_none() && index.is_none() {
            return None;
        }
        let promoted_max = self
            .meta_u64("promoted_max")
            .or_else(|| self.meta_u64("master_max"));
        let promoted_node_max = self
            .meta_u64("promoted_node_max")
            .or_else(|| self.meta_u64("master_node_max"));
        Some(CloneInfo {
            index,
            max,
            node_max: self.meta_u64("clone_node_max"),
            globally_unique: self.meta_bool("globally_unique"),
            promotable: self.meta_bool("promotable") || promoted_max.is_some(),
            promoted_max,
            promoted_node_max,
            notify: self.meta_bool("notify"),
        })
    }

    /// The notification this `notify` call carries, if its type is set.
    pub fn notification(&self) -> Option<Notification<'_>> {
        let kind = match self.meta_str("notify_type")? {
            "pre" => NotifyType::Pre,
            "post" => NotifyType::Post,
            _ => return None,
        };
        Some(Notification {
            kind,
            operation: self.meta_str("notify_operation").unwrap_or(""),
            ctx: self,
        })
    }
}

/// What `CRM_meta_clone*` and friends say about a clone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloneInfo {
    pub index: Option<u64>,
    pub max: Option<u64>,
    pub node_max: Option<u64>,
    pub globally_unique: bool,
    pub promotable: bool,
    pub promoted_max: Option<u64>,
    pub promoted_node_max: Option<u64>,
    pub notify: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyType {
    Pre,
    Post,
}

/// The lists a notification carries (`CRM_meta_notify_<list>_{resource,uname}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyList {
    Start,
    Stop,
    Promote,
    Demote,
    Active,
    Inactive,
    /// `promoted`, or the legacy `master`.
    Promoted,
    /// `unpromoted`, or the legacy `slave`.
    Unpromoted,
    Available,
    All,
}

impl NotifyList {
    /// The current name and, where one exists, the legacy name.
    fn names(self) -> (&'static str, Option<&'static str>) {
        match self {
            NotifyList::Start => ("start", None),
            NotifyList::Stop => ("stop", None),
            NotifyList::Promote => ("promote", None),
            NotifyList::Demote => ("demote", None),
            NotifyList::Active => ("active", None),
            NotifyList::Inactive => ("inactive", None),
            NotifyList::Promoted => ("promoted", Some("master")),
            NotifyList::Unpromoted => ("unpromoted", Some("slave")),
            NotifyList::Available => ("available", None),
            NotifyList::All => ("all", None),
        }
    }
}

/// A notification, read lazily from the context's meta attributes.
#[derive(Clone, Copy, Debug)]
pub struct Notification<'a> {
    pub kind: NotifyType,
    /// `start`, `stop`, `promote` or `demote`.
    pub operation: &'a str,
    ctx: &'a Context,
}

impl<'a> Notification<'a> {
    fn list(&self, list: NotifyList, field: &str) -> Vec<&'a str> {
        let (name, legacy) = list.names();
        let get = |n: &str| self.ctx.meta.get(&format!("notify_{n}_{field}"));
        let value = match (get(name), legacy.and_then(get)) {
            (Some(v), _) if !v.trim().is_empty() => Some(v),
            (_, Some(v)) => Some(v),
            (v, None) => v,
        };
        value
            .map(|v| v.split_whitespace().collect())
            .unwrap_or_default()
    }

    /// Node names in a list (space-separated in the environment).
    pub fn unames(&self, list: NotifyList) -> Vec<&'a str> {
        self.list(list, "uname")
    }

    /// Resource instance names in a list, in the same order as [`Self::unames`].
    pub fn resources(&self, list: NotifyList) -> Vec<&'a str> {
        self.list(list, "resource")
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn debug_hides_parameters_named_like_secrets() {
        let c = Context::from_vars(
            "database",
            "monitor",
            [
                ("OCF_RESKEY_monitor_password", "hunter2"),
                ("OCF_RESKEY_test_passwd", "hunter3"),
                ("OCF_RESKEY_monitor_user", "probe"),
            ],
        );
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("hunter"), "{dbg}");
        assert!(dbg.contains("probe"), "{dbg}");
    }

    use super::*;

    fn ctx(action: &str, vars: &[(&str, &str)]) -> Context {
        Context::from_vars(
            "dummy",
            action,
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn params_and_meta_are_split() {
        let c = ctx(
            "start",
            &[
                ("OCF_RESKEY_state", "/tmp/x"),
                ("OCF_RESKEY_CRM_meta_timeout", "5000"),
                ("OCF_RESKEY_CRM_meta_on_node", "node1"),
                ("OCF_RESKEY_crm_feature_set", "3.16.1"),
                ("OCF_RESOURCE_INSTANCE", "d1"),
                ("PATH", "/bin"),
            ],
        );
        assert_eq!(c.params.get("state").map(String::as_str), Some("/tmp/x"));
        assert!(!c.params.contains_key("CRM_meta_timeout"));
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert_eq!(c.on_node(), Some("node1"));
        assert_eq!(c.instance, "d1");
    }

    #[test]
    fn defaults_when_pacemaker_sets_nothing() {
        let c = ctx("monitor", &[]);
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        assert_eq!(c.interval, Duration::ZERO);
        assert!(
            c.is_probe(),
            "crm_resource --force-check sets no interval: a probe"
        );
        assert_eq!(c.check_level, 0);
        assert_eq!(c.instance, "default");
        assert_eq!(c.rsc_tmp, PathBuf::from("/run/resource-agents"));
    }

    #[test]
    fn probe_only_for_monitor_with_zero_interval() {
        assert!(!ctx("monitor", &[("OCF_RESKEY_CRM_meta_interval", "10000")]).is_probe());
        assert!(ctx("monitor", &[("OCF_RESKEY_CRM_meta_interval", "0")]).is_probe());
        assert!(!ctx("start", &[("OCF_RESKEY_CRM_meta_interval", "0")]).is_probe());
    }

    #[test]
    fn bad_numbers_fall_back() {
        let c = ctx(
            "monitor",
            &[
                ("OCF_RESKEY_CRM_meta_timeout", "soon"),
                ("OCF_RESKEY_CRM_meta_interval", "-1"),
            ],
        );
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        assert_eq!(c.interval, Duration::ZERO);
        assert_eq!(
            ctx("stop", &[("OCF_RESKEY_CRM_meta_timeout", "0")]).timeout,
            DEFAULT_TIMEOUT
        );
    }

    #[test]
    fn check_level_unprefixed_wins() {
        assert_eq!(ctx("monitor", &[("OCF_CHECK_LEVEL", "10")]).check_level, 10);
        assert_eq!(
            ctx("monitor", &[("OCF_RESKEY_OCF_CHECK_LEVEL", "20")]).check_level,
            20
        );
        let both = ctx(
            "monitor",
            &[
                ("OCF_CHECK_LEVEL", "10"),
                ("OCF_RESKEY_OCF_CHECK_LEVEL", "20"),
            ],
        );
        assert_eq!(both.check_level, 10);
        assert!(!both.params.contains_key("OCF_CHECK_LEVEL"));
    }

    #[test]
    fn check_level_falls_to_the_next_lower_one() {
        let c = ctx("monitor", &[("OCF_CHECK_LEVEL", "15")]);
        assert_eq!(c.effective_check_level(&[0, 10, 20]), 10);
        assert_eq!(c.effective_check_level(&[0]), 0);
        assert_eq!(
            ctx("monitor", &[("OCF_CHECK_LEVEL", "30")]).effective_check_level(&[20, 0, 10]),
            20
        );
    }

    #[test]
    fn instance_base_strips_clone_suffix_only() {
        assert_eq!(
            ctx("start", &[("OCF_RESOURCE_INSTANCE", "d:3")]).instance_base(),
            "d"
        );
        assert_eq!(
            ctx("start", &[("OCF_RESOURCE_INSTANCE", "a:b")]).instance_base(),
            "a:b"
        );
        assert_eq!(
            ctx("start", &[("OCF_RESOURCE_INSTANCE", "d:")]).instance_base(),
            "d:"
        );
    }

    #[test]
    fn clone_and_promotable_legacy_names() {
        assert!(ctx("start", &[]).clone_info().is_none());
        let c = ctx(
            "start",
            &[
                ("OCF_RESKEY_CRM_meta_clone", "1"),
                ("OCF_RESKEY_CRM_meta_clone_max", "2"),
                ("OCF_RESKEY_CRM_meta_master_max", "1"),
                ("OCF_RESKEY_CRM_meta_notify", "true"),
                ("OCF_RESKEY_CRM_meta_globally_unique", "false"),
            ],
        );
        let ci = c.clone_info().unwrap();
        assert_eq!(
            (ci.index, ci.max, ci.promoted_max),
            (Some(1), Some(2), Some(1))
        );
        assert!(ci.promotable && ci.notify && !ci.globally_unique);
    }

    #[test]
    fn notify_lists_new_and_legacy_names() {
        let legacy = ctx(
            "notify",
            &[
                ("OCF_RESKEY_CRM_meta_notify_type", "pre"),
                ("OCF_RESKEY_CRM_meta_notify_operation", "promote"),
                ("OCF_RESKEY_CRM_meta_notify_master_uname", "node1 "),
                ("OCF_RESKEY_CRM_meta_notify_slave_uname", " node2  node3"),
                ("OCF_RESKEY_CRM_meta_notify_slave_resource", "d:1 d:2"),
            ],
        );
        let n = legacy.notification().unwrap();
        assert_eq!((n.kind, n.operation), (NotifyType::Pre, "promote"));
        assert_eq!(n.unames(NotifyList::Promoted), ["node1"]);
        assert_eq!(n.unames(NotifyList::Unpromoted), ["node2", "node3"]);
        assert_eq!(n.resources(NotifyList::Unpromoted), ["d:1", "d:2"]);
        assert!(n.unames(NotifyList::Start).is_empty());

        let new = ctx(
            "notify",
            &[
                ("OCF_RESKEY_CRM_meta_notify_type", "post"),
                ("OCF_RESKEY_CRM_meta_notify_promoted_uname", "node4"),
                ("OCF_RESKEY_CRM_meta_notify_master_uname", "node1"),
            ],
        );
        assert_eq!(
            new.notification().unwrap().unames(NotifyList::Promoted),
            ["node4"]
        );
        // ocf-tester calls notify with nothing set.
        assert!(ctx("notify", &[]).notification().is_none());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any environment: a context with a usable timeout and instance,
        /// parameters and meta attributes kept apart, notification lists of
        /// plain words.
        #[test]
        fn any_environment_makes_a_sane_context(
            vars in proptest::collection::vec(
                ("(OCF_RESKEY_(CRM_meta_)?)?(timeout|interval|notify_type|notify_promoted_uname|notify_master_uname|clone_max|OCF_CHECK_LEVEL|HA_RSCTMP|OCF_RESOURCE_INSTANCE|[a-z_]{0,6})",
                 "\\PC{0,16}"),
                0..12,
            )
        ) {
            let c = Context::from_vars("dummy", "monitor", vars.clone());
            proptest::prop_assert!(!c.timeout.is_zero());
            proptest::prop_assert!(!c.instance.is_empty());
            proptest::prop_assert!(!c.rsc_tmp.as_os_str().is_empty());
            proptest::prop_assert!(c.params.keys().all(|k| !k.is_empty() && !k.starts_with("CRM_meta_")));
            let _ = c.instance_base();
            let _ = c.clone_info();
            let _ = format!("{c:?}");
            if let Some(n) = c.notification() {
                for list in [NotifyList::Promoted, NotifyList::Unpromoted, NotifyList::Start, NotifyList::All] {
                    for w in n.unames(list).into_iter().chain(n.resources(list)) {
                        proptest::prop_assert!(!w.is_empty() && !w.contains(char::is_whitespace));
                    }
                }
            }
        }
    }
}
