//! Best-path selection: RFC 4271 §9.1.2.2 with the RFC 4456 §9 tie-breaks.
//!
//! Order (first difference decides, lower [`Ordering`] is better):
//!
//! 0. Locally originated routes win over learned ones (BIRD's and FRR's implicit
//!    "local" preference; RFC 4271 leaves local routes to the implementation).
//! 1. Highest LOCAL_PREF (100 when absent) — §9.1.1 degree of preference.
//! 2. Shortest AS_PATH ([`bgp_proto::AsPath::path_len`]: an AS_SET counts 1,
//!    confederation segments 0) — §9.1.2.2 a.
//! 3. Lowest ORIGIN — §9.1.2.2 b.
//! 4. Lowest MED, only between paths from the same neighbour AS (the first AS of the
//!    path) unless `always_compare_med`; a missing MED is 0, or the worst value with
//!    `med_missing_as_worst` — §9.1.2.2 c.
//! 5. eBGP-learned over iBGP-learned — §9.1.2.2 d.
//! 6. Shortest CLUSTER_LIST — RFC 4456 §9.
//! 7. Lowest ORIGINATOR_ID, or the peer's BGP identifier when absent — §9.1.2.2 f with
//!    RFC 4456 §9.
//! 8. Lowest peer address — §9.1.2.2 g; then the lowest ADD-PATH path id, so the order
//!    is total.
//!
//! (§9.1.2.2 e, IGP cost to the next hop, is the driver's: unreachable next hops make a
//! path ineligible, see [`crate::rib::Rib::revalidate_next_hops`].)
//!
//! Because step 4 only applies within a neighbour-AS group, the relation is not
//! transitive and the result of a pairwise scan would depend on arrival order. We use
//! deterministic MED (Cisco `bgp deterministic-med`, FRR's default): the best of each
//! neighbour-AS group is chosen with all steps, then the group winners are compared
//! without step 4.
//!
//! The ECMP (multipath) set holds the best and the eligible paths equal to it on steps
//! 0-5 and from the same neighbour AS (any AS with `multipath_relax`, then MED is only
//! compared for the same neighbour AS), at most `max_paths`, ordered by steps 6-8.

use crate::rib::adj_in::Path;
use crate::rib::attrs::{AttrStore, BestKey};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::cmp::Ordering;

/// Best-path options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct BestPathConfig {
    /// Compare MED between paths from different neighbour ASes.
    pub always_compare_med: bool,
    /// Treat a missing MED as the worst value (4294967295) instead of 0.
    pub med_missing_as_worst: bool,
    /// Largest ECMP set (1 disables multipath).
    pub max_paths: u8,
    /// Allow ECMP between paths from different neighbour ASes (FRR's
    /// `bestpath as-path multipath-relax`).
    pub multipath_relax: bool,
}

impl Default for BestPathConfig {
    fn default() -> Self {
        BestPathConfig { always_compare_med: false, med_missing_as_worst: false, max_paths: 8, multipath_relax: false }
    }
}

/// What best path needs to know of a peer, indexed by peer id.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PeerRank {
    pub local: bool,
    pub ebgp: bool,
    pub router_id: u32,
    pub addr: u128,
}

#[derive(Clone, Copy)]
struct Cand<'a> {
    k: &'a BestKey,
    r: &'a PeerRank,
    med: u32,
    path_id: u32,
}

impl<'a> Cand<'a> {
    #[inline]
    fn new(p: &Path, store: &'a AttrStore, ranks: &'a [PeerRank], cfg: &BestPathConfig) -> Self {
        let k = store.key(p.attrs);
        let miss = if cfg.med_missing_as_worst { u32::MAX } else { 0 };
        Cand { k, r: &ranks[p.peer.0 as usize], med: k.med.unwrap_or(miss), path_id: p.path_id }
    }
}

/// Steps 0-3.
#[inline]
fn cmp_pre(a: &Cand, b: &Cand) -> Ordering {
    b.r.local
        .cmp(&a.r.local)
        .then_with(|| b.k.local_pref.cmp(&a.k.local_pref))
        .then_with(|| a.k.as_len.cmp(&b.k.as_len))
        .then_with(|| a.k.origin.cmp(&b.k.origin))
}

/// Step 4, when applicable.
#[inline]
fn cmp_med(a: &Cand, b: &Cand, always: bool) -> Ordering {
    if always || a.k.neigh_as == b.k.neigh_as {
        a.med.cmp(&b.med)
    } else {
        Ordering::Equal
    }
}

/// Step 5.
#[inline]
fn cmp_ebgp(a: &Cand, b: &Cand) -> Ordering {
    b.r.ebgp.cmp(&a.r.ebgp)
}

/// Steps 6-8.
#[inline]
fn cmp_post(a: &Cand, b: &Cand) -> Ordering {
    a.k.cluster_len
        .cmp(&b.k.cluster_len)
        .then_with(|| a.k.originator.unwrap_or(a.r.router_id).cmp(&b.k.originator.unwrap_or(b.r.router_id)))
        .then_with(|| a.r.addr.cmp(&b.r.addr))
        .then_with(|| a.path_id.cmp(&b.path_id))
}

#[inline]
fn cmp_full(a: &Cand, b: &Cand, always: bool) -> Ordering {
    cmp_pre(a, b).then_with(|| cmp_med(a, b, always)).then_with(|| cmp_ebgp(a, b)).then_with(|| cmp_post(a, b))
}

/// Whether `p` may be selected: accepted by import and with a reachable next hop.
#[inline]
pub(crate) fn eligible(p: &Path, store: &AttrStore) -> bool {
    !p.rejected() && store.key(p.attrs).nh_ok
}

/// Whether adding the new path `p` leaves the best path `best` and its ECMP set
/// unchanged, so that no recomputation is needed.
///
/// True when `p` loses to `best` on all steps (MED only when comparable) and is not
/// ECMP-equal to it. Then, with deterministic MED: if `p` is in `best`'s neighbour-AS
/// group, `best` stays the group winner; otherwise `p` can at most replace the winner
/// of its own group, and it loses to `best` in the cross-group order (which is total).
#[inline]
pub(crate) fn cannot_change(
    p: &Path,
    best: &Path,
    store: &AttrStore,
    ranks: &[PeerRank],
    cfg: &BestPathConfig,
) -> bool {
    let (c, b) = (Cand::new(p, store, ranks, cfg), Cand::new(best, store, ranks, cfg));
    let always = cfg.always_compare_med;
    let pre = cmp_pre(&c, &b);
    if pre == Ordering::Greater {
        return true;
    }
    if pre == Ordering::Less {
        return false;
    }
    let rest = cmp_med(&c, &b, always).then_with(|| cmp_ebgp(&c, &b));
    if rest == Ordering::Equal && cfg.max_paths > 1 && (cfg.multipath_relax || c.k.neigh_as == b.k.neigh_as) {
        // May join the ECMP set.
        return false;
    }
    rest.then_with(|| cmp_post(&c, &b)) == Ordering::Greater
}

/// Selects the best path and the ECMP set among `paths` and reorders them: the best
/// first, then the other ECMP members, then the rest. Returns the size of the set
/// (0 when no path is eligible).
pub(crate) fn select(paths: &mut [Path], store: &AttrStore, ranks: &[PeerRank], cfg: &BestPathConfig) -> u8 {
    let n = paths.len();
    if n == 1 {
        return eligible(&paths[0], store) as u8;
    }
    let always = cfg.always_compare_med;
    // Deterministic MED: per neighbour AS, the winner on all steps.
    let mut winners: SmallVec<[(u32, usize); 8]> = SmallVec::new();
    for (i, p) in paths.iter().enumerate() {
        if !eligible(p, store) {
            continue;
        }
        let c = Cand::new(p, store, ranks, cfg);
        let g = if always { 0 } else { c.k.neigh_as };
        match winners.iter_mut().find(|(a, _)| *a == g) {
            Some(w) => {
                let wc = Cand::new(&paths[w.1], store, ranks, cfg);
                if cmp_full(&c, &wc, always) == Ordering::Less {
                    w.1 = i;
                }
            }
            None => winners.push((g, i)),
        }
    }
    let Some(&(_, mut best)) = winners.first() else { return 0 };
    for &(_, i) in &winners[1..] {
        let c = Cand::new(&paths[i], store, ranks, cfg);
        let bc = Cand::new(&paths[best], store, ranks, cfg);
        // Across groups MED is not compared (unless always, where there is one group).
        if cmp_pre(&c, &bc).then_with(|| cmp_ebgp(&c, &bc)).then_with(|| cmp_post(&c, &bc)) == Ordering::Less {
            best = i;
        }
    }
    // The ECMP set.
    let bc = Cand::new(&paths[best], store, ranks, cfg);
    let mut set: SmallVec<[usize; 8]> = SmallVec::new();
    set.push(best);
    if cfg.max_paths > 1 {
        for (i, p) in paths.iter().enumerate() {
            if i == best || !eligible(p, store) {
                continue;
            }
            let c = Cand::new(p, store, ranks, cfg);
            let same_as = c.k.neigh_as == bc.k.neigh_as;
            if (same_as || cfg.multipath_relax)
                && cmp_pre(&c, &bc) == Ordering::Equal
                && cmp_med(&c, &bc, always) == Ordering::Equal
                && cmp_ebgp(&c, &bc) == Ordering::Equal
            {
                set.push(i);
            }
        }
        if set.len() > 1 {
            set[1..].sort_by(|&x, &y| {
                cmp_post(&Cand::new(&paths[x], store, ranks, cfg), &Cand::new(&paths[y], store, ranks, cfg))
            });
            set.truncate(cfg.max_paths as usize);
        }
    }
    // Move the set to the front, in order. Paths are unique by (peer, path id).
    let ids: SmallVec<[(u32, u32); 8]> = set.iter().map(|&i| (paths[i].peer.0, paths[i].path_id)).collect();
    for (k, id) in ids.iter().enumerate() {
        if let Some(j) = paths[k..].iter().position(|p| (p.peer.0, p.path_id) == *id) {
            paths.swap(k, k + j);
        }
    }
    set.len() as u8
}
