//! What switching each primitive means: its target agent, and every
//! parameter ours would refuse or treat differently, found with the agent's
//! own parameter table and `configure` (the syntax-only step validate-all
//! runs), plus the written decisions of [`super::notes`].

use std::collections::BTreeMap;

use ocf::{AgentInfo, Context, OcfResult, Params, run::Agent};

use super::cib::Primitive;
use super::notes::{self, Treatment};

/// An agent we replace and ours that replaces it.
pub struct Target {
    pub provider: &'static str,
    pub anchor: &'static str,
    pub info: &'static AgentInfo,
    /// Params::parse + Agent::configure: what validate-all checks at level 0.
    pub configure: fn(&Context) -> OcfResult<()>,
}

fn configure<A: Agent>(ctx: &Context) -> OcfResult<()> {
    let p = Params::parse(A::info().params, &ctx.params)?;
    A::configure(&p, ctx).map(|_| ())
}

pub static TARGETS: &[Target] = &[
    Target {
        provider: "heartbeat",
        anchor: "IPaddr2",
        info: &ipaddr::INFO,
        configure: configure::<ipaddr::IpAddrAgent>,
    },
    Target {
        provider: "heartbeat",
        anchor: "Filesystem",
        info: &filesystem::INFO,
        configure: configure::<filesystem::Filesystem>,
    },
    Target {
        provider: "heartbeat",
        anchor: "VirtualDomain",
        info: &vm::INFO,
        configure: configure::<vm::Vm>,
    },
    Target {
        provider: "heartbeat",
        anchor: "Xen",
        info: &xen::INFO,
        configure: configure::<xen::Xen>,
    },
    Target {
        provider: "heartbeat",
        anchor: "pgsql",
        info: &database::PGSQL_INFO,
        configure: configure::<database::Pgsql>,
    },
    Target {
        provider: "heartbeat",
        anchor: "mysql",
        info: &database::MYSQL_INFO,
        configure: configure::<database::Mysql>,
    },
    Target {
        provider: "linbit",
        anchor: "drbd",
        info: &drbd::INFO,
        configure: configure::<drbd::Drbd>,
    },
];

pub fn target_of(p: &Primitive) -> Option<&'static Target> {
    TARGETS.iter().find(|t| {
        p.class == "ocf" && p.provider.as_deref() == Some(t.provider) && p.kind == t.anchor
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// For information: the switch keeps the service as it is.
    Note,
    /// The admin must act before this resource can switch.
    Blocks,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// On an agent we replace, nothing stands in the way.
    Switch,
    /// On an agent we replace, something needs the admin first.
    NeedsAdmin,
    /// Already on ours.
    Already,
    /// An agent we do not replace.
    LeftAlone,
}

pub struct Item {
    pub prim: Primitive,
    pub target: Option<&'static Target>,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
}

impl Item {
    pub fn new_agent(&self, provider: &str) -> Option<String> {
        self.target
            .map(|t| format!("ocf:{provider}:{}", t.info.name))
    }
}

pub struct Plan {
    pub provider: String,
    pub items: Vec<Item>,
}

impl Plan {
    pub fn build(prims: Vec<Primitive>, provider: &str) -> Plan {
        let items = prims.into_iter().map(|p| item(p, provider)).collect();
        Plan {
            provider: provider.to_string(),
            items,
        }
    }
    pub fn switching(&self) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(|i| i.verdict == Verdict::Switch)
    }
    pub fn blocked(&self) -> impl Iterator<Item = &Item> {
        self.items
            .iter()
            .filter(|i| i.verdict == Verdict::NeedsAdmin)
    }
    /// 0: everything on an agent we replace can switch; 1: something needs the admin.
    pub fn exit_code(&self) -> i32 {
        if self.blocked().next().is_some() {
            1
        } else {
            0
        }
    }
}

fn item(prim: Primitive, provider: &str) -> Item {
    let ours = prim.class == "ocf"
        && prim.provider.as_deref() == Some(provider)
        && TARGETS.iter().any(|t| t.info.name == prim.kind);
    let target = target_of(&prim);
    let Some(t) = target else {
        let verdict = if ours {
            Verdict::Already
        } else {
            Verdict::LeftAlone
        };
        return Item {
            prim,
            target: None,
            verdict,
            findings: vec![],
        };
    };
    let findings = check(&prim, t);
    let verdict = if findings.iter().any(|f| f.level == Level::Blocks) {
        Verdict::NeedsAdmin
    } else {
        Verdict::Switch
    };
    Item {
        prim,
        target,
        verdict,
        findings,
    }
}

fn blocks(text: String) -> Finding {
    Finding {
        level: Level::Blocks,
        text,
    }
}

fn note(text: String) -> Finding {
    Finding {
        level: Level::Note,
        text,
    }
}

/// Everything an admin should know before `prim` runs under `t`'s agent.
pub fn check(prim: &Primitive, t: &Target) -> Vec<Finding> {
    let ours = t.info.name;
    let mut out = vec![];
    if let Some(b) = prim.bundle() {
        out.push(blocks(format!(
            "inside bundle {b}: the agent runs in the container, where ocf-rs would have to be \
             installed in the image; migrate does not switch bundles"
        )));
    }
    if let Some(tpl) = &prim.template {
        out.push(blocks(format!(
            "its agent comes from template {tpl}: switch the template (it changes every \
             primitive that uses it); migrate does not change templates"
        )));
    }
    for c in &prim.caveats {
        out.push(note(c.clone()));
    }
    let set: BTreeMap<&str, &str> = prim
        .params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut syntax_ok = true;
    for (name, value) in &set {
        match t.info.params.iter().find(|s| s.name == *name) {
            None => out.push(blocks(format!(
                "{name}: not a parameter of ocf:rust:{ours} (it would be ignored); remove it or \
                 check what it was for"
            ))),
            Some(spec) => {
                if let Err(why) = spec.validate(value) {
                    syntax_ok = false;
                    let shown = if spec.secret {
                        format!("{name} (value not shown)")
                    } else {
                        format!("{name}={value:?}")
                    };
                    out.push(blocks(format!("{shown}: refused, it {why}")));
                }
            }
        }
        for n in notes::for_param(t.anchor, name) {
            let what = match n.treatment {
                Treatment::Ignored => "accepted, ignored",
                Treatment::Differs => "differs",
            };
            out.push(note(format!("{name}: {what}: {}", n.text)));
        }
    }
    if syntax_ok {
        let ctx = context(prim, ours);
        if let Err(e) = (t.configure)(&ctx) {
            out.push(blocks(format!("refused: {}", e.reason)));
        }
    }
    out
}

/// The context Pacemaker would give our agent for a validate-all.
pub fn context(prim: &Primitive, agent: &str) -> Context {
    let mut ctx = Context::from_vars(
        agent,
        "validate-all",
        std::iter::empty::<(String, String)>(),
    );
    ctx.instance = prim.id.clone();
    ctx.params = prim
        .params
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    ctx.meta = prim.meta.clone();
    ctx
}

#[cfg(test)]
mod tests {
    use super::super::cib::{self, Parent};
    use super::*;

    fn plan() -> Plan {
        Plan::build(
            cib::primitives(include_str!("testdata/cib-mixed.xml")).unwrap(),
            "rust",
        )
    }

    fn item<'a>(p: &'a Plan, id: &str) -> &'a Item {
        p.items.iter().find(|i| i.prim.id == id).unwrap()
    }

    fn texts(i: &Item, level: Level) -> Vec<&str> {
        i.findings
            .iter()
            .filter(|f| f.level == level)
            .map(|f| f.text.as_str())
            .collect()
    }

    #[test]
    fn a_clean_address_switches_with_a_note() {
        let p = plan();
        let vip = item(&p, "vip");
        assert_eq!(vip.verdict, Verdict::Switch, "{:?}", vip.findings);
        assert_eq!(vip.new_agent("rust").as_deref(), Some("ocf:rust:ipaddr"));
        let notes = texts(vip, Level::Note);
        assert!(
            notes[0].starts_with("arp_sender: accepted, ignored"),
            "{notes:?}"
        );
        let fs = item(&p, "fs");
        assert_eq!(fs.verdict, Verdict::Switch, "{:?}", fs.findings);
        assert!(texts(fs, Level::Note)[0].contains("has a rule"));
    }

    #[test]
    fn refused_values_unknown_names_and_replication() {
        let p = plan();
        let db = item(&p, "db");
        assert_eq!(db.verdict, Verdict::NeedsAdmin);
        let b = texts(db, Level::Blocks);
        assert!(
            b.iter()
                .any(|t| t.starts_with("frobnicate: not a parameter")),
            "{b:?}"
        );
        assert!(
            b.iter()
                .any(|t| t.starts_with("pgport=\"99999\": refused, it must be a whole number")),
            "{b:?}"
        );
        // A syntax refusal first; replication shows once that is fixed.
        let mut fixed = db.prim.clone();
        fixed.params.insert("pgport".into(), "5432".into());
        fixed.params.remove("frobnicate");
        let f = check(&fixed, db.target.unwrap());
        let b: Vec<&str> = f
            .iter()
            .filter(|f| f.level == Level::Blocks)
            .map(|f| f.text.as_str())
            .collect();
        assert_eq!(b.len(), 1, "{b:?}");
        assert!(
            b[0].contains("rep_mode=sync: replication is not supported yet"),
            "{b:?}"
        );
        assert!(
            texts(db, Level::Note)
                .iter()
                .any(|t| t.starts_with("psql: accepted, ignored"))
        );
        // mysql's replication, its password never shown.
        let my = item(&p, "my");
        assert_eq!(my.verdict, Verdict::NeedsAdmin);
        let all = format!("{:?}", my.findings);
        assert!(all.contains("replication"), "{all}");
        assert!(!all.contains("s3cret-pw") && !format!("{:?}", db.findings).contains("hunter2"));
    }

    #[test]
    fn drbd_in_a_promotable_clone_switches() {
        let p = plan();
        let d = item(&p, "drbd0");
        assert_eq!(d.verdict, Verdict::Switch, "{:?}", d.findings);
        assert_eq!(d.new_agent("rust").as_deref(), Some("ocf:rust:drbd"));
        assert!(matches!(d.prim.parents[0], Parent::Promotable(_)));
    }

    #[test]
    fn bundles_templates_and_other_agents() {
        let p = plan();
        let w = item(&p, "web-ip");
        assert_eq!(w.verdict, Verdict::NeedsAdmin);
        assert!(texts(w, Level::Blocks)[0].contains("inside bundle web"));
        let vm = item(&p, "vm1");
        assert_eq!(vm.verdict, Verdict::NeedsAdmin);
        assert!(texts(vm, Level::Blocks)[0].contains("template vm-template"));
        assert_eq!(item(&p, "ping").verdict, Verdict::LeftAlone);
        assert_eq!(item(&p, "httpd").verdict, Verdict::LeftAlone);
        assert_eq!(p.exit_code(), 1);
    }

    #[test]
    fn an_address_in_a_load_sharing_clone_is_refused() {
        let text = include_str!("testdata/cib-mixed.xml")
            .replace(
                "provider=\"pacemaker\" type=\"ping\"",
                "provider=\"heartbeat\" type=\"IPaddr2\"",
            )
            .replace("name=\"host_list\"", "name=\"ip\"");
        let p = Plan::build(cib::primitives(&text).unwrap(), "rust");
        let ping = item(&p, "ping");
        assert_eq!(ping.verdict, Verdict::NeedsAdmin);
        assert!(
            texts(ping, Level::Blocks)[0].contains("clone-max=3"),
            "{:?}",
            ping.findings
        );
    }

    #[test]
    fn already_switched_and_a_clean_cib() {
        let text = r#"<cib><configuration><nodes/><resources>
            <primitive id="a" class="ocf" provider="rust" type="ipaddr"/>
            <primitive id="b" class="ocf" provider="heartbeat" type="IPaddr2">
              <instance_attributes id="b-ia"><nvpair id="b-ip" name="ip" value="192.0.2.9"/></instance_attributes>
            </primitive></resources></configuration></cib>"#;
        let p = Plan::build(cib::primitives(text).unwrap(), "rust");
        assert_eq!(p.items[0].verdict, Verdict::Already);
        assert_eq!(p.items[1].verdict, Verdict::Switch);
        assert_eq!(p.exit_code(), 0);
    }
}
