//! How an error reaches the user: its whole chain on one line, each cause
//! said once.
//!
//! Many error types name their cause in their own message *and* expose it as
//! their source (`"store I/O error at {path}: {source}"`), so anyhow's `{:#}`
//! would print "…: No space left on device: No space left on device". A
//! cause whose text the line already holds adds nothing and is left out.

use std::fmt;

/// Displays an error chain as `outer: cause: root cause`, leaving out every
/// cause whose text is already on the line.
pub struct Chain<'a>(pub &'a anyhow::Error);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = String::new();
        for cause in self.0.chain() {
            let text = cause.to_string();
            if text.is_empty() || line.contains(&text) {
                continue;
            }
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        f.write_str(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[derive(Debug, thiserror::Error)]
    #[error("store I/O error at /s/blocks/x: {source}")]
    struct Embeds {
        source: std::io::Error,
    }

    #[test]
    fn a_cause_the_message_already_names_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device");
        let e = anyhow::Error::new(Embeds { source: io }).context("cannot fetch syn 2.0.0");
        assert_eq!(format!("{e:#}").matches("No space").count(), 2, "anyhow's own chain repeats it");
        assert_eq!(
            Chain(&e).to_string(),
            "cannot fetch syn 2.0.0: store I/O error at /s/blocks/x: No space left on device"
        );
    }

    #[test]
    fn causes_not_named_above_are_kept_in_order() {
        let e = Err::<(), _>(std::io::Error::other("connection reset"))
            .context("reading block b")
            .context("fetching artifact a")
            .unwrap_err();
        assert_eq!(Chain(&e).to_string(), "fetching artifact a: reading block b: connection reset");
    }
}
