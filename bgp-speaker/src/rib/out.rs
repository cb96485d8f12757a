//! Adj-RIB-Out per update group (FRR's update groups).
//!
//! Peers whose outbound settings are identical — export policy, kind (eBGP / iBGP /
//! reflector client), [`EncodeCtx`] (4-octet AS, ADD-PATH, extended message, extended
//! next hop), families, next-hop mode and self addresses, MED passing, local AS — form
//! one [`OutGroup`](GroupKey). The group computes the outgoing attributes of every
//! prefix once, keeps one Adj-RIB-Out, and encodes each UPDATE once; the resulting
//! [`bytes::Bytes`] are written to every member (cheap clones).
//!
//! Split horizon: a route is not sent back to the member it came from. Such
//! announcements are targeted [`Target::AllExcept`]; a member that had the prefix from
//! another source gets a [`Target::Only`] withdrawal.
//!
//! With ADD-PATH send negotiated (RFC 7911) for a family, the whole ECMP set is
//! advertised, each path with a path id `source peer id << 16 | received path id`
//! (unique while both stay below 65536); otherwise only the best path, without id.
//!
//! The driver sends End-of-RIB (RFC 4724 §2) after the batches of [`OutGroups::join`].

use crate::rib::adj_out::{AdjOut, OutEntry};
use crate::rib::attrs::{AttrId, AttrStore, PathAttrs};
use crate::rib::export::{export, ExportSource, ExportTarget};
use crate::rib::loc::{BestChange, Rib, Route};
use crate::rib::peer::{NextHopMode, PeerId, PeerKind};
use crate::rib::policy::PolicyId;
use crate::rib::Prefix;
use bgp_proto::{AfiSafi, EncodeCtx, FamilySet, NextHop, Nlri, Prefixes, UpdateBuilder};
use bytes::{Bytes, BytesMut};
use ipnet::{Ipv4Net, Ipv6Net};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Index of an update group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub u32);

/// What a member brings besides its [`crate::rib::PeerConfig`]: the negotiated session
/// parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemberConfig {
    /// The negotiated encoding.
    pub ctx: EncodeCtx,
    /// The negotiated families (IPv4 / IPv6 unicast are handled).
    pub families: FamilySet,
    /// Our IPv4 address on the session (next-hop self).
    pub nh_self_v4: Option<Ipv4Addr>,
    /// Our IPv6 global (and link-local) address on the session (next-hop self).
    pub nh_self_v6: Option<(Ipv6Addr, Option<Ipv6Addr>)>,
}

/// The identity of an update group: everything that determines the bytes sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupKey {
    /// Export policy.
    pub policy: Option<PolicyId>,
    /// Member kind.
    pub kind: PeerKind,
    /// Next-hop mode.
    pub next_hop: NextHopMode,
    /// MED passing.
    pub send_med: bool,
    /// Our AS.
    pub local_as: u32,
    /// Session parameters.
    pub member: MemberConfig,
}

/// Who a batch goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// Every member of the group.
    All,
    /// Every member but this one (split horizon).
    AllExcept(PeerId),
    /// Only this member.
    Only(PeerId),
}

impl Target {
    /// Whether `peer` (a member of the group) is among the recipients.
    pub fn includes(&self, peer: PeerId) -> bool {
        match *self {
            Target::All => true,
            Target::AllExcept(x) => x != peer,
            Target::Only(x) => x == peer,
        }
    }
}

/// Encoded UPDATE messages for (some members of) a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutBatch {
    /// The group.
    pub group: GroupId,
    /// The recipients among its members.
    pub target: Target,
    /// Whole BGP messages, back to back.
    pub bytes: Bytes,
}

#[derive(Debug)]
struct Group {
    key: GroupKey,
    members: Vec<PeerId>,
    adj_out: AdjOut,
    builder: UpdateBuilder,
    /// The encoded whole-table dump of a small Adj-RIB-Out, for the next member that
    /// joins (a mesh node's 99 peers join one group holding its own block): valid until
    /// the Adj-RIB-Out changes.
    dump_cache: Option<DumpCache>,
}

/// See [`Group::dump_cache`].
#[derive(Debug)]
struct DumpCache {
    /// The UPDATEs, back to back.
    bytes: Bytes,
    /// The members whose own routes the table holds (split horizon: their dump differs).
    srcs: Vec<PeerId>,
}

/// Adj-RIB-Out entries up to which a group keeps its encoded dump.
const DUMP_CACHE_ENTRIES: usize = 64;

/// Prefixes of both families.
type NlriLists = (Vec<Nlri<Ipv4Net>>, Vec<Nlri<Ipv6Net>>);

#[derive(Default)]
struct Plan {
    announce: BTreeMap<(Target, AttrId), NlriLists>,
    withdraw: BTreeMap<Target, NlriLists>,
    release: Vec<AttrId>,
}

fn push_nlri(v: &mut NlriLists, prefix: Prefix, path_id: Option<u32>) {
    match prefix {
        Prefix::V4(p) => v.0.push(Nlri { path_id, prefix: p }),
        Prefix::V6(p) => v.1.push(Nlri { path_id, prefix: p }),
    }
}

/// The ADD-PATH path identifier we send for `r` (RFC 7911 §3: unique per prefix per
/// session): the source peer's id in the high 16 bits and the received path id's low 16
/// bits, stable while the path lives. Two paths of one prefix from the same peer whose
/// received ids share the low 16 bits (a peer numbering paths past 65535, as FRR's
/// global allocator does) would get the same id, the second replacing the first at the
/// receiver: the later one takes the next free id instead.
fn out_path_id(r: &Route, want: &[OutEntry]) -> u32 {
    let mut id = (r.peer.0 << 16) | (r.path_id & 0xffff);
    while want.iter().any(|w| w.path_id == id) {
        id = id.wrapping_add(1);
    }
    id
}

/// The update groups and their Adj-RIBs-Out.
#[derive(Debug, Default)]
pub struct OutGroups {
    groups: Vec<Option<Group>>,
    by_key: FxHashMap<GroupKey, GroupId>,
    member_of: FxHashMap<PeerId, GroupId>,
    store: AttrStore,
    encodes: u64,
    graceful_shutdown: bool,
}

impl OutGroups {
    /// No groups.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an established peer to its group (created if needed) and returns the
    /// full-table dump for it (RFC 4271 §9.1.3 initial advertisement).
    pub fn join(&mut self, rib: &Rib, peer: PeerId, member: MemberConfig) -> (GroupId, Vec<OutBatch>) {
        self.leave(peer);
        let pc = rib.peer(peer);
        let key = GroupKey {
            policy: pc.export_policy,
            kind: pc.kind,
            next_hop: pc.next_hop,
            send_med: pc.send_med,
            local_as: pc.local_as.unwrap_or(rib.config().local_as),
            member,
        };
        if let Some(&gid) = self.by_key.get(&key) {
            self.member_of.insert(peer, gid);
            let g = self.groups[gid.0 as usize].as_mut().expect("live group");
            g.members.push(peer);
            return (gid, self.dump(gid, peer));
        }
        let gid = match self.groups.iter().position(Option::is_none) {
            Some(i) => GroupId(i as u32),
            None => {
                self.groups.push(None);
                GroupId(self.groups.len() as u32 - 1)
            }
        };
        let builder = UpdateBuilder::new(key.member.ctx.clone());
        self.by_key.insert(key.clone(), gid);
        self.member_of.insert(peer, gid);
        self.groups[gid.0 as usize] =
            Some(Group { key, members: vec![peer], adj_out: AdjOut::default(), builder, dump_cache: None });
        let mut plan = Plan::default();
        let mut g = self.groups[gid.0 as usize].take().expect("live group");
        rib.for_each_best(|prefix, ecmp| self.diff(&mut g, rib, prefix, ecmp, &mut plan));
        let out = self.encode(gid, &g, plan);
        self.groups[gid.0 as usize] = Some(g);
        (gid, out)
    }

    /// Moves an established peer to the group its (changed) [`crate::rib::PeerConfig`]
    /// now selects, e.g. after its export policy was replaced, without a session reset:
    /// what the new group holds is announced to it, and what it had from the old group
    /// but the new one does not hold is withdrawn. Empty when the peer is in no group.
    pub fn rejoin(&mut self, rib: &Rib, peer: PeerId) -> Vec<OutBatch> {
        let Some(gid) = self.group_of(peer) else { return Vec::new() };
        let Some(Some(g)) = self.groups.get(gid.0 as usize) else { return Vec::new() };
        let member = g.key.member.clone();
        let had: Vec<(Prefix, u32)> = g
            .adj_out
            .iter()
            .flat_map(|(p, v)| v.into_iter().filter(|e| e.src != peer).map(move |e| (p, e.path_id)))
            .collect();
        let (new_gid, mut out) = self.join(rib, peer, member);
        let g = self.groups[new_gid.0 as usize].take().expect("live group");
        let mut plan = Plan::default();
        for (prefix, path_id) in had {
            let kept = g.adj_out.get(prefix).iter().any(|e| e.path_id == path_id && e.src != peer);
            if !kept {
                let add = g.key.member.ctx.add_path(prefix.family());
                push_nlri(plan.withdraw.entry(Target::Only(peer)).or_default(), prefix, add.then_some(path_id));
            }
        }
        let mut w = self.encode(new_gid, &g, plan);
        self.groups[new_gid.0 as usize] = Some(g);
        // Withdrawals first, then the announcements of the new group.
        w.append(&mut out);
        w
    }

    /// Removes a peer from its group (session down); an empty group is dropped.
    pub fn leave(&mut self, peer: PeerId) {
        let Some(gid) = self.member_of.remove(&peer) else { return };
        let Some(Some(g)) = self.groups.get_mut(gid.0 as usize) else { return };
        g.members.retain(|&m| m != peer);
        if g.members.is_empty() {
            let g = self.groups[gid.0 as usize].take().expect("live group");
            self.by_key.remove(&g.key);
            for e in g.adj_out.entries() {
                self.store.release(e.attrs);
            }
        }
    }

    /// The whole Adj-RIB-Out of the peer's group again, for a ROUTE-REFRESH
    /// (RFC 2918, RFC 7313) of `family` (every family when `None`).
    pub fn refresh(&mut self, peer: PeerId, family: Option<AfiSafi>) -> Vec<OutBatch> {
        let Some(&gid) = self.member_of.get(&peer) else { return Vec::new() };
        let mut v = self.dump_filtered(gid, peer, family);
        v.retain(|b| !b.bytes.is_empty());
        v
    }

    fn dump(&mut self, gid: GroupId, peer: PeerId) -> Vec<OutBatch> {
        self.dump_filtered(gid, peer, None)
    }

    fn dump_filtered(&mut self, gid: GroupId, peer: PeerId, family: Option<AfiSafi>) -> Vec<OutBatch> {
        let mut g = self.groups[gid.0 as usize].take().expect("live group");
        if family.is_none() {
            if let Some(c) = g.dump_cache.as_ref().filter(|c| !c.srcs.contains(&peer)) {
                // As the encoder's own output: no batch for an empty table.
                let out = match c.bytes.is_empty() {
                    true => Vec::new(),
                    false => vec![OutBatch { group: gid, target: Target::Only(peer), bytes: c.bytes.clone() }],
                };
                self.groups[gid.0 as usize] = Some(g);
                return out;
            }
        }
        let mut plan = Plan::default();
        let mut entries_seen = 0usize;
        let mut srcs: Vec<PeerId> = Vec::new();
        for (prefix, entries) in g.adj_out.iter() {
            for e in entries.iter() {
                entries_seen += 1;
                if entries_seen <= DUMP_CACHE_ENTRIES && !srcs.contains(&e.src) {
                    srcs.push(e.src);
                }
            }
            if family.is_some_and(|f| f != prefix.family()) {
                continue;
            }
            let add = g.key.member.ctx.add_path(prefix.family());
            for e in entries.iter().filter(|e| e.src != peer) {
                push_nlri(
                    plan.announce.entry((Target::Only(peer), e.attrs)).or_default(),
                    prefix,
                    add.then_some(e.path_id),
                );
            }
        }
        let out = self.encode(gid, &g, plan);
        let cacheable = family.is_none() && entries_seen <= DUMP_CACHE_ENTRIES && !srcs.contains(&peer);
        if cacheable && out.len() <= 1 {
            let bytes = out.first().map(|b| b.bytes.clone()).unwrap_or_default();
            g.dump_cache = Some(DumpCache { bytes, srcs });
        }
        self.groups[gid.0 as usize] = Some(g);
        out
    }

    /// Starts (or ends) an RFC 8326 graceful shutdown: every route is re-advertised with
    /// the GRACEFUL_SHUTDOWN community (and LOCAL_PREF 0 to internal peers), so peers
    /// move traffic away before the sessions close. Returns the UPDATEs to send.
    pub fn set_graceful_shutdown(&mut self, rib: &Rib, on: bool) -> Vec<OutBatch> {
        if self.graceful_shutdown == on {
            return Vec::new();
        }
        self.graceful_shutdown = on;
        let mut all = Vec::new();
        rib.for_each_best(|prefix, ecmp| all.push(BestChange { prefix, ecmp: ecmp.to_vec() }));
        self.process(rib, &all)
    }

    /// Whether a graceful shutdown is in progress.
    pub fn graceful_shutdown(&self) -> bool {
        self.graceful_shutdown
    }

    /// Turns Loc-RIB changes into UPDATEs for every group, updating the
    /// Adj-RIBs-Out. Only real changes go out.
    pub fn process(&mut self, rib: &Rib, changes: &[BestChange]) -> Vec<OutBatch> {
        let mut out = Vec::new();
        for i in 0..self.groups.len() {
            let Some(mut g) = self.groups[i].take() else { continue };
            let mut plan = Plan::default();
            for c in changes {
                self.diff(&mut g, rib, c.prefix, &c.ecmp, &mut plan);
            }
            out.extend(self.encode(GroupId(i as u32), &g, plan));
            self.groups[i] = Some(g);
        }
        out
    }

    fn target_for(g: &Group, src: PeerId) -> Target {
        if g.members.contains(&src) {
            Target::AllExcept(src)
        } else {
            Target::All
        }
    }

    /// Compares what the group should hold for `prefix` with its Adj-RIB-Out and
    /// plans the difference.
    fn diff(&mut self, g: &mut Group, rib: &Rib, prefix: Prefix, ecmp: &[Route], plan: &mut Plan) {
        let fam = prefix.family();
        let mut want: SmallVec<[OutEntry; 1]> = SmallVec::new();
        if g.key.member.families.contains(fam) {
            let add = g.key.member.ctx.add_path(fam);
            let n = if add { ecmp.len() } else { ecmp.len().min(1) };
            let target = ExportTarget {
                kind: g.key.kind,
                next_hop: g.key.next_hop,
                send_med: g.key.send_med,
                nh_self_v4: g.key.member.nh_self_v4,
                nh_self_v6: g.key.member.nh_self_v6,
                policy: g.key.policy.map(|p| rib.policy(p)),
                local_as: g.key.local_as,
                cluster_id: rib.config().cluster_id(),
            };
            for r in &ecmp[..n] {
                let pc = rib.peer(r.peer);
                let src = ExportSource { kind: pc.kind, router_id: pc.router_id };
                if let Some(mut a) = export(prefix, &r.attrs, src, &target) {
                    if self.graceful_shutdown {
                        // RFC 8326 §4.1: tag everything we send with GRACEFUL_SHUTDOWN, and
                        // lower LOCAL_PREF towards internal peers.
                        if !a.has_community(bgp_proto::Community::GRACEFUL_SHUTDOWN) {
                            a.communities.push(bgp_proto::Community::GRACEFUL_SHUTDOWN);
                        }
                        if g.key.kind.is_internal() {
                            a.local_pref = Some(0);
                        }
                    }
                    let path_id = if add { out_path_id(r, &want) } else { 0 };
                    want.push(OutEntry { path_id, attrs: self.store.intern(a), src: r.peer });
                }
            }
        }
        let add = g.key.member.ctx.add_path(fam);
        let pid = |e: &OutEntry| add.then_some(e.path_id);
        let old = g.adj_out.remove(prefix);
        if !(old.is_empty() && want.is_empty()) {
            g.dump_cache = None;
        }
        for w in &want {
            let prev = old.iter().find(|o| o.path_id == w.path_id);
            if let Some(o) = prev {
                if o.attrs == w.attrs && o.src == w.src {
                    continue;
                }
            }
            push_nlri(plan.announce.entry((Self::target_for(g, w.src), w.attrs)).or_default(), prefix, pid(w));
            // The source member had the previous version: withdraw it there.
            if g.members.contains(&w.src) && prev.is_some_and(|o| o.src != w.src) {
                push_nlri(plan.withdraw.entry(Target::Only(w.src)).or_default(), prefix, pid(w));
            }
        }
        for o in &old {
            if !want.iter().any(|w| w.path_id == o.path_id) {
                // Withdrawals go to the whole group, the source member included: it never
                // got this path from us (split horizon), so for it the withdrawal is a
                // no-op, and one target lets every withdrawal of a batch share an UPDATE
                // instead of one UPDATE per source peer.
                push_nlri(plan.withdraw.entry(Target::All).or_default(), prefix, pid(o));
            }
            plan.release.push(o.attrs);
        }
        if !want.is_empty() {
            g.adj_out.insert(prefix, want);
        }
    }

    fn encode(&mut self, gid: GroupId, g: &Group, plan: Plan) -> Vec<OutBatch> {
        let mut bufs: BTreeMap<Target, BytesMut> = BTreeMap::new();
        let b = &g.builder;
        for (t, (v4, v6)) in &plan.withdraw {
            let buf = bufs.entry(*t).or_default();
            if !v4.is_empty() {
                self.encodes += 1;
                let _ = b.withdraw_v4(v4, buf);
            }
            if !v6.is_empty() {
                self.encodes += 1;
                let _ = b.withdraw_mp(AfiSafi::IPV6_UNICAST, Prefixes::V6(v6), buf);
            }
        }
        for ((t, id), (v4, v6)) in &plan.announce {
            let a: &PathAttrs = self.store.get(*id);
            let buf = bufs.entry(*t).or_default();
            let ctx = b.ctx();
            if !v4.is_empty() {
                self.encodes += 1;
                let r = match &a.next_hop {
                    Some(NextHop::V4(_)) | None => b.announce_v4(&a.to_attributes(ctx, true), v4, buf),
                    Some(nh) => {
                        b.announce_mp(&a.to_attributes(ctx, false), AfiSafi::IPV4_UNICAST, nh, Prefixes::V4(v4), buf)
                    }
                };
                if let Err(e) = r {
                    tracing::warn!(group = gid.0, error = %e, "cannot encode an IPv4 UPDATE");
                }
            }
            if !v6.is_empty() {
                self.encodes += 1;
                let nh = a.next_hop.clone().unwrap_or(NextHop::Raw(Bytes::new()));
                let r = b.announce_mp(&a.to_attributes(ctx, false), AfiSafi::IPV6_UNICAST, &nh, Prefixes::V6(v6), buf);
                if let Err(e) = r {
                    tracing::warn!(group = gid.0, error = %e, "cannot encode an IPv6 UPDATE");
                }
            }
        }
        for id in plan.release {
            self.store.release(id);
        }
        bufs.into_iter()
            .filter(|(_, b)| !b.is_empty())
            .map(|(target, b)| OutBatch { group: gid, target, bytes: b.freeze() })
            .collect()
    }

    /// The members a batch goes to.
    pub fn recipients(&self, b: &OutBatch) -> Vec<PeerId> {
        let Some(Some(g)) = self.groups.get(b.group.0 as usize) else { return Vec::new() };
        match b.target {
            Target::All => g.members.clone(),
            Target::AllExcept(x) => g.members.iter().copied().filter(|&m| m != x).collect(),
            Target::Only(x) => g.members.iter().copied().filter(|&m| m == x).collect(),
        }
    }

    /// The group of a peer.
    pub fn group_of(&self, peer: PeerId) -> Option<GroupId> {
        self.member_of.get(&peer).copied()
    }

    /// The members of a group.
    pub fn members(&self, gid: GroupId) -> &[PeerId] {
        match self.groups.get(gid.0 as usize) {
            Some(Some(g)) => &g.members,
            _ => &[],
        }
    }

    /// Number of live groups.
    pub fn group_count(&self) -> usize {
        self.groups.iter().flatten().count()
    }

    /// Paths in a group's Adj-RIB-Out.
    pub fn group_path_count(&self, gid: GroupId) -> usize {
        match self.groups.get(gid.0 as usize) {
            Some(Some(g)) => g.adj_out.entries().count(),
            _ => 0,
        }
    }

    /// Paths advertised to a peer (its group's Adj-RIB-Out minus split horizon).
    pub fn peer_path_count(&self, peer: PeerId) -> usize {
        let Some(gid) = self.group_of(peer) else { return 0 };
        match self.groups.get(gid.0 as usize) {
            Some(Some(g)) => g.adj_out.entries().filter(|e| e.src != peer).count(),
            _ => 0,
        }
    }

    /// How many UPDATE encodings (builder calls) ran so far: one per group, target,
    /// attribute set and family, however many members share them.
    pub fn encode_calls(&self) -> u64 {
        self.encodes
    }
}
