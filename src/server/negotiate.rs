//! What a request asks for: the `format` query parameter and `Accept`
//! negotiation, CAR parameters, `dag-scope`, and content path segments.
//!
//! Pure functions over strings, so every rule here has a unit test; the
//! handlers turn a [`Refusal`] into a status code.

/// `application/vnd.ipld.raw`: one block.
pub const RAW: &str = "application/vnd.ipld.raw";
/// `application/vnd.ipld.car`: a CAR stream.
pub const CAR: &str = "application/vnd.ipld.car";
/// `application/vnd.ipfs.ipns-record`: a signed IPNS record.
pub const IPNS_RECORD: &str = "application/vnd.ipfs.ipns-record";
/// The one CAR variant this server writes, as its `Content-Type` says.
pub const CAR_CONTENT_TYPE: &str = "application/vnd.ipld.car; version=1; order=dfs; dups=n";

/// A response type this server can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// A raw block.
    Raw,
    /// A CARv1 stream, depth-first, without duplicates.
    Car,
    /// An IPNS record.
    IpnsRecord,
}

impl Want {
    /// The `format` query value naming this type.
    pub fn format(self) -> &'static str {
        match self {
            Want::Raw => "raw",
            Want::Car => "car",
            Want::IpnsRecord => "ipns-record",
        }
    }
}

/// The negotiated response type, and whether it came from `Accept` rather
/// than `format` (then the response names its `?format=` URL in
/// `Content-Location`, so caches keep the variants apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// What to send.
    pub want: Want,
    /// Chosen by the `Accept` header.
    pub from_accept: bool,
}

/// Why a request cannot be answered as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A malformed or unsupported parameter (400 Bad Request).
    BadRequest(String),
    /// No acceptable response type (406 Not Acceptable).
    NotAcceptable(String),
}

/// One media range of an `Accept` header.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaRange {
    /// `type/subtype`, lower case.
    pub essence: String,
    /// Parameters other than `q`, names lower case, values unquoted.
    pub params: Vec<(String, String)>,
    /// The quality, 0 to 1.
    pub q: f32,
}

impl MediaRange {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Parses an `Accept` header into media ranges, most preferred first
/// (stable for equal `q`); ranges with `q=0` are dropped.
pub fn parse_accept(header: &str) -> Vec<MediaRange> {
    let mut ranges: Vec<MediaRange> = header
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let essence = parts.next()?.trim().to_ascii_lowercase();
            if essence.is_empty() {
                return None;
            }
            let mut range = MediaRange { essence, params: Vec::new(), q: 1.0 };
            for param in parts {
                let Some((name, value)) = param.split_once('=') else { continue };
                let name = name.trim().to_ascii_lowercase();
                let value = value.trim().trim_matches('"').to_string();
                if name == "q" {
                    range.q = value.parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q)).unwrap_or(0.0);
                } else {
                    range.params.push((name, value));
                }
            }
            Some(range)
        })
        .filter(|r| r.q > 0.0)
        .collect();
    ranges.sort_by(|a, b| b.q.total_cmp(&a.q));
    ranges
}

/// CAR parameters given as query parameters (`car-version`, `car-order`,
/// `car-dups`), which take precedence over those in `Accept`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CarQuery {
    /// `car-version`.
    pub version: Option<String>,
    /// `car-order`.
    pub order: Option<String>,
    /// `car-dups`.
    pub dups: Option<String>,
}

/// Why a CAR variant cannot be served, or `None` when this server's one
/// variant (version 1, `order=dfs`, `dups=n`) satisfies it. An `order` of
/// `unk` or none accepts depth-first; `dups` absent leaves the choice to us.
fn car_variant_problem(version: Option<&str>, order: Option<&str>, dups: Option<&str>) -> Option<String> {
    if let Some(v) = version.filter(|v| *v != "1") {
        return Some(format!("CAR version {v} is not served; only version=1"));
    }
    if let Some(o) = order.filter(|o| !matches!(*o, "dfs" | "unk" | "")) {
        return Some(format!("CAR order {o:?} is not served; only order=dfs"));
    }
    if let Some(d) = dups.filter(|d| !matches!(*d, "n" | "")) {
        return Some(format!("CAR dups={d} is not served; blocks are sent once (dups=n)"));
    }
    None
}

/// Chooses the response type from the `format` query parameter (which wins)
/// or the `Accept` header. A missing choice is a 400, as the trustless
/// gateway spec asks of a gateway without deserialized responses; an
/// `Accept` that names nothing this server speaks is a 406.
pub fn negotiate(format: Option<&str>, accept: Option<&str>, car: &CarQuery) -> Result<Negotiated, Refusal> {
    let query_problem =
        car_variant_problem(car.version.as_deref(), car.order.as_deref(), car.dups.as_deref()).map(Refusal::BadRequest);
    if let Some(format) = format {
        let want = match format {
            "raw" => Want::Raw,
            "car" => Want::Car,
            "ipns-record" => Want::IpnsRecord,
            other => {
                return Err(Refusal::BadRequest(format!(
                    "format={other} is not served: this is a trustless gateway; use format=raw, format=car or format=ipns-record"
                )))
            }
        };
        if let (Want::Car, Some(problem)) = (want, query_problem) {
            return Err(problem);
        }
        return Ok(Negotiated { want, from_accept: false });
    }
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Err(Refusal::BadRequest(
            "no response format was asked for: this is a trustless gateway; add ?format=raw or ?format=car, or send Accept: application/vnd.ipld.raw or application/vnd.ipld.car".into(),
        ));
    };
    let mut car_refusal = None;
    for range in parse_accept(accept) {
        let want = match range.essence.as_str() {
            RAW => Want::Raw,
            IPNS_RECORD => Want::IpnsRecord,
            CAR => {
                // Query parameters win over the Accept parameters they name.
                let version = car.version.as_deref().or(range.param("version"));
                let order = car.order.as_deref().or(range.param("order"));
                let dups = car.dups.as_deref().or(range.param("dups"));
                if let Some(problem) = car_variant_problem(version, order, dups) {
                    car_refusal.get_or_insert(problem);
                    continue;
                }
                Want::Car
            }
            _ => continue,
        };
        return Ok(Negotiated { want, from_accept: true });
    }
    Err(Refusal::NotAcceptable(car_refusal.unwrap_or_else(|| {
        format!("none of the types in Accept: {accept} is served: this is a trustless gateway; ask for {RAW} or {CAR} (or add ?format=raw or ?format=car)")
    })))
}

/// Whether an `Accept` header allows an IPNS record: absent, a wildcard, or
/// the record type itself (as the delegated routing API asks).
pub fn accepts_ipns_record(accept: Option<&str>) -> bool {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else { return true };
    parse_accept(accept).iter().any(|r| matches!(r.essence.as_str(), IPNS_RECORD | "*/*" | "application/*"))
}

/// How much of the DAG at the end of the path a CAR carries (IPIP-402);
/// the one type the server and the gateway client share.
pub use crate::store::gateway::DagScope;

/// Parses the `dag-scope` query value; absent means `all`.
pub fn dag_scope(value: Option<&str>) -> Result<DagScope, Refusal> {
    match value {
        None => Ok(DagScope::All),
        Some(text) => DagScope::parse(text)
            .ok_or_else(|| Refusal::BadRequest(format!("dag-scope={text} is not valid; use block, entity or all"))),
    }
}

/// Splits what follows `/ipfs/` or `/ipns/` in a request path into the CID
/// or name and the percent-decoded path segments. Empty segments (a trailing
/// slash) are dropped; `.` and `..` are refused rather than resolved.
pub fn split_content_path(rest: &str) -> Result<(String, Vec<String>), Refusal> {
    let mut parts = rest.split('/');
    let first = parts.next().unwrap_or_default();
    let first = percent_decode(first)?;
    if first.is_empty() {
        return Err(Refusal::BadRequest("the path names no CID: request /ipfs/<cid>".into()));
    }
    let mut segments = Vec::new();
    for part in parts.filter(|p| !p.is_empty()) {
        let segment = percent_decode(part)?;
        if segment == "." || segment == ".." || segment.contains('/') {
            return Err(Refusal::BadRequest(format!("the path segment {segment:?} is not a directory entry name")));
        }
        segments.push(segment);
    }
    Ok((first, segments))
}

/// Decodes `%XX` escapes; the result must be UTF-8.
pub fn percent_decode(text: &str) -> Result<String, Refusal> {
    let bad = || Refusal::BadRequest(format!("the path segment {text:?} is not valid percent-encoded UTF-8"));
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
            let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// Whether an `If-None-Match` header matches `etag` (weak comparison, as
/// RFC 9110 asks for this header).
pub fn if_none_match(header: Option<&str>, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    header.is_some_and(|h| h.split(',').any(|t| t.trim() == "*" || strip(t) == strip(etag)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn negotiated(format: Option<&str>, accept: Option<&str>) -> Result<Negotiated, Refusal> {
        negotiate(format, accept, &CarQuery::default())
    }

    #[test]
    fn accept_ranges_sort_by_quality_and_drop_zero() {
        let ranges = parse_accept("text/html;q=0.5, application/vnd.ipld.CAR; version=\"1\"; order=dfs, */*;q=0");
        let names: Vec<&str> = ranges.iter().map(|r| r.essence.as_str()).collect();
        assert_eq!(names, [CAR, "text/html"]);
        assert_eq!(ranges[0].param("version"), Some("1"));
        assert_eq!(ranges[1].q, 0.5);
        assert!(parse_accept(" , ;q=1").is_empty());
    }

    #[test]
    fn format_wins_over_accept() {
        let n = negotiated(Some("car"), Some(RAW)).unwrap();
        assert_eq!(n, Negotiated { want: Want::Car, from_accept: false });
        let n = negotiated(None, Some("application/vnd.ipld.raw")).unwrap();
        assert_eq!(n, Negotiated { want: Want::Raw, from_accept: true });
        assert_eq!(negotiated(Some("ipns-record"), None).unwrap().want, Want::IpnsRecord);
    }

    #[test]
    fn missing_choice_is_400_and_unknown_types_are_406() {
        assert!(matches!(negotiated(None, None), Err(Refusal::BadRequest(_))));
        assert!(matches!(negotiated(None, Some("  ")), Err(Refusal::BadRequest(_))));
        assert!(matches!(negotiated(Some("tar"), None), Err(Refusal::BadRequest(_))));
        // curl's default and a browser's: no trustless type, so 406.
        assert!(matches!(negotiated(None, Some("*/*")), Err(Refusal::NotAcceptable(_))));
        assert!(matches!(negotiated(None, Some("text/html,*/*;q=0.8")), Err(Refusal::NotAcceptable(_))));
    }

    #[test]
    fn car_variants() {
        let ok = |accept: &str| negotiated(None, Some(accept)).map(|n| n.want);
        assert_eq!(ok("application/vnd.ipld.car; version=1; order=dfs; dups=n"), Ok(Want::Car));
        assert_eq!(ok("application/vnd.ipld.car;order=unk"), Ok(Want::Car));
        assert!(
            matches!(ok("application/vnd.ipld.car; dups=y"), Err(Refusal::NotAcceptable(m)) if m.contains("dups=y"))
        );
        assert!(matches!(ok("application/vnd.ipld.car; version=2"), Err(Refusal::NotAcceptable(_))));
        // A later, acceptable variant is chosen over an unsupported one.
        assert_eq!(ok("application/vnd.ipld.car;order=foo, application/vnd.ipld.car;order=dfs;q=0.5"), Ok(Want::Car));
        assert_eq!(ok("application/vnd.ipld.car;dups=y, application/vnd.ipld.raw;q=0.1"), Ok(Want::Raw));
        // Query parameters win over Accept parameters, and a bad one is a 400.
        let query = CarQuery { dups: Some("n".into()), ..CarQuery::default() };
        assert_eq!(negotiate(None, Some("application/vnd.ipld.car;dups=y"), &query).unwrap().want, Want::Car);
        let query = CarQuery { version: Some("2".into()), ..CarQuery::default() };
        assert!(matches!(negotiate(Some("car"), None, &query), Err(Refusal::BadRequest(_))));
        // CAR query parameters do not matter for other formats.
        assert_eq!(negotiate(Some("raw"), None, &query).unwrap().want, Want::Raw);
    }

    #[test]
    fn ipns_record_accept() {
        assert!(accepts_ipns_record(None));
        assert!(accepts_ipns_record(Some("*/*")));
        assert!(accepts_ipns_record(Some("application/vnd.ipfs.ipns-record")));
        assert!(!accepts_ipns_record(Some("application/json")));
        assert!(!accepts_ipns_record(Some("application/vnd.ipfs.ipns-record;q=0")));
    }

    #[test]
    fn dag_scope_values() {
        assert_eq!(dag_scope(None), Ok(DagScope::All));
        assert_eq!(dag_scope(Some("entity")), Ok(DagScope::Entity));
        assert_eq!(dag_scope(Some("block")).unwrap().as_str(), "block");
        assert!(dag_scope(Some("everything")).is_err());
    }

    #[test]
    fn content_paths() {
        let (cid, segments) = split_content_path("bafyroot/a%20b/c%C3%A9/").unwrap();
        assert_eq!(cid, "bafyroot");
        assert_eq!(segments, ["a b", "cé"]);
        assert_eq!(split_content_path("bafyroot").unwrap().1, Vec::<String>::new());
        assert!(split_content_path("").is_err());
        assert!(split_content_path("bafyroot/../x").is_err());
        assert!(split_content_path("bafyroot/a%2Fb").is_err(), "an encoded slash is not a name");
        assert!(percent_decode("%zz").is_err());
        assert!(percent_decode("%4").is_err());
        assert!(percent_decode("%ff").is_err(), "not UTF-8");
        assert_eq!(percent_decode("100%25").unwrap(), "100%");
    }

    #[test]
    fn etag_matching() {
        let etag = "\"bafy.raw\"";
        assert!(if_none_match(Some("\"bafy.raw\""), etag));
        assert!(if_none_match(Some("\"x\", W/\"bafy.raw\""), etag));
        assert!(if_none_match(Some("*"), etag));
        assert!(!if_none_match(Some("\"bafy.car\""), etag));
        assert!(!if_none_match(None, etag));
    }
}
