//! Reading the CIB: every primitive with where it sits (group, clone,
//! promotable clone, bundle), its instance attributes and the meta
//! attributes Pacemaker would hand its agent (`CRM_meta_*`).

use std::collections::BTreeMap;

use ocf::xml::{self, Document, Node};

/// What a primitive is inside of, outermost first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parent {
    Group(String),
    Clone(String),
    /// A clone with `promotable=true`, or the old `<master>` element.
    Promotable(String),
    Bundle(String),
}

impl Parent {
    pub fn id(&self) -> &str {
        match self {
            Parent::Group(id) | Parent::Clone(id) | Parent::Promotable(id) | Parent::Bundle(id) => {
                id
            }
        }
    }
    pub fn describe(&self) -> String {
        match self {
            Parent::Group(id) => format!("group {id}"),
            Parent::Clone(id) => format!("clone {id}"),
            Parent::Promotable(id) => format!("promotable clone {id}"),
            Parent::Bundle(id) => format!("bundle {id}"),
        }
    }
}

/// Where the primitive's own `is-managed` meta attribute lives, for
/// `--apply` to set it and put it back exactly as it was.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Managed {
    /// The first meta_attributes set of the primitive without a rule.
    pub set_id: Option<String>,
    /// An `is-managed` nvpair in such a set: its set's id, its id, its value.
    pub nvpair: Option<(String, String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Primitive {
    pub id: String,
    pub class: String,
    pub provider: Option<String>,
    pub kind: String,
    /// The element name each parent has in the CIB (`group`, `clone`,
    /// `master`, `bundle`) with its id, outermost first.
    pub path: Vec<(String, String)>,
    pub parents: Vec<Parent>,
    /// Instance attributes, the first value of a name winning.
    pub params: BTreeMap<String, String>,
    /// Meta attributes as the agent sees them (`clone_max`, ...): the
    /// primitive's own over its parents', defaults Pacemaker fills in.
    pub meta: BTreeMap<String, String>,
    pub managed: Managed,
    /// Things the checks cannot see through (rules, templates, id-refs).
    pub caveats: Vec<String>,
    /// The primitive takes class/provider/type from a template.
    pub template: Option<String>,
}

impl Primitive {
    /// `ocf:heartbeat:IPaddr2`, `systemd:foo`.
    pub fn agent(&self) -> String {
        match &self.provider {
            Some(p) => format!("{}:{p}:{}", self.class, self.kind),
            None => format!("{}:{}", self.class, self.kind),
        }
    }
    pub fn bundle(&self) -> Option<&str> {
        self.parents.iter().find_map(|p| match p {
            Parent::Bundle(id) => Some(id.as_str()),
            _ => None,
        })
    }
    pub fn where_(&self) -> String {
        let inner: Vec<String> = self.parents.iter().rev().map(Parent::describe).collect();
        if inner.is_empty() {
            String::new()
        } else {
            format!(", in {}", inner.join(" in "))
        }
    }
}

/// A CIB we cannot read.
#[derive(Debug)]
pub struct CibError(pub String);

impl std::fmt::Display for CibError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every primitive of the CIB's `configuration/resources`, in document order.
pub fn primitives(text: &str) -> Result<Vec<Primitive>, CibError> {
    let doc = xml::parse(text).map_err(|e| CibError(format!("not XML: {e}")))?;
    let root = doc.root_element();
    if root.tag_name().name() != "cib" {
        return Err(CibError(format!(
            "the root element is <{}>, not <cib>",
            root.tag_name().name()
        )));
    }
    let resources = xml::path(root, &["configuration", "resources"])
        .ok_or_else(|| CibError("no configuration/resources section".into()))?;
    let nodes = xml::path(root, &["configuration", "nodes"])
        .map(|n| xml::children(n, "node").count())
        .unwrap_or(0);
    let mut out = vec![];
    walk(&doc, resources, &mut vec![], nodes, &mut out);
    Ok(out)
}

/// Meta attributes of one element as Pacemaker passes them (`-` → `_`).
fn meta_of(
    doc: &Document<'_>,
    el: Node<'_, '_>,
    caveats: &mut Vec<String>,
) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for (k, v) in nvpairs(doc, el, "meta_attributes", caveats) {
        m.entry(k.replace('-', "_")).or_insert(v);
    }
    m
}

struct Frame {
    tag: String,
    parent: Parent,
    meta: BTreeMap<String, String>,
    caveats: Vec<String>,
}

fn walk(
    doc: &Document<'_>,
    el: Node<'_, '_>,
    stack: &mut Vec<Frame>,
    nodes: usize,
    out: &mut Vec<Primitive>,
) {
    for child in el.children().filter(Node::is_element) {
        let id = child.attribute("id").unwrap_or_default().to_string();
        let tag = child.tag_name().name();
        match tag {
            "primitive" => out.push(primitive(doc, child, stack, nodes)),
            "group" | "clone" | "master" | "bundle" => {
                let mut caveats = vec![];
                let meta = meta_of(doc, child, &mut caveats);
                let promotable = tag == "master"
                    || meta
                        .get("promotable")
                        .is_some_and(|v| ocf::params::parse_bool(v) == Some(true));
                let parent = match tag {
                    "group" => Parent::Group(id),
                    "bundle" => Parent::Bundle(id),
                    _ if promotable => Parent::Promotable(id),
                    _ => Parent::Clone(id),
                };
                stack.push(Frame {
                    tag: tag.to_string(),
                    parent,
                    meta,
                    caveats,
                });
                walk(doc, child, stack, nodes, out);
                stack.pop();
            }
            _ => {}
        }
    }
}

fn primitive(doc: &Document<'_>, el: Node<'_, '_>, stack: &[Frame], nodes: usize) -> Primitive {
    let mut caveats: Vec<String> = stack.iter().flat_map(|f| f.caveats.clone()).collect();
    let mut class = el.attribute("class").unwrap_or_default().to_string();
    let mut provider = el.attribute("provider").map(str::to_string);
    let mut kind = el.attribute("type").unwrap_or_default().to_string();
    let template = el.attribute("template").map(str::to_string);
    let mut params = BTreeMap::new();
    if let Some(t) = &template {
        // A template gives the agent and default attributes.
        if let Some(tn) = by_id(doc, t).filter(|n| n.tag_name().name() == "template") {
            class = tn.attribute("class").unwrap_or_default().to_string();
            provider = tn.attribute("provider").map(str::to_string);
            kind = tn.attribute("type").unwrap_or_default().to_string();
            for (k, v) in nvpairs(doc, tn, "instance_attributes", &mut caveats) {
                params.insert(k, v);
            }
        }
    }
    for (k, v) in nvpairs(doc, el, "instance_attributes", &mut caveats) {
        // The primitive's own value wins over its template's.
        params.insert(k, v);
    }
    // Meta: the primitive's own, then its parents' from the innermost out.
    let mut meta = meta_of(doc, el, &mut caveats);
    for f in stack.iter().rev() {
        for (k, v) in &f.meta {
            meta.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    // What Pacemaker adds for a clone instance.
    if let Some(clone) = stack
        .iter()
        .rev()
        .find(|f| matches!(f.parent, Parent::Clone(_) | Parent::Promotable(_)))
    {
        meta.entry("clone_max".into())
            .or_insert_with(|| nodes.max(1).to_string());
        meta.entry("clone_node_max".into())
            .or_insert_with(|| "1".into());
        if matches!(clone.parent, Parent::Promotable(_)) {
            meta.entry("promotable".into())
                .or_insert_with(|| "true".into());
            meta.entry("promoted_max".into())
                .or_insert_with(|| meta_alias(&clone.meta, "master_max", "1"));
            meta.entry("promoted_node_max".into())
                .or_insert_with(|| meta_alias(&clone.meta, "master_node_max", "1"));
        }
    }
    Primitive {
        id: el.attribute("id").unwrap_or_default().to_string(),
        class,
        provider,
        kind,
        path: stack
            .iter()
            .map(|f| (f.tag.clone(), f.parent.id().to_string()))
            .collect(),
        parents: stack.iter().map(|f| f.parent.clone()).collect(),
        params,
        meta,
        managed: managed(el),
        caveats: dedup(caveats),
        template,
    }
}

fn meta_alias(meta: &BTreeMap<String, String>, old: &str, default: &str) -> String {
    meta.get(old)
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    v.retain(|s| seen.insert(s.clone()));
    v
}

fn by_id<'a, 'i>(doc: &'a Document<'i>, id: &str) -> Option<Node<'a, 'i>> {
    doc.descendants()
        .find(|n| n.is_element() && n.attribute("id") == Some(id))
}

/// The name/value pairs of `el`'s `set` elements (`instance_attributes`,
/// `meta_attributes`), following `id-ref`s, first value of a name first.
fn nvpairs(
    doc: &Document<'_>,
    el: Node<'_, '_>,
    set: &str,
    caveats: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mut out = vec![];
    for s in xml::children(el, set) {
        let s = match s.attribute("id-ref") {
            Some(r) => match by_id(doc, r) {
                Some(n) => n,
                None => {
                    caveats.push(format!("{set} id-ref {r:?} names nothing in the CIB"));
                    continue;
                }
            },
            None => s,
        };
        if xml::child(s, "rule").is_some() {
            caveats.push(format!(
                "{set} {:?} has a rule: its values are checked as if it applied",
                s.attribute("id").unwrap_or_default()
            ));
        }
        for nv in xml::children(s, "nvpair") {
            let nv = match nv.attribute("id-ref") {
                Some(r) => match by_id(doc, r) {
                    Some(n) => n,
                    None => {
                        caveats.push(format!("nvpair id-ref {r:?} names nothing in the CIB"));
                        continue;
                    }
                },
                None => nv,
            };
            let (Some(name), value) = (nv.attribute("name"), nv.attribute("value")) else {
                continue;
            };
            out.push((name.to_string(), value.unwrap_or_default().to_string()));
        }
    }
    out
}

fn managed(el: Node<'_, '_>) -> Managed {
    let mut m = Managed::default();
    for s in xml::children(el, "meta_attributes") {
        if s.attribute("id-ref").is_some() || xml::child(s, "rule").is_some() {
            continue;
        }
        if m.set_id.is_none() {
            m.set_id = s.attribute("id").map(str::to_string);
        }
        let nv = xml::children(s, "nvpair").find(|n| n.attribute("name") == Some("is-managed"));
        if let (Some(nv), None) = (nv, &m.nvpair) {
            m.nvpair = Some((
                s.attribute("id").unwrap_or_default().to_string(),
                nv.attribute("id").unwrap_or_default().to_string(),
                nv.attribute("value").unwrap_or_default().to_string(),
            ));
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const CIB: &str = include_str!("testdata/cib-mixed.xml");

    #[test]
    fn groups_clones_promotable_and_bundles() {
        let p = primitives(CIB).unwrap();
        let ids: Vec<&str> = p.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "vip", "fs", "db", "drbd0", "ping", "web-ip", "httpd", "my", "vm1"
            ]
        );
        let vip = &p[0];
        assert_eq!(vip.agent(), "ocf:heartbeat:IPaddr2");
        assert_eq!(vip.parents, [Parent::Group("svc".into())]);
        assert_eq!(vip.params["ip"], "192.0.2.10");
        assert_eq!(vip.where_(), ", in group svc");
        let drbd = &p[3];
        assert_eq!(drbd.parents, [Parent::Promotable("drbd0-clone".into())]);
        assert_eq!(drbd.meta["clone_max"], "2");
        assert_eq!(drbd.meta["promoted_max"], "1");
        assert_eq!(drbd.meta["promotable"], "true");
        let ping = &p[4];
        assert_eq!(ping.parents, [Parent::Clone("ping-clone".into())]);
        // No clone-max in the CIB: the number of nodes.
        assert_eq!(ping.meta["clone_max"], "3");
        let web_ip = &p[5];
        assert_eq!(web_ip.bundle(), Some("web"));
        // The old <master> element is a promotable clone too.
        let my = &p[7];
        assert!(matches!(my.parents[0], Parent::Promotable(_)));
        assert_eq!(my.path, [("master".to_string(), "my-ms".to_string())]);
        // Meta of the primitive and where its is-managed lives.
        let db = &p[2];
        assert_eq!(
            db.managed,
            Managed {
                set_id: Some("db-meta".into()),
                nvpair: Some(("db-meta".into(), "db-meta-is-managed".into(), "true".into())),
            }
        );
        assert_eq!(db.meta["is_managed"], "true");
        assert_eq!(vip.managed, Managed::default());
    }

    #[test]
    fn id_refs_rules_and_templates() {
        let p = primitives(CIB).unwrap();
        let vm = p.iter().find(|p| p.id == "vm1").unwrap();
        assert_eq!(vm.template.as_deref(), Some("vm-template"));
        assert_eq!(vm.agent(), "ocf:heartbeat:VirtualDomain");
        assert_eq!(vm.params["hypervisor"], "qemu:///system");
        assert_eq!(vm.params["config"], "/etc/libvirt/qemu/vm1.xml");
        let fs = p.iter().find(|p| p.id == "fs").unwrap();
        // An nvpair id-ref takes the referenced value.
        assert_eq!(fs.params["fstype"], "ext4");
        assert!(
            fs.caveats.iter().any(|c| c.contains("has a rule")),
            "{:?}",
            fs.caveats
        );
    }

    #[test]
    fn what_is_not_a_cib() {
        assert!(primitives("<cib/>").unwrap_err().0.contains("resources"));
        assert!(primitives("<x/>").unwrap_err().0.contains("not <cib>"));
        assert!(primitives("<cib").unwrap_err().0.contains("not XML"));
    }
}
