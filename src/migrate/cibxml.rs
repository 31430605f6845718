//! The CIB updates `--apply` makes (and the report prints), built as text:
//! `cibadmin --modify --scope resources` merges an element into the one with
//! the same name and id, one level at a time, so every primitive is written
//! inside its group/clone skeleton (ids only), and all of them go into one
//! `<resources>` element: one update for all.

use ocf::metadata::escape;

use super::cib::Primitive;

/// One element of the update: tag, attributes, children.
#[derive(Debug, Default)]
struct El {
    tag: String,
    attrs: Vec<(String, String)>,
    children: Vec<El>,
}

impl El {
    fn new(tag: &str, attrs: &[(&str, &str)]) -> El {
        El {
            tag: tag.into(),
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            children: vec![],
        }
    }
    fn id(&self) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == "id")
            .map(|(_, v)| v.as_str())
    }
    /// The child with this tag and id, created when missing.
    fn child(&mut self, tag: &str, id: &str) -> &mut El {
        let i = match self
            .children
            .iter()
            .position(|c| c.tag == tag && c.id() == Some(id))
        {
            Some(i) => i,
            None => {
                self.children.push(El::new(tag, &[("id", id)]));
                self.children.len() - 1
            }
        };
        &mut self.children[i]
    }
    fn write(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.tag);
        for (k, v) in &self.attrs {
            out.push_str(&format!(" {k}=\"{}\"", escape(v)));
        }
        if self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for c in &self.children {
            c.write(out);
        }
        out.push_str(&format!("</{}>", self.tag));
    }
}

/// A `<resources>` update; `at` finds (creating) a primitive's element.
#[derive(Debug)]
pub struct Update {
    root: El,
}

impl Default for Update {
    fn default() -> Self {
        Update {
            root: El::new("resources", &[]),
        }
    }
}

impl Update {
    fn at(&mut self, p: &Primitive) -> &mut El {
        let mut el = &mut self.root;
        for (tag, id) in &p.path {
            el = el.child(tag, id);
        }
        el.child("primitive", &p.id)
    }

    /// Set the primitive's agent.
    pub fn agent(&mut self, p: &Primitive, class: &str, provider: Option<&str>, kind: &str) {
        let el = self.at(p);
        el.attrs.push(("class".into(), class.into()));
        if let Some(pr) = provider {
            el.attrs.push(("provider".into(), pr.into()));
        }
        el.attrs.push(("type".into(), kind.into()));
    }

    /// Set the primitive's own `is-managed` meta attribute (where it is,
    /// else in its first meta_attributes set, else in a new set).
    pub fn managed(&mut self, p: &Primitive, value: &str) {
        let (set, nv) = nvpair_place(p);
        let el = self.at(p).child("meta_attributes", &set);
        let nv = el.child("nvpair", &nv);
        nv.attrs.push(("name".into(), "is-managed".into()));
        nv.attrs.push(("value".into(), value.into()));
    }

    pub fn xml(&self) -> String {
        let mut s = String::new();
        self.root.write(&mut s);
        s
    }
}

/// The set and nvpair ids that hold the primitive's `is-managed`.
pub fn nvpair_place(p: &Primitive) -> (String, String) {
    match (&p.managed.nvpair, &p.managed.set_id) {
        (Some((set, nv, _)), _) => (set.clone(), nv.clone()),
        (None, Some(set)) => (set.clone(), format!("{}-ocf-rs-migrate-is-managed", p.id)),
        (None, None) => (
            format!("{}-ocf-rs-migrate-meta", p.id),
            format!("{}-ocf-rs-migrate-is-managed", p.id),
        ),
    }
}

/// What puts the primitive's management back as it was: a modify of the
/// nvpair it had, or the delete of what `managed` created.
pub enum Restore {
    Modify(String),
    Delete(String),
}

pub fn restore_managed(p: &Primitive) -> Restore {
    match (&p.managed.nvpair, &p.managed.set_id) {
        (Some((_, _, old)), _) => {
            let mut u = Update::default();
            u.managed(p, old);
            Restore::Modify(u.xml())
        }
        (None, Some(_)) => {
            let (_, nv) = nvpair_place(p);
            Restore::Delete(format!("<nvpair id=\"{}\"/>", escape(&nv)))
        }
        (None, None) => {
            let (set, _) = nvpair_place(p);
            Restore::Delete(format!("<meta_attributes id=\"{}\"/>", escape(&set)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::cib;
    use super::*;

    fn prims() -> Vec<Primitive> {
        cib::primitives(include_str!("testdata/cib-mixed.xml")).unwrap()
    }

    #[test]
    fn one_update_with_every_primitive_in_its_skeleton() {
        let p = prims();
        let mut u = Update::default();
        for id in ["vip", "fs", "drbd0", "my"] {
            let prim = p.iter().find(|x| x.id == id).unwrap();
            u.agent(prim, "ocf", Some("rust"), "T");
        }
        assert_eq!(
            u.xml(),
            "<resources><group id=\"svc\">\
             <primitive id=\"vip\" class=\"ocf\" provider=\"rust\" type=\"T\"/>\
             <primitive id=\"fs\" class=\"ocf\" provider=\"rust\" type=\"T\"/></group>\
             <clone id=\"drbd0-clone\"><primitive id=\"drbd0\" class=\"ocf\" provider=\"rust\" type=\"T\"/></clone>\
             <master id=\"my-ms\"><primitive id=\"my\" class=\"ocf\" provider=\"rust\" type=\"T\"/></master>\
             </resources>"
        );
    }

    #[test]
    fn is_managed_where_it_is_and_put_back() {
        let p = prims();
        let db = p.iter().find(|x| x.id == "db").unwrap();
        let vip = p.iter().find(|x| x.id == "vip").unwrap();
        let mut u = Update::default();
        u.managed(db, "false");
        u.managed(vip, "false");
        assert_eq!(
            u.xml(),
            "<resources><group id=\"svc\"><primitive id=\"db\"><meta_attributes id=\"db-meta\">\
             <nvpair id=\"db-meta-is-managed\" name=\"is-managed\" value=\"false\"/>\
             </meta_attributes></primitive><primitive id=\"vip\">\
             <meta_attributes id=\"vip-ocf-rs-migrate-meta\">\
             <nvpair id=\"vip-ocf-rs-migrate-is-managed\" name=\"is-managed\" value=\"false\"/>\
             </meta_attributes></primitive></group></resources>"
        );
        match restore_managed(db) {
            Restore::Modify(x) => assert!(x.contains("value=\"true\""), "{x}"),
            Restore::Delete(x) => panic!("{x}"),
        }
        match restore_managed(vip) {
            Restore::Delete(x) => {
                assert_eq!(x, "<meta_attributes id=\"vip-ocf-rs-migrate-meta\"/>")
            }
            Restore::Modify(x) => panic!("{x}"),
        }
    }
}
