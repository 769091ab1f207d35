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
