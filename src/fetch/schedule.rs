//! The fetch's workers: every locked package looked up and every matching
//! artifact downloaded, in parallel. A lookup is a few small blocks, an
//! artifact one CAR. Half the workers download as soon as something is
//! found, always the largest artifact known, so that no large one starts
//! last and runs alone at the end; the other half look up first.

use super::lockfile::LockedPackage;
use crate::index::Entry;
use std::sync::{Condvar, Mutex};

/// What the workers do with a package or an artifact.
pub(super) trait Steps: Sync {
    /// The entries of `package` that match this build.
    fn look_up(&self, package: &LockedPackage) -> Vec<Entry>;
    /// Downloads one artifact (and keeps the outcome).
    fn download(&self, entry: Entry);
    /// Whether to stop taking work (the store's disk is full).
    fn stopped(&self) -> bool;
    /// Every package was looked up; `artifacts` entries matched.
    fn planned(&self, artifacts: usize);
}

/// What was left when the workers stopped early.
#[derive(Debug, Default)]
pub(super) struct Leftover<'a> {
    /// Artifacts found and not downloaded.
    pub pending: Vec<Entry>,
    /// Packages not looked up.
    pub packages: Vec<&'a LockedPackage>,
}

/// The workers' shared state: packages not yet looked up, lookups under
/// way, artifacts found and not yet taken.
struct Queue<'a> {
    packages: std::slice::Iter<'a, LockedPackage>,
    looking: usize,
    found: usize,
    pending: Vec<Entry>,
}

impl Queue<'_> {
    fn take_largest(&mut self) -> Option<Entry> {
        let (i, _) = self.pending.iter().enumerate().max_by_key(|(_, e)| e.size)?;
        Some(self.pending.swap_remove(i))
    }
}

enum Task<'a> {
    LookUp(&'a LockedPackage),
    Download(Box<Entry>),
}

/// Runs `jobs` workers (1 to 64) over `packages` until every package is
/// looked up and every match downloaded, or `steps` says stop.
pub(super) fn run<'a>(packages: &'a [LockedPackage], jobs: usize, steps: &dyn Steps) -> Leftover<'a> {
    let queue = Mutex::new(Queue { packages: packages.iter(), looking: 0, found: 0, pending: Vec::new() });
    let changed = Condvar::new();
    if packages.is_empty() {
        steps.planned(0);
    }
    std::thread::scope(|s| {
        for worker in 0..jobs.clamp(1, 64) {
            let (queue, changed) = (&queue, &changed);
            s.spawn(move || loop {
                let task = {
                    let mut q = queue.lock().expect("queue");
                    loop {
                        if steps.stopped() {
                            return;
                        }
                        let downloader = worker % 2 == 1 || q.packages.len() == 0;
                        if downloader {
                            if let Some(entry) = q.take_largest() {
                                break Task::Download(Box::new(entry));
                            }
                        }
                        if let Some(package) = q.packages.next() {
                            q.looking += 1;
                            break Task::LookUp(package);
                        }
                        // No package left (so this worker downloads) and
                        // nothing pending: wait for the lookups under way.
                        if q.looking == 0 {
                            return;
                        }
                        q = changed.wait(q).expect("queue");
                    }
                };
                match task {
                    Task::LookUp(package) => {
                        let matching = steps.look_up(package);
                        let mut q = queue.lock().expect("queue");
                        q.looking -= 1;
                        q.found += matching.len();
                        q.pending.extend(matching);
                        if q.looking == 0 && q.packages.len() == 0 {
                            steps.planned(q.found);
                        }
                        changed.notify_all();
                    }
                    Task::Download(entry) => steps.download(*entry),
                }
            });
        }
    });
    let q = queue.into_inner().expect("queue");
    Leftover { pending: q.pending, packages: q.packages.collect() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::download::tests::artifact;
    use crate::store::DiskStore;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    fn entry(size: u64) -> Entry {
        let dir = tempfile::tempdir().unwrap();
        let (entry, _) = artifact(&DiskStore::open(dir.path()).unwrap());
        Entry { size, ..entry }
    }

    #[test]
    fn downloads_are_taken_largest_first() {
        let mut queue =
            Queue { packages: [].iter(), looking: 0, found: 3, pending: vec![entry(5), entry(900), entry(40)] };
        let order: Vec<u64> = std::iter::from_fn(|| queue.take_largest()).map(|e| e.size).collect();
        assert_eq!(order, [900, 40, 5]);
    }

    /// Each package has `n` artifacts of sizes 1..=n, `n` its index.
    struct Counting {
        template: Entry,
        looked_up: AtomicUsize,
        downloaded: Mutex<Vec<u64>>,
        planned: Mutex<Vec<usize>>,
        stop_after: Option<usize>,
        stop: AtomicBool,
    }

    impl Steps for Counting {
        fn look_up(&self, package: &LockedPackage) -> Vec<Entry> {
            self.looked_up.fetch_add(1, Ordering::SeqCst);
            let n: u64 = package.name.parse().unwrap();
            (1..=n).map(|size| Entry { size, ..self.template.clone() }).collect()
        }
        fn download(&self, entry: Entry) {
            let mut done = self.downloaded.lock().unwrap();
            done.push(entry.size);
            if self.stop_after.is_some_and(|n| done.len() >= n) {
                self.stop.store(true, Ordering::SeqCst);
            }
        }
        fn stopped(&self) -> bool {
            self.stop.load(Ordering::SeqCst)
        }
        fn planned(&self, artifacts: usize) {
            self.planned.lock().unwrap().push(artifacts);
        }
    }

    fn packages(n: usize) -> Vec<LockedPackage> {
        (0..n)
            .map(|i| LockedPackage {
                name: i.to_string(),
                version: "1.0.0".into(),
                source: String::new(),
                checksum: String::new(),
            })
            .collect()
    }

    fn steps(stop_after: Option<usize>) -> Counting {
        Counting {
            template: entry(0),
            looked_up: AtomicUsize::new(0),
            downloaded: Mutex::new(Vec::new()),
            planned: Mutex::new(Vec::new()),
            stop_after,
            stop: AtomicBool::new(false),
        }
    }

    #[test]
    fn every_package_is_looked_up_and_every_match_downloaded_once() {
        let packages = packages(12);
        for jobs in [1, 2, 8] {
            let steps = steps(None);
            let left = run(&packages, jobs, &steps);
            assert_eq!(steps.looked_up.load(Ordering::SeqCst), 12);
            let mut sizes = steps.downloaded.into_inner().unwrap();
            sizes.sort();
            let mut expected: Vec<u64> = (0..12u64).flat_map(|n| 1..=n).collect();
            expected.sort();
            assert_eq!(sizes, expected, "{jobs} jobs");
            assert_eq!(steps.planned.into_inner().unwrap(), [expected.len()]);
            assert!(left.pending.is_empty() && left.packages.is_empty());
        }
        let steps = steps(None);
        run(&[], 4, &steps);
        assert_eq!(steps.planned.into_inner().unwrap(), [0]);
    }

    #[test]
    fn a_stop_leaves_the_rest_for_the_summary() {
        let packages = packages(40);
        let steps = steps(Some(3));
        let left = run(&packages, 2, &steps);
        let done = steps.downloaded.lock().unwrap().len();
        let looked_up = steps.looked_up.load(Ordering::SeqCst);
        assert!(done >= 3, "{done}");
        assert_eq!(left.packages.len(), 40 - looked_up);
        let found: usize = (0..looked_up).sum();
        assert!(left.pending.len() <= found);
        assert!(!left.packages.is_empty() || !left.pending.is_empty());
    }
}
