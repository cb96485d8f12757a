//! The prefix table: per prefix the paths of every peer (the Adj-RIBs-In) with the
//! best path and ECMP set at the front (the Loc-RIB), and the change queue.

use crate::rib::attrs::{AttrId, AttrStore};
use crate::rib::best::{self, BestPathConfig, PeerRank};
use crate::rib::loc::PeerCounts;
use crate::rib::peer::PeerId;
use crate::rib::shard::PrefixMap;
use crate::rib::Prefix;
use ipnet::{Ipv4Net, Ipv6Net};
use smallvec::SmallVec;
use std::alloc::{alloc, dealloc, handle_alloc_error, realloc, Layout};
use std::hash::Hash;
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Path flag: rejected by import policy or a loop check (kept for the counters).
pub(crate) const REJECTED: u8 = 1;
/// Path flag: stale since a graceful restart began (RFC 4724 §4.2).
pub(crate) const STALE: u8 = 2;

/// One path: 16 bytes, no heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Path {
    pub peer: PeerId,
    pub path_id: u32,
    pub attrs: AttrId,
    pub flags: u8,
}

impl Path {
    #[inline]
    pub fn rejected(&self) -> bool {
        self.flags & REJECTED != 0
    }
    #[inline]
    pub fn stale(&self) -> bool {
        self.flags & STALE != 0
    }
}

/// Storage of [`Dest`]: one path inline, or a heap block of a header slot (the
/// length, a `u32`) and `1 << cap_log2` paths.
#[derive(Clone, Copy)]
union PathData {
    inline: MaybeUninit<Path>,
    heap: *mut Path,
}

/// The paths of one prefix. `paths()[..nbest]` is the ECMP set, best first.
///
/// 20 bytes, 4-aligned: with the 4-byte IPv4 address it is keyed by (tables are per
/// prefix length, see [`PrefixMap`]) a table bucket is 24 bytes. The first path is
/// stored inline, more go to a heap block whose capacity doubles and whose first slot
/// holds the length. A `SmallVec<[Path; 1]>` plus the two flags took 40 (a 48-byte
/// bucket with its key), the previous layout 24 (a 32-byte bucket).
#[repr(C, packed(4))]
pub(crate) struct Dest {
    data: PathData,
    pub nbest: u8,
    /// Queued in the change queue.
    pub dirty: bool,
    /// 0: the inline slot (capacity 1); otherwise a heap block of `1 << cap_log2` paths.
    cap_log2: u8,
    /// The length while inline (0 or 1).
    inline_len: u8,
}

// A table bucket (4-byte address + Dest) is 24 bytes.
const _: () = assert!(std::mem::size_of::<Dest>() == 20 && std::mem::size_of::<(u32, Dest)>() == 24);
const _: () = assert!(std::mem::align_of::<Path>() == 4);

// SAFETY: the heap block is owned by the `Dest` alone (no sharing, no interior
// mutability), like a `Vec<Path>`.
unsafe impl Send for Dest {}
// SAFETY: as above; `&Dest` only gives out `&[Path]`.
unsafe impl Sync for Dest {}

impl Default for Dest {
    #[inline]
    fn default() -> Self {
        Dest { data: PathData { inline: MaybeUninit::uninit() }, nbest: 0, dirty: false, cap_log2: 0, inline_len: 0 }
    }
}

impl std::fmt::Debug for Dest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (nbest, dirty) = (self.nbest, self.dirty);
        f.debug_struct("Dest").field("paths", &self.paths()).field("nbest", &nbest).field("dirty", &dirty).finish()
    }
}

impl Dest {
    /// The heap block (header slot first); only when `cap_log2 > 0`.
    #[inline]
    fn block(&self) -> *mut Path {
        // SAFETY: cap_log2 > 0 means the heap variant is live; the packed field is read
        // by value (an unaligned load), never referenced.
        unsafe { self.data.heap }
    }

    #[inline]
    fn ptr(&self) -> *const Path {
        if self.cap_log2 == 0 {
            // `data` is at offset 0 of a 4-aligned struct: aligned for a `Path`.
            std::ptr::addr_of!(self.data).cast::<Path>()
        } else {
            // SAFETY: the paths follow the header slot inside the block.
            unsafe { self.block().add(1) }
        }
    }

    #[inline]
    fn ptr_mut(&mut self) -> *mut Path {
        if self.cap_log2 == 0 {
            std::ptr::addr_of_mut!(self.data).cast::<Path>()
        } else {
            // SAFETY: as in `ptr`.
            unsafe { self.block().add(1) }
        }
    }

    /// Number of paths.
    #[inline]
    fn len(&self) -> usize {
        if self.cap_log2 == 0 {
            self.inline_len as usize
        } else {
            // SAFETY: the header slot of a live block holds the length.
            unsafe { self.block().cast::<u32>().read() as usize }
        }
    }

    #[inline]
    fn set_len(&mut self, n: usize) {
        if self.cap_log2 == 0 {
            self.inline_len = n as u8;
        } else {
            // SAFETY: as in `len`; n <= capacity < 2^32.
            unsafe { self.block().cast::<u32>().write(n as u32) }
        }
    }

    #[inline]
    fn capacity(&self) -> usize {
        1 << self.cap_log2
    }

    fn layout(cap_log2: u8) -> Layout {
        Layout::array::<Path>((1 << cap_log2) + 1).expect("path array layout")
    }

    /// The paths, best first.
    #[inline]
    pub fn paths(&self) -> &[Path] {
        // SAFETY: the first `len` elements are initialized.
        unsafe { std::slice::from_raw_parts(self.ptr(), self.len()) }
    }

    /// The paths, mutable.
    #[inline]
    pub fn paths_mut(&mut self) -> &mut [Path] {
        let len = self.len();
        // SAFETY: the first `len` elements are initialized and exclusively borrowed.
        unsafe { std::slice::from_raw_parts_mut(self.ptr_mut(), len) }
    }

    /// Appends a path.
    #[inline]
    pub fn push(&mut self, p: Path) {
        let len = self.len();
        if len == self.capacity() {
            self.grow();
        }
        // SAFETY: len < capacity after grow.
        unsafe { self.ptr_mut().add(len).write(p) };
        self.set_len(len + 1);
    }

    #[cold]
    fn grow(&mut self) {
        let new_log2 = self.cap_log2.checked_add(1).filter(|&l| l < 31).expect("too many paths for one prefix");
        let new = Self::layout(new_log2);
        let len = self.len();
        // SAFETY: the layouts are non-zero-sized; on the heap variant, the block was
        // allocated with `layout(cap_log2)`.
        let block = unsafe {
            if self.cap_log2 == 0 {
                let b = alloc(new) as *mut Path;
                if !b.is_null() && len == 1 {
                    b.add(1).write(self.data.inline.assume_init());
                }
                b
            } else {
                realloc(self.block() as *mut u8, Self::layout(self.cap_log2), new.size()) as *mut Path
            }
        };
        if block.is_null() {
            handle_alloc_error(new);
        }
        self.data = PathData { heap: block };
        self.cap_log2 = new_log2;
        self.set_len(len);
    }

    /// Removes and returns the path at `i` (the others keep their order).
    pub fn remove(&mut self, i: usize) -> Path {
        let len = self.len();
        assert!(i < len, "remove index {i} out of {len}");
        let p = self.ptr_mut();
        // SAFETY: i < len; the tail is moved down by one within the initialized range.
        let out = unsafe {
            let out = p.add(i).read();
            std::ptr::copy(p.add(i + 1), p.add(i), len - i - 1);
            out
        };
        self.set_len(len - 1);
        out
    }

    /// Keeps the paths for which `f` holds (in order).
    pub fn retain(&mut self, mut f: impl FnMut(&Path) -> bool) {
        let s = self.paths_mut();
        let mut keep = 0;
        for i in 0..s.len() {
            if f(&s[i]) {
                s[keep] = s[i];
                keep += 1;
            }
        }
        self.set_len(keep);
    }
}

impl Drop for Dest {
    fn drop(&mut self) {
        if self.cap_log2 != 0 {
            // SAFETY: the heap block was allocated with this layout; Path is Copy.
            unsafe { dealloc(self.block() as *mut u8, Self::layout(self.cap_log2)) };
        }
    }
}

/// A compact hash key for a prefix.
pub(crate) trait Key: Copy + Eq + Hash {
    /// The address part: tables are per prefix length and keyed by it alone.
    type Addr: Copy + Eq + Hash + std::fmt::Debug + crate::rib::shard::Block;
    /// The most common length in a full table (/24 for IPv4, /48 for IPv6): where
    /// [`PrefixMap::reserve`] reserves.
    const TYPICAL_LEN: u8;
    fn prefix(self) -> Prefix;
    fn split(self) -> (Self::Addr, u8);
    fn join(addr: Self::Addr, len: u8) -> Self;
}

/// IPv4: address << 8 | length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct V4Key(pub u64);

impl V4Key {
    #[inline]
    pub fn new(p: Ipv4Net) -> Self {
        V4Key(((u32::from(p.network()) as u64) << 8) | p.prefix_len() as u64)
    }
}

impl Key for V4Key {
    type Addr = u32;
    const TYPICAL_LEN: u8 = 24;
    #[inline]
    fn prefix(self) -> Prefix {
        Prefix::V4(Ipv4Net::new(Ipv4Addr::from((self.0 >> 8) as u32), self.0 as u8).unwrap_or_default())
    }
    #[inline]
    fn split(self) -> (u32, u8) {
        ((self.0 >> 8) as u32, self.0 as u8)
    }
    #[inline]
    fn join(addr: u32, len: u8) -> Self {
        V4Key((addr as u64) << 8 | len as u64)
    }
}

/// IPv6: address and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct V6Key(pub u128, pub u8);

impl V6Key {
    #[inline]
    pub fn new(p: Ipv6Net) -> Self {
        V6Key(u128::from(p.network()), p.prefix_len())
    }
}

impl Key for V6Key {
    type Addr = u128;
    const TYPICAL_LEN: u8 = 48;
    #[inline]
    fn prefix(self) -> Prefix {
        Prefix::V6(Ipv6Net::new(Ipv6Addr::from(self.0), self.1).unwrap_or_default())
    }
    #[inline]
    fn split(self) -> (u128, u8) {
        (self.0, self.1)
    }
    #[inline]
    fn join(addr: u128, len: u8) -> Self {
        V6Key(addr, len)
    }
}

/// A prefix table of one family.
pub(crate) type Table<K> = PrefixMap<K, Dest>;

/// Everything the table operations need besides the table: attribute store, peer
/// ranks and counters, best-path options, the change queue.
#[derive(Debug, Default)]
pub(crate) struct Core {
    pub store: AttrStore,
    pub ranks: Vec<PeerRank>,
    pub counts: Vec<PeerCounts>,
    pub best: BestPathConfig,
    pub pending: ChangeQueue,
}

/// The Loc-RIB change queue: prefixes in first-change order, IPv4 ones as their 8-byte
/// [`V4Key`] (a `VecDeque<Prefix>` took 18 bytes an entry: 18 MiB while a million
/// changes waited for export). IPv6 prefixes wait in a side queue, their place in the
/// order marked by [`ChangeQueue::V6`].
#[derive(Debug, Default)]
pub(crate) struct ChangeQueue {
    order: std::collections::VecDeque<u64>,
    v6: std::collections::VecDeque<Ipv6Net>,
}

impl ChangeQueue {
    /// The mark of an IPv6 entry (no [`V4Key`] is that large).
    const V6: u64 = u64::MAX;

    /// Appends a prefix.
    #[inline]
    pub fn push(&mut self, p: Prefix) {
        match p {
            Prefix::V4(p) => self.order.push_back(V4Key::new(p).0),
            Prefix::V6(p) => {
                self.order.push_back(Self::V6);
                self.v6.push_back(p);
            }
        }
    }

    /// Nothing queued.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Removes up to `n` prefixes from the front, oldest first; frees the queue's memory
    /// when that empties a large one.
    pub fn take(&mut self, n: usize) -> Vec<Prefix> {
        let n = n.min(self.order.len());
        let v6 = &mut self.v6;
        let out = self
            .order
            .drain(..n)
            .map(|k| match k {
                Self::V6 => Prefix::V6(v6.pop_front().unwrap_or_default()),
                k => V4Key(k).prefix(),
            })
            .collect();
        if self.order.is_empty() && self.order.capacity() > 4096 {
            *self = Self::default();
        }
        out
    }
}

impl Core {
    /// Recomputes the best path and ECMP set of `d`; queues the prefix when they changed.
    fn recompute<K: Key>(&mut self, key: K, d: &mut Dest) {
        let old = Self::selection(d);
        self.recompute_from(key, d, old);
    }

    /// The current best path and ECMP set of `d`.
    fn selection(d: &Dest) -> SmallVec<[(PeerId, u32, AttrId); 4]> {
        d.paths()[..(d.nbest as usize).min(d.paths().len())].iter().map(|p| (p.peer, p.path_id, p.attrs)).collect()
    }

    /// Recomputes `d` given the selection it had before the caller changed its paths.
    fn recompute_from<K: Key>(&mut self, key: K, d: &mut Dest, old: SmallVec<[(PeerId, u32, AttrId); 4]>) {
        let n = best::select(d.paths_mut(), &self.store, &self.ranks, &self.best);
        d.nbest = n;
        let changed = old.len() != n as usize
            || old.iter().zip(d.paths().iter()).any(|(o, p)| *o != (p.peer, p.path_id, p.attrs));
        if changed {
            if let Some(o) = old.first() {
                self.counts[o.0 .0 as usize].best -= 1;
            }
            if n > 0 {
                self.counts[d.paths()[0].peer.0 as usize].best += 1;
            }
            self.mark_dirty(key, d);
        }
    }

    #[inline]
    fn mark_dirty<K: Key>(&mut self, key: K, d: &mut Dest) {
        if !d.dirty {
            d.dirty = true;
            self.pending.push(key.prefix());
        }
    }

    fn count_add(&mut self, p: &Path) {
        let c = &mut self.counts[p.peer.0 as usize];
        c.received += 1;
        c.accepted += !p.rejected() as u64;
    }

    fn count_remove(&mut self, p: &Path) {
        let c = &mut self.counts[p.peer.0 as usize];
        c.received -= 1;
        c.accepted -= !p.rejected() as u64;
    }

    /// Inserts or replaces `path` (whose attribute reference the table takes over).
    #[inline]
    pub fn upsert<K: Key>(&mut self, t: &mut Table<K>, key: K, path: Path) {
        let d = t.entry_or_default(key);
        if let Some(i) = d.paths().iter().position(|p| p.peer == path.peer && p.path_id == path.path_id) {
            let old = d.paths()[i];
            if old.attrs == path.attrs && old.flags == path.flags {
                // Implicit withdraw of an identical path: nothing changes.
                self.store.release(path.attrs);
                return;
            }
            d.paths_mut()[i] = path;
            self.count_remove(&old);
            self.count_add(&path);
            if old.attrs == path.attrs && old.rejected() == path.rejected() {
                // Only the stale flag changed: selection unaffected (RFC 4724 §4.2 keeps
                // stale routes eligible).
                self.store.release(path.attrs);
                return;
            }
            self.store.release(old.attrs);
            self.recompute(key, d);
            return;
        }
        self.count_add(&path);
        if d.paths().is_empty() {
            d.push(path);
            let n = best::eligible(&path, &self.store) as u8;
            d.nbest = n;
            if n > 0 {
                self.counts[path.peer.0 as usize].best += 1;
                self.mark_dirty(key, d);
            }
            return;
        }
        let skip = d.nbest > 0
            && (!best::eligible(&path, &self.store)
                || best::cannot_change(&path, &d.paths()[0], &self.store, &self.ranks, &self.best));
        d.push(path);
        if !skip {
            self.recompute(key, d);
        }
    }

    /// Removes the path `(peer, path_id)` of `key`, if present.
    pub fn remove<K: Key>(&mut self, t: &mut Table<K>, key: K, peer: PeerId, path_id: u32) {
        let Some(d) = t.get_mut(&key) else { return };
        let Some(i) = d.paths().iter().position(|p| p.peer == peer && p.path_id == path_id) else { return };
        let was_selected = i < d.nbest as usize;
        let before = Self::selection(d);
        let old = d.remove(i);
        self.count_remove(&old);
        if was_selected {
            // The selection is compared with what it was before the removal, so losing
            // the last path is reported as a withdrawal.
            self.recompute_from(key, d, before);
        } else if d.nbest == 0 {
            // Nothing was selected: the remaining paths cannot become eligible by this.
        } else if !self.best.always_compare_med {
            // Deterministic MED: removing a group winner can change the outcome.
            self.recompute(key, d);
        }
        self.store.release(old.attrs);
        if d.paths().is_empty() && !d.dirty {
            t.remove(&key);
        }
    }

    /// Removes every path for which `f` holds; returns how many.
    pub fn remove_where<K: Key>(&mut self, t: &mut Table<K>, f: impl Fn(&Path) -> bool) -> usize {
        let mut removed = 0;
        t.retain(|key, d| {
            if !d.paths().iter().any(&f) {
                return true;
            }
            let old: SmallVec<[(PeerId, u32, AttrId); 4]> =
                d.paths()[..d.nbest as usize].iter().map(|p| (p.peer, p.path_id, p.attrs)).collect();
            let mut gone: SmallVec<[Path; 2]> = SmallVec::new();
            d.retain(|p| {
                if f(p) {
                    gone.push(*p);
                    false
                } else {
                    true
                }
            });
            let n = if d.paths().is_empty() {
                0
            } else {
                best::select(d.paths_mut(), &self.store, &self.ranks, &self.best)
            };
            d.nbest = n;
            let changed = old.len() != n as usize
                || old.iter().zip(d.paths().iter()).any(|(o, p)| *o != (p.peer, p.path_id, p.attrs));
            if changed {
                if let Some(o) = old.first() {
                    self.counts[o.0 .0 as usize].best -= 1;
                }
                if n > 0 {
                    self.counts[d.paths()[0].peer.0 as usize].best += 1;
                }
                self.mark_dirty(key, d);
            }
            for p in &gone {
                self.count_remove(p);
                self.store.release(p.attrs);
            }
            removed += gone.len();
            !d.paths().is_empty() || d.dirty
        });
        removed
    }

    /// Recomputes every prefix of `t`.
    pub fn recompute_all<K: Key>(&mut self, t: &mut Table<K>) {
        for (k, d) in t.iter_mut() {
            self.recompute(k, d);
        }
    }

    /// Sets `flag` on every path for which `f` holds; returns how many.
    pub fn flag_where<K: Key>(&mut self, t: &mut Table<K>, flag: u8, f: impl Fn(&Path) -> bool) -> usize {
        let mut n = 0;
        for d in t.values_mut() {
            for p in d.paths_mut().iter_mut().filter(|p| f(p)) {
                p.flags |= flag;
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod dest_tests {
    use super::*;

    fn p(i: u32) -> Path {
        Path { peer: PeerId(i), path_id: i * 10, attrs: AttrId(i), flags: (i % 3) as u8 }
    }

    #[test]
    fn dest_inline_heap_remove_retain() {
        let mut d = Dest::default();
        assert!(d.paths().is_empty());
        let mut model: Vec<Path> = Vec::new();
        for i in 0..40 {
            d.push(p(i));
            model.push(p(i));
            assert_eq!(d.paths(), &model[..]);
        }
        assert_eq!(d.remove(0), model.remove(0));
        assert_eq!(d.remove(17), model.remove(17));
        assert_eq!(d.remove(model.len() - 1), model.pop().unwrap());
        d.paths_mut()[3].flags = 9;
        model[3].flags = 9;
        d.retain(|x| x.peer.0 % 4 != 1);
        model.retain(|x| x.peer.0 % 4 != 1);
        assert_eq!(d.paths(), &model[..]);
        d.retain(|_| false);
        assert!(d.paths().is_empty());
        d.push(p(7));
        assert_eq!(d.paths(), &[p(7)]);
        let mut one = Dest::default();
        one.push(p(1));
        assert_eq!(one.remove(0), p(1));
        one.push(p(2));
        one.push(p(3));
        assert_eq!(one.paths(), &[p(2), p(3)]);
    }
}
