//! Interned path attribute sets.
//!
//! A full table holds a million prefixes but only a few thousand distinct attribute
//! sets, so paths refer to a [`PathAttrs`] by a `u32` [`AttrId`] into a reference-counted
//! slab, deduplicated through a hash map (BIRD's `rta` cache, FRR's `attrhash`).

use bgp_proto::attr::{flags, Aggregator};
use bgp_proto::{
    AfiSafi, AsPath, AttrValue, Attribute, Community, EncodeCtx, ExtendedCommunity, LargeCommunity, NextHop, Origin,
    Update,
};
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// The path attributes that matter for best path and export (RFC 4271 §5), normalised.
///
/// MP_REACH/MP_UNREACH are not part of it: the MP next hop is folded into `next_hop`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct PathAttrs {
    /// ORIGIN (RFC 4271 §5.1.1).
    pub origin: Origin,
    /// AS_PATH, merged with AS4_PATH (RFC 6793 §4.2.3).
    pub as_path: AsPath,
    /// NEXT_HOP, or the MP_REACH_NLRI next hop (RFC 4760 §3). `None` for local routes
    /// that take the session's address.
    pub next_hop: Option<NextHop>,
    /// MULTI_EXIT_DISC (RFC 4271 §5.1.4).
    pub med: Option<u32>,
    /// LOCAL_PREF (RFC 4271 §5.1.5).
    pub local_pref: Option<u32>,
    /// ATOMIC_AGGREGATE (RFC 4271 §5.1.6).
    pub atomic_aggregate: bool,
    /// AGGREGATOR (RFC 4271 §5.1.7), with AS4_AGGREGATOR folded in (RFC 6793 §4.2.3).
    pub aggregator: Option<Aggregator>,
    /// COMMUNITIES (RFC 1997).
    pub communities: Vec<Community>,
    /// EXTENDED COMMUNITIES (RFC 4360).
    pub ext_communities: Vec<ExtendedCommunity>,
    /// LARGE_COMMUNITY (RFC 8092).
    pub large_communities: Vec<LargeCommunity>,
    /// ORIGINATOR_ID (RFC 4456 §8).
    pub originator_id: Option<Ipv4Addr>,
    /// CLUSTER_LIST (RFC 4456 §8).
    pub cluster_list: Vec<Ipv4Addr>,
    /// Only to Customer (RFC 9234).
    pub otc: Option<u32>,
    /// Unrecognised optional transitive attributes, passed on with the Partial bit set
    /// (RFC 4271 §5).
    pub unknown: Vec<Attribute>,
}

impl Default for PathAttrs {
    fn default() -> Self {
        PathAttrs {
            origin: Origin::Igp,
            as_path: AsPath::default(),
            next_hop: None,
            med: None,
            local_pref: None,
            atomic_aggregate: false,
            aggregator: None,
            communities: Vec::new(),
            ext_communities: Vec::new(),
            large_communities: Vec::new(),
            originator_id: None,
            cluster_list: Vec::new(),
            otc: None,
            unknown: Vec::new(),
        }
    }
}

impl PathAttrs {
    /// The attribute set an UPDATE announces for `family` (IPv4 or IPv6 unicast): the
    /// shared attributes plus the family's next hop (NEXT_HOP for IPv4 NLRI in the NLRI
    /// field, else the MP_REACH_NLRI next hop).
    pub fn from_update(u: &Update, family: AfiSafi) -> PathAttrs {
        let mut a = PathAttrs::default();
        let mut as4_agg = None;
        let mut v4_nh = None;
        for attr in &u.attributes {
            match &attr.value {
                AttrValue::Origin(o) => a.origin = *o,
                AttrValue::AsPath(_) | AttrValue::As4Path(_) => {}
                AttrValue::NextHop(n) => v4_nh = Some(*n),
                AttrValue::Med(m) => a.med = Some(*m),
                AttrValue::LocalPref(l) => a.local_pref = Some(*l),
                AttrValue::AtomicAggregate => a.atomic_aggregate = true,
                AttrValue::Aggregator(g) => a.aggregator = Some(*g),
                AttrValue::As4Aggregator(g) => as4_agg = Some(*g),
                AttrValue::Communities(c) => a.communities = c.clone(),
                AttrValue::OriginatorId(o) => a.originator_id = Some(*o),
                AttrValue::ClusterList(c) => a.cluster_list = c.clone(),
                AttrValue::MpReach(m) if m.family == family => a.next_hop = Some(m.next_hop.clone()),
                AttrValue::MpReach(_) | AttrValue::MpUnreach(_) => {}
                AttrValue::ExtendedCommunities(c) => a.ext_communities = c.clone(),
                AttrValue::LargeCommunities(c) => a.large_communities = c.clone(),
                AttrValue::Otc(o) => a.otc = Some(*o),
                AttrValue::Unknown { .. } => {
                    // RFC 4271 §5: unrecognised non-transitive attributes are dropped,
                    // transitive ones passed on with Partial set.
                    if attr.flags & flags::TRANSITIVE != 0 {
                        a.unknown.push(Attribute { flags: attr.flags | flags::PARTIAL, value: attr.value.clone() });
                    }
                }
            }
        }
        a.as_path = u.effective_as_path().unwrap_or_default();
        // RFC 6793 §4.2.3: AS4_AGGREGATOR replaces an AGGREGATOR carrying AS_TRANS.
        if let (Some(g), Some(g4)) = (a.aggregator, as4_agg) {
            if g.asn == bgp_proto::AS_TRANS as u32 {
                a.aggregator = Some(g4);
            }
        }
        if family == AfiSafi::IPV4_UNICAST && a.next_hop.is_none() {
            a.next_hop = v4_nh.map(NextHop::V4);
        }
        a
    }

    /// Whether the COMMUNITIES attribute holds `c`.
    pub fn has_community(&self, c: Community) -> bool {
        self.communities.contains(&c)
    }

    /// The attribute list to encode (without MP attributes and, unless `v4_next_hop`,
    /// without NEXT_HOP), in type-code order. With a 2-octet `ctx`, an AS4_PATH is added
    /// when the path holds 4-octet ASNs (RFC 6793 §4.2.2).
    pub fn to_attributes(&self, ctx: &EncodeCtx, v4_next_hop: bool) -> Vec<Attribute> {
        let mut v = Vec::with_capacity(8);
        v.push(Attribute::new(AttrValue::Origin(self.origin)));
        v.push(Attribute::new(AttrValue::AsPath(self.as_path.clone())));
        if v4_next_hop {
            if let Some(NextHop::V4(n)) = &self.next_hop {
                v.push(Attribute::new(AttrValue::NextHop(*n)));
            }
        }
        if let Some(m) = self.med {
            v.push(Attribute::new(AttrValue::Med(m)));
        }
        if let Some(l) = self.local_pref {
            v.push(Attribute::new(AttrValue::LocalPref(l)));
        }
        if self.atomic_aggregate {
            v.push(Attribute::new(AttrValue::AtomicAggregate));
        }
        if let Some(g) = self.aggregator {
            v.push(Attribute::new(AttrValue::Aggregator(g)));
        }
        if !self.communities.is_empty() {
            v.push(Attribute::new(AttrValue::Communities(self.communities.clone())));
        }
        if let Some(o) = self.originator_id {
            v.push(Attribute::new(AttrValue::OriginatorId(o)));
        }
        if !self.cluster_list.is_empty() {
            v.push(Attribute::new(AttrValue::ClusterList(self.cluster_list.clone())));
        }
        if !self.ext_communities.is_empty() {
            v.push(Attribute::new(AttrValue::ExtendedCommunities(self.ext_communities.clone())));
        }
        if !ctx.four_octet_as && self.as_path.has_wide_asn() {
            v.push(Attribute::new(AttrValue::As4Path(self.as_path.clone())));
            if let Some(g) = self.aggregator.filter(|g| g.asn > 0xffff) {
                v.push(Attribute::new(AttrValue::As4Aggregator(g)));
            }
        }
        if !self.large_communities.is_empty() {
            v.push(Attribute::new(AttrValue::LargeCommunities(self.large_communities.clone())));
        }
        if let Some(o) = self.otc {
            v.push(Attribute::new(AttrValue::Otc(o)));
        }
        v.extend(self.unknown.iter().cloned());
        v
    }
}

/// Index of an interned attribute set in an [`AttrStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttrId(pub u32);

/// The fields of an attribute set that best-path selection reads, cached in the slab
/// so the comparison loop touches one cache line per path.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BestKey {
    pub local_pref: u32,
    pub as_len: u32,
    pub origin: u8,
    pub med: Option<u32>,
    pub neigh_as: u32,
    pub cluster_len: u32,
    pub originator: Option<u32>,
    pub nh_ok: bool,
}

impl BestKey {
    fn of(a: &PathAttrs, nh_ok: bool) -> Self {
        BestKey {
            // RFC 4271 §9.1.1: LOCAL_PREF, default 100 when absent (common practice).
            local_pref: a.local_pref.unwrap_or(100),
            as_len: a.as_path.path_len() as u32,
            origin: a.origin as u8,
            med: a.med,
            neigh_as: a.as_path.first_as().unwrap_or(0),
            cluster_len: a.cluster_list.len() as u32,
            originator: a.originator_id.map(u32::from),
            nh_ok,
        }
    }
}

struct Slot {
    attrs: Option<Arc<PathAttrs>>,
    refs: u32,
    key: BestKey,
}

/// A reference-counted interner of [`PathAttrs`].
///
/// [`AttrStore::intern`] returns an id holding one reference; [`AttrStore::add_ref`]
/// and [`AttrStore::release`] adjust it; a set whose count drops to zero is freed and
/// its slot reused.
#[derive(Default)]
pub struct AttrStore {
    slots: Vec<Slot>,
    map: FxHashMap<Arc<PathAttrs>, u32>,
    free: Vec<u32>,
}

impl std::fmt::Debug for AttrStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttrStore").field("live", &self.map.len()).finish()
    }
}

impl AttrStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Interns `a`, returning its id with one reference taken.
    pub fn intern(&mut self, a: PathAttrs) -> AttrId {
        if let Some(&id) = self.map.get(&a) {
            self.slots[id as usize].refs += 1;
            return AttrId(id);
        }
        self.insert_new(Arc::new(a))
    }

    /// Interns a shared set, returning its id with one reference taken.
    pub fn intern_arc(&mut self, a: &Arc<PathAttrs>) -> AttrId {
        if let Some(&id) = self.map.get(a) {
            self.slots[id as usize].refs += 1;
            return AttrId(id);
        }
        self.insert_new(a.clone())
    }

    fn insert_new(&mut self, a: Arc<PathAttrs>) -> AttrId {
        let key = BestKey::of(&a, true);
        let slot = Slot { attrs: Some(a.clone()), refs: 1, key };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = slot;
                id
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.map.insert(a, id);
        AttrId(id)
    }

    /// Takes one more reference.
    #[inline]
    pub fn add_ref(&mut self, id: AttrId) {
        self.slots[id.0 as usize].refs += 1;
    }

    /// Drops one reference, freeing the set at zero.
    #[inline]
    pub fn release(&mut self, id: AttrId) {
        let s = &mut self.slots[id.0 as usize];
        s.refs -= 1;
        if s.refs == 0 {
            if let Some(a) = s.attrs.take() {
                self.map.remove(&a);
            }
            self.free.push(id.0);
        }
    }

    /// The attribute set. Panics on a freed id (a bug).
    #[inline]
    pub fn get(&self, id: AttrId) -> &Arc<PathAttrs> {
        self.slots[id.0 as usize].attrs.as_ref().expect("live attribute id")
    }

    /// The reference count of `id` (0 when free).
    pub fn refs(&self, id: AttrId) -> u32 {
        self.slots.get(id.0 as usize).map_or(0, |s| s.refs)
    }

    #[inline]
    pub(crate) fn key(&self, id: AttrId) -> &BestKey {
        &self.slots[id.0 as usize].key
    }

    /// Number of live sets.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no set is live.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub(crate) fn set_nh_ok(&mut self, id: AttrId, ok: bool) {
        self.slots[id.0 as usize].key.nh_ok = ok;
    }

    /// Re-evaluates next-hop reachability of every live set with `reachable`; returns
    /// whether any flag changed.
    pub(crate) fn revalidate(&mut self, reachable: &dyn Fn(&NextHop) -> bool) -> bool {
        let mut changed = false;
        for s in &mut self.slots {
            if let Some(a) = &s.attrs {
                let ok = a.next_hop.as_ref().is_none_or(reachable);
                changed |= ok != s.key.nh_ok;
                s.key.nh_ok = ok;
            }
        }
        changed
    }
}
