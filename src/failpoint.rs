//! Named crash points for the crash harness (`scripts/crash.py`): each
//! place where a write is half done calls [`hit`] with a name, and a build
//! with the `failpoints` feature can be told, through the environment, to
//! kill itself with SIGKILL at the k-th time one of them is reached. Without
//! the feature every call is empty and compiles away.
//!
//! - [`crate::vars::FAILPOINT`] `NAME#K` or `NAME#K@N`: die at the K-th hit of
//!   `NAME` in this process (K counts from 1); with `@N`, only in the N-th
//!   process of a run to reach that hit (default 1).
//! - [`crate::vars::FAILPOINT_ONCE`] a path `P`: the processes of one run (a build
//!   runs many wrappers) count their arrivals at the chosen hit by creating
//!   `P.1`, `P.2`, … (each file created once), so that exactly one dies:
//!   the one that created `P.N`. Without it every process reaching the hit
//!   dies.
//! - [`crate::vars::FAILPOINT_LOG`] a path: append `NAME K` per hit, which is how
//!   the harness learns the points a command reaches before choosing some.
//!
//! Written here rather than taken from the `fail` crate: that crate's
//! actions are panics, returns, sleeps and pauses within one process, while
//! the harness needs a real SIGKILL (no destructor, no flush, no unwinding),
//! one death across the many processes a build runs, and the list of hits
//! of a whole run to choose from.

/// A crash point: see the module's documentation.
#[inline(always)]
pub fn hit(name: &'static str) {
    hit_then(name, || ());
}

/// A crash point that, when it is the one chosen, first runs `torn` (which
/// writes part of what was to be written: a torn write) and then dies.
#[inline(always)]
pub fn hit_then(name: &'static str, torn: impl FnOnce()) {
    #[cfg(feature = "failpoints")]
    armed::hit_then(name, torn);
    #[cfg(not(feature = "failpoints"))]
    let _ = (name, torn);
}

#[cfg(feature = "failpoints")]
mod armed {
    use crate::vars;
    use std::collections::HashMap;
    use std::io::Write;
    use std::sync::{Mutex, OnceLock};

    struct Plan {
        target: Option<(String, u64, u64)>,
        once: Option<std::path::PathBuf>,
        log: Option<std::path::PathBuf>,
    }

    fn plan() -> &'static Plan {
        static PLAN: OnceLock<Plan> = OnceLock::new();
        PLAN.get_or_init(|| Plan {
            target: std::env::var(vars::FAILPOINT).ok().and_then(|spec| {
                let (name, at) = spec.split_once('#').unwrap_or((&spec, "1"));
                let (k, nth) = at.split_once('@').unwrap_or((at, "1"));
                Some((name.to_string(), k.parse().ok()?, nth.parse().ok()?))
            }),
            once: std::env::var_os(vars::FAILPOINT_ONCE).map(Into::into),
            log: std::env::var_os(vars::FAILPOINT_LOG).map(Into::into),
        })
    }

    pub fn hit_then(name: &'static str, torn: impl FnOnce()) {
        let plan = plan();
        if plan.target.is_none() && plan.log.is_none() {
            return;
        }
        static COUNTS: Mutex<Option<HashMap<&'static str, u64>>> = Mutex::new(None);
        let k = {
            let mut counts = COUNTS.lock().unwrap_or_else(|e| e.into_inner());
            let n = counts.get_or_insert_with(HashMap::new).entry(name).or_insert(0);
            *n += 1;
            *n
        };
        if let Some(log) = &plan.log {
            if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
                let _ = f.write_all(format!("{name} {k}\n").as_bytes());
            }
        }
        let Some((_, _, nth)) = plan.target.as_ref().filter(|(n, at, _)| n == name && *at == k) else {
            return;
        };
        if plan.once.as_ref().is_none_or(|once| arrival(once) == Some(*nth)) {
            torn();
            // SIGKILL from outside: no unwinding, no destructor, no flush.
            let _ = std::process::Command::new("kill").args(["-KILL", &std::process::id().to_string()]).status();
            std::thread::sleep(std::time::Duration::from_secs(5));
            std::process::abort();
        }
    }

    /// This process's place among those of the run that reached the chosen
    /// hit: the first `ONCE.i` it could create (bounded).
    fn arrival(once: &std::path::Path) -> Option<u64> {
        (1..=10_000u64).find(|i| {
            let mut ticket = once.as_os_str().to_owned();
            ticket.push(format!(".{i}"));
            std::fs::OpenOptions::new().write(true).create_new(true).open(ticket).is_ok()
        })
    }
}
