//! libphonenumber's compiled regexes go once numbers stop arriving: numbers
//! from 30 countries fill its cache with megabytes of compiled patterns, and
//! an idle daemon must not keep them (issue 19's 10 MB budget). One test in
//! its own process: the cache is process-wide.

use std::time::Duration;

use steward::memory::Canonicalizer;
use steward::memory::phone_regexes::{IDLE, compiled};

const NUMBERS: [&str; 30] = [
    "+447911123456",
    "+4915112345678",
    "+33612345678",
    "+919812345678",
    "+5511987654321",
    "+34612345678",
    "+393123456789",
    "+31612345678",
    "+46701234567",
    "+4917612345678",
    "+819012345678",
    "+8613812345678",
    "+61412345678",
    "+525512345678",
    "+27821234567",
    "+2348031234567",
    "+201001234567",
    "+971501234567",
    "+966501234567",
    "+905321234567",
    "+48601234567",
    "+380501234567",
    "+79161234567",
    "+6591234567",
    "+60123456789",
    "+639171234567",
    "+66812345678",
    "+84912345678",
    "+82101234567",
    "+5491123456789",
];

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn heap_in_use() -> Option<usize> {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    Some(unsafe { libc::mallinfo2() }.uordblks)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn heap_in_use() -> Option<usize> {
    None
}

#[test]
fn compiled_phone_patterns_are_dropped_once_numbers_stop_arriving() {
    let canon = Canonicalizer::new("US");
    let first: Vec<String> = NUMBERS
        .iter()
        .map(|n| canon.canonicalize(n).to_string())
        .collect();
    assert!(first.iter().all(|h| h.starts_with("phone:+")), "{first:?}");
    let held = compiled();
    let busy = heap_in_use();
    assert!(held >= 30, "one pattern per country at least: {held}");

    std::thread::sleep(IDLE + Duration::from_secs(1));
    assert_eq!(
        compiled(),
        0,
        "the cache is empty after {IDLE:?} without a number"
    );
    if let (Some(busy), Some(idle)) = (busy, heap_in_use()) {
        let freed = busy.saturating_sub(idle);
        assert!(
            freed > 4 << 20,
            "the compiled patterns' heap went back: {busy} → {idle} bytes"
        );
    }

    // Numbers still canonicalise the same way afterwards (the cache refills).
    let again: Vec<String> = NUMBERS
        .iter()
        .map(|n| canon.canonicalize(n).to_string())
        .collect();
    assert_eq!(first, again);
    assert!(compiled() > 0);
}
