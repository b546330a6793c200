//! Proc-macros that read what dep-info does not show (pure).
//!
//! A proc-macro runs inside rustc and may read files, directories,
//! environment variables or a database without telling rustc (stable Rust
//! has no API for it), so the dep-info of the crate that expands it, and
//! with it this cache's key, misses those inputs: a checked SQL query reads
//! `DATABASE_URL` or a query cache directory, a directory embedder reads
//! every file below a folder, a migration embedder reads a migrations
//! folder, a `.env` reader reads `.env`, a version stamp runs `git`. A hit
//! for a crate that expands one of them would be stale when those inputs
//! change, so a compilation with a direct dependency on one of the crates
//! listed here is **not cacheable** (its statistics reason names the
//! crate). Keying by those inputs would need to know, per macro, which
//! files and variables it reads; a miss is always right.
//!
//! The list holds each proc-macro crate and the crate that re-exports its
//! macros, since a project usually depends on the latter (`sqlx`, not
//! `sqlx-macros`). Users add their own through `CARGO_IPFS_HIDDEN_INPUT_MACROS`
//! (comma-separated) or `"hidden_input_macros"` in the store's
//! `config.json`. A dependency is recognized by the crate name its
//! `--extern` file carries (`libsqlx-<hash>.rlib`), so a dependency renamed
//! in `Cargo.toml` is recognized too, and by the name it is known by.

use super::args::Extern;

/// The proc-macro crates known to read inputs that dep-info does not show,
/// with the crates that re-export them, and what they read.
pub const KNOWN: &[(&str, &str)] = &[
    ("sqlx-macros", "DATABASE_URL, SQLX_OFFLINE_DIR, .env and the .sqlx query cache"),
    ("sqlx", "re-exports sqlx-macros"),
    ("include_dir_macros", "every file below the directory it embeds"),
    ("include_dir", "re-exports include_dir_macros"),
    ("rust-embed-impl", "every file below the folder it embeds"),
    ("rust-embed", "re-exports rust-embed-impl"),
    ("migrations_macros", "the migrations directory (diesel)"),
    ("diesel_migrations", "re-exports migrations_macros"),
    ("refinery-macros", "the migrations directory"),
    ("refinery", "re-exports refinery-macros"),
    ("dotenv_codegen_implementation", "the .env file"),
    ("dotenv_codegen", "re-exports dotenv_codegen_implementation"),
    ("dotenvy_macro", "the .env file"),
    ("git-version-macro", "the git repository's state (it runs git)"),
    ("git-version", "re-exports git-version-macro"),
];

/// The first dependency of `externs` that is on the list ([`KNOWN`] and
/// `extra`), by its crate name with `-` as `_`.
pub fn hidden_input_dependency(externs: &[Extern], extra: &[String]) -> Option<String> {
    let listed = |name: &str| {
        let name = name.replace('-', "_");
        KNOWN
            .iter()
            .map(|(k, _)| *k)
            .chain(extra.iter().map(String::as_str))
            .any(|k| k.trim().replace('-', "_") == name)
    };
    externs.iter().find_map(|ext| {
        let file_crate = ext.path.as_deref().and_then(crate_of_file);
        let found = [Some(ext.name.as_str()), file_crate.as_deref()].into_iter().flatten().find(|name| listed(name));
        found.map(|name| name.replace('-', "_"))
    })
}

/// The crate name in a library file name as cargo writes it:
/// `lib<crate>-<hash>.<ext>` (`<crate>-<hash>.dll` on Windows).
fn crate_of_file(path: &std::path::Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    let stem = stem.strip_prefix("lib").unwrap_or(stem);
    let name = match stem.rsplit_once('-') {
        Some((name, hash)) if !hash.is_empty() && hash.chars().all(|c| c.is_ascii_hexdigit()) => name,
        _ => stem,
    };
    Some(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn ext(name: &str, path: &str) -> Extern {
        Extern { name: name.into(), path: Some(PathBuf::from(path)), modifiers: vec![] }
    }

    #[test]
    fn a_listed_dependency_is_found_by_name_or_by_file() {
        let plain = [ext("serde", "/t/deps/libserde-0123abcd.rlib"), ext("sqlx", "/t/deps/libsqlx-89ab.rlib")];
        assert_eq!(hidden_input_dependency(&plain, &[]).as_deref(), Some("sqlx"));
        // Renamed in Cargo.toml: known as `db`, its file still says sqlx.
        let renamed = [ext("db", "/t/deps/libsqlx-89ab.rmeta")];
        assert_eq!(hidden_input_dependency(&renamed, &[]).as_deref(), Some("sqlx"));
        let macros = [ext("include_dir_macros", "/t/deps/libinclude_dir_macros-77.so")];
        assert_eq!(hidden_input_dependency(&macros, &[]).as_deref(), Some("include_dir_macros"));
        // Crate names use `_`; the list may spell them with `-`.
        let embed = [ext("rust_embed", "/t/deps/librust_embed-1f.rlib")];
        assert_eq!(hidden_input_dependency(&embed, &[]).as_deref(), Some("rust_embed"));
    }

    #[test]
    fn other_dependencies_and_prefixes_of_listed_names_are_not() {
        let externs = [
            ext("sqlx_core", "/t/deps/libsqlx_core-89ab.rlib"),
            ext("serde", "/t/deps/libserde-0123.rlib"),
            Extern { name: "proc_macro".into(), path: None, modifiers: vec![] },
        ];
        assert_eq!(hidden_input_dependency(&externs, &[]), None);
    }

    #[test]
    fn users_extend_the_list() {
        let externs = [ext("my_schema", "/t/deps/libmy_schema-0f.so")];
        assert_eq!(hidden_input_dependency(&externs, &[]), None);
        let extra = vec![" my-schema ".to_string()];
        assert_eq!(hidden_input_dependency(&externs, &extra).as_deref(), Some("my_schema"));
    }
}
