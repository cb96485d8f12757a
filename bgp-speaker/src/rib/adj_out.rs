//! One update group's Adj-RIB-Out table: per prefix what the group last advertised.
//!
//! Compact, because a reflector holds one per group: without ADD-PATH a prefix has one
//! entry with path id 0, kept as 8 bytes under the 4-byte IPv4 address in a table per
//! prefix length (a 12-byte bucket, [`PrefixMap`]); other entries go to a second table
//! that is empty in that case. A `HashMap<Prefix, SmallVec<[OutEntry; 1]>>` took 56
//! bytes a bucket — with a million prefixes over 100 MiB per group, half as much again
//! while the table grew; one `FxHashMap<u64, (AttrId, PeerId)>` 16 bytes a bucket (36
//! MiB at a million prefixes, 53 while it doubled), now 20 MiB.

use crate::rib::adj_in::{Key, V4Key, V6Key};
use crate::rib::attrs::AttrId;
use crate::rib::peer::PeerId;
use crate::rib::shard::PrefixMap;
use crate::rib::Prefix;
use rustc_hash::FxHashMap;
use smallvec::{smallvec, SmallVec};

/// One advertised path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutEntry {
    /// The path id sent (0 without ADD-PATH).
    pub path_id: u32,
    /// The outgoing attributes (a reference held in the group's store).
    pub attrs: AttrId,
    /// The peer the path came from.
    pub src: PeerId,
}

/// Entries of some prefixes.
type Entries = SmallVec<[OutEntry; 1]>;

/// One family's table.
#[derive(Debug)]
struct Table<K: Key> {
    /// Prefixes with exactly one entry, of path id 0: `(attrs, src)`.
    one: PrefixMap<K, (AttrId, PeerId)>,
    /// Every other prefix (ADD-PATH).
    many: FxHashMap<K, Vec<OutEntry>>,
}

impl<K: Key> Default for Table<K> {
    fn default() -> Self {
        Table { one: PrefixMap::default(), many: FxHashMap::default() }
    }
}

impl<K: Key> Table<K> {
    fn remove(&mut self, k: K) -> Entries {
        if let Some((attrs, src)) = self.one.remove(&k) {
            return smallvec![OutEntry { path_id: 0, attrs, src }];
        }
        if self.many.is_empty() {
            return Entries::new();
        }
        self.many.remove(&k).map(Entries::from_vec).unwrap_or_default()
    }

    fn insert(&mut self, k: K, v: Entries) {
        match v.as_slice() {
            [] => {
                self.remove(k);
            }
            [e] if e.path_id == 0 => {
                if !self.many.is_empty() {
                    self.many.remove(&k);
                }
                self.one.insert(k, (e.attrs, e.src));
            }
            _ => {
                self.one.remove(&k);
                self.many.insert(k, v.into_vec());
            }
        }
    }

    fn get(&self, k: K) -> Entries {
        if let Some(&(attrs, src)) = self.one.get(&k) {
            return smallvec![OutEntry { path_id: 0, attrs, src }];
        }
        self.many.get(&k).map(|v| Entries::from_slice(v)).unwrap_or_default()
    }

    fn iter(&self) -> impl Iterator<Item = (Prefix, Entries)> + '_ {
        let one =
            self.one.iter().map(|(k, &(attrs, src))| (k.prefix(), smallvec![OutEntry { path_id: 0, attrs, src }]));
        one.chain(self.many.iter().map(|(k, v)| (k.prefix(), Entries::from_slice(v))))
    }

    fn entries(&self) -> impl Iterator<Item = OutEntry> + '_ {
        let one = self.one.values().map(|&(attrs, src)| OutEntry { path_id: 0, attrs, src });
        one.chain(self.many.values().flatten().copied())
    }
}

/// The Adj-RIB-Out of one group, both families.
#[derive(Debug, Default)]
pub(crate) struct AdjOut {
    v4: Table<V4Key>,
    v6: Table<V6Key>,
}

impl AdjOut {
    /// Removes and returns the entries of `prefix` (empty when none).
    pub fn remove(&mut self, prefix: Prefix) -> Entries {
        match prefix {
            Prefix::V4(p) => self.v4.remove(V4Key::new(p)),
            Prefix::V6(p) => self.v6.remove(V6Key::new(p)),
        }
    }

    /// Sets the entries of `prefix` (none: removes it).
    pub fn insert(&mut self, prefix: Prefix, entries: Entries) {
        match prefix {
            Prefix::V4(p) => self.v4.insert(V4Key::new(p), entries),
            Prefix::V6(p) => self.v6.insert(V6Key::new(p), entries),
        }
    }

    /// The entries of `prefix` (empty when none).
    pub fn get(&self, prefix: Prefix) -> Entries {
        match prefix {
            Prefix::V4(p) => self.v4.get(V4Key::new(p)),
            Prefix::V6(p) => self.v6.get(V6Key::new(p)),
        }
    }

    /// Every prefix with its entries (IPv4 first).
    pub fn iter(&self) -> impl Iterator<Item = (Prefix, Entries)> + '_ {
        self.v4.iter().chain(self.v6.iter())
    }

    /// Every entry.
    pub fn entries(&self) -> impl Iterator<Item = OutEntry> + '_ {
        self.v4.entries().chain(self.v6.entries())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(path_id: u32, src: u32) -> OutEntry {
        OutEntry { path_id, attrs: AttrId(7), src: PeerId(src) }
    }

    #[test]
    fn one_and_many_entries_round_trip() {
        let mut t = AdjOut::default();
        let p4: Prefix = "10.0.0.0/26".parse::<ipnet::IpNet>().unwrap().into();
        let q4: Prefix = "10.0.1.0/26".parse::<ipnet::IpNet>().unwrap().into();
        let p6: Prefix = "2001:db8::/64".parse::<ipnet::IpNet>().unwrap().into();
        t.insert(p4, smallvec![e(0, 1)]);
        t.insert(q4, smallvec![e(5, 1)]);
        t.insert(p6, smallvec![e(1, 1), e(2, 2)]);
        assert_eq!(t.get(p4).as_slice(), &[e(0, 1)]);
        assert_eq!(t.get(q4).as_slice(), &[e(5, 1)]);
        assert_eq!(t.get(p6).as_slice(), &[e(1, 1), e(2, 2)]);
        assert_eq!(t.entries().count(), 4);
        let mut all: Vec<(Prefix, usize)> = t.iter().map(|(p, v)| (p, v.len())).collect();
        all.sort();
        assert_eq!(all, vec![(p4, 1), (q4, 1), (p6, 2)]);
        // A prefix moves between the two tables as its entries change.
        t.insert(p4, smallvec![e(3, 1), e(4, 2)]);
        assert_eq!(t.get(p4).as_slice(), &[e(3, 1), e(4, 2)]);
        t.insert(p4, smallvec![e(0, 2)]);
        assert_eq!(t.get(p4).as_slice(), &[e(0, 2)]);
        assert_eq!(t.entries().count(), 4);
        assert_eq!(t.remove(p6).to_vec(), vec![e(1, 1), e(2, 2)]);
        assert!(t.get(p6).is_empty());
        t.insert(p4, SmallVec::new());
        assert!(t.get(p4).is_empty() && t.remove(p4).is_empty());
    }
}
