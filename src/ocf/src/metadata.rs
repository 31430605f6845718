//! Meta-data XML, written from the agent's tables.
//!
//! The shape is the one intersection of the four validators that matter
//! (ra-api-1.dtd as ocf-tester uses it, the OCF 1.1 RNG, pcs's ocf-1.1.rng and
//! Pacemaker): the DOCTYPE line, `<version>1.1</version>`, one longdesc and one
//! shortdesc in DTD order, content types string/integer/boolean only, DTD
//! action names only, every action with a `timeout` in seconds with an `s`.
//! No `reload-agent`, `unique-group`, `reloadable`, `private` or `select`.

use std::fmt::Write;

use crate::params::{Kind, ParamSpec};

/// Action names ra-api-1.dtd accepts.
pub const DTD_ACTIONS: &[&str] = &[
    "start",
    "stop",
    "recover",
    "monitor",
    "restart",
    "migrate_to",
    "migrate_from",
    "promote",
    "demote",
    "notify",
    "status",
    "reload",
    "meta-data",
    "usage",
    "methods",
    "validate-all",
];

/// One advertised action. pcs turns these into the resource's default ops,
/// so the timeouts are real minimums, never below 10 s for real work.
#[derive(Clone, Copy, Debug)]
pub struct ActionSpec {
    pub name: &'static str,
    pub timeout_s: u32,
    pub interval_s: Option<u32>,
    pub depth: Option<u32>,
    pub role: Option<&'static str>,
}

impl ActionSpec {
    pub const fn new(name: &'static str, timeout_s: u32) -> Self {
        ActionSpec {
            name,
            timeout_s,
            interval_s: None,
            depth: None,
            role: None,
        }
    }
    pub const fn interval(mut self, seconds: u32) -> Self {
        self.interval_s = Some(seconds);
        self
    }
    pub const fn depth(mut self, level: u32) -> Self {
        self.depth = Some(level);
        self
    }
    pub const fn role(mut self, role: &'static str) -> Self {
        self.role = Some(role);
        self
    }
}

/// What an agent publishes about itself.
#[derive(Clone, Copy, Debug)]
pub struct AgentInfo {
    /// The type name: `ocf:rust:<name>`.
    pub name: &'static str,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
    pub params: &'static [ParamSpec],
    pub actions: &'static [ActionSpec],
}

impl AgentInfo {
    pub fn supports(&self, action: &str) -> bool {
        self.actions.iter().any(|a| a.name == action)
    }
}

/// Escape text for XML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn longdesc(spec: &ParamSpec) -> String {
    match spec.kind {
        Kind::Choice(values) => format!(
            "{} Allowed values: {}.",
            spec.longdesc.trim_end(),
            values.join(", ")
        ),
        _ => spec.longdesc.trim_end().to_string(),
    }
}

fn content_type(kind: Kind) -> &'static str {
    match kind {
        Kind::String | Kind::Choice(_) => "string",
        Kind::Integer { .. } => "integer",
        Kind::Boolean => "boolean",
    }
}

/// The full meta-data document.
pub fn xml(info: &AgentInfo) -> String {
    let mut x = String::with_capacity(4096);
    // Writing to a String cannot fail.
    let _ = write_xml(&mut x, info);
    x
}

fn write_xml(x: &mut String, info: &AgentInfo) -> std::fmt::Result {
    writeln!(x, "<?xml version=\"1.0\"?>")?;
    writeln!(x, "<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">")?;
    writeln!(
        x,
        "<resource-agent name=\"{}\" version=\"{}\">",
        escape(info.name),
        env!("CARGO_PKG_VERSION")
    )?;
    writeln!(x, "<version>1.1</version>")?;
    writeln!(
        x,
        "<longdesc lang=\"en\">\n{}\n</longdesc>",
        escape(info.longdesc.trim())
    )?;
    writeln!(
        x,
        "<shortdesc lang=\"en\">{}</shortdesc>",
        escape(info.shortdesc)
    )?;
    writeln!(x, "<parameters>")?;
    for p in info.params {
        writeln!(
            x,
            "<parameter name=\"{}\" unique=\"{}\" required=\"{}\">",
            escape(p.name),
            u8::from(p.unique),
            u8::from(p.required)
        )?;
        writeln!(
            x,
            "<longdesc lang=\"en\">\n{}\n</longdesc>",
            escape(&longdesc(p))
        )?;
        writeln!(
            x,
            "<shortdesc lang=\"en\">{}</shortdesc>",
            escape(p.shortdesc)
        )?;
        match p.default {
            Some(d) => writeln!(
                x,
                "<content type=\"{}\" default=\"{}\" />",
                content_type(p.kind),
                escape(d)
            )?,
            None => writeln!(x, "<content type=\"{}\" />", content_type(p.kind))?,
        }
        writeln!(x, "</parameter>")?;
    }
    writeln!(x, "</parameters>")?;
    writeln!(x, "<actions>")?;
    for a in info.actions {
        write!(
            x,
            "<action name=\"{}\" timeout=\"{}s\"",
            escape(a.name),
            a.timeout_s
        )?;
        if let Some(i) = a.interval_s {
            write!(x, " interval=\"{i}s\"")?;
        }
        if let Some(d) = a.depth {
            write!(x, " depth=\"{d}\"")?;
        }
        if let Some(r) = a.role {
            write!(x, " role=\"{}\"", escape(r))?;
        }
        writeln!(x, " />")?;
    }
    writeln!(x, "</actions>")?;
    writeln!(x, "</resource-agent>")
}

/// The parameter and action reference as Markdown, for `docs/agents/<name>.md`.
pub fn markdown(info: &AgentInfo) -> String {
    let cell = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace('|', "\\|")
    };
    let mut m = String::new();
    m.push_str("| parameter | type | default | required | description |\n");
    m.push_str("|---|---|---|---|---|\n");
    for p in info.params {
        let ty = match p.kind {
            Kind::String => "string".to_string(),
            Kind::Integer { min, max } => format!("integer {min}..{max}"),
            Kind::Boolean => "boolean".to_string(),
            Kind::Choice(v) => v.join(" \\| "),
        };
        let flags = match (p.required, p.unique) {
            (true, true) => "yes, unique",
            (true, false) => "yes",
            (false, true) => "unique",
            (false, false) => "",
        };
        m.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            p.name,
            ty,
            p.default.map(|d| format!("`{d}`")).unwrap_or_default(),
            flags,
            cell(p.longdesc)
        ));
    }
    m.push_str("\n| action | timeout | interval | depth |\n|---|---|---|---|\n");
    for a in info.actions {
        m.push_str(&format!(
            "| `{}` | {}s | {} | {} |\n",
            a.name,
            a.timeout_s,
            a.interval_s.map(|i| format!("{i}s")).unwrap_or_default(),
            a.depth.map(|d| d.to_string()).unwrap_or_default()
        ));
    }
    m
}

/// Sanity checks for an agent's published tables (for the agent's tests).
pub fn check_info(info: &AgentInfo) -> Result<(), String> {
    crate::params::check_table(info.params)?;
    for must in ["start", "stop", "monitor", "meta-data"] {
        if !info.supports(must) {
            return Err(format!("{} does not advertise {must}", info.name));
        }
    }
    for a in info.actions {
        if !DTD_ACTIONS.contains(&a.name) {
            return Err(format!("action {} is not allowed by ra-api-1.dtd", a.name));
        }
        if a.timeout_s == 0 {
            return Err(format!("action {} has no timeout", a.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    static PARAMS: [ParamSpec; 2] = [
        ParamSpec::new("state", "State <file>", "Where & how \"state\" lives.").unique(),
        ParamSpec::new("mode", "Mode", "The mode.")
            .choice(&["a", "b"])
            .default("a"),
    ];
    static ACTIONS: [ActionSpec; 4] = [
        ActionSpec::new("start", 20),
        ActionSpec::new("stop", 20),
        ActionSpec::new("monitor", 20).interval(10).depth(0),
        ActionSpec::new("meta-data", 5),
    ];
    static INFO: AgentInfo = AgentInfo {
        name: "t",
        shortdesc: "Test",
        longdesc: "A test agent.",
        params: &PARAMS,
        actions: &ACTIONS,
    };

    #[test]
    fn doctype_version_and_escaping() {
        let x = xml(&INFO);
        assert!(x.starts_with(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n"
        ));
        assert!(x.contains("<version>1.1</version>"));
        assert!(x.contains("<shortdesc lang=\"en\">State &lt;file&gt;</shortdesc>"));
        assert!(x.contains("Where &amp; how &quot;state&quot; lives."));
        assert!(x.contains("The mode. Allowed values: a, b."));
        assert!(x.contains("<content type=\"string\" default=\"a\" />"));
        assert!(
            x.contains("<action name=\"monitor\" timeout=\"20s\" interval=\"10s\" depth=\"0\" />")
        );
        assert!(
            !x.contains("reload-agent") && !x.contains("unique-group") && !x.contains("private")
        );
    }

    #[test]
    fn info_checks() {
        assert!(check_info(&INFO).is_ok());
        static BAD: [ActionSpec; 5] = [
            ActionSpec::new("start", 20),
            ActionSpec::new("stop", 20),
            ActionSpec::new("monitor", 20),
            ActionSpec::new("meta-data", 5),
            ActionSpec::new("reload-agent", 20),
        ];
        let bad = AgentInfo {
            actions: &BAD,
            ..INFO
        };
        assert!(check_info(&bad).unwrap_err().contains("reload-agent"));
    }

    #[test]
    fn markdown_table_has_every_parameter() {
        let m = markdown(&INFO);
        assert!(m.contains("| `state` | string |  | unique |"));
        assert!(m.contains("| `mode` | a \\| b | `a` |"));
        assert!(m.contains("| `monitor` | 20s | 10s | 0 |"));
    }
}
