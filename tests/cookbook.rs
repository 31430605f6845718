//! docs/cookbook.md is generated from the scenario table the end-to-end
//! tests run (tests/common/scenarios.rs), so its pcs commands are the tested
//! ones. `E2E_BLESS=1 cargo test --test cookbook` rewrites it.

mod common;

use std::fs;

use common::repo;
use common::scenarios::cookbook;

#[test]
fn cookbook_is_generated_from_the_tested_commands() {
    let path = repo().join("docs/cookbook.md");
    let generated = cookbook();
    if std::env::var_os("E2E_BLESS").is_some() {
        fs::write(&path, &generated).unwrap();
    }
    let text = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        text == generated,
        "{} differs from the scenario table: run `E2E_BLESS=1 cargo test --test cookbook`",
        path.display()
    );
}
