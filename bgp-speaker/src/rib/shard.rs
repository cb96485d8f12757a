//! A hash map split into [`SHARDS`] hash maps of staggered sizes, for the per-prefix
//! tables (the RIB prefix table, the Adj-RIBs-Out).
//!
//! One big open-addressing table doubles when it passes 7/8 load: right after, it is
//! 44% full, and while it doubles the old and the new bucket arrays both live (a
//! million IPv4 prefixes: 2^21 buckets of 33 bytes = 66 MiB, 99 MiB during the step).
//! Here a key picks its shard by the hash of its [`Block`] (the /16 of an IPv4 address),
//! and shard `i` receives a share of the blocks proportional to `2^(i / SHARDS)`: the
//! shard sizes spread over (at least) one octave, so the shards pass their doubling
//! points one after another. The load factor of the whole stays near 0.63 (the mean of
//! a load that grows from 7/16 to 7/8 between doublings, uniform in log scale) instead of
//! swinging between 0.44 and 0.88, and a doubling allocates a small part of the table,
//! not all of it.

use crate::rib::adj_in::Key;
use rustc_hash::{FxBuildHasher, FxHashMap};
use std::hash::{BuildHasher, Hash};

/// Number of shards.
pub(crate) const SHARDS: usize = 64;

const LOOKUP_BITS: u32 = 12;

/// Shard of each of the `2^LOOKUP_BITS` hash slots: shard `i` owns a run of slots
/// proportional to `2^(i / SHARDS)`.
const fn shard_lookup() -> [u8; 1 << LOOKUP_BITS] {
    const STEP: f64 = 1.010_889_286_051_700_5; // 2^(1/64)
    let mut w = [0f64; SHARDS];
    let (mut i, mut x, mut total) = (0, 1.0, 0.0);
    while i < SHARDS {
        w[i] = x;
        total += x;
        x *= STEP;
        i += 1;
    }
    let n = 1 << LOOKUP_BITS;
    let mut t = [0u8; 1 << LOOKUP_BITS];
    let (mut s, mut acc, mut j) = (0, w[0], 0);
    while j < n {
        let pos = (j as f64 + 0.5) / n as f64 * total;
        while pos > acc && s < SHARDS - 1 {
            s += 1;
            acc += w[s];
        }
        t[j] = s as u8;
        j += 1;
    }
    t
}

static SHARD_OF: [u8; 1 << LOOKUP_BITS] = shard_lookup();

const _: () = assert!(SHARDS <= 256 && (1 << LOOKUP_BITS) >= 16 * SHARDS);

/// A hash map of [`SHARDS`] staggered shards (see the module doc). Iteration order is
/// shard by shard.
#[derive(Debug, Clone)]
pub(crate) struct ShardMap<K, V> {
    /// Empty until the first insert (an unused table costs no shard headers).
    shards: Vec<FxHashMap<K, V>>,
}

impl<K, V> Default for ShardMap<K, V> {
    fn default() -> Self {
        ShardMap { shards: Vec::new() }
    }
}

/// A key's block: keys of one block share a shard. For addresses, the /16 (IPv4) or /32
/// (IPv6) they lie in: prefixes that arrive in address order (a sorted table, an
/// injector's run of /28s) then probe one table in the constant stride FxHash gives
/// consecutive keys, which the hardware prefetcher follows; one shard per key scattered
/// them over all shards (RIB bench, 100k prefixes x 10 peers: 25% slower).
pub(crate) trait Block {
    fn block(&self) -> u64;
}

impl Block for u32 {
    #[inline]
    fn block(&self) -> u64 {
        (*self >> 16) as u64
    }
}

impl Block for u128 {
    #[inline]
    fn block(&self) -> u64 {
        (*self >> 96) as u64
    }
}

impl Block for u64 {
    #[inline]
    fn block(&self) -> u64 {
        *self >> 24
    }
}

#[inline]
fn shard_of<K: Block>(k: &K) -> usize {
    // The shard comes from the top bits of a second multiplication of the block's hash,
    // so it is not correlated with the bits the shard's own table uses (its low bits for
    // the bucket, its top 7 for the control byte).
    let h = FxBuildHasher.hash_one(k.block()).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    SHARD_OF[(h >> (64 - LOOKUP_BITS)) as usize] as usize
}

impl<K: Hash + Eq + Block, V> ShardMap<K, V> {
    fn shards_mut(&mut self) -> &mut [FxHashMap<K, V>] {
        if self.shards.is_empty() {
            self.shards = (0..SHARDS).map(|_| FxHashMap::default()).collect();
        }
        &mut self.shards
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.len()).sum()
    }

    /// Reserves room for `n` more entries (spread by the shards' shares).
    pub fn reserve(&mut self, n: usize) {
        let shards = self.shards_mut();
        let slots = |i: usize| SHARD_OF.iter().filter(|&&s| s as usize == i).count();
        for (i, s) in shards.iter_mut().enumerate() {
            s.reserve((n * slots(i)).div_ceil(1 << LOOKUP_BITS));
        }
    }

    /// The value of `k`.
    #[inline]
    pub fn get(&self, k: &K) -> Option<&V> {
        self.shards.get(shard_of(k))?.get(k)
    }

    /// The value of `k`, mutable.
    #[inline]
    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.shards.get_mut(shard_of(k))?.get_mut(k)
    }

    /// Inserts `v` under `k`; returns the value it replaced.
    #[inline]
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        let i = shard_of(&k);
        self.shards_mut()[i].insert(k, v)
    }

    /// Removes `k`; returns its value.
    #[inline]
    pub fn remove(&mut self, k: &K) -> Option<V> {
        self.shards.get_mut(shard_of(k))?.remove(k)
    }

    /// The value of `k`, inserted as `V::default()` when absent.
    #[inline]
    pub fn entry_or_default(&mut self, k: K) -> &mut V
    where
        V: Default,
    {
        let i = shard_of(&k);
        self.shards_mut()[i].entry(k).or_default()
    }

    /// Keeps the entries for which `f` holds.
    pub fn retain(&mut self, mut f: impl FnMut(&K, &mut V) -> bool) {
        for s in &mut self.shards {
            s.retain(&mut f);
        }
    }

    /// Every entry.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.shards.iter().flatten()
    }

    /// Every entry, values mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> + '_ {
        self.shards.iter_mut().flatten()
    }

    /// Every value.
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.shards.iter().flat_map(|s| s.values())
    }

    /// Every value, mutable.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> + '_ {
        self.shards.iter_mut().flat_map(|s| s.values_mut())
    }

    /// Buckets summed over the shards (a table holds up to 7/8 of its buckets).
    #[cfg(test)]
    pub fn buckets(&self) -> usize {
        self.shards.iter().map(|s| (s.capacity() * 8).div_ceil(7)).sum()
    }
}

/// A map keyed by prefix: one [`ShardMap`] per prefix length, keyed by the address
/// alone, so an IPv4 bucket is the 4-byte address and the value (a [`Dest`] makes 24
/// bytes, an Adj-RIB-Out entry 12) where an 8-byte address-and-length key took 32 and
/// 16. Iteration is by length, then shard.
///
/// [`Dest`]: crate::rib::adj_in::Dest
#[derive(Debug)]
pub(crate) struct PrefixMap<K: Key, V> {
    by_len: Vec<ShardMap<K::Addr, V>>,
}

impl<K: Key, V> Default for PrefixMap<K, V> {
    fn default() -> Self {
        PrefixMap { by_len: Vec::new() }
    }
}

impl<K: Key, V> PrefixMap<K, V> {
    #[inline]
    fn table_mut(&mut self, len: u8) -> &mut ShardMap<K::Addr, V> {
        let i = len as usize;
        if self.by_len.len() <= i {
            self.by_len.resize_with(i + 1, ShardMap::default);
        }
        &mut self.by_len[i]
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.by_len.iter().map(|m| m.len()).sum()
    }

    /// Reserves room for `n` more prefixes of the family's most common length
    /// ([`Key::TYPICAL_LEN`]).
    pub fn reserve(&mut self, n: usize) {
        self.table_mut(K::TYPICAL_LEN).reserve(n);
    }

    /// The value of `k`.
    #[inline]
    pub fn get(&self, k: &K) -> Option<&V> {
        let (a, l) = k.split();
        self.by_len.get(l as usize)?.get(&a)
    }

    /// The value of `k`, mutable.
    #[inline]
    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        let (a, l) = k.split();
        self.by_len.get_mut(l as usize)?.get_mut(&a)
    }

    /// Inserts `v` under `k`; returns the value it replaced.
    #[inline]
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        let (a, l) = k.split();
        self.table_mut(l).insert(a, v)
    }

    /// Removes `k`; returns its value.
    #[inline]
    pub fn remove(&mut self, k: &K) -> Option<V> {
        let (a, l) = k.split();
        self.by_len.get_mut(l as usize)?.remove(&a)
    }

    /// The value of `k`, inserted as `V::default()` when absent.
    #[inline]
    pub fn entry_or_default(&mut self, k: K) -> &mut V
    where
        V: Default,
    {
        let (a, l) = k.split();
        self.table_mut(l).entry_or_default(a)
    }

    /// Keeps the entries for which `f` holds.
    pub fn retain(&mut self, mut f: impl FnMut(K, &mut V) -> bool) {
        for (l, m) in self.by_len.iter_mut().enumerate() {
            m.retain(|a, v| f(K::join(*a, l as u8), v));
        }
    }

    /// Every entry.
    pub fn iter(&self) -> impl Iterator<Item = (K, &V)> + '_ {
        self.by_len.iter().enumerate().flat_map(|(l, m)| m.iter().map(move |(a, v)| (K::join(*a, l as u8), v)))
    }

    /// Every entry, values mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (K, &mut V)> + '_ {
        self.by_len.iter_mut().enumerate().flat_map(|(l, m)| m.iter_mut().map(move |(a, v)| (K::join(*a, l as u8), v)))
    }

    /// Every value.
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.by_len.iter().flat_map(|m| m.values())
    }

    /// Every value, mutable.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> + '_ {
        self.by_len.iter_mut().flat_map(|m| m.values_mut())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_staggered_over_one_octave() {
        let count = |i: usize| SHARD_OF.iter().filter(|&&s| s as usize == i).count();
        let (first, last) = (count(0), count(SHARDS - 1));
        assert!((0..SHARDS).all(|i| count(i) > 0));
        // 2^(63/64) ~ 1.98: the largest share is about twice the smallest.
        assert!(last > first * 18 / 10 && last < first * 22 / 10, "{first} {last}");
    }

    #[test]
    fn map_operations_and_load_factor() {
        let mut m: ShardMap<u64, u32> = ShardMap::default();
        assert!(m.len() == 0 && m.get(&1).is_none() && m.remove(&1).is_none());
        for i in 0..100_000u64 {
            assert_eq!(m.insert(i << 12 | 26, i as u32), None);
        }
        assert_eq!(m.len(), 100_000);
        assert_eq!(m.get(&(5 << 12 | 26)), Some(&5));
        *m.get_mut(&(5 << 12 | 26)).unwrap() = 7;
        assert_eq!(m.remove(&(5 << 12 | 26)), Some(7));
        *m.entry_or_default(1 << 40) += 3;
        assert_eq!(m.get(&(1 << 40)), Some(&3));
        m.retain(|k, _| k & (1 << 12) == 0 && *k != 1 << 40);
        assert_eq!(m.len(), 50_000);
        assert_eq!(m.iter().count(), 50_000);
        assert_eq!(m.values().filter(|&&v| v % 2 == 1).count(), 0);
        for v in m.values_mut() {
            *v += 1;
        }
        assert_eq!(m.iter_mut().filter(|(_, v)| **v % 2 == 1).count(), 50_000);
        // Staggered shards: at 1M keys a single table would be 2^21 buckets (48% load);
        // the shards together hold them in well under that.
        let mut big: ShardMap<u64, ()> = ShardMap::default();
        for i in 0..1_000_000u64 {
            big.insert((0x0a00_0000 + (i << 4)) << 8 | 28, ());
        }
        let load = 1_000_000.0 / big.buckets() as f64;
        assert!(load > 0.55, "load factor {load}");
    }

    /// Memory per prefix of a RIB table of a million IPv4 /28s with one path each
    /// (rr-bench 20 x 50000): 24-byte buckets plus a control byte at ~0.63 load. The
    /// single `FxHashMap<u64, Dest>` before took 2^21 x 33 bytes = 69 bytes a prefix.
    #[test]
    fn rib_table_bytes_per_prefix() {
        use crate::rib::adj_in::{Dest, Path, V4Key};
        use crate::rib::{AttrId, PeerId};
        let mut t: PrefixMap<V4Key, Dest> = PrefixMap::default();
        for i in 0..1_000_000u32 {
            let k = V4Key::new(ipnet::Ipv4Net::new((0x0a00_0000 + (i << 4)).into(), 28).unwrap());
            t.entry_or_default(k).push(Path { peer: PeerId(1), path_id: 0, attrs: AttrId(i), flags: 0 });
        }
        assert_eq!(t.len(), 1_000_000);
        let buckets: usize = t.by_len.iter().map(|m| m.buckets()).sum();
        let bytes = buckets * (std::mem::size_of::<(u32, Dest)>() + 1);
        let per_prefix = bytes as f64 / 1e6;
        assert!(per_prefix < 44.0, "{per_prefix} bytes a prefix");
        let k = V4Key::new("10.0.0.16/28".parse().unwrap());
        assert_eq!(t.get(&k).map(|d| d.paths()[0].attrs), Some(AttrId(1)));
    }
}
