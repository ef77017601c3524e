//! What an idle daemon costs, read from /proc: resident set by kind, the
//! private pages (USS) and the threads by name.
//!
//! Which figure is "private memory": the anonymous pages (`RssAnon`, the same
//! pages as smaps' `Anonymous`). They are the heap, the thread stacks and the
//! allocators' arenas; only swap can take them back, and no other process
//! shares them (the daemon never forks a child that keeps a copy). USS
//! (`Private_Clean` + `Private_Dirty`) adds the binary's own clean file pages
//! whenever no other process maps the same binary: those are reclaimable and
//! shared with any second `steward` process (a CLI call), so USS overstates
//! what the daemon holds on to. Both are printed; the budget is on the first.

use std::collections::BTreeMap;

/// One reading of a process.
pub struct Footprint {
    /// `VmRSS`: everything resident, shared library pages included (KiB).
    pub rss: u64,
    /// `RssAnon`: the private (anonymous) memory the budget is on (KiB).
    pub anon: u64,
    /// `RssFile`: the binary and shared libraries, clean and reclaimable (KiB).
    pub file: u64,
    /// smaps_rollup `Private_Clean` + `Private_Dirty`: USS (KiB).
    pub uss: u64,
    /// smaps_rollup `Private_Dirty` alone: written pages only this process holds (KiB).
    pub private_dirty: u64,
    /// smaps_rollup `Anonymous`: must agree with `anon` (KiB).
    pub smaps_anon: u64,
    /// Threads by name (`/proc/PID/task/*/comm`), e.g. `tokio-runtime-w` × 2.
    pub threads: BTreeMap<String, usize>,
}

impl Footprint {
    pub fn read(pid: u32) -> Footprint {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rollup =
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        let private_dirty = kib(&rollup, "Private_Dirty");
        Footprint {
            rss: kib(&status, "VmRSS"),
            anon: kib(&status, "RssAnon"),
            file: kib(&status, "RssFile"),
            uss: kib(&rollup, "Private_Clean") + private_dirty,
            private_dirty,
            smaps_anon: kib(&rollup, "Anonymous"),
            threads: threads(pid),
        }
    }

    pub fn thread_count(&self) -> usize {
        self.threads.values().sum()
    }

    /// `tokio-runtime-w × 2, steward × 1, …`, most numerous first.
    pub fn threads_by_name(&self) -> String {
        let mut by: Vec<(&String, &usize)> = self.threads.iter().collect();
        by.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        by.iter()
            .map(|(name, n)| format!("{name} × {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A `Field:   123 kB` line of /proc status or smaps, in KiB (0 when absent).
pub fn kib(text: &str, field: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn threads(pid: u32) -> BTreeMap<String, usize> {
    let mut by = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return by;
    };
    for task in tasks.flatten() {
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        *by.entry(name.trim().to_string()).or_insert(0) += 1;
    }
    by
}

pub fn mib(k: u64) -> f64 {
    k as f64 / 1024.0
}
