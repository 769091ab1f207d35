//! The real clock and id generator, and process-level tuning.

use time::OffsetDateTime;

use crate::ports::{Clock, IdGenerator};

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// Random 128-bit ids, 32 lowercase hex characters: unguessable, key- and path-safe.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn new_id(&self) -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }
}

/// Keeps mail-sized buffers (100-300 KB: a rendered body, its JSON request) on the heap.
///
/// glibc serves allocations above 128 KB with a fresh `mmap` and returns them with `munmap`,
/// so every mail paid for page faults and two system calls per buffer: about a quarter of the
/// sender's CPU per mail in `fanmail-bench hotpath`. Raising the thresholds makes those buffers
/// reusable. Called once at start-up by the functions that handle whole mails.
pub fn keep_large_buffers_on_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const EIGHT_MIB: libc::c_int = 8 << 20;
        // SAFETY: mallopt only changes the allocator's global parameters, under glibc's own lock.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, EIGHT_MIB);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 8 * EIGHT_MIB);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// Calls that read the date from the system. `Instant::now()` is not among them: a monotonic
    /// instant measures a duration and says nothing about the date.
    const SYSTEM_TIME_READS: [&str; 5] = ["now_utc(", "now_local(", "SystemTime::now(", "Utc::now(", "Local::now("];

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Time that does not come through the `Clock` port cannot be moved by a test, and a test
    /// that reads the real date passes on one day and fails on another.
    #[test]
    fn only_the_system_clock_reads_the_date() {
        let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let this_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/system.rs");
        let mut files = Vec::new();
        rust_files(crates, &mut files);
        assert!(files.len() > 50, "the workspace's sources were not found under {}", crates.display());
        let mut found = Vec::new();
        for file in files.iter().filter(|f| **f != this_file) {
            let text = std::fs::read_to_string(file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                if SYSTEM_TIME_READS.iter().any(|read| code.contains(read)) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
        assert!(
            found.is_empty(),
            "read the time through the Clock port (SystemClock in production):\n{}",
            found.join("\n")
        );
    }
}
