//! The differential sync between desired routes and the kernel (sans-IO).
//!
//! The driver feeds it kernel state (dumps, events, ACKs) and commands, and asks it for
//! the next operations to write. Every decision is made here, with an explicit `now`,
//! so that the unit tests are deterministic.

use foldhash::{HashMap, HashMapExt, HashSet};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;

use crate::backoff::Backoff;
use crate::spec::{Hop, Spec};
use crate::topology::{LearnFilter, Topology};
use crate::types::{
    DesiredRoute, FibEvent, LearnedRoute, NextHop, RouteError, RouteKey, RouteKind, SyncStatus, IPV6_DEFAULT_METRIC,
    RTPROT_BIRD,
};
use crate::wire::{KAddr, KLink, KRoute};

/// Repairs of one route allowed within [`REPAIR_WINDOW`] before backing off.
const REPAIR_BURST: u32 = 5;
/// Window for counting repairs.
const REPAIR_WINDOW: Duration = Duration::from_secs(10);

/// A kernel route's identity: table, prefix and metric (the kernel's own key, TOS unused).
pub(crate) type KKey = (u32, IpNet, u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting to be written.
    Pending,
    /// In the kernel as wanted.
    Installed,
    /// Rejected; the attempt count and retry time are in `Reconciler::failed`.
    Failed,
}

/// A desired route's kind, compact: most routes are blackholes (the node's blocks) and
/// a million entries of the full enum would cost tens of MiB for nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Blackhole,
    Unreachable,
    Other(Box<RouteKind>),
}

impl Kind {
    fn new(k: RouteKind) -> Kind {
        match k {
            RouteKind::Blackhole => Kind::Blackhole,
            RouteKind::Unreachable => Kind::Unreachable,
            k => Kind::Other(Box::new(k)),
        }
    }

    fn get(&self) -> RouteKind {
        match self {
            Kind::Blackhole => RouteKind::Blackhole,
            Kind::Unreachable => RouteKind::Unreachable,
            Kind::Other(k) => (**k).clone(),
        }
    }

    fn is(&self, k: &RouteKind) -> bool {
        match (self, k) {
            (Kind::Blackhole, RouteKind::Blackhole) | (Kind::Unreachable, RouteKind::Unreachable) => true,
            (Kind::Other(a), b) => **a == *b,
            _ => false,
        }
    }
}

#[derive(Clone, Debug)]
struct Entry {
    kind: Kind,
    metric: u32,
    /// What to write; `Err` when the route cannot be compiled (missing device, ...).
    want: Result<Spec, Box<RouteError>>,
    state: State,
    queued: bool,
    /// Resync generation in which the kernel was seen holding this route.
    seen: u32,
    /// `replace_all` generation that last named this route.
    mark: u32,
}

/// One write to the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// `RTM_NEWROUTE` with replace semantics.
    Install { key: RouteKey, metric: u32, spec: Spec },
    /// `RTM_DELROUTE` of our protocol only.
    Delete(KKey),
}

/// The sync's state.
pub(crate) struct Reconciler {
    backoff: Backoff,
    desired: HashMap<RouteKey, Entry>,
    queue: VecDeque<RouteKey>,
    deletes: VecDeque<KKey>,
    /// Our protocol's routes in the kernel that no desired route claims (stale).
    unclaimed: HashMap<KKey, Spec>,
    grace_until: Option<Instant>,
    /// Repairs per route in the current window (see [`Self::repair`]).
    repairs: HashMap<RouteKey, (u32, Instant)>,
    /// Rejected routes: consecutive failures and when to retry.
    /// (`None` while the retry is queued).
    failed: HashMap<RouteKey, (u32, Option<Instant>)>,
    pub(crate) topo: Topology,
    /// Resolution of each next hop in use, to find which routes a topology change moves.
    resolved: HashMap<IpAddr, IpAddr>,
    learn: LearnFilter,
    learned: HashMap<IpNet, LearnedRoute>,
    subnets: Vec<IpNet>,
    gen: u32,
    mark: u32,
    events: Vec<FibEvent>,
    /// Set when the kernel may have dropped routes without telling (IPv4 flushes routes
    /// silently when a link goes down or an address goes away): the driver re-dumps.
    pub(crate) needs_resync: bool,
}

fn normalize(mut r: DesiredRoute) -> DesiredRoute {
    r.prefix = r.prefix.trunc();
    if r.prefix.addr().is_ipv6() && r.metric == 0 {
        r.metric = IPV6_DEFAULT_METRIC;
    }
    r
}

impl Reconciler {
    /// A new sync; stale routes are kept until `now + grace` or [`Self::converged`].
    pub fn new(now: Instant, grace: Duration, backoff: Backoff) -> Self {
        Reconciler {
            backoff,
            desired: HashMap::new(),
            queue: VecDeque::new(),
            deletes: VecDeque::new(),
            unclaimed: HashMap::new(),
            grace_until: Some(now + grace),
            failed: HashMap::new(),
            repairs: HashMap::new(),
            topo: Topology::default(),
            resolved: HashMap::new(),
            learn: LearnFilter::default(),
            learned: HashMap::new(),
            subnets: Vec::new(),
            gen: 0,
            mark: 0,
            events: Vec::new(),
            needs_resync: false,
        }
    }

    /// Take the events produced so far.
    pub fn take_events(&mut self) -> Vec<FibEvent> {
        std::mem::take(&mut self.events)
    }

    fn enqueue(&mut self, key: RouteKey) {
        if let Some(e) = self.desired.get_mut(&key) {
            if !e.queued {
                e.queued = true;
                self.queue.push_back(key);
            }
        }
    }

    fn resolve(&mut self, gw: IpAddr) -> IpAddr {
        if let Some(r) = self.resolved.get(&gw) {
            return *r;
        }
        let r = self.topo.resolve(gw);
        self.resolved.insert(gw, r);
        r
    }

    fn compile_hop(&mut self, key: &RouteKey, nh: &NextHop) -> Result<Hop, RouteError> {
        if nh.gateway.is_ipv6() != key.prefix.addr().is_ipv6() {
            return Err(RouteError::Invalid {
                prefix: key.prefix,
                table: key.table,
                reason: format!("gateway {} is of the other address family", nh.gateway),
            });
        }
        let oif = match &nh.dev {
            Some(d) => self.topo.index(d).ok_or_else(|| RouteError::NoSuchDevice {
                prefix: key.prefix,
                table: key.table,
                dev: d.clone(),
            })?,
            None => 0,
        };
        // Only a bare `via NH` is resolved: a device or onlink says where NH is.
        let gw = if nh.dev.is_none() && !nh.onlink { self.resolve(nh.gateway) } else { nh.gateway };
        Ok(Hop { gw, oif, onlink: nh.onlink, weight: nh.weight.clamp(1, 256) })
    }

    fn compile(&mut self, key: &RouteKey, kind: &RouteKind) -> Result<Spec, RouteError> {
        match kind {
            RouteKind::Blackhole => Ok(Spec::Blackhole),
            RouteKind::Unreachable => Ok(Spec::Unreachable),
            RouteKind::Via(nh) => Ok(Spec::unicast(vec![self.compile_hop(key, nh)?])),
            RouteKind::Multipath(v) if v.is_empty() => Err(RouteError::Invalid {
                prefix: key.prefix,
                table: key.table,
                reason: "multipath route without next hops".into(),
            }),
            RouteKind::Multipath(v) => {
                let mut hops: Vec<Hop> = Vec::with_capacity(v.len());
                for nh in v {
                    let h = self.compile_hop(key, nh)?;
                    // Two next hops may resolve to the same gateway: keep one.
                    if !hops.iter().any(|o| o.gw == h.gw && o.oif == h.oif && o.onlink == h.onlink) {
                        hops.push(h);
                    }
                }
                Ok(Spec::unicast(hops))
            }
        }
    }

    /// Add or change a desired route.
    pub fn set_route(&mut self, route: DesiredRoute, now: Instant) {
        let r = normalize(route);
        let key = RouteKey { table: r.table, prefix: r.prefix };
        if let Some(old) = self.desired.get(&key) {
            if old.kind.is(&r.kind) && old.metric == r.metric {
                return;
            }
            if old.metric != r.metric {
                // A different metric is a different kernel route: remove the old one
                // once the new one is written (deletes run after installs).
                self.deletes.push_back((key.table, key.prefix, old.metric));
            }
        }
        let want = self.compile(&key, &r.kind).map_err(Box::new);
        let kkey = (key.table, key.prefix, r.metric);
        let adopted = match (self.unclaimed.remove(&kkey), &want) {
            (Some(have), Ok(w)) => w.satisfied_by(&have),
            _ => false,
        };
        let queued = self.desired.get(&key).map(|e| e.queued).unwrap_or(false);
        let entry = Entry {
            kind: Kind::new(r.kind),
            metric: r.metric,
            want,
            state: if adopted { State::Installed } else { State::Pending },
            queued,
            seen: self.gen,
            mark: self.mark,
        };
        self.desired.insert(key, entry);
        self.failed.remove(&key);
        if !adopted {
            self.enqueue(key);
        }
        let _ = now;
    }

    /// Remove a desired route (and our route from the kernel).
    pub fn remove_route(&mut self, table: u32, prefix: IpNet) {
        let key = RouteKey { table, prefix: prefix.trunc() };
        if let Some(e) = self.desired.remove(&key) {
            self.failed.remove(&key);
            self.repairs.remove(&key);
            self.deletes.push_back((key.table, key.prefix, e.metric));
        }
    }

    /// Make the desired set exactly `routes`.
    pub fn replace_all(&mut self, routes: Vec<DesiredRoute>, now: Instant) {
        self.mark = self.mark.wrapping_add(1);
        let mark = self.mark;
        self.desired.reserve(routes.len().saturating_sub(self.desired.len()));
        for r in routes {
            let key = RouteKey { table: r.table, prefix: r.prefix.trunc() };
            self.set_route(r, now);
            if let Some(e) = self.desired.get_mut(&key) {
                e.mark = mark;
            }
        }
        let gone: Vec<RouteKey> = self.desired.iter().filter(|(_, e)| e.mark != mark).map(|(k, _)| *k).collect();
        for k in gone {
            self.remove_route(k.table, k.prefix);
        }
    }

    /// Whether stale routes are still protected.
    pub fn in_grace(&self) -> bool {
        self.grace_until.is_some()
    }

    /// The speaker has converged: end the grace period now.
    pub fn converged(&mut self) {
        if self.grace_until.take().is_some() {
            self.delete_unclaimed();
        }
    }

    fn delete_unclaimed(&mut self) {
        let n = self.unclaimed.len();
        for k in self.unclaimed.keys() {
            self.deletes.push_back(*k);
        }
        if n > 0 {
            self.events.push(FibEvent::StaleRemoved(n));
        }
    }

    /// Advance timers: the grace period and retries.
    pub fn tick(&mut self, now: Instant) {
        if matches!(self.grace_until, Some(t) if t <= now) {
            self.converged();
        }
        let due: Vec<RouteKey> =
            self.failed.iter().filter(|(_, (_, at))| matches!(at, Some(t) if *t <= now)).map(|(k, _)| *k).collect();
        for k in due {
            self.retry(k);
        }
    }

    fn retry(&mut self, k: RouteKey) {
        // The attempt count stays in `failed` until the route is installed.
        if let Some(f) = self.failed.get_mut(&k) {
            f.1 = None;
        }
        let Some(kind) = self.desired.get(&k).map(|e| e.kind.get()) else {
            return;
        };
        let want = self.compile(&k, &kind).map_err(Box::new);
        if let Some(e) = self.desired.get_mut(&k) {
            e.want = want;
        }
        self.enqueue(k);
    }

    /// When [`Self::tick`] next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let retry = self.failed.values().filter_map(|(_, at)| *at).min();
        match (retry, self.grace_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether writes are waiting.
    pub fn has_work(&self) -> bool {
        !self.queue.is_empty() || !self.deletes.is_empty()
    }

    /// Up to `max` writes: installs first, then deletes (make before break).
    pub fn next_ops(&mut self, max: usize, now: Instant) -> Vec<Op> {
        let mut ops = Vec::new();
        while ops.len() < max {
            let Some(key) = self.queue.pop_front() else {
                break;
            };
            let Some(e) = self.desired.get_mut(&key) else {
                continue;
            };
            e.queued = false;
            match &e.want {
                Ok(spec) => ops.push(Op::Install { key, metric: e.metric, spec: spec.clone() }),
                Err(err) => {
                    let err = err.clone();
                    self.fail(key, *err, now);
                }
            }
        }
        while ops.len() < max {
            let Some(k) = self.deletes.pop_front() else {
                break;
            };
            // Never delete what is desired again in the meantime.
            let claimed =
                self.desired.get(&RouteKey { table: k.0, prefix: k.1 }).map(|e| e.metric == k.2).unwrap_or(false);
            if !claimed {
                ops.push(Op::Delete(k));
            }
        }
        ops
    }

    fn fail(&mut self, key: RouteKey, error: RouteError, now: Instant) {
        let Some(e) = self.desired.get_mut(&key) else {
            return;
        };
        let attempt = self.failed.get(&key).map(|f| f.0 + 1).unwrap_or(1);
        let retry_in = self.backoff.delay(attempt);
        e.state = State::Failed;
        self.failed.insert(key, (attempt, Some(now + retry_in)));
        self.events.push(FibEvent::RouteFailed { error, attempt, retry_in });
    }

    /// The kernel's answer to an op: `Ok` or `(errno, reason)`.
    pub fn op_done(&mut self, op: Op, result: Result<(), (i32, String)>, now: Instant) {
        match op {
            Op::Install { key, metric, spec } => match result {
                Ok(()) => {
                    // A replace may have taken the slot of another protocol's route.
                    if key.table == crate::types::RT_TABLE_MAIN {
                        self.topo.forget_foreign(&key.prefix, metric);
                    }
                    self.unclaimed.remove(&(key.table, key.prefix, metric));
                    if let Some(e) = self.desired.get_mut(&key) {
                        if e.metric == metric && e.want.as_ref() == Ok(&spec) {
                            if matches!(e.state, State::Failed) {
                                self.events.push(FibEvent::RouteRecovered(key));
                            }
                            e.state = State::Installed;
                            e.seen = self.gen;
                            self.failed.remove(&key);
                        }
                    }
                }
                Err((errno, reason)) => {
                    let error = RouteError::Kernel { prefix: key.prefix, table: key.table, errno, reason };
                    self.fail(key, error, now);
                }
            },
            Op::Delete(k) => {
                self.unclaimed.remove(&k);
                if let Err((errno, reason)) = result {
                    // ESRCH: already gone, which is what we wanted.
                    if errno != libc::ESRCH {
                        tracing::warn!(prefix = %k.1, table = k.0, errno, %reason, "delete failed");
                    }
                }
            }
        }
    }

    /// Put back an op whose outcome is unknown (the batch's socket failed).
    pub fn requeue(&mut self, op: Op) {
        match op {
            Op::Install { key, .. } => self.enqueue(key),
            Op::Delete(k) => self.deletes.push_back(k),
        }
    }

    /// Re-install a route someone else changed. A route repaired more than
    /// `REPAIR_BURST` times within `REPAIR_WINDOW` is being fought over by another
    /// writer: further repairs wait for the back-off instead of looping at event speed.
    fn repair(&mut self, key: RouteKey, now: Instant) {
        let Some(e) = self.desired.get_mut(&key) else {
            return;
        };
        if e.state != State::Installed {
            return;
        }
        self.events.push(FibEvent::Repairing(key));
        let r = self.repairs.entry(key).or_insert((0, now));
        if now.duration_since(r.1) > REPAIR_WINDOW {
            *r = (0, now);
        }
        r.0 += 1;
        let count = r.0;
        if count > REPAIR_BURST {
            e.state = State::Pending;
            let error = RouteError::Contended { prefix: key.prefix, table: key.table, repairs: count };
            self.fail(key, error, now);
        } else {
            e.state = State::Pending;
            self.enqueue(key);
        }
    }

    /// A route event from someone else (our own are filtered out by the driver).
    /// `replaced`: the notification carried `NLM_F_REPLACE` (it took an existing slot).
    pub fn on_route(&mut self, present: bool, r: KRoute, replaced: bool, now: Instant) {
        let key = RouteKey { table: r.table, prefix: r.prefix };
        if r.protocol != RTPROT_BIRD {
            self.topo.foreign_route(&r, present);
            // Another protocol replaced our route in its slot: put ours back.
            if present && replaced && matches!(self.desired.get(&key), Some(e) if e.metric == r.metric) {
                self.repair(key, now);
            }
            self.topology_changed();
            return;
        }
        if let Some(e) = self.desired.get(&key) {
            if e.metric == r.metric {
                let ok = present && matches!(&e.want, Ok(w) if w.satisfied_by(&r.spec));
                if !ok {
                    self.repair(key, now);
                }
                return;
            }
        }
        let k = (r.table, r.prefix, r.metric);
        if present {
            self.unclaimed.insert(k, r.spec);
            if !self.in_grace() {
                self.deletes.push_back(k);
            }
        } else {
            self.unclaimed.remove(&k);
        }
    }

    /// Start a full re-read of the kernel's routes.
    pub fn begin_resync(&mut self) {
        self.gen = self.gen.wrapping_add(1);
        self.unclaimed.clear();
        self.topo.clear_routes();
    }

    /// One route of the full re-read.
    pub fn resync_route(&mut self, r: KRoute, now: Instant) {
        if r.protocol != RTPROT_BIRD {
            self.topo.foreign_route(&r, true);
            return;
        }
        let key = RouteKey { table: r.table, prefix: r.prefix };
        let gen = self.gen;
        if let Some(e) = self.desired.get_mut(&key) {
            if e.metric == r.metric {
                if matches!(&e.want, Ok(w) if w.satisfied_by(&r.spec)) {
                    e.seen = gen;
                } else {
                    self.repair(key, now);
                }
                return;
            }
        }
        self.unclaimed.insert((r.table, r.prefix, r.metric), r.spec);
    }

    /// End of the full re-read: installed routes the kernel no longer has are repaired.
    pub fn end_resync(&mut self, now: Instant) {
        let gen = self.gen;
        let missing: Vec<RouteKey> = self
            .desired
            .iter()
            .filter(|(_, e)| e.state == State::Installed && e.seen != gen)
            .map(|(k, _)| *k)
            .collect();
        for k in missing {
            self.repair(k, now);
        }
        if !self.in_grace() {
            self.delete_unclaimed();
        }
        self.needs_resync = false;
        self.topology_changed();
    }

    /// Interface news. `present == false` for a removed interface.
    pub fn on_link(&mut self, l: KLink, present: bool) {
        let (changed, went_down) = if present {
            self.topo.link(l)
        } else {
            let was_up = self.topo.del_link(l.index);
            (true, was_up)
        };
        if went_down {
            // IPv4 drops routes through a downed link without any RTM_DELROUTE: re-read.
            // (Only then: new interfaces, as each new pod's, must not cost a dump.)
            self.needs_resync = true;
        }
        if changed {
            // A device that appeared or came up may let rejected routes in.
            self.retry_failed_now();
            self.topology_changed();
        }
    }

    /// Address news.
    pub fn on_addr(&mut self, a: KAddr, present: bool) {
        self.topo.addr(a, present);
        if !present {
            self.needs_resync = true;
        }
        self.retry_failed_now();
        self.topology_changed();
    }

    fn retry_failed_now(&mut self) {
        let keys: Vec<RouteKey> = self.failed.keys().copied().collect();
        for k in keys {
            self.retry(k);
        }
    }

    /// Set the learning filter.
    pub fn set_learn_filter(&mut self, f: LearnFilter) {
        self.learn = f;
        self.topology_changed();
    }

    /// Recompute what depends on the topology: subnets, resolutions, learned routes.
    pub fn topology_changed(&mut self) {
        let subnets = self.topo.node_subnets();
        if subnets != self.subnets {
            self.subnets = subnets.clone();
            self.events.push(FibEvent::NodeSubnets(subnets));
        }
        let moved: HashSet<IpAddr> =
            self.resolved.iter().filter(|(nh, r)| self.topo.resolve(**nh) != **r).map(|(nh, _)| *nh).collect();
        if !moved.is_empty() {
            for nh in &moved {
                self.resolved.remove(nh);
            }
            let affected: Vec<RouteKey> = self
                .desired
                .iter()
                .filter(|(_, e)| matches!(&e.kind, Kind::Other(k) if uses_any(k, &moved)))
                .map(|(k, _)| *k)
                .collect();
            for k in affected {
                let kind = self.desired[&k].kind.get();
                let want = self.compile(&k, &kind).map_err(Box::new);
                let e = self.desired.get_mut(&k).expect("affected key exists");
                if e.want != want {
                    e.want = want;
                    if e.state == State::Installed {
                        e.state = State::Pending;
                    }
                    self.enqueue(k);
                }
            }
        }
        let learned = self.topo.learned(&self.learn);
        for (p, l) in &self.learned {
            if learned.get(p) != Some(l) {
                self.events.push(FibEvent::Unlearned(l.clone()));
            }
        }
        for (p, l) in &learned {
            if self.learned.get(p) != Some(l) {
                self.events.push(FibEvent::Learned(l.clone()));
            }
        }
        self.learned = learned;
    }

    /// The node's connected subnets.
    #[cfg(test)]
    pub fn node_subnets(&self) -> &[IpNet] {
        &self.subnets
    }

    /// Counters.
    pub fn status(&self) -> SyncStatus {
        let mut s = SyncStatus {
            desired: self.desired.len(),
            stale: self.unclaimed.len(),
            in_grace: self.in_grace(),
            ..Default::default()
        };
        for e in self.desired.values() {
            match e.state {
                State::Installed => s.installed += 1,
                State::Failed => s.failed += 1,
                State::Pending => {}
            }
        }
        s
    }
}

fn uses_any(kind: &RouteKind, gws: &HashSet<IpAddr>) -> bool {
    let plain = |nh: &NextHop| nh.dev.is_none() && !nh.onlink && gws.contains(&nh.gateway);
    match kind {
        RouteKind::Via(nh) => plain(nh),
        RouteKind::Multipath(v) => v.iter().any(plain),
        _ => false,
    }
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
