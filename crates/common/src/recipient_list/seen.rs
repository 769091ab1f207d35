//! The set of recipient ids a list has shown so far, in memory that stays flat as lists grow.
//!
//! The newest ids are kept in a hash set of fixed capacity. When it fills, its ids are sorted
//! and written to a temporary file as one run, and the set starts over. Each run keeps in
//! memory only a Bloom filter (about 1.3 bytes an id) and the first id of every block of the
//! file (0.06 bytes an id); an id the filter lets through is looked up exactly by reading one
//! block. So the answer is always exact, the memory is the set's fixed capacity plus
//! about 1.3 bytes per id beyond it, and the disk holds 16 bytes per id.

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Ids kept in the hash set before a run is written: 7/8 of 2^20 buckets (17 MB, and as much
/// again while a run is sorted and written).
pub const DEFAULT_MEMORY_IDS: usize = 917_504;
/// Ids per block of a run on disk (4 KiB), the unit of an exact lookup.
const BLOCK_IDS: usize = 256;
const ID_BYTES: usize = 16;

pub struct SeenIds {
    recent: HashSet<u128>,
    capacity: usize,
    spilled: Option<Spilled>,
}

struct Spilled {
    file: File,
    end: u64,
    runs: Vec<Run>,
}

/// One sorted run of ids on disk.
struct Run {
    offset: u64,
    len: usize,
    filter: BlockedBloom,
    /// The first id of each block.
    fences: Vec<u128>,
}

impl SeenIds {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self { recent: HashSet::with_capacity(capacity), capacity, spilled: None }
    }

    /// Ids written to disk so far.
    pub fn spilled(&self) -> usize {
        self.spilled.as_ref().map_or(0, |s| s.runs.iter().map(|r| r.len).sum())
    }

    /// Adds `id`; false when it was there already.
    pub fn insert(&mut self, id: u128) -> io::Result<bool> {
        if self.recent.contains(&id) {
            return Ok(false);
        }
        if let Some(spilled) = &self.spilled {
            for run in &spilled.runs {
                if run.filter.may_contain(id) && run.contains(&spilled.file, id)? {
                    return Ok(false);
                }
            }
        }
        self.recent.insert(id);
        if self.recent.len() >= self.capacity {
            self.spill()?;
        }
        Ok(true)
    }

    fn spill(&mut self) -> io::Result<()> {
        let mut ids: Vec<u128> = self.recent.drain().collect();
        ids.sort_unstable();
        let spilled = match &mut self.spilled {
            Some(spilled) => spilled,
            None => self.spilled.insert(Spilled { file: anonymous_file()?, end: 0, runs: Vec::new() }),
        };
        let mut filter = BlockedBloom::new(ids.len());
        let offset = spilled.end;
        let mut bytes = Vec::with_capacity(BLOCK_IDS * ID_BYTES);
        for block in ids.chunks(BLOCK_IDS) {
            bytes.clear();
            for id in block {
                bytes.extend_from_slice(&id.to_be_bytes());
                filter.insert(*id);
            }
            spilled.file.write_all_at(&bytes, spilled.end)?;
            spilled.end += bytes.len() as u64;
        }
        let fences = ids.iter().step_by(BLOCK_IDS).copied().collect();
        spilled.runs.push(Run { offset, len: ids.len(), filter, fences });
        Ok(())
    }
}

impl Run {
    fn contains(&self, file: &File, id: u128) -> io::Result<bool> {
        let block = match self.fences.partition_point(|first| *first <= id) {
            0 => return Ok(false),
            after => after - 1,
        };
        let start = block * BLOCK_IDS;
        let count = BLOCK_IDS.min(self.len - start);
        let mut bytes = [0u8; BLOCK_IDS * ID_BYTES];
        let bytes = &mut bytes[..count * ID_BYTES];
        file.read_exact_at(bytes, self.offset + (start * ID_BYTES) as u64)?;
        let at = |i: usize| u128::from_be_bytes(bytes[i * ID_BYTES..(i + 1) * ID_BYTES].try_into().expect("16 bytes"));
        let (mut low, mut high) = (0, count);
        while low < high {
            let middle = (low + high) / 2;
            match at(middle).cmp(&id) {
                std::cmp::Ordering::Equal => return Ok(true),
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
            }
        }
        Ok(false)
    }
}

/// A file in the temporary directory that nobody else can open and the system frees when it
/// is dropped (it is unlinked at once).
pub(super) fn anonymous_file() -> io::Result<File> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!("fanmail-seen-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let path = std::env::temp_dir().join(name);
    let file = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

/// A Bloom filter whose probes for one id all fall in one 64-byte block (one cache miss),
/// at 10 bits an id and 7 probes: about 1 % false positives.
struct BlockedBloom {
    blocks: Vec<[u64; 8]>,
}

impl BlockedBloom {
    const PROBES: u32 = 7;

    fn new(ids: usize) -> Self {
        Self { blocks: vec![[0; 8]; (ids * 10).div_ceil(512).max(1)] }
    }

    /// The block and the 7 bit positions (0..512) of `id`. Ids are SHA-1-derived UUIDs, so
    /// their bits are already uniform; a multiply spreads them once more.
    fn probes(&self, id: u128) -> (usize, impl Iterator<Item = usize>) {
        let high = (id >> 64) as u64;
        let low = (id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let block = ((u128::from(high) * self.blocks.len() as u128) >> 64) as usize;
        let bits = (0..Self::PROBES).map(move |i| ((low >> (i * 9)) & 511) as usize);
        (block, bits)
    }

    fn insert(&mut self, id: u128) {
        let (block, bits) = self.probes(id);
        let block = &mut self.blocks[block];
        for bit in bits {
            block[bit / 64] |= 1 << (bit % 64);
        }
    }

    fn may_contain(&self, id: u128) -> bool {
        let (block, mut bits) = self.probes(id);
        let block = &self.blocks[block];
        bits.all(|bit| block[bit / 64] & (1 << (bit % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids as the list makes them: hashes, not counters.
    fn id(n: u64) -> u128 {
        let uuid = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, &n.to_le_bytes());
        uuid.as_u128()
    }

    #[test]
    fn repeats_are_found_in_memory_and_across_every_spilled_run() {
        let mut seen = SeenIds::new(1_000);
        for n in 0..10_500 {
            assert!(seen.insert(id(n)).unwrap(), "{n} is new");
        }
        assert_eq!(seen.spilled(), 10_000, "ten runs on disk");
        for n in (0..10_500).step_by(7) {
            assert!(!seen.insert(id(n)).unwrap(), "{n} was seen");
        }
        for n in 10_500..12_000 {
            assert!(seen.insert(id(n)).unwrap(), "{n} is new");
        }
    }

    #[test]
    fn the_first_and_last_id_of_a_run_and_ids_outside_it_are_answered_exactly() {
        let mut seen = SeenIds::new(600);
        let mut ids: Vec<u128> = (0..600).map(id).collect();
        for i in &ids {
            assert!(seen.insert(*i).unwrap());
        }
        ids.sort_unstable();
        for edge in [ids[0], ids[255], ids[256], ids[511], ids[512], ids[599]] {
            assert!(!seen.insert(edge).unwrap());
        }
        assert!(seen.insert(0).unwrap(), "below every id");
        assert!(seen.insert(u128::MAX).unwrap(), "above every id");
    }

    #[test]
    fn the_filter_lets_few_strangers_through() {
        let mut filter = BlockedBloom::new(100_000);
        (0..100_000).for_each(|n| filter.insert(id(n)));
        assert!((0..100_000).all(|n| filter.may_contain(id(n))));
        let strangers = (100_000..200_000).filter(|n| filter.may_contain(id(*n))).count();
        assert!(strangers < 3_000, "{strangers} of 100,000 strangers let through");
    }
}
