//! One typed parameter table per agent. The same table drives parsing,
//! validation, meta-data and the docs, so a name cannot drift between them
//! (VirtualDomain's dead `shutdown_mode` parameter is what drift costs).
//!
//! Values are read back through the spec itself (`params.string(&STATE)`), not
//! through a free-form string.

use std::collections::BTreeMap;

use crate::exit::{OcfError, OcfResult};

/// How a parameter's value is typed and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    String,
    /// A whole number within `min..=max`.
    Integer {
        min: i64,
        max: i64,
    },
    /// `true/false`, `yes/no`, `on/off`, `1/0` (any case).
    Boolean,
    /// One of a fixed set of words. Published as `string` (the DTD has no
    /// `select`), with the allowed values appended to the long description.
    Choice(&'static [&'static str]),
}

/// An extra syntax check for one parameter: `Err` carries the reason.
pub type Check = fn(&str) -> Result<(), String>;

/// One parameter of an agent.
#[derive(Clone, Copy, Debug)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: Kind,
    pub default: Option<&'static str>,
    pub required: bool,
    pub unique: bool,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
    pub check: Option<Check>,
    /// A password or key: its value is never shown (exit reasons, logs,
    /// `Debug`); a value that fails validation is reported without it.
    pub secret: bool,
}

impl ParamSpec {
    /// A string parameter; chain the `const fn` setters below for the rest.
    pub const fn new(name: &'static str, shortdesc: &'static str, longdesc: &'static str) -> Self {
        ParamSpec {
            name,
            kind: Kind::String,
            default: None,
            required: false,
            unique: false,
            shortdesc,
            longdesc,
            check: None,
            secret: false,
        }
    }
    pub const fn kind(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }
    pub const fn integer(self, min: i64, max: i64) -> Self {
        self.kind(Kind::Integer { min, max })
    }
    pub const fn boolean(self) -> Self {
        self.kind(Kind::Boolean)
    }
    pub const fn choice(self, values: &'static [&'static str]) -> Self {
        self.kind(Kind::Choice(values))
    }
    pub const fn default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub const fn unique(mut self) -> Self {
        self.unique = true;
        self
    }
    pub const fn check(mut self, check: Check) -> Self {
        self.check = Some(check);
        self
    }
    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// Check one value against this spec (syntax only, no environment).
    pub fn validate(&self, value: &str) -> Result<(), String> {
        if let Some(c) = value.chars().find(|c| c.is_control()) {
            if self.secret {
                return Err("contains a control character".into());
            }
            return Err(format!("contains the control character {:?}", c));
        }
        match self.kind {
            Kind::String => {}
            Kind::Integer { min, max } => match value.trim().parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => {}
                _ => return Err(format!("must be a whole number from {min} to {max}")),
            },
            Kind::Boolean => {
                if parse_bool(value).is_none() {
                    return Err("must be true or false".into());
                }
            }
            Kind::Choice(values) => {
                if !values.contains(&value) {
                    return Err(format!("must be one of: {}", values.join(", ")));
                }
            }
        }
        match self.check {
            // A check's own words may quote the value: not for a secret.
            Some(check) if self.secret => {
                check(value).map_err(|_| "is not a valid value (not shown: it is secret)".into())
            }
            Some(check) => check(value),
            None => Ok(()),
        }
    }
}

/// `ocf_is_true` semantics, but strict: anything unrecognised is `None`.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" | "y" | "t" => Some(true),
        "0" | "false" | "no" | "off" | "n" | "f" => Some(false),
        _ => None,
    }
}

/// Parsed, validated parameter values of one agent.
#[derive(Clone)]
pub struct Params {
    specs: &'static [ParamSpec],
    values: BTreeMap<&'static str, String>,
}

/// Secret values show as `<hidden>`.
impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.values {
            let secret = self.specs.iter().any(|s| s.name == *k && s.secret);
            m.entry(k, &if secret { "<hidden>" } else { v.as_str() });
        }
        m.finish()
    }
}

/// Does a parameter's name say it holds a secret (`password`, `passwd`,
/// `secret`, `credentials`, `token`, `key` on its own)? Used where no table
/// is at hand (the raw environment), and to check that every such parameter
/// of a table is marked [`ParamSpec::secret`].
pub fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["pass", "secret", "credential", "token"]
        .iter()
        .any(|w| n.contains(w))
        || (n.split('_').any(|w| w == "key") && !n.contains("public"))
}

impl Params {
    /// Validate the raw `OCF_RESKEY_*` values against the table.
    ///
    /// Names not in the table are ignored (Pacemaker adds `crm_feature_set`).
    /// An empty value counts as unset, as in the shell agents. Every failure
    /// is ERR_CONFIGURED: a syntax error is wrong on every node.
    pub fn parse(specs: &'static [ParamSpec], raw: &BTreeMap<String, String>) -> OcfResult<Params> {
        let mut values = BTreeMap::new();
        for spec in specs {
            match raw.get(spec.name).filter(|v| !v.is_empty()) {
                Some(v) => {
                    spec.validate(v).map_err(|why| {
                        OcfError::configured(if spec.secret {
                            format!("parameter '{}' {why}", spec.name)
                        } else {
                            format!("parameter '{}' {why} (got {:?})", spec.name, v)
                        })
                    })?;
                    values.insert(spec.name, v.clone());
                }
                None if spec.required => {
                    return Err(OcfError::configured(format!(
                        "required parameter '{}' is not set",
                        spec.name
                    )));
                }
                None => {}
            }
        }
        Ok(Params { specs, values })
    }

    fn spec<'a>(&self, spec: &'a ParamSpec) -> &'a ParamSpec {
        debug_assert!(
            self.specs.iter().any(|s| s.name == spec.name),
            "parameter {} is not in this agent's table",
            spec.name
        );
        spec
    }

    /// True when the user gave a non-empty value.
    pub fn is_set(&self, spec: &ParamSpec) -> bool {
        self.values.contains_key(self.spec(spec).name)
    }

    /// The given value, else the default.
    pub fn string(&self, spec: &ParamSpec) -> Option<&str> {
        let spec = self.spec(spec);
        self.values
            .get(spec.name)
            .map(String::as_str)
            .or(spec.default)
    }

    /// A boolean parameter; unset with no default is false.
    pub fn boolean(&self, spec: &ParamSpec) -> bool {
        self.string(spec).and_then(parse_bool).unwrap_or(false)
    }

    /// An integer parameter (validated at parse time).
    pub fn integer(&self, spec: &ParamSpec) -> Option<i64> {
        self.string(spec).and_then(|v| v.trim().parse().ok())
    }
}

/// Sanity checks for an agent's table, meant for that agent's unit tests:
/// unique names, usable descriptions, defaults that pass their own checks.
pub fn check_table(specs: &[ParamSpec]) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for s in specs {
        if !seen.insert(s.name) {
            return Err(format!("duplicate parameter {}", s.name));
        }
        if s.name.is_empty()
            || !s
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(format!("parameter name {:?} is not [A-Za-z0-9_]+", s.name));
        }
        if s.shortdesc.trim().is_empty() || s.longdesc.trim().is_empty() {
            return Err(format!(
                "parameter {} needs a shortdesc and a longdesc",
                s.name
            ));
        }
        if let Some(d) = s.default {
            s.validate(d)
                .map_err(|why| format!("default of {} {why}", s.name))?;
        }
        if looks_secret(s.name) && !s.secret {
            return Err(format!(
                "parameter {} looks like a secret: mark it .secret()",
                s.name
            ));
        }
        if s.required && s.default.is_some() {
            return Err(format!(
                "parameter {} is required but has a default",
                s.name
            ));
        }
    }
    Ok(())
}

/// Common checks agents attach with [`ParamSpec::check`].
pub mod checks {
    /// An absolute path with no `..` components.
    /// A program to run: an absolute path, or a name looked up on PATH (as
    /// a shell agent's `$script` runs it). A relative path is refused: an
    /// agent's working directory is nobody's choice.
    pub fn program(v: &str) -> Result<(), String> {
        // It runs without a shell: shell syntax here is a misunderstanding
        // (the shell agents would have run `/bin/true;` as a program too).
        if v.contains(|c: char| ";|&$`'\"<>()*?\\".contains(c) || c.is_control()) {
            return Err(
                "must be a program path or name, without shell syntax (it runs without a shell)"
                    .into(),
            );
        }
        if v.contains('/') {
            absolute_path(v).map_err(|e| format!("{e} or a program name on PATH"))
        } else if v.is_empty() {
            Err("must not be empty".into())
        } else {
            Ok(())
        }
    }

    pub fn absolute_path(v: &str) -> Result<(), String> {
        if !v.starts_with('/') {
            return Err("must be an absolute path".into());
        }
        if v.split('/').any(|c| c == "..") {
            return Err("must not contain '..'".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_is_an_absolute_path_or_a_name_on_path_without_shell_syntax() {
        for ok in ["/usr/local/bin/check", "check-guest", "check.sh"] {
            assert_eq!(checks::program(ok), Ok(()), "{ok}");
        }
        for bad in [
            "bin/check",
            "../x",
            "/bin/true;",
            "a|b",
            "$(x)",
            "`x`",
            "a\nb",
            "",
        ] {
            assert!(checks::program(bad).is_err(), "{bad:?}");
        }
    }

    static A: ParamSpec = ParamSpec::new("a", "a string", "A string.").required();
    static N: ParamSpec = ParamSpec::new("n", "a number", "A number.")
        .integer(0, 10)
        .default("3");
    static B: ParamSpec = ParamSpec::new("b", "a flag", "A flag.")
        .boolean()
        .default("false");
    static C: ParamSpec = ParamSpec::new("c", "a word", "A word.").choice(&["x", "y"]);
    static P: ParamSpec = ParamSpec::new("p", "a path", "A path.").check(checks::absolute_path);
    static TABLE: [ParamSpec; 5] = [A, N, B, C, P];

    fn parse(kv: &[(&str, &str)]) -> OcfResult<Params> {
        let raw = kv
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Params::parse(&TABLE, &raw)
    }

    #[test]
    fn values_defaults_and_types() {
        let p = parse(&[("a", "hello"), ("b", "YES"), ("extra", "ignored")]).unwrap();
        assert_eq!(p.string(&A), Some("hello"));
        assert_eq!(p.integer(&N), Some(3));
        assert!(!p.is_set(&N));
        assert!(p.boolean(&B));
        assert_eq!(p.string(&C), None);
    }

    #[test]
    fn every_failure_is_err_configured_with_the_name() {
        for (kv, needle) in [
            (vec![], "required parameter 'a'"),
            (
                vec![("a", "x"), ("n", "11")],
                "'n' must be a whole number from 0 to 10",
            ),
            (
                vec![("a", "x"), ("n", "3; rm -rf /")],
                "'n' must be a whole number",
            ),
            (
                vec![("a", "x"), ("b", "maybe")],
                "'b' must be true or false",
            ),
            (vec![("a", "x"), ("c", "z")], "'c' must be one of: x, y"),
            (
                vec![("a", "x"), ("p", "rel/path")],
                "'p' must be an absolute path",
            ),
            (
                vec![("a", "x"), ("p", "/a/../b")],
                "'p' must not contain '..'",
            ),
            (
                vec![("a", "line\nbreak")],
                "'a' contains the control character",
            ),
        ] {
            let err = parse(&kv).unwrap_err();
            assert_eq!(err.status, crate::Status::ErrConfigured, "{kv:?}");
            assert!(
                err.reason.contains(needle),
                "{:?} lacks {needle:?}",
                err.reason
            );
        }
    }

    static S: ParamSpec = ParamSpec::new("monitor_password", "pw", "A password.")
        .secret()
        .check(|v| Err(format!("{v} is wrong")));

    #[test]
    fn a_secret_value_is_never_shown() {
        static T: [ParamSpec; 1] = [S];
        let raw = [("monitor_password".to_string(), "hunter2\tx".to_string())]
            .into_iter()
            .collect();
        let err = Params::parse(&T, &raw).unwrap_err();
        assert!(!err.reason.contains("hunter2"), "{}", err.reason);
        assert!(!err.reason.contains("\\t"), "{}", err.reason);
        let raw = [("monitor_password".to_string(), "hunter2".to_string())]
            .into_iter()
            .collect();
        let err = Params::parse(&T, &raw).unwrap_err();
        assert!(
            err.reason
                .contains("'monitor_password' is not a valid value"),
            "{}",
            err.reason
        );
        assert!(!err.reason.contains("hunter2"), "{}", err.reason);
        static U: [ParamSpec; 1] =
            [ParamSpec::new("monitor_password", "pw", "A password.").secret()];
        let p = Params::parse(&U, &raw).unwrap();
        let dbg = format!("{p:?}");
        assert!(
            dbg.contains("<hidden>") && !dbg.contains("hunter2"),
            "{dbg}"
        );
        assert!(looks_secret("test_passwd") && looks_secret("monitor_password"));
        assert!(!looks_secret("monitor_user") && !looks_secret("keyboard"));
        assert!(looks_secret("api_key") && !looks_secret("server_public_key"));
        let unmarked = ParamSpec::new("password", "pw", "A password.");
        assert!(check_table(&[unmarked]).unwrap_err().contains("secret"));
    }

    #[test]
    fn empty_is_unset() {
        assert!(parse(&[("a", "")]).is_err());
        let p = parse(&[("a", "x"), ("n", "")]).unwrap();
        assert_eq!(p.integer(&N), Some(3));
    }

    #[test]
    fn bools_like_ocf_is_true_but_strict() {
        for t in ["1", "true", "TRUE", "yes", "On", "y", "t"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["0", "false", "No", "off", "n", "F"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("2"), None);
    }

    #[test]
    fn table_checks() {
        assert!(check_table(&TABLE).is_ok());
        assert!(check_table(&[A, A]).unwrap_err().contains("duplicate"));
        let bad_default = ParamSpec::new("n", "n", "n").integer(0, 1).default("5");
        assert!(check_table(&[bad_default]).is_err());
        assert!(check_table(&[ParamSpec::new("a-b", "s", "l")]).is_err());
    }
}
