//! RFC 3339 timestamps as IPNS records carry them in `Validity`.
//!
//! Kubo and boxo write Go's `time.RFC3339Nano` in UTC: nanosecond precision
//! with trailing zeros of the fraction dropped, and no fraction at all on a
//! whole second (`2123-04-12T13:36:58.23727Z`, `2123-01-01T00:00:00Z`).
//! [`format()`] writes exactly that, so records made here look like kubo's;
//! [`parse`] accepts any RFC 3339 date-time with up to nine fraction digits
//! and a `Z` or numeric offset. A hand-written converter (Howard Hinnant's
//! days-from-civil arithmetic) keeps a date library out of the dependency
//! tree for these two functions.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const NANOS_PER_SEC: i128 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// Formats `time` in UTC as Go's RFC3339Nano does. `None` when the year
/// falls outside 0000..=9999, which RFC 3339 cannot write.
pub fn format(time: SystemTime) -> Option<String> {
    let nanos = unix_nanos(time);
    let secs = i64::try_from(nanos.div_euclid(NANOS_PER_SEC)).ok()?;
    let subsec = nanos.rem_euclid(NANOS_PER_SEC) as u32;
    let (days, day_secs) = (secs.div_euclid(SECS_PER_DAY), secs.rem_euclid(SECS_PER_DAY));
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return None;
    }
    let mut out =
        format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", day_secs / 3600, day_secs / 60 % 60, day_secs % 60);
    if subsec != 0 {
        let digits = format!("{subsec:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    Some(out)
}

/// Parses an RFC 3339 date-time (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`).
/// `None` when the text is not one, or names an impossible date.
pub fn parse(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let (month, day) = (digits(&b[5..7])?, digits(&b[8..10])?);
    let (hour, minute, second) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    // Leap seconds (60) are refused, as Go's parser refuses them.
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &b[19..];
    let mut nanos = 0i64;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let len = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if len == 0 || len > 9 {
            return None;
        }
        nanos = digits(&fraction[..len])? * 10i64.pow(9 - len as u32);
        rest = &fraction[len..];
    }
    let offset_secs = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            let offset = h * 3600 + m * 60;
            if *sign == b'+' {
                offset
            } else {
                -offset
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(year, month, day) * SECS_PER_DAY + hour * 3600 + minute * 60 + second - offset_secs;
    from_unix_nanos(i128::from(secs) * NANOS_PER_SEC + i128::from(nanos))
}

fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0')))
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date. Years are counted
/// from March so that the leap day falls at the end of the cycle.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn unix_nanos(time: SystemTime) -> i128 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

fn from_unix_nanos(nanos: i128) -> Option<SystemTime> {
    let magnitude = Duration::new(
        u64::try_from(nanos.unsigned_abs() / NANOS_PER_SEC as u128).ok()?,
        (nanos.unsigned_abs() % NANOS_PER_SEC as u128) as u32,
    );
    if nanos >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn the_spec_example_is_one_nanosecond_after_the_epoch() {
        assert_eq!(parse("1970-01-01T00:00:00.000000001Z"), Some(at(0, 1)));
        assert_eq!(format(at(0, 1)).as_deref(), Some("1970-01-01T00:00:00.000000001Z"));
    }

    #[test]
    fn formats_like_go_rfc3339nano() {
        // Whole seconds have no fraction; trailing zeros are dropped.
        assert_eq!(format(at(0, 0)).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(format(at(951_782_400, 500_000_000)).as_deref(), Some("2000-02-29T00:00:00.5Z"));
        assert_eq!(format(at(4_102_444_799, 0)).as_deref(), Some("2099-12-31T23:59:59Z"));
    }

    #[test]
    fn parses_offsets_and_short_fractions() {
        assert_eq!(parse("2000-02-29T00:00:00.5Z"), Some(at(951_782_400, 500_000_000)));
        assert_eq!(parse("2000-02-29T01:30:00+01:30"), Some(at(951_782_400, 0)));
        assert_eq!(parse("2000-02-28T22:00:00-02:00"), Some(at(951_782_400, 0)));
        assert_eq!(parse("1969-12-31T23:59:59.9Z"), UNIX_EPOCH.checked_sub(Duration::from_millis(100)));
        assert_eq!(format(parse("1969-12-31T23:59:59.9Z").unwrap()).as_deref(), Some("1969-12-31T23:59:59.9Z"));
    }

    #[test]
    fn refuses_impossible_or_malformed_times() {
        for bad in [
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-01-01T24:00:00Z",
            "2023-01-01T00:00:60Z",
            "2023-01-01T00:00:00",
            "2023-01-01T00:00:00.Z",
            "2023-01-01T00:00:00.1234567891Z",
            "2023-01-01 00:00:00Z",
            "2023-01-01T00:00:00+0100",
            "+023-01-01T00:00:00Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn round_trips_across_centuries() {
        for secs in [0u64, 1, 86_399, 86_400, 951_868_799, 4_107_542_400, 4_837_276_800, 253_402_300_799] {
            let time = at(secs, 123_456_789);
            assert_eq!(parse(&format(time).unwrap()), Some(time), "{secs}");
        }
        assert_eq!(format(at(253_402_300_800, 0)), None, "year 10000");
    }
}
