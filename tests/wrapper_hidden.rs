//! Proc-macros that read inputs dep-info does not show: a compilation that
//! depends on one is not cached, says which in `stats`, and the list can be
//! extended by the user. The correctness-matrix rule holds: with the input
//! present the unit is refused, and once it is gone the unit hits again.

mod common;

use common::fake_crate::{FakeCrate, PROBE};

const ENV: [(&str, &str); 1] = [("PROBE_VALUE", "one")];

fn not_cacheable(c: &FakeCrate, reason: &str) -> u64 {
    c.stats()["not_cacheable"][reason].as_u64().unwrap_or(0)
}

/// Compiles with `extra` arguments and `env`, checks success, and says
/// whether the compilation was refused for `reason`.
fn refused(c: &FakeCrate, extra: &[&str], env: &[(&str, &str)], reason: &str) -> bool {
    let (before, counts) = (not_cacheable(c, reason), c.counts());
    let out = c.compile(extra, env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let refused = not_cacheable(c, reason) == before + 1;
    assert_eq!(refused, c.counts() == counts, "refused units are neither hits nor misses");
    refused
}

#[test]
fn dependents_of_proc_macros_that_read_hidden_inputs_are_not_cached() {
    let c = FakeCrate::new(PROBE);
    assert!(!c.hit(&[], &ENV));
    assert!(c.hit(&[], &ENV));

    // A dependency on sqlx (whose query macros read DATABASE_URL), renamed
    // in Cargo.toml: refused every time, and named in the statistics.
    let sqlx = c.tmp.path().join("libsqlx-0123456789abcdef.rlib");
    std::fs::write(&sqlx, b"a library").unwrap();
    let ext = format!("db={}", sqlx.display());
    for _ in 0..2 {
        assert!(refused(&c, &["--extern", &ext], &ENV, "hidden inputs (sqlx)"));
    }
    assert!(c.hit(&[], &ENV), "without it, the unit hits again");

    // A proc-macro of the user's own, listed in the environment.
    let schema = c.tmp.path().join("libmy_schema-0123456789abcdef.so");
    std::fs::write(&schema, b"a proc-macro").unwrap();
    let ext = format!("my_schema={}", schema.display());
    let listed = [ENV[0], ("CARGO_IPFS_HIDDEN_INPUT_MACROS", "other, my-schema")];
    assert!(refused(&c, &["--extern", &ext], &listed, "hidden inputs (my_schema)"));
    // Unlisted, it is an ordinary dependency: recorded, then a hit.
    assert!(!c.hit(&["--extern", &ext], &ENV));
    assert!(c.hit(&["--extern", &ext], &ENV));
    // Listed in the store's config.json.
    let config = c.tmp.path().join("store/config.json");
    std::fs::write(&config, br#"{"hidden_input_macros": ["my_schema"]}"#).unwrap();
    assert!(refused(&c, &["--extern", &ext], &ENV, "hidden inputs (my_schema)"));
    // A config.json that cannot be read leaves the user's list unknown.
    std::fs::write(&config, b"{ not json").unwrap();
    assert!(refused(&c, &["--extern", &ext], &ENV, "config.json unreadable"));
    std::fs::remove_file(&config).unwrap();
    assert!(c.hit(&["--extern", &ext], &ENV), "the input gone, the unit hits again");
}
