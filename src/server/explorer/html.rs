//! The explorer's pages as HTML text: pure functions of what
//! [`super::data`] gathered, no I/O. Every value from an index is escaped;
//! the pages load only `/explorer/assets/` (CSS and a small script that
//! filters lists as one types), and every list works without the script.

use super::data::{Change, IndexView, VersionView};
use crate::formats::ipns::rfc3339;
use crate::index::manifest::IndexKind;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, UNIX_EPOCH};

/// `text` with HTML's special characters escaped (for text and quoted
/// attribute values alike).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` as one path segment of a URL.
pub fn seg(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

fn time(secs: u64) -> String {
    rfc3339::format(UNIX_EPOCH + Duration::from_secs(secs)).unwrap_or_else(|| secs.to_string())
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

/// A long key or CID as its first 8 and last 6 characters.
fn short(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    match chars.len() {
        n if n > 16 => {
            format!("{}…{}", chars[..8].iter().collect::<String>(), chars[n - 6..].iter().collect::<String>())
        }
        _ => key.to_string(),
    }
}

fn cid_link(cid: &str) -> String {
    format!(r#"<a class="cid" href="/ipfs/{}" title="{}">{}</a>"#, seg(cid), esc(cid), esc(&short(cid)))
}

fn version_link(v: &VersionView) -> String {
    match &v.root {
        Some(root) => cid_link(root),
        None => format!("manifest {}", cid_link(&v.manifest)),
    }
}

/// A whole page around `body`.
pub fn page(title: &str, query: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · cargo-ipfs explorer</title><link rel="stylesheet" href="/explorer/assets/explorer.css"></head>
<body><header><a class="home" href="/">cargo-ipfs explorer</a>
<form action="/explorer/search" method="get" role="search"><input type="search" name="q" value="{query}" placeholder="Search crates" aria-label="Search crates"><button type="submit">Search</button></form></header>
<main>{body}</main>
<footer>Everything here is read from this server's store and verified against the keys it trusts; nothing is loaded from elsewhere. JSON: <a href="/explorer/api/indexes">/explorer/api/indexes</a>.</footer>
<script src="/explorer/assets/explorer.js" defer></script></body></html>
"#,
        title = esc(title),
        query = esc(query),
    )
}

fn expiry(view: &IndexView) -> String {
    match (&view.current, view.expires_in) {
        (Some(v), Some(left)) => {
            let class = if view.near_expiry { " class=\"near\"" } else { "" };
            let left = if left < 0 { "expired".to_string() } else { format!("in {} h", left / 3600) };
            format!("<span{class}>{} ({left})</span>", esc(&time(v.expires)))
        }
        _ => String::new(),
    }
}

/// `/`: every index this store trusts.
pub fn overview(indexes: &[IndexView]) -> String {
    let mut body = String::from("<h1>Indexes</h1>");
    if indexes.is_empty() {
        body.push_str("<p>This store trusts no index yet (<code>cargo ipfs trust add NAME KEY</code>).</p>");
        return page("Indexes", "", &body);
    }
    body.push_str(
        "<table><thead><tr><th>Index</th><th>Kind</th><th>Version</th><th>Record expires</th><th>Keys</th>\
         <th>Entries</th><th>Crates</th><th>Size</th></tr></thead><tbody>",
    );
    for v in indexes {
        let kind = match v.kind {
            IndexKind::Artifacts => "artifacts",
            IndexKind::Attestations => "attestations",
        };
        let version = match (&v.current, &v.refused) {
            (Some(c), _) => format!("{} {}", c.seq, version_link(c)),
            (None, Some(why)) => format!(r#"<span class="refused">refused: {}</span>"#, esc(why)),
            (None, None) => String::new(),
        };
        let (entries, crates, size) = v.facts.as_ref().map_or((String::new(), String::new(), String::new()), |f| {
            (f.entries.to_string(), f.crates.len().to_string(), bytes(f.bytes))
        });
        let _ = write!(
            body,
            r#"<tr><td><a href="/explorer/index/{}">{}</a><div class="ipns">/ipns/{}</div></td><td>{kind}</td><td>{version}</td><td>{}</td><td>{} of {}</td><td>{entries}</td><td>{crates}</td><td>{size}</td></tr>"#,
            seg(&v.name),
            esc(&v.name),
            esc(&v.ipns),
            expiry(v),
            v.threshold,
            v.keys.len()
        );
    }
    body.push_str("</tbody></table>");
    for v in indexes.iter().filter(|v| v.mirror.is_some()) {
        body.push_str(&mirror(v));
    }
    page("Indexes", "", &body)
}

fn mirror(v: &IndexView) -> String {
    let Some(m) = &v.mirror else { return String::new() };
    let holds = m.holds.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    let newest = m.newest_seen.map_or("none".into(), |s| s.to_string());
    let behind = match (m.holds.first(), m.newest_seen) {
        (Some(h), Some(n)) if *h < n => format!(r#" <span class="near">{} behind</span>"#, n - h),
        _ => String::new(),
    };
    let mut out = format!(
        "<section><h2>Mirror of {}</h2><dl><dt>Holds versions</dt><dd>{holds}{behind}</dd><dt>Newest seen</dt><dd>{newest}</dd><dt>Last followed</dt><dd>{}</dd>",
        esc(&v.name),
        esc(&time(m.last_followed))
    );
    for (service, seq) in &m.remote {
        let _ = write!(out, "<dt>Pinned on {}</dt><dd>version {seq}</dd>", esc(service));
    }
    out.push_str("</dl></section>");
    out
}

fn change(c: &Change) -> String {
    let list = |items: &[String], total: usize, sign: char| {
        let mut out = String::new();
        for item in items {
            let _ = write!(out, "<li>{sign} {}</li>", esc(item));
        }
        if total > items.len() {
            let _ = write!(out, "<li>… {} more</li>", total - items.len());
        }
        out
    };
    format!(
        "<details><summary>+{} −{}</summary><ul class=\"changes\">{}{}</ul></details>",
        c.added,
        c.removed,
        list(&c.added_first, c.added, '+'),
        list(&c.removed_first, c.removed, '−')
    )
}

/// `/explorer/index/{name}`: one index, its history and its crates.
pub fn index_page(v: &IndexView, history: &[(VersionView, Option<std::sync::Arc<Change>>)]) -> String {
    let mut body = format!("<h1>{}</h1><dl><dt>IPNS name</dt><dd><code>{}</code></dd>", esc(&v.name), esc(&v.ipns));
    let _ = write!(body, "<dt>Trusted keys</dt><dd>{} of:<ul class=\"keys\">", v.threshold);
    for key in &v.keys {
        let _ = write!(body, "<li><code>{}</code></li>", esc(key));
    }
    body.push_str("</ul></dd>");
    match (&v.current, &v.refused) {
        (Some(c), _) => {
            let _ = write!(
                body,
                "<dt>Current version</dt><dd>{} {} (signed {})</dd><dt>Record expires</dt><dd>{}</dd>",
                c.seq,
                version_link(c),
                esc(&time(c.created)),
                expiry(v)
            );
        }
        (None, why) => {
            let _ = write!(
                body,
                r#"<dt>Current version</dt><dd class="refused">none verified: {}</dd>"#,
                esc(why.as_deref().unwrap_or(""))
            );
        }
    }
    body.push_str("</dl>");
    body.push_str(&mirror(v));
    if !history.is_empty() {
        body.push_str(
            "<h2>History</h2><table><thead><tr><th>Version</th><th>Signed</th><th>By</th><th>Changes</th></tr></thead><tbody>",
        );
        for (version, c) in history {
            let by = version.signers.iter().map(|k| format!("<code>{}</code>", esc(&short(k)))).collect::<Vec<_>>();
            let changes = match (c.as_deref(), &version.prev) {
                (Some(c), _) => change(c),
                (None, None) => "first version".to_string(),
                (None, Some(_)) => "the version before is not held here".to_string(),
            };
            let _ = write!(
                body,
                "<tr><td>{} {}</td><td>{}</td><td>{}</td><td>{changes}</td></tr>",
                version.seq,
                version_link(version),
                esc(&time(version.created)),
                by.join(" ")
            );
        }
        body.push_str("</tbody></table>");
    }
    if let Some(facts) = &v.facts {
        let _ = write!(
            body,
            "<h2>Crates ({})</h2><input type=\"search\" class=\"filter\" data-list=\"crates\" placeholder=\"Filter\" aria-label=\"Filter crates\" hidden><ul id=\"crates\" class=\"crates\">",
            facts.crates.len()
        );
        for krate in &facts.crates {
            let _ = write!(
                body,
                r#"<li data-name="{}"><a href="/explorer/index/{}/crate/{}">{}</a></li>"#,
                esc(krate),
                seg(&v.name),
                seg(krate),
                esc(krate)
            );
        }
        body.push_str("</ul>");
    }
    page(&v.name, "", &body)
}

/// `1.95.0 59807616e1fa…` as `1.95.0 (59807616)`.
fn toolchain(rustc: &str) -> String {
    match rustc.split_once(' ') {
        Some((version, hash)) => format!("{version} ({})", hash.chars().take(8).collect::<String>()),
        None => rustc.to_string(),
    }
}

fn field<'a>(e: &'a Value, name: &str) -> &'a str {
    e[name].as_str().unwrap_or("")
}

/// `/explorer/index/{name}/crate/{crate}`: a crate's entries by version.
pub fn crate_page(index: &IndexView, krate: &str, entries: &[Value]) -> String {
    let mut body = format!(
        r#"<p class="crumbs"><a href="/explorer/index/{}">{}</a> ›</p><h1>{}</h1>"#,
        seg(&index.name),
        esc(&index.name),
        esc(krate)
    );
    if entries.is_empty() {
        let _ = write!(body, "<p>The current version of {} has no entry for this crate.</p>", esc(&index.name));
    }
    let mut by_version: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for e in entries {
        by_version.entry(field(e, "version")).or_default().push(e);
    }
    for (version, entries) in by_version.iter().rev() {
        let _ = write!(
            body,
            "<section class=\"version\"><h2>{} {}</h2><table><thead><tr><th>Toolchain</th><th>Target</th><th>Profile</th>\
             <th>Features</th><th>Kind</th><th>Size</th><th>CID</th><th>Builder</th><th>Attestations</th></tr></thead><tbody>",
            esc(krate),
            esc(version)
        );
        for e in entries {
            let profile = e["profile"]
                .as_object()
                .map(|p| {
                    p.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(" ")
                })
                .unwrap_or_default();
            let features = e["features"]
                .as_array()
                .map(|f| f.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
                .unwrap_or_default();
            let kind = if e["run"].is_object() {
                "build-script run".to_string()
            } else {
                e["crate_types"]
                    .as_array()
                    .map(|t| t.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            };
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                esc(&toolchain(field(e, "rustc"))),
                esc(field(e, "target")),
                esc(&profile),
                esc(if features.is_empty() { "(none)" } else { &features }),
                esc(&kind),
                bytes(e["size"].as_u64().unwrap_or(0)),
                cid_link(field(e, "cid")),
                esc(&short(field(e, "builder"))),
                attestations(&e["attestations"])
            );
        }
        body.push_str("</tbody></table></section>");
    }
    page(krate, "", &body)
}

fn attestations(a: &Value) -> String {
    let by: Vec<&str> = a["by"].as_array().map(|b| b.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let mut out = if by.is_empty() {
        "<span class=\"none\">none</span>".to_string()
    } else {
        format!("<span class=\"attested\">✓ {}</span>", esc(&by.join(", ")))
    };
    for not in a["not"].as_array().into_iter().flatten() {
        let _ = write!(
            out,
            "<div class=\"not\">{}: {}</div>",
            esc(not["rebuilder"].as_str().unwrap_or("")),
            esc(not["why"].as_str().unwrap_or(""))
        );
    }
    out
}

/// `/explorer/search?q=`: crate names that contain the query.
pub fn search_page(query: &str, found: &[(String, String)]) -> String {
    let mut body = format!("<h1>Crates matching “{}”</h1>", esc(query));
    if found.is_empty() {
        body.push_str("<p>No crate of a verified index matches.</p>");
    }
    body.push_str("<ul class=\"crates\">");
    for (index, krate) in found {
        let _ = write!(
            body,
            r#"<li><a href="/explorer/index/{}/crate/{}">{}</a> <span class="in">in {}</span></li>"#,
            seg(index),
            seg(krate),
            esc(krate),
            esc(index)
        );
    }
    body.push_str("</ul>");
    page("Search", query, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_from_an_index_cannot_become_markup() {
        assert_eq!(esc(r#"<script>"a"&'b'</script>"#), "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;");
        assert_eq!(seg("a b/../c?d"), "a%20b%2F..%2Fc%3Fd");
        let found = [("idx".to_string(), "<img src=x onerror=alert(1)>".to_string())];
        let html = search_page("\"><script>", &found);
        assert!(!html.contains("<img") && !html.contains("\"><script>"), "{html}");
        // Multibyte text from a hostile index is cut on characters.
        assert_eq!(short("ééééééééééééééééééé"), "éééééééé…éééééé");
        assert_eq!(toolchain("1.95.0 ÿÿÿÿÿÿÿÿÿÿ"), "1.95.0 (ÿÿÿÿÿÿÿÿ)");
    }

    #[test]
    fn a_mirror_behind_and_a_record_near_expiry_are_marked() {
        use super::super::data::MirrorView;
        let view = IndexView {
            name: "idx".into(),
            ipns: "k51".into(),
            kind: IndexKind::Artifacts,
            keys: vec!["k51".into()],
            threshold: 1,
            current: Some(VersionView {
                seq: 4,
                root: Some("bafyroot".into()),
                manifest: "bafkmanifest".into(),
                created: 0,
                expires: 3600,
                signers: vec![],
                prev: None,
            }),
            expires_in: Some(3600),
            near_expiry: true,
            refused: None,
            facts: None,
            mirror: Some(MirrorView {
                holds: vec![4, 3],
                last_followed: 0,
                newest_seen: Some(6),
                remote: vec![("psa".into(), 3)],
            }),
        };
        let html = overview(std::slice::from_ref(&view));
        assert!(html.contains("Mirror of idx") && html.contains("4, 3") && html.contains("2 behind"), "{html}");
        assert!(html.contains("Pinned on psa</dt><dd>version 3"), "{html}");
        assert!(html.contains(r#"<span class="near">"#), "near expiry is marked: {html}");
        let refused = IndexView { current: None, refused: Some("expired <2h ago>".into()), ..view };
        let html = overview(&[refused]);
        assert!(html.contains("refused: expired &lt;2h ago&gt;") && !html.contains("bafyroot"), "{html}");
    }
}
