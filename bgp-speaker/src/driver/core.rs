//! The core task: owns the RIB and the update groups, reacts to peer events and API
//! commands, and fans encoded UPDATEs out to the peers.

use super::config::{NeighborConfig, SpeakerConfig};
use super::peer::{LiveState, PeerCmd, PeerEvent, PeerTask, Slot};
use super::{state_name, Cmd, NeighborKind, PeerStatus, PeerUpdate, RouteEvents, SpeakerError};
use crate::rib::{BestChange, MemberConfig, OutBatch, OutGroups, PeerId, PeerKind, Rib, RibConfig};
use crate::session::{Negotiated, PeerAs, State};
use bgp_proto::{FamilySet, Notification};
use bytes::Bytes;
use ipnet::IpNet;
use rustc_hash::FxHashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};

struct PeerSlot {
    cfg: NeighborConfig,
    kind: NeighborKind,
    rib_id: Option<PeerId>,
    tx: mpsc::UnboundedSender<PeerCmd>,
    queued: Arc<AtomicUsize>,
    live: Arc<LiveState>,
    status: PeerStatus,
    negotiated: Option<Arc<Negotiated>>,
    restarting: bool,
    removing: bool,
}

pub(crate) struct Core {
    cfg: SpeakerConfig,
    rib: Rib,
    out: OutGroups,
    slots: Vec<Option<PeerSlot>>,
    by_addr: FxHashMap<IpAddr, Slot>,
    by_rib: FxHashMap<PeerId, Slot>,
    events_tx: mpsc::Sender<PeerEvent>,
    routes_tx: broadcast::Sender<RouteEvents>,
    listeners: Vec<Arc<TcpListener>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Core {
    pub(crate) fn spawn(
        cfg: SpeakerConfig,
        cmds: mpsc::Receiver<Cmd>,
        routes_tx: broadcast::Sender<RouteEvents>,
        listeners: Vec<Arc<TcpListener>>,
    ) {
        // Peer -> core events carry decoded UPDATEs (a full 4096-byte UPDATE of /28s
        // decodes into a 32 KiB NLRI vector): 64 of them in flight bound that to 2 MiB.
        // 4096 let 30 MiB queue up while 20 clients sent a million prefixes, 512 still
        // 18 MiB; the core applies 64 UPDATEs in about 10 ms, so the readers (TCP
        // back-pressure) keep it busy all the same.
        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
        let mut rc = RibConfig::new(cfg.local_as, cfg.router_id);
        rc.cluster_id = cfg.cluster_id;
        rc.best = cfg.best_path;
        let mut core = Core {
            rib: Rib::new(rc),
            out: OutGroups::new(),
            slots: Vec::new(),
            by_addr: FxHashMap::default(),
            by_rib: FxHashMap::default(),
            events_tx,
            routes_tx,
            listeners,
            shutdown: None,
            cfg,
        };
        for (p, a) in std::mem::take(&mut core.cfg.originate) {
            core.rib.originate(p, a);
        }
        for n in std::mem::take(&mut core.cfg.neighbors) {
            if let Err(e) = core.add_peer(n, NeighborKind::Static) {
                tracing::error!(error = %e, "neighbour not added");
            }
        }
        for d in &core.cfg.dynamic {
            if let Some(key) = &d.template.transport.md5_key {
                core.listener_md5(d.range, Some(key));
            }
        }
        tokio::spawn(core.run(cmds, events_rx));
    }

    async fn run(mut self, mut cmds: mpsc::Receiver<Cmd>, mut events: mpsc::Receiver<PeerEvent>) {
        // Loc-RIB changes are exported at most FLUSH_DELAY after the first of them, so
        // changes that arrive from many peers at once (a cluster coming up, a reflector
        // client going away) leave in packed UPDATEs rather than one UPDATE per prefix.
        let mut flush_at: Option<tokio::time::Instant> = None;
        // One timer for the loop, moved only when the flush deadline changes: a fresh
        // timer per turn is registered with the runtime every turn, and each one earlier
        // than every other timer costs a wake-up write to the runtime's eventfd.
        let far = || tokio::time::Instant::now() + std::time::Duration::from_secs(86_400 * 365);
        let flush_timer = tokio::time::sleep_until(far());
        tokio::pin!(flush_timer);
        loop {
            if let Some(t) = flush_at {
                if flush_timer.deadline() != t {
                    flush_timer.as_mut().reset(t);
                }
            }
            tokio::select! {
                c = cmds.recv() => match c {
                    Some(c) => self.command(c),
                    None => break,
                },
                Some(e) = events.recv() => self.event(e),
                _ = &mut flush_timer, if flush_at.is_some() => {}
            }
            // Drain whatever else is ready, then export once: a burst of UPDATEs
            // becomes one Loc-RIB diff.
            for _ in 0..4096 {
                match events.try_recv() {
                    Ok(e) => self.event(e),
                    Err(_) => break,
                }
            }
            let stopping = self.shutdown.is_some();
            if self.rib.has_changes() {
                let now = tokio::time::Instant::now();
                match flush_at {
                    Some(t) if now < t && !stopping => {}
                    None if !stopping => flush_at = Some(now + FLUSH_DELAY),
                    _ => {
                        self.flush();
                        flush_at = None;
                    }
                }
            } else {
                flush_at = None;
            }
            if stopping && self.slots.iter().all(Option::is_none) {
                break;
            }
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    fn listener_md5(&self, range: IpNet, key: Option<&[u8]>) {
        for l in &self.listeners {
            let same_family = l.local_addr().map(|a| a.is_ipv4() == range.addr().is_ipv4()).unwrap_or(false);
            if same_family {
                if let Err(e) = crate::net::listener_md5(l, range, key) {
                    tracing::error!(%range, error = %e, "cannot set the TCP MD5 key on the listener");
                }
            }
        }
    }

    fn add_peer(&mut self, mut n: NeighborConfig, kind: NeighborKind) -> Result<Slot, SpeakerError> {
        if self.by_addr.contains_key(&n.address) {
            return Err(SpeakerError::DuplicatePeer(n.address));
        }
        if kind == NeighborKind::Dynamic {
            n.session.passive = true;
        }
        if let Some(key) = &n.transport.md5_key {
            if kind == NeighborKind::Static {
                self.listener_md5(IpNet::from(n.address), Some(key));
            }
        }
        let slot = self.slots.iter().position(Option::is_none).unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let queued = Arc::new(AtomicUsize::new(0));
        let live = Arc::new(LiveState::new());
        let (tx, _task) = PeerTask::spawn(
            slot,
            SocketAddr::new(n.address, n.port),
            n.transport.clone(),
            n.session.clone(),
            self.events_tx.clone(),
            queued.clone(),
            live.clone(),
        );
        let asn = match &n.session.peer_as {
            PeerAs::Exact(a) => Some(*a),
            _ => None,
        };
        let status = PeerStatus {
            address: n.address,
            asn,
            kind,
            rr_client: n.rr_client,
            state: state_name(State::Idle),
            since: SystemTime::now(),
            counts: Default::default(),
            advertised: 0,
            flaps: 0,
            updates_received: 0,
            updates_sent: 0,
            bgp_id: None,
            refresh_requests_received: 0,
            last_error: None,
            end_of_rib: Vec::new(),
            description: n.description.clone(),
            rib_id: None,
            update_group: None,
        };
        self.by_addr.insert(n.address, slot);
        self.slots[slot] = Some(PeerSlot {
            cfg: n,
            kind,
            rib_id: None,
            tx,
            queued,
            live,
            status,
            negotiated: None,
            restarting: false,
            removing: false,
        });
        Ok(slot)
    }

    fn command(&mut self, c: Cmd) {
        match c {
            Cmd::AddPeer(n, tx) => {
                let _ = tx.send(self.add_peer(*n, NeighborKind::Static).map(|_| ()));
            }
            Cmd::RemovePeer(a, tx) => {
                let r = match self.by_addr.get(&a).copied() {
                    Some(s) => {
                        // The key add_peer installed on the listener for a static peer.
                        let installed = self.slots[s]
                            .as_ref()
                            .is_some_and(|p| p.kind == NeighborKind::Static && p.cfg.transport.md5_key.is_some());
                        if installed {
                            self.listener_md5(IpNet::from(a), None);
                        }
                        self.stop_peer(s, Notification::new(bgp_proto::error::code::CEASE, 3, Bytes::new()));
                        Ok(())
                    }
                    None => Err(SpeakerError::NoSuchPeer(a)),
                };
                let _ = tx.send(r);
            }
            Cmd::Originate(p, a) => self.rib.originate(p, a),
            Cmd::WithdrawLocal(p) => self.rib.withdraw_local(p),
            Cmd::Peers(tx) => {
                let v = self
                    .slots
                    .iter()
                    .flatten()
                    .map(|s| {
                        let mut st = s.status.clone();
                        st.state = state_name(s.live.state());
                        st.since = s.live.since();
                        if let Some(id) = s.rib_id {
                            st.counts = self.rib.peer_counts(id);
                            st.advertised = self.out.peer_path_count(id) as u64;
                            st.rib_id = Some(id);
                            st.update_group = self.out.group_of(id).map(|g| g.0);
                        }
                        st
                    })
                    .collect();
                let _ = tx.send(v);
            }
            Cmd::Routes(p, tx) => {
                let v = match p {
                    Some(p) => vec![(p, self.rib.routes(p))],
                    None => {
                        let mut prefixes = Vec::new();
                        self.rib.for_each_best(|p, _| prefixes.push(p));
                        prefixes.sort();
                        prefixes.into_iter().map(|p| (p, self.rib.routes(p))).collect()
                    }
                };
                let _ = tx.send(v);
            }
            Cmd::Refresh(a, tx) => {
                let r = match self.by_addr.get(&a).and_then(|&s| self.slots[s].as_ref()) {
                    Some(s) => {
                        for f in s.negotiated.iter().flat_map(|n| n.families.iter()) {
                            let _ = s.tx.send(PeerCmd::RequestRefresh(*f));
                        }
                        Ok(())
                    }
                    None => Err(SpeakerError::NoSuchPeer(a)),
                };
                let _ = tx.send(r);
            }
            Cmd::UpdatePeer(n, tx) => {
                let _ = tx.send(self.update_peer(*n));
            }
            Cmd::SetDynamic(d, tx) => {
                // A range whose key goes away (the range removed, or its password) has
                // its key deleted from the listener, or unsigned SYNs from it stay dropped.
                for old in &self.cfg.dynamic {
                    let kept = d.iter().any(|r| r.range == old.range && r.template.transport.md5_key.is_some());
                    if old.template.transport.md5_key.is_some() && !kept {
                        self.listener_md5(old.range, None);
                    }
                }
                for r in &d {
                    if let Some(key) = &r.template.transport.md5_key {
                        self.listener_md5(r.range, Some(key));
                    }
                }
                self.cfg.dynamic = d;
                let _ = tx.send(());
            }
            Cmd::Incoming(stream, remote) => self.incoming(stream, remote),
            Cmd::GracefulShutdown(on, tx) => {
                let b = self.out.set_graceful_shutdown(&self.rib, on);
                self.send_batches(b);
                let _ = tx.send(());
            }
            Cmd::Shutdown(msg, tx) => {
                let n = match msg {
                    Some(m) => Notification::cease_with_message(2, &m),
                    None => Notification::new(bgp_proto::error::code::CEASE, 2, Bytes::new()),
                };
                for s in 0..self.slots.len() {
                    if self.slots[s].is_some() {
                        self.stop_peer(s, n.clone());
                    }
                }
                self.shutdown = Some(tx);
            }
        }
    }

    /// New settings for a neighbour: policies are swapped in place, anything else is
    /// left to the caller (remove and add).
    fn update_peer(&mut self, mut n: NeighborConfig) -> Result<PeerUpdate, SpeakerError> {
        let s = *self.by_addr.get(&n.address).ok_or(SpeakerError::NoSuchPeer(n.address))?;
        let Some(p) = self.slots[s].as_mut() else { return Err(SpeakerError::NoSuchPeer(n.address)) };
        if p.kind == NeighborKind::Dynamic {
            n.session.passive = true;
        }
        let old = &p.cfg;
        let mut probe = n.clone();
        probe.import.clone_from(&old.import);
        probe.export.clone_from(&old.export);
        probe.description.clone_from(&old.description);
        if probe != *old {
            return Ok(PeerUpdate::NeedsReset);
        }
        let (import_changed, export_changed) = (old.import != n.import, old.export != n.export);
        p.cfg.description = n.description.clone();
        p.status.description = n.description;
        if !import_changed && !export_changed {
            return Ok(PeerUpdate::Unchanged);
        }
        p.cfg.import = n.import;
        p.cfg.export = n.export;
        let Some(id) = p.rib_id else { return Ok(PeerUpdate::PolicyUpdated) };
        let import = p.cfg.import.as_deref().map(|pol| self.rib.add_policy_ref(pol));
        let export = p.cfg.export.as_deref().map(|pol| self.rib.add_policy_ref(pol));
        let replaced = self.rib.set_peer_policies(id, import, export);
        if import_changed {
            // The Adj-RIB-In holds post-policy paths: ask the peer to send them again
            // (RFC 2918), with BoRR/EoRR when it speaks enhanced route refresh.
            for f in p.negotiated.iter().flat_map(|n| n.families.iter()) {
                let _ = p.tx.send(PeerCmd::RequestRefresh(*f));
            }
        }
        if export_changed {
            let b = self.out.rejoin(&self.rib, id);
            self.send_batches(b);
        }
        // The replaced policies, now that the peer left the old export policy's group.
        for old in replaced.into_iter().flatten() {
            self.rib.release_policy(old);
        }
        Ok(PeerUpdate::PolicyUpdated)
    }

    fn stop_peer(&mut self, s: Slot, n: Notification) {
        if let Some(p) = self.slots[s].as_mut() {
            p.removing = true;
            let _ = p.tx.send(PeerCmd::Shutdown(Some(n)));
        }
    }

    /// A connection arrived: hand it to its neighbour, or create a dynamic one, or
    /// refuse it with a logged reason.
    fn incoming(&mut self, stream: tokio::net::TcpStream, remote: SocketAddr) {
        let ip = canonical(remote.ip());
        if let Some(&s) = self.by_addr.get(&ip) {
            if let Some(p) = &self.slots[s] {
                let _ = p.tx.send(PeerCmd::Inbound(stream));
            }
            return;
        }
        let Some(d) = self.cfg.dynamic.iter().find(|d| d.range.contains(&ip)).cloned() else {
            tracing::warn!(%remote, "refused connection: no neighbour or dynamic range matches the source");
            return;
        };
        let in_range = self
            .slots
            .iter()
            .flatten()
            .filter(|p| p.kind == NeighborKind::Dynamic && d.range.contains(&p.cfg.address))
            .count();
        if in_range >= d.limit {
            tracing::warn!(%remote, range = %d.range, limit = d.limit, "refused connection: dynamic range is full");
            return;
        }
        let mut n = d.template.clone();
        n.address = ip;
        match self.add_peer(n, NeighborKind::Dynamic) {
            Ok(s) => {
                tracing::info!(%remote, range = %d.range, "accepted dynamic neighbour");
                if let Some(p) = &self.slots[s] {
                    let _ = p.tx.send(PeerCmd::Inbound(stream));
                }
            }
            Err(e) => tracing::warn!(%remote, error = %e, "refused connection"),
        }
    }

    fn event(&mut self, e: PeerEvent) {
        match e {
            PeerEvent::Established(s, n, local) => self.established(s, n, local),
            PeerEvent::Update(s, u) => {
                if let Some(p) = self.slots[s].as_mut() {
                    p.status.updates_received += 1;
                }
                if let Some(id) = self.rib_id(s) {
                    self.rib.apply_update(id, &u);
                }
            }
            PeerEvent::RouteRefresh(s, r) => self.route_refresh(s, r),
            PeerEvent::EndOfRib(s, f) => {
                if let Some(p) = self.slots[s].as_mut() {
                    tracing::debug!(peer = %p.cfg.address, family = %f, "End-of-RIB received");
                    p.status.end_of_rib.push(f.to_string());
                }
            }
            PeerEvent::Restarting(s, fams) => {
                if let (Some(id), Some(p)) = (self.rib_id(s), self.slots[s].as_mut()) {
                    p.restarting = true;
                    self.rib.mark_stale(id, &fams);
                    self.out.leave(id);
                }
            }
            PeerEvent::StaleSweep(s, fams) => {
                if let Some(id) = self.rib_id(s) {
                    for f in fams {
                        self.rib.sweep_stale(id, f);
                    }
                }
            }
            PeerEvent::FamilyDisabled(s, f) => {
                // RFC 7606 §2: AFI/SAFI disable drops the peer's routes of the family.
                if let Some(id) = self.rib_id(s) {
                    self.rib.mark_family_stale(id, f);
                    self.rib.sweep_stale(id, f);
                }
            }
            PeerEvent::Down(s, _reason, sent, received) => {
                let id = self.rib_id(s);
                if let Some(p) = self.slots[s].as_mut() {
                    p.status.flaps += 1;
                    p.status.last_error = match (&sent, &received) {
                        (Some(n), _) => Some(format!("sent {}/{}", n.code, n.subcode)),
                        (None, Some(n)) => Some(format!("received {}/{}", n.code, n.subcode)),
                        _ => p.status.last_error.take(),
                    };
                    p.negotiated = None;
                    p.status.end_of_rib.clear();
                    // The peer stays "restarting" (its routes stale, not withdrawn) across
                    // failed reconnects until the session is Established again or the
                    // restart timer sweeps the stale routes.
                    let restarting = p.restarting;
                    if let Some(id) = id {
                        if !restarting {
                            self.rib.peer_down(id);
                        }
                        self.out.leave(id);
                    }
                    if p.kind == NeighborKind::Dynamic && !restarting {
                        // Dynamic neighbours live as long as their session (as BIRD's).
                        self.stop_peer(s, Notification::new(bgp_proto::error::code::CEASE, 3, Bytes::new()));
                    }
                }
            }
            PeerEvent::Exited(s) => {
                if let Some(p) = self.slots[s].take() {
                    self.by_addr.remove(&p.cfg.address);
                    if let Some(id) = p.rib_id {
                        // Its id goes back to the RIB for a later neighbour.
                        self.out.leave(id);
                        self.rib.remove_peer(id);
                        self.by_rib.remove(&id);
                    }
                }
            }
        }
    }

    fn rib_id(&self, s: Slot) -> Option<PeerId> {
        self.slots.get(s)?.as_ref()?.rib_id
    }

    fn established(&mut self, s: Slot, n: Arc<Negotiated>, local: SocketAddr) {
        let Some(p) = self.slots[s].as_mut() else { return };
        let internal = n.peer_asn == p.cfg.session.local_asn;
        let kind = match (internal, p.cfg.rr_client) {
            (false, _) => PeerKind::Ebgp,
            (true, true) => PeerKind::RrClient,
            (true, false) => PeerKind::Ibgp,
        };
        let id = match p.rib_id {
            Some(id) => id,
            None => {
                let mut rc = crate::rib::PeerConfig::new(p.cfg.address, n.peer_asn, n.peer_id, kind);
                rc.allow_own_as = p.cfg.allow_own_as;
                rc.next_hop = p.cfg.next_hop;
                rc.send_med = p.cfg.send_med;
                rc.local_as = (p.cfg.session.local_asn != self.cfg.local_as).then_some(p.cfg.session.local_asn);
                rc.import_policy = p.cfg.import.as_deref().map(|pol| self.rib.add_policy_ref(pol));
                rc.export_policy = p.cfg.export.as_deref().map(|pol| self.rib.add_policy_ref(pol));
                let id = self.rib.add_peer(rc);
                p.rib_id = Some(id);
                self.by_rib.insert(id, s);
                id
            }
        };
        p.status.asn = Some(n.peer_asn);
        p.status.bgp_id = Some(n.peer_id);
        p.restarting = false;
        self.rib.peer_up(id, Some(n.peer_id));
        let families: FamilySet = n.families.iter().copied().collect();
        let member = MemberConfig {
            ctx: n.encode_ctx.clone(),
            families,
            // The session address serves its own family; the other family's next hop
            // (MP-BGP over a session of the other family) must be configured.
            nh_self_v4: p.cfg.next_hop_v4.or(match local.ip() {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(a) => a.to_ipv4_mapped(),
            }),
            nh_self_v6: p.cfg.next_hop_v6.map(|a| (a, None)).or(match local.ip() {
                IpAddr::V6(a) if a.to_ipv4_mapped().is_none() => Some((a, None)),
                _ => None,
            }),
        };
        let fams = n.families.clone();
        p.negotiated = Some(n);
        // The full table for the new member, then End-of-RIB per family (RFC 4724 §2).
        let (_, batches) = self.out.join(&self.rib, id, member);
        self.send_batches(batches);
        if let Some(p) = self.slots[s].as_ref() {
            let _ = p.tx.send(PeerCmd::EndOfRib(fams));
        }
    }

    fn route_refresh(&mut self, s: Slot, r: bgp_proto::RouteRefresh) {
        use bgp_proto::RefreshSubtype;
        let Some(id) = self.rib_id(s) else { return };
        match r.subtype {
            RefreshSubtype::Request => {
                if let Some(p) = self.slots[s].as_mut() {
                    p.status.refresh_requests_received += 1;
                }
                let enhanced =
                    self.slots[s].as_ref().and_then(|p| p.negotiated.as_ref()).is_some_and(|n| n.enhanced_rr);
                let tx = self.slots[s].as_ref().map(|p| p.tx.clone());
                // RFC 7313 §4: wrap the re-advertisement in BoRR / EoRR.
                if let (true, Some(tx)) = (enhanced, &tx) {
                    let _ = tx.send(PeerCmd::RefreshMarker(r.family, true));
                }
                let b = self.out.refresh(id, Some(r.family));
                self.send_batches(b);
                if let (true, Some(tx)) = (enhanced, &tx) {
                    let _ = tx.send(PeerCmd::RefreshMarker(r.family, false));
                }
            }
            // RFC 7313 §4: BoRR marks the peer's routes stale, EoRR sweeps what was not
            // re-announced.
            // Only this family: the peer's other families are not being refreshed.
            RefreshSubtype::BeginOfRefresh => {
                self.rib.mark_family_stale(id, r.family);
            }
            RefreshSubtype::EndOfRefresh => {
                self.rib.sweep_stale(id, r.family);
            }
            RefreshSubtype::Other(_) => {}
        }
    }

    fn flush(&mut self) {
        if !self.rib.has_changes() {
            return;
        }
        // In slices: a million changes at once (20 clients with 50000 prefixes each)
        // would hold a million BestChanges plus their NLRI lists at the same time.
        while self.rib.has_changes() {
            let changes: Vec<BestChange> = self.rib.drain_changes_up_to(FLUSH_SLICE);
            let batches = self.out.process(&self.rib, &changes);
            self.send_batches(batches);
            let _ = self.routes_tx.send(Arc::new(changes));
        }
    }

    /// Hands each group's batches to its members: one shared run per group, one command
    /// per member (its writer picks the batches that target it), whatever the number of
    /// batches — with 1000 sources there are about as many split-horizon batches.
    fn send_batches(&mut self, batches: Vec<OutBatch>) {
        let limit = self.cfg.max_queued_bytes;
        let mut rest: &[OutBatch] = &batches;
        while let Some(first) = rest.first() {
            let gid = first.group;
            let len = rest.iter().take_while(|b| b.group == gid).count();
            let run: Arc<[OutBatch]> = rest[..len].iter().filter(|b| !b.bytes.is_empty()).cloned().collect();
            rest = &rest[len..];
            if run.is_empty() {
                continue;
            }
            // UPDATE messages per batch, for the per-peer "UPDATEs sent" counter.
            let updates: Vec<u64> = run.iter().map(|b| count_updates(&b.bytes)).collect();
            let members = self.out.members(gid).to_vec();
            for id in members {
                let n = super::writer::group_len(&run, id);
                if n == 0 {
                    continue;
                }
                let Some(&s) = self.by_rib.get(&id) else { continue };
                let Some(p) = self.slots[s].as_mut() else { continue };
                if p.removing {
                    continue;
                }
                let q = p.queued.fetch_add(n, Ordering::Relaxed) + n;
                if q > limit {
                    // The peer cannot keep up: reset it rather than buffer without bound
                    // (RFC 4486 Cease/8 Out of Resources). It gets the full table again
                    // when it comes back.
                    p.queued.store(0, Ordering::Relaxed);
                    tracing::warn!(peer = %p.cfg.address, queued = q, limit, "peer too slow: resetting it");
                    let n = Notification::new(bgp_proto::error::code::CEASE, 8, Bytes::new());
                    let _ = p.tx.send(PeerCmd::Reset(n));
                    self.out.leave(id);
                    continue;
                }
                p.status.updates_sent +=
                    run.iter().zip(&updates).filter(|(b, _)| b.target.includes(id)).map(|(_, u)| u).sum::<u64>();
                let _ = p.tx.send(PeerCmd::Send(run.clone(), id, n));
            }
        }
    }
}

/// The number of UPDATE messages in a run of whole messages (RFC 4271 §4.1 headers).
fn count_updates(b: &[u8]) -> u64 {
    let (mut n, mut at) = (0, 0);
    while let Some(h) = b.get(at..at + 19) {
        let len = u16::from_be_bytes([h[16], h[17]]) as usize;
        n += u64::from(h[18] == 2);
        if len < 19 {
            break;
        }
        at += len;
    }
    n
}

/// Capacity of the peer -> core event channel.
const EVENT_QUEUE: usize = 64;

/// Most Loc-RIB changes exported in one slice (a slice holds its `BestChange`s, ~80
/// bytes each with the ECMP vector, and its NLRI lists while it is encoded).
const FLUSH_SLICE: usize = 4 << 10;

/// How long Loc-RIB changes may wait to be packed with others before export.
const FLUSH_DELAY: std::time::Duration = std::time::Duration::from_millis(3);

/// IPv4-mapped IPv6 sources (from a dual-stack listener) as plain IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}
