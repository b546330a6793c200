//! `rustc-warnings.jsonl` is rustc 1.95.0's standard error for a library
//! with two warnings, run as cargo runs it:
//! `rustc --error-format=json --json=diagnostic-rendered-ansi,artifacts,future-incompat
//! --emit=dep-info,metadata,link --crate-type lib --crate-name w
//! -C extra-filename=-abc --out-dir /tmp/rj/o w.rs`.

use super::*;

const RUSTC: &str = include_str!("rustc-warnings.jsonl");
const OUT_DIR: &str = "/tmp/rj/o";

fn expected() -> Vec<(String, OutputKind)> {
    vec![
        ("libw-abc.rlib".into(), OutputKind::Rlib),
        ("libw-abc.rmeta".into(), OutputKind::Rmeta),
        ("w-abc.d".into(), OutputKind::DepInfo),
    ]
}

fn json(stderr: &str) -> Result<(), Refused> {
    check_output("", stderr, true, Path::new(OUT_DIR), &expected())
}

fn refused_line(result: Result<(), Refused>) -> String {
    match result {
        Err(Refused::Line { why, .. }) => why,
        other => panic!("expected a refused line, got {other:?}"),
    }
}

#[test]
fn what_rustc_prints_is_replayed() {
    assert!(RUSTC.contains("\\u001b[1m"), "the sample holds colours in `rendered`");
    json(RUSTC).unwrap();
    // The same compilation elsewhere: only the paths differ.
    let moved = RUSTC.replace(OUT_DIR, "/home/u/target/debug/deps");
    check_output("", &moved, true, Path::new("/home/u/target/debug/deps"), &expected()).unwrap();
    check_output("", "", true, Path::new(OUT_DIR), &expected()).unwrap();
}

#[test]
fn artifact_notifications_name_only_this_invocations_outputs() {
    let other_unit = RUSTC.replace("libw-abc.rlib", "libmine-0123.rlib");
    assert!(refused_line(json(&other_unit)).contains("libmine-0123.rlib"));
    let elsewhere = RUSTC.replace("/tmp/rj/o/libw-abc.rmeta", "/tmp/rj/libw-abc.rmeta");
    assert!(refused_line(json(&elsewhere)).contains("not an output"));
    let wrong_emit = RUSTC.replace(r#""emit":"metadata""#, r#""emit":"link""#);
    refused_line(json(&wrong_emit));
}

#[test]
fn only_diagnostics_reports_and_notifications_pass() {
    let forged = r#"{"$message_type":"unused_extern","lint_level":"deny","unused_extern_names":["std"]}"#;
    assert!(refused_line(json(forged)).contains("unused_extern"));
    let untyped = r#"{"message":"hello"}"#;
    refused_line(json(untyped));
    let error = RUSTC.replace(r#""level":"warning""#, r#""level":"error""#);
    assert!(refused_line(json(&error)).contains("error diagnostic"));
    let ice = RUSTC.replace(r#""level":"warning""#, r#""level":"error: internal compiler error""#);
    refused_line(json(&ice));
}

#[test]
fn control_sequences_only_as_colours_inside_rendered() {
    // A colour outside `rendered`.
    let in_message = RUSTC.replace("unused variable", "\\u001b[31munused variable");
    assert!(refused_line(json(&in_message)).contains("U+001B"));
    // Another sequence inside `rendered`: a clipboard write, a title, a
    // screen clear.
    for sequence in ["\\u001b]52;c;ZWNobw==\\u0007", "\\u001b]0;title\\u0007", "\\u001b[2J", "\\u0007"] {
        let forged = RUSTC.replace("\\u001b[1m", sequence);
        refused_line(json(&forged));
    }
    // A line that is not JSON is text: colours pass, other sequences not.
    let printed = "\u{1b}[32mgenerated 3 items\u{1b}[0m\tby a proc-macro";
    json(printed).unwrap();
    assert!(refused_line(json("\u{1b}]0;pwned\u{7}")).contains("not a colour"));
    assert!(refused_line(json("{\"$message_type\": \u{7}")).contains("U+0007"));
}

#[test]
fn human_format_and_stdout_are_text() {
    let human = "\u{1b}[1m\u{1b}[33mwarning\u{1b}[0m: unused variable: `x`\n --> w.rs:1:18\n";
    check_output(human, human, false, Path::new(OUT_DIR), &expected()).unwrap();
    let clear = "warning\u{1b}[2J";
    refused_line(check_output("", clear, false, Path::new(OUT_DIR), &expected()));
    refused_line(check_output(clear, "", false, Path::new(OUT_DIR), &expected()));
    // A JSON message on standard output is not one rustc prints there,
    // but it is harmless text: only its sequences matter.
    let cr = "done\r50%";
    refused_line(check_output(cr, "", false, Path::new(OUT_DIR), &expected()));
}

#[test]
fn output_is_bounded() {
    let long = "a".repeat(MAX_REPLAY + 1);
    assert_eq!(json(&long), Err(Refused::TooLong { size: MAX_REPLAY + 1 }));
}

#[test]
fn files_are_exactly_the_outputs() {
    check_files(["w-abc.d", "libw-abc.rlib", "libw-abc.rmeta"], &expected()).unwrap();
    let extra = check_files(["libw-abc.rlib", "libw-abc.rmeta", "w-abc.d", "libmine-0123.rlib"], &expected());
    assert_eq!(extra, Err(Refused::Unexpected { name: "libmine-0123.rlib".into() }));
    let twice = check_files(["libw-abc.rlib", "libw-abc.rlib", "libw-abc.rmeta", "w-abc.d"], &expected());
    assert_eq!(twice, Err(Refused::Unexpected { name: "libw-abc.rlib".into() }));
    let missing = check_files(["libw-abc.rmeta", "w-abc.d"], &expected());
    assert_eq!(missing, Err(Refused::Missing { name: "libw-abc.rlib".into() }));
}

#[test]
fn only_a_success_is_restored() {
    check_status(0).unwrap();
    assert_eq!(check_status(1), Err(Refused::Status { status: 1 }));
    assert_eq!(check_status(-11), Err(Refused::Status { status: -11 }));
}
