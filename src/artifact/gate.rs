//! How much memory filing artifacts may hold at once across a process's
//! threads. A fetch files its downloads on every core, and each holds its
//! packed bytes and then the archive they decompress to, both up to the
//! sizes its entry signs: without a gate, a hostile index of artifacts that
//! each sign gigabytes would have every core hold that at once. A thread
//! asks for what its artifact's entry signs and waits until that fits under
//! [`UNPACK_MEMORY`] with what the others hold; an artifact that needs more
//! than all of it waits until it can run alone.

use std::sync::{Condvar, Mutex};

/// The memory all threads filing artifacts may hold at once, in bytes.
/// Real artifacts are a few megabytes to a few hundred unpacked, so a
/// fetch on every core rarely waits.
pub const UNPACK_MEMORY: u64 = 512 << 20;

/// A budget of bytes shared by threads.
#[derive(Debug)]
pub struct Gate {
    budget: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

/// The gate every artifact filed in this process passes.
pub static UNPACKING: Gate = Gate::new(UNPACK_MEMORY);

/// Bytes held from a [`Gate`] until dropped.
#[derive(Debug)]
pub struct Permit<'a> {
    gate: &'a Gate,
    bytes: u64,
}

impl Gate {
    /// A gate of `budget` bytes.
    pub const fn new(budget: u64) -> Self {
        Gate { budget, used: Mutex::new(0), freed: Condvar::new() }
    }

    /// Waits until `bytes` fit (all of the budget, alone, when they are more
    /// than it) and holds them until the permit drops.
    pub fn enter(&self, bytes: u64) -> Permit<'_> {
        let bytes = bytes.min(self.budget);
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used + bytes > self.budget {
            used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += bytes;
        Permit { gate: self, bytes }
    }

    /// [`Gate::enter`] without waiting: `None` when the bytes do not fit now.
    pub fn try_enter(&self, bytes: u64) -> Option<Permit<'_>> {
        let bytes = bytes.min(self.budget);
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        if *used + bytes > self.budget {
            return None;
        }
        *used += bytes;
        Some(Permit { gate: self, bytes })
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut used = self.gate.used.lock().unwrap_or_else(|e| e.into_inner());
        *used -= self.bytes;
        self.gate.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_never_exceed_the_budget_and_a_large_one_runs_alone() {
        let gate = Gate::new(100);
        let a = gate.enter(60);
        assert!(gate.try_enter(50).is_none(), "60 + 50 is over 100");
        let b = gate.try_enter(40).unwrap();
        drop(a);
        assert!(gate.try_enter(1_000).is_none(), "a large one waits for the others");
        drop(b);
        let large = gate.try_enter(1_000).unwrap();
        assert!(gate.try_enter(1).is_none(), "and then runs alone");
        drop(large);
        // A waiting thread goes on once the holder is done.
        let held = gate.enter(100);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| drop(gate.enter(100)));
            drop(held);
            waiter.join().unwrap();
        });
        assert!(gate.try_enter(100).is_some());
    }
}
