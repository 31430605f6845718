//! docs/agents/drbd.md cannot drift from the code: it carries the
//! parameter reference generated from the agent's table (`ocf-rs doc drbd`).

mod common;

use common::{bin, repo, run_env};

#[test]
fn drbd_page_carries_the_generated_reference() {
    let page = repo().join("docs/agents/drbd.md");
    let text = std::fs::read_to_string(&page).expect("docs/agents/drbd.md");
    let generated = run_env(&bin(), &["doc", "drbd"], &[]);
    assert_eq!(generated.code, 0);
    assert!(
        text.contains(&generated.stdout),
        "docs/agents/drbd.md is out of date: paste the output of `ocf-rs doc drbd` into it"
    );
}
