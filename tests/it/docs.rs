//! The docs cannot drift from the code: every agent has a page under
//! docs/agents/ that contains the parameter reference generated from its
//! table (`ocf-rs doc <agent>`), and the README's agent table names it.

use std::fs;

use support::{bin, repo, run_env};

#[test]
fn every_agent_page_carries_the_generated_reference() {
    let list = run_env(&bin(), &["list"], &[]);
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    for name in list.stdout.lines().filter_map(|l| l.split('\t').next()) {
        let page = repo().join(format!("docs/agents/{name}.md"));
        let text =
            fs::read_to_string(&page).unwrap_or_else(|_| panic!("{} is missing", page.display()));
        let generated = run_env(&bin(), &["doc", name], &[]).stdout;
        assert!(
            text.contains(&generated),
            "{} is out of date: paste the output of `ocf-rs doc {name}` into it",
            page.display()
        );
        assert!(
            readme.contains(&format!("ocf:rust:{name}")),
            "README's agent table lacks {name}"
        );
    }
}
