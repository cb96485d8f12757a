//! The [`Rib`]: Adj-RIBs-In and Loc-RIB behind one API, with the change queue.

use crate::rib::adj_in::{Core, Key, Path, Table, V4Key, V6Key, REJECTED, STALE};
use crate::rib::attrs::{AttrId, PathAttrs};
use crate::rib::best::{BestPathConfig, PeerRank};
use crate::rib::peer::{PeerConfig, PeerId, PeerKind};
use crate::rib::policy::{Policy, PolicyCtx, PolicyId};
use crate::rib::reflect;
use crate::rib::Prefix;
use bgp_proto::{AfiSafi, NextHop, Update};
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// A next-hop reachability check.
pub type Resolver = Box<dyn Fn(&NextHop) -> bool + Send>;

/// RIB-wide settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RibConfig {
    /// Our AS.
    pub local_as: u32,
    /// Our BGP identifier.
    pub router_id: Ipv4Addr,
    /// Our CLUSTER_ID as a route reflector (RFC 4456 §7); the router ID when `None`.
    pub cluster_id: Option<Ipv4Addr>,
    /// Best-path options.
    pub best: BestPathConfig,
}

impl RibConfig {
    /// Defaults for `local_as` and `router_id`.
    pub fn new(local_as: u32, router_id: Ipv4Addr) -> Self {
        RibConfig { local_as, router_id, cluster_id: None, best: BestPathConfig::default() }
    }

    /// The effective cluster ID.
    pub fn cluster_id(&self) -> Ipv4Addr {
        self.cluster_id.unwrap_or(self.router_id)
    }
}

/// Per-peer counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PeerCounts {
    /// Paths held from the peer (accepted or not).
    pub received: u64,
    /// Paths accepted by the loop checks and import policy.
    pub accepted: u64,
    /// Prefixes for which the peer's path is the best.
    pub best: u64,
}

/// A path as handed out: who it came from and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The peer that sent it ([`PeerId::LOCAL`] for originated routes).
    pub peer: PeerId,
    /// The ADD-PATH path id it was received with (0 without ADD-PATH).
    pub path_id: u32,
    /// The attributes (after import policy).
    pub attrs: Arc<PathAttrs>,
}

/// A Loc-RIB change: the new best path and ECMP set of a prefix, or its withdrawal.
/// Changes are coalesced: one per prefix per drain, with the state at drain time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BestChange {
    /// The prefix.
    pub prefix: Prefix,
    /// The ECMP set, best first (`ecmp[0]` is the best path); empty when the prefix
    /// has no usable path any more (withdrawn).
    pub ecmp: Vec<Route>,
}

impl BestChange {
    /// The best path, if any.
    pub fn best(&self) -> Option<&Route> {
        self.ecmp.first()
    }
    /// Whether the prefix was withdrawn.
    pub fn is_withdraw(&self) -> bool {
        self.ecmp.is_empty()
    }
}

/// One path of a prefix, for queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// The path.
    pub route: Route,
    /// It is the best path.
    pub best: bool,
    /// It is in the ECMP set (the best included).
    pub ecmp: bool,
    /// Marked stale by a graceful restart.
    pub stale: bool,
    /// Rejected by a loop check or import policy.
    pub rejected: bool,
}

#[derive(Debug)]
struct PeerSlot {
    config: PeerConfig,
    up: bool,
}

/// The RIB: Adj-RIBs-In and Loc-RIB for IPv4 and IPv6 unicast.
pub struct Rib {
    cfg: RibConfig,
    v4: Table<V4Key>,
    v6: Table<V6Key>,
    core: Core,
    peers: Vec<PeerSlot>,
    /// Ids of removed peers ([`Rib::remove_peer`]), for [`Rib::add_peer`] to give out
    /// again.
    free_peers: Vec<PeerId>,
    policies: Vec<Policy>,
    /// References per policy; 0 marks a free slot (its policy emptied, for reuse).
    policy_refs: Vec<u32>,
    resolver: Option<Resolver>,
}

impl std::fmt::Debug for Rib {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rib")
            .field("cfg", &self.cfg)
            .field("v4", &self.v4.len())
            .field("v6", &self.v6.len())
            .field("attr_sets", &self.core.store.len())
            .finish()
    }
}

fn rank_of(c: &PeerConfig) -> PeerRank {
    PeerRank {
        local: c.kind == PeerKind::Local,
        ebgp: c.kind == PeerKind::Ebgp,
        router_id: u32::from(c.router_id),
        addr: match c.address {
            IpAddr::V4(a) => u32::from(a) as u128,
            IpAddr::V6(a) => u128::from(a),
        },
    }
}

macro_rules! with_table {
    ($self:ident, $prefix:expr, |$t:ident, $k:ident| $body:expr) => {
        match $prefix {
            Prefix::V4(p) => {
                let $k = V4Key::new(p);
                let $t = &mut $self.v4;
                $body
            }
            Prefix::V6(p) => {
                let $k = V6Key::new(p);
                let $t = &mut $self.v6;
                $body
            }
        }
    };
}

impl Rib {
    /// An empty RIB. The local pseudo-peer ([`PeerId::LOCAL`]) exists and is up.
    pub fn new(cfg: RibConfig) -> Self {
        let mut rib = Rib {
            v4: Table::default(),
            v6: Table::default(),
            core: Core { best: cfg.best, ..Default::default() },
            peers: Vec::new(),
            free_peers: Vec::new(),
            policies: Vec::new(),
            policy_refs: Vec::new(),
            resolver: None,
            cfg,
        };
        let local =
            PeerConfig::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), rib.cfg.local_as, rib.cfg.router_id, PeerKind::Local);
        let id = rib.add_peer(local);
        debug_assert_eq!(id, PeerId::LOCAL);
        rib.peers[0].up = true;
        rib
    }

    /// Reserves room for `v4` more IPv4 and `v6` more IPv6 prefixes (e.g. the expected
    /// full-table size), avoiding rehashing while the table fills.
    pub fn reserve(&mut self, v4: usize, v6: usize) {
        self.v4.reserve(v4);
        self.v6.reserve(v6);
    }

    /// The settings.
    pub fn config(&self) -> &RibConfig {
        &self.cfg
    }

    /// Registers a peer (down until [`Rib::peer_up`]).
    ///
    /// The id of a peer removed with [`Rib::remove_peer`] is given out again, but only
    /// while the change queue is empty: once the removed peer's withdrawals have been
    /// drained (and exported), no pending change and no Adj-RIB-Out entry names it, so
    /// the new holder of the id inherits nothing from the old one.
    pub fn add_peer(&mut self, config: PeerConfig) -> PeerId {
        if !self.has_changes() {
            if let Some(id) = self.free_peers.pop() {
                let i = id.0 as usize;
                self.core.ranks[i] = rank_of(&config);
                self.core.counts[i] = PeerCounts::default();
                self.peers[i] = PeerSlot { config, up: false };
                return id;
            }
        }
        let id = PeerId(self.peers.len() as u32);
        self.core.ranks.push(rank_of(&config));
        self.core.counts.push(PeerCounts::default());
        self.peers.push(PeerSlot { config, up: false });
        id
    }

    /// Removes a peer for good (a neighbour deleted from the configuration, a dynamic
    /// neighbour whose session ended): its paths are removed as by [`Rib::peer_down`],
    /// its policies released, and its id kept for [`Rib::add_peer`] to reuse, so that
    /// neighbours coming and going do not grow the peer table. Returns the number of
    /// paths removed. The id must not be used again by the caller; the local
    /// pseudo-peer cannot be removed.
    pub fn remove_peer(&mut self, id: PeerId) -> usize {
        if id == PeerId::LOCAL || self.free_peers.contains(&id) {
            debug_assert!(false, "remove_peer({id:?}): the local pseudo-peer or already removed");
            return 0;
        }
        let n = self.peer_down(id);
        self.clear_peer_policies(id);
        self.free_peers.push(id);
        n
    }

    /// A peer's configuration.
    pub fn peer(&self, id: PeerId) -> &PeerConfig {
        &self.peers[id.0 as usize].config
    }

    /// Number of registered peers, the local pseudo-peer included (removed ones not).
    pub fn peer_count(&self) -> usize {
        self.peers.len() - self.free_peers.len()
    }

    /// Whether the peer is up.
    pub fn is_up(&self, id: PeerId) -> bool {
        self.peers[id.0 as usize].up
    }

    /// Registers a policy for [`PeerConfig::import_policy`] / `export_policy`. Equal
    /// policies are interned: they share one id, so peers with the same export policy
    /// share an update group. Each call adds a reference; [`Rib::release_policy`] drops
    /// one, and the last frees the policy (a reload that replaces policies, or dynamic
    /// neighbours coming and going, does not accumulate them).
    pub fn add_policy(&mut self, p: Policy) -> PolicyId {
        let live = |i: &usize| self.policy_refs[*i] > 0;
        if let Some(i) = (0..self.policies.len()).filter(live).find(|&i| self.policies[i] == p) {
            self.policy_refs[i] += 1;
            return PolicyId(i as u32);
        }
        match self.policy_refs.iter().position(|&n| n == 0) {
            Some(i) => {
                self.policies[i] = p;
                self.policy_refs[i] = 1;
                PolicyId(i as u32)
            }
            None => {
                self.policies.push(p);
                self.policy_refs.push(1);
                PolicyId(self.policies.len() as u32 - 1)
            }
        }
    }

    /// [`Rib::add_policy`] for a borrowed policy: cloned only when no equal one is
    /// registered (a mesh node's 99 peers share one).
    pub fn add_policy_ref(&mut self, p: &Policy) -> PolicyId {
        let live = |i: &usize| self.policy_refs[*i] > 0;
        if let Some(i) = (0..self.policies.len()).filter(live).find(|&i| self.policies[i] == *p) {
            self.policy_refs[i] += 1;
            return PolicyId(i as u32);
        }
        self.add_policy(p.clone())
    }

    /// Drops one reference to a policy from [`Rib::add_policy`]; the last one frees it
    /// and its id may be given to another policy.
    pub fn release_policy(&mut self, id: PolicyId) {
        let i = id.0 as usize;
        match self.policy_refs.get_mut(i) {
            Some(n) if *n > 0 => {
                *n -= 1;
                if *n == 0 {
                    self.policies[i] = Policy { name: String::new(), default: Default::default(), rules: Vec::new() };
                }
            }
            _ => debug_assert!(false, "release of a free policy {id:?}"),
        }
    }

    /// Number of policies held (distinct, referenced).
    pub fn policy_count(&self) -> usize {
        self.policy_refs.iter().filter(|&&n| n > 0).count()
    }

    /// Releases a peer's import and export policies and clears them (the neighbour is
    /// gone for good).
    pub fn clear_peer_policies(&mut self, id: PeerId) {
        let c = &mut self.peers[id.0 as usize].config;
        let old = [c.import_policy.take(), c.export_policy.take()];
        for p in old.into_iter().flatten() {
            self.release_policy(p);
        }
    }

    /// A registered policy.
    pub fn policy(&self, id: PolicyId) -> &Policy {
        &self.policies[id.0 as usize]
    }

    /// Replaces a peer's import and export policies in place (a configuration reload).
    /// Paths already held keep the verdict of the old import policy until the peer
    /// re-sends them (ROUTE-REFRESH); the export side takes effect with
    /// [`crate::rib::OutGroups::rejoin`]. Returns the replaced ids (import, export):
    /// the caller releases them ([`Rib::release_policy`]) once the peer has left the
    /// update group keyed by the old export policy.
    pub fn set_peer_policies(
        &mut self,
        id: PeerId,
        import: Option<PolicyId>,
        export: Option<PolicyId>,
    ) -> [Option<PolicyId>; 2] {
        let c = &mut self.peers[id.0 as usize].config;
        [std::mem::replace(&mut c.import_policy, import), std::mem::replace(&mut c.export_policy, export)]
    }

    /// Session established: the peer's routes are accepted from now on. `router_id` is
    /// the BGP identifier from its OPEN. Stale routes of a graceful restart stay until
    /// [`Rib::sweep_stale`].
    pub fn peer_up(&mut self, id: PeerId, router_id: Option<Ipv4Addr>) {
        let s = &mut self.peers[id.0 as usize];
        if let Some(r) = router_id {
            s.config.router_id = r;
            self.core.ranks[id.0 as usize] = rank_of(&s.config);
        }
        s.up = true;
    }

    /// Session down (without graceful restart): removes all the peer's paths.
    pub fn peer_down(&mut self, id: PeerId) -> usize {
        self.peers[id.0 as usize].up = false;
        self.core.remove_where(&mut self.v4, |p| p.peer == id) + self.core.remove_where(&mut self.v6, |p| p.peer == id)
    }

    /// Marks the peer's paths of one family stale, leaving its other families and its
    /// up state alone: the start of an enhanced route refresh (RFC 7313 §4, BoRR), or of
    /// dropping one family (RFC 7606 AFI/SAFI disable) with [`Rib::sweep_stale`].
    pub fn mark_family_stale(&mut self, id: PeerId, family: AfiSafi) -> usize {
        match family {
            AfiSafi::IPV4_UNICAST => self.core.flag_where(&mut self.v4, STALE, |p| p.peer == id),
            AfiSafi::IPV6_UNICAST => self.core.flag_where(&mut self.v6, STALE, |p| p.peer == id),
            _ => 0,
        }
    }

    /// Graceful restart (RFC 4724 §4.2): the session went down, keep the peer's routes
    /// of `families` but mark them stale; the rest are removed. Stale paths stay
    /// eligible for best path; re-announcement clears the mark.
    pub fn mark_stale(&mut self, id: PeerId, families: &[AfiSafi]) -> usize {
        self.peers[id.0 as usize].up = false;
        let mut n = 0;
        for (fam, is_v4) in [(AfiSafi::IPV4_UNICAST, true), (AfiSafi::IPV6_UNICAST, false)] {
            let keep = families.contains(&fam);
            n += match (keep, is_v4) {
                (true, true) => self.core.flag_where(&mut self.v4, STALE, |p| p.peer == id),
                (true, false) => self.core.flag_where(&mut self.v6, STALE, |p| p.peer == id),
                (false, true) => {
                    self.core.remove_where(&mut self.v4, |p| p.peer == id);
                    0
                }
                (false, false) => {
                    self.core.remove_where(&mut self.v6, |p| p.peer == id);
                    0
                }
            };
        }
        n
    }

    /// End-of-RIB received or the restart timer expired (RFC 4724 §4.2): removes the
    /// peer's paths of `family` still marked stale. Returns how many.
    pub fn sweep_stale(&mut self, id: PeerId, family: AfiSafi) -> usize {
        let f = |p: &Path| p.peer == id && p.stale();
        if family == AfiSafi::IPV4_UNICAST {
            self.core.remove_where(&mut self.v4, f)
        } else if family == AfiSafi::IPV6_UNICAST {
            self.core.remove_where(&mut self.v6, f)
        } else {
            0
        }
    }

    /// Applies an UPDATE received from `peer` (already through RFC 7606 handling):
    /// withdrawals, then announcements through the loop checks and import policy.
    /// Ignored when the peer is not up.
    pub fn apply_update(&mut self, peer: PeerId, u: &Update) {
        if !self.peers[peer.0 as usize].up {
            return;
        }
        for n in u.withdrawn_v4() {
            let k = V4Key::new(n.prefix);
            self.core.remove(&mut self.v4, k, peer, n.path_id.unwrap_or(0));
        }
        for n in u.withdrawn_v6() {
            let k = V6Key::new(n.prefix);
            self.core.remove(&mut self.v6, k, peer, n.path_id.unwrap_or(0));
        }
        if u.announced_v4().next().is_some() {
            let a = PathAttrs::from_update(u, AfiSafi::IPV4_UNICAST);
            self.import(peer, a, u.announced_v4().map(|n| (Prefix::V4(n.prefix), n.path_id.unwrap_or(0))));
        }
        if u.announced_v6().next().is_some() {
            let a = PathAttrs::from_update(u, AfiSafi::IPV6_UNICAST);
            self.import(peer, a, u.announced_v6().map(|n| (Prefix::V6(n.prefix), n.path_id.unwrap_or(0))));
        }
    }

    /// Announces `prefixes` (with path ids) from `peer` with one attribute set, through
    /// the loop checks and import policy.
    pub fn import(&mut self, peer: PeerId, mut attrs: PathAttrs, prefixes: impl IntoIterator<Item = (Prefix, u32)>) {
        // RFC 8326 §4.2: a path tagged GRACEFUL_SHUTDOWN is about to go away; give it the
        // lowest LOCAL_PREF so traffic moves to alternatives before the session closes.
        if attrs.has_community(bgp_proto::Community::GRACEFUL_SHUTDOWN) {
            attrs.local_pref = Some(0);
        }
        let cfg = &self.peers[peer.0 as usize].config;
        let kind = cfg.kind;
        let looped = reflect::import_loop(
            &attrs,
            kind,
            cfg.local_as.unwrap_or(self.cfg.local_as),
            cfg.allow_own_as,
            self.cfg.router_id,
            self.cfg.cluster_id(),
        )
        .is_some();
        let policy = cfg.import_policy;
        let base = self.intern(attrs);
        for (prefix, path_id) in prefixes {
            let (id, flags) = match policy {
                Some(pid) if !looped => {
                    let ctx = PolicyCtx { prefix, peer_kind: kind, local_as: self.cfg.local_as, from_local: false };
                    let v = self.policies[pid.0 as usize].evaluate(&ctx, self.core.store.get(base));
                    match (v.accept, v.modified) {
                        (true, Some(m)) => (self.intern(m), 0),
                        (acc, _) => {
                            self.core.store.add_ref(base);
                            (base, if acc { 0 } else { REJECTED })
                        }
                    }
                }
                _ => {
                    self.core.store.add_ref(base);
                    (base, if looped { REJECTED } else { 0 })
                }
            };
            let path = Path { peer, path_id, attrs: id, flags };
            with_table!(self, prefix, |t, k| self.core.upsert(t, k, path));
        }
        self.core.store.release(base);
    }

    fn intern(&mut self, a: PathAttrs) -> AttrId {
        let id = self.core.store.intern(a);
        if let Some(r) = &self.resolver {
            if self.core.store.refs(id) == 1 {
                let ok = self.core.store.get(id).next_hop.as_ref().is_none_or(r);
                self.core.store.set_nh_ok(id, ok);
            }
        }
        id
    }

    /// Withdraws the path `(peer, path_id)` of `prefix`.
    pub fn withdraw(&mut self, peer: PeerId, prefix: Prefix, path_id: u32) {
        with_table!(self, prefix, |t, k| self.core.remove(t, k, peer, path_id));
    }

    /// Originates a local prefix (e.g. the node's /26 block) with `attrs` as the
    /// local pseudo-peer. `attrs.next_hop` may be `None`: export fills in the session
    /// address. Local routes win best path over learned ones.
    pub fn originate(&mut self, prefix: Prefix, attrs: PathAttrs) {
        self.import(PeerId::LOCAL, attrs, [(prefix, 0)]);
    }

    /// Withdraws a local prefix.
    pub fn withdraw_local(&mut self, prefix: Prefix) {
        self.withdraw(PeerId::LOCAL, prefix, 0);
    }

    /// Sets the next-hop reachability check (RFC 4271 §9.1.2 (1): a route whose
    /// NEXT_HOP is unresolvable is excluded). It is applied to new attribute sets; call
    /// [`Rib::revalidate_next_hops`] when the underlying routing changes.
    pub fn set_next_hop_resolver(&mut self, f: Resolver) {
        self.resolver = Some(f);
        self.revalidate_next_hops();
    }

    /// Re-evaluates every attribute set with the resolver and, if any flag changed,
    /// recomputes every prefix (queuing the changes).
    pub fn revalidate_next_hops(&mut self) {
        let Some(r) = &self.resolver else { return };
        if self.core.store.revalidate(r.as_ref()) {
            self.core.recompute_all(&mut self.v4);
            self.core.recompute_all(&mut self.v6);
        }
    }

    /// Whether changes are queued.
    pub fn has_changes(&self) -> bool {
        !self.core.pending.is_empty()
    }

    /// Drains the Loc-RIB change queue: one entry per changed prefix, in first-change
    /// order, with the current best path and ECMP set.
    pub fn drain_changes(&mut self) -> Vec<BestChange> {
        self.drain_changes_up_to(usize::MAX)
    }

    /// Drains at most `max` entries of the change queue (the oldest), as
    /// [`drain_changes`](Self::drain_changes): a caller that exports a million changes in
    /// slices holds one slice of [`BestChange`]s at a time, not all of them.
    pub fn drain_changes_up_to(&mut self, max: usize) -> Vec<BestChange> {
        let pending = self.core.pending.take(max);
        let mut out = Vec::with_capacity(pending.len());
        for prefix in pending {
            let ecmp = with_table!(self, prefix, |t, k| {
                let Some(d) = t.get_mut(&k) else { continue };
                d.dirty = false;
                let ecmp: Vec<Route> = d.paths()[..d.nbest as usize]
                    .iter()
                    .map(|p| Route { peer: p.peer, path_id: p.path_id, attrs: self.core.store.get(p.attrs).clone() })
                    .collect();
                if d.paths().is_empty() {
                    t.remove(&k);
                }
                ecmp
            });
            out.push(BestChange { prefix, ecmp });
        }
        out
    }

    /// All paths of `prefix`, best first.
    pub fn routes(&self, prefix: Prefix) -> Vec<RouteInfo> {
        let d = match prefix {
            Prefix::V4(p) => self.v4.get(&V4Key::new(p)),
            Prefix::V6(p) => self.v6.get(&V6Key::new(p)),
        };
        let Some(d) = d else { return Vec::new() };
        d.paths()
            .iter()
            .enumerate()
            .map(|(i, p)| RouteInfo {
                route: Route { peer: p.peer, path_id: p.path_id, attrs: self.core.store.get(p.attrs).clone() },
                best: i == 0 && d.nbest > 0,
                ecmp: i < d.nbest as usize,
                stale: p.stale(),
                rejected: p.rejected(),
            })
            .collect()
    }

    /// The best path of `prefix`.
    pub fn best(&self, prefix: Prefix) -> Option<Route> {
        self.routes(prefix).into_iter().find(|r| r.best).map(|r| r.route)
    }

    /// Calls `f` with every prefix that has a best path and its ECMP set (best first).
    pub fn for_each_best(&self, mut f: impl FnMut(Prefix, &[Route])) {
        let mut buf = Vec::new();
        self.each(&self.v4, &mut buf, &mut f);
        self.each(&self.v6, &mut buf, &mut f);
    }

    fn each<K: Key>(&self, t: &Table<K>, buf: &mut Vec<Route>, f: &mut impl FnMut(Prefix, &[Route])) {
        for (k, d) in t.iter() {
            if d.nbest == 0 {
                continue;
            }
            buf.clear();
            buf.extend(d.paths()[..d.nbest as usize].iter().map(|p| Route {
                peer: p.peer,
                path_id: p.path_id,
                attrs: self.core.store.get(p.attrs).clone(),
            }));
            f(k.prefix(), buf);
        }
    }

    /// The counters of a peer.
    pub fn peer_counts(&self, id: PeerId) -> PeerCounts {
        self.core.counts[id.0 as usize]
    }

    /// Number of prefixes in the table (with or without a best path).
    pub fn prefix_count(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Number of distinct interned attribute sets.
    pub fn attr_set_count(&self) -> usize {
        self.core.store.len()
    }
}
