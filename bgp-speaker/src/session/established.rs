//! Established: UPDATE handling (RFC 7606, families, max-prefix), ROUTE-REFRESH,
//! Graceful Restart bookkeeping, and the sending API.

use super::fsm::Restart;
use super::io::{DownReason, Output, Warning};
use super::state::State;
use super::timers::TimerKind;
use super::{FamilyCount, GrState, Session};
use bgp_proto::error::code;
use bgp_proto::notification::cease;
use bgp_proto::{
    Action, AfiSafi, AttrValue, Attribute, DecodeError, EncodeError, ErrorKind, Message, MpNlri, MpUnreach,
    Notification, RefreshSubtype, RouteRefresh, Update,
};
use bytes::{BufMut, Bytes, BytesMut};
use std::time::Instant;

/// Why a send was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Routes are only sent in Established.
    #[error("session is {0}, not Established")]
    NotEstablished(State),
    /// The family is not active on the session.
    #[error("family {0} is not active")]
    FamilyInactive(AfiSafi),
    /// The capability the message needs was not negotiated.
    #[error("{0} not negotiated")]
    NotNegotiated(&'static str),
    /// The message cannot be encoded under the session's context.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

impl Session {
    /// OpenConfirm + KEEPALIVE (RFC 4271 §8.2.2 Event 26).
    pub(super) fn established(&mut self, now: Instant) {
        self.stats.established_at = Some(now);
        self.stats.established_count += 1;
        // The R bit is only for the first OPEN after our restart (RFC 4724 §4.1).
        self.restarting = false;
        self.transition(State::Established);
        let mut sweep = Vec::new();
        if let GrState::PeerRestarting(fams) = std::mem::take(&mut self.gr) {
            // RFC 4724 §4.2: families the new OPEN lists with the F bit keep their stale
            // routes until End-of-RIB; the others are flushed now.
            self.cancel_timer(TimerKind::GrRestart);
            let neg = self.neg.as_ref();
            let keeps = |f: &AfiSafi| {
                neg.and_then(|n| n.gr.as_ref()).is_some_and(|g| {
                    g.peer_families.contains(f)
                        && g.peer.families.iter().any(|x| x.family == *f && x.forwarding_preserved)
                })
            };
            let (keep, flush): (Vec<AfiSafi>, Vec<AfiSafi>) = fams.into_iter().partition(keeps);
            sweep = flush;
            if !keep.is_empty() {
                let stale = self.cfg.graceful_restart.as_ref().map(|g| g.stale_time).unwrap_or_default();
                self.set_timer(TimerKind::GrStale, now + stale);
                if let Some(g) = self.neg.as_mut().map(std::sync::Arc::make_mut).and_then(|n| n.gr.as_mut()) {
                    g.awaiting_eor = keep.clone();
                }
                self.gr = GrState::AwaitingEor(keep);
            }
        }
        if let Some(n) = &self.neg {
            self.push(Output::Established(n.clone()));
        }
        if !sweep.is_empty() {
            self.push(Output::StaleSweep { families: sweep });
        }
    }

    /// Graceful Restart when the session goes down (RFC 4724 §4.2, RFC 8538 §3).
    pub(super) fn gr_on_down(
        &mut self,
        from: State,
        sent: Option<&Notification>,
        received: Option<&Notification>,
        admin: bool,
        now: Instant,
    ) {
        let pending = match std::mem::take(&mut self.gr) {
            GrState::AwaitingEor(f) => {
                self.cancel_timer(TimerKind::GrStale);
                f
            }
            GrState::PeerRestarting(f) if from != State::Established && !admin => {
                // Still waiting for the peer: the Restart timer keeps running.
                self.gr = GrState::PeerRestarting(f);
                return;
            }
            GrState::PeerRestarting(f) => {
                self.cancel_timer(TimerKind::GrRestart);
                f
            }
            GrState::None => Vec::new(),
        };
        let gr = self.neg.as_ref().and_then(|n| n.gr.as_ref());
        let applies = from == State::Established
            && !admin
            && gr.is_some_and(|g| {
                let hard = |n: &Notification| n.code == code::CEASE && n.subcode == cease::HARD_RESET;
                let notif_ok = match sent.or(received) {
                    None => true,
                    Some(n) => g.notification && !hard(n),
                };
                notif_ok && !g.peer_families.is_empty() && !g.peer_restart_time.is_zero()
            });
        if let (true, Some(g)) = (applies, gr) {
            let families = g.peer_families.clone();
            let restart_time = g.peer_restart_time;
            let gone: Vec<AfiSafi> = pending.into_iter().filter(|f| !families.contains(f)).collect();
            if !gone.is_empty() {
                self.push(Output::StaleSweep { families: gone });
            }
            self.push(Output::PeerRestarting { families_preserved: families.clone(), restart_time });
            self.set_timer(TimerKind::GrRestart, now + restart_time);
            self.gr = GrState::PeerRestarting(families);
        } else if !pending.is_empty() {
            self.push(Output::StaleSweep { families: pending });
        }
    }

    fn active(&self, f: AfiSafi) -> bool {
        self.neg.as_ref().is_some_and(|n| n.has_family(f)) && !self.disabled.contains(&f)
    }

    /// A decoded UPDATE in Established.
    pub(super) fn on_update(&mut self, u: Update, now: Instant) {
        if let Some(f) = u.as_end_of_rib() {
            if !self.active(f) {
                return self.push(Output::Warning(Warning::InactiveFamily(f)));
            }
            self.push(Output::EndOfRib(f));
            if let GrState::AwaitingEor(fams) = &mut self.gr {
                if let Some(i) = fams.iter().position(|x| *x == f) {
                    fams.remove(i);
                    if fams.is_empty() {
                        self.gr = GrState::None;
                        self.cancel_timer(TimerKind::GrStale);
                    }
                    self.push(Output::StaleSweep { families: vec![f] });
                }
            }
            return;
        }
        let Some(u) = self.filter_families(u) else { return };
        if let Some(limit) = self.account(&u) {
            return self.max_prefix_exceeded(limit, now);
        }
        self.push(Output::Update(Box::new(u)));
    }

    /// Drops the parts of `u` for families that are not active (RFC 4760 §7 leaves it
    /// to us; we ignore them with a warning rather than resetting).
    fn filter_families(&mut self, mut u: Update) -> Option<Update> {
        let mut stripped = Vec::new();
        if (!u.withdrawn.is_empty() || !u.nlri.is_empty()) && !self.active(AfiSafi::IPV4_UNICAST) {
            u.withdrawn.clear();
            u.nlri.clear();
            stripped.push(AfiSafi::IPV4_UNICAST);
        }
        u.attributes.retain(|a| {
            let f = match &a.value {
                AttrValue::MpReach(m) => m.family,
                AttrValue::MpUnreach(m) => m.family,
                _ => return true,
            };
            let keep = self.neg.as_ref().is_some_and(|n| n.has_family(f)) && !self.disabled.contains(&f);
            if !keep && !stripped.contains(&f) {
                stripped.push(f);
            }
            keep
        });
        if stripped.is_empty() {
            return Some(u);
        }
        for f in stripped {
            self.push(Output::Warning(Warning::InactiveFamily(f)));
        }
        let empty = u.withdrawn.is_empty() && u.nlri.is_empty() && u.mp_reach().is_none() && u.mp_unreach().is_none();
        (!empty).then_some(u)
    }

    fn counter(&mut self, f: AfiSafi) -> &mut FamilyCount {
        let i = match self.counts.iter().position(|(x, _)| *x == f) {
            Some(i) => i,
            None => {
                self.counts.push((f, FamilyCount::default()));
                self.counts.len() - 1
            }
        };
        &mut self.counts[i].1
    }

    /// Whether received prefixes of `f` are tracked (see `SessionConfig::count_prefixes`).
    fn tracks(&self, f: AfiSafi) -> bool {
        self.cfg.count_prefixes || self.cfg.max_prefix.iter().any(|m| m.family == f)
    }

    /// Tracks received prefixes per family; returns the first limit exceeded.
    fn account(&mut self, u: &Update) -> Option<super::MaxPrefix> {
        let mut touched: Vec<AfiSafi> = Vec::new();
        if (!u.withdrawn.is_empty() || !u.nlri.is_empty()) && self.tracks(AfiSafi::IPV4_UNICAST) {
            let c = self.counter(AfiSafi::IPV4_UNICAST);
            for n in &u.withdrawn {
                c.v4.remove(n);
            }
            c.v4.extend(u.nlri.iter().copied());
            touched.push(AfiSafi::IPV4_UNICAST);
        }
        if let Some(m) = u.mp_unreach().filter(|m| self.tracks(m.family)) {
            let c = self.counter(m.family);
            match &m.withdrawn {
                MpNlri::Ipv4(v) => {
                    for n in v {
                        c.v4.remove(n);
                    }
                }
                MpNlri::Ipv6(v) => {
                    for n in v {
                        c.v6.remove(n);
                    }
                }
                MpNlri::Opaque(_) => {}
            }
            touched.push(m.family);
        }
        if let Some(m) = u.mp_reach().filter(|m| self.tracks(m.family)) {
            let c = self.counter(m.family);
            match &m.nlri {
                MpNlri::Ipv4(v) => c.v4.extend(v.iter().copied()),
                MpNlri::Ipv6(v) => c.v6.extend(v.iter().copied()),
                MpNlri::Opaque(_) => {}
            }
            touched.push(m.family);
        }
        touched.into_iter().find_map(|f| self.check_limit(f))
    }

    /// Max-prefix check for one family (RFC 4486 §4): warning at the threshold, the
    /// limit itself is returned when exceeded.
    fn check_limit(&mut self, f: AfiSafi) -> Option<super::MaxPrefix> {
        let mp = *self.cfg.max_prefix.iter().find(|m| m.family == f)?;
        let c = self.counter(f);
        let count = c.count();
        if count > mp.limit {
            return Some(mp);
        }
        let threshold = mp.warning_percent > 0 && count as u64 * 100 >= mp.limit as u64 * mp.warning_percent as u64;
        if threshold && !c.warned {
            c.warned = true;
            self.push(Output::Warning(Warning::MaxPrefixThreshold { family: f, count, limit: mp.limit }));
        } else if !threshold {
            c.warned = false;
        }
        None
    }

    pub(super) fn external_count(&mut self, f: AfiSafi, count: u32, now: Instant) {
        if self.state != State::Established {
            return;
        }
        self.counter(f).external = Some(count);
        if let Some(mp) = self.check_limit(f) {
            self.max_prefix_exceeded(mp, now);
        }
    }

    /// RFC 4486 §4: Cease/1 with AFI (2), SAFI (1) and the limit (4) as data.
    fn max_prefix_exceeded(&mut self, mp: super::MaxPrefix, now: Instant) {
        let mut d = BytesMut::with_capacity(7);
        d.put_u16(mp.family.afi.0);
        d.put_u8(mp.family.safi.0);
        d.put_u32(mp.limit);
        let n = self.maybe_hard_reset(Notification::new(code::CEASE, cease::MAX_PREFIXES, d.freeze()));
        let restart = mp.restart_after.map_or(Restart::Never, Restart::After);
        self.go_idle(now, DownReason::MaxPrefix(mp.family), Some(n), None, restart);
    }

    /// An UPDATE error that RFC 7606 does not answer with a session reset.
    pub(super) fn on_update_error(&mut self, mut e: DecodeError, now: Instant) {
        let salvaged = e.salvaged.take();
        match e.action {
            Action::AttributeDiscard => {
                self.push(Output::Warning(Warning::UpdateError(e)));
                if let Some(u) = salvaged {
                    self.on_update(*u, now);
                }
            }
            Action::TreatAsWithdraw => {
                self.push(Output::Warning(Warning::UpdateError(e)));
                for u in salvaged.map(|u| treat_as_withdraw(*u)).unwrap_or_default() {
                    self.on_update(u, now);
                }
            }
            _ => match e.kind {
                ErrorKind::BadMpAttribute { afi_safi, .. } => {
                    // RFC 7606 §2 / RFC 4760 §7: disable the family for this session.
                    if !self.disabled.contains(&afi_safi) {
                        self.disabled.push(afi_safi);
                    }
                    self.counts.retain(|(f, _)| *f != afi_safi);
                    self.push(Output::FamilyDisabled { family: afi_safi, error: e });
                }
                _ => self.fail(now, Notification::from_error(&e), DownReason::MessageError),
            },
        }
    }

    pub(super) fn on_route_refresh(&mut self, r: RouteRefresh) {
        self.stats.route_refresh_in += 1;
        let (rr, err) = self.neg.as_ref().map_or((false, false), |n| (n.route_refresh || n.enhanced_rr, n.enhanced_rr));
        let ok = self.active(r.family)
            && match r.subtype {
                RefreshSubtype::Request => rr,
                RefreshSubtype::BeginOfRefresh | RefreshSubtype::EndOfRefresh => err,
                // RFC 7313 §5: other subtypes are ignored.
                RefreshSubtype::Other(_) => false,
            };
        self.push(if ok { Output::RouteRefresh(r) } else { Output::Warning(Warning::RouteRefreshIgnored(r)) });
    }

    fn check_send(&self) -> Result<(), SendError> {
        if self.state != State::Established {
            return Err(SendError::NotEstablished(self.state));
        }
        Ok(())
    }

    /// Sends an UPDATE (Established only). Restarts the KeepaliveTimer (RFC 4271 §8.2.2).
    pub fn send_update(&mut self, u: &Update, now: Instant) -> Result<(), SendError> {
        self.check_send()?;
        Ok(self.send_message(&Message::Update(u.clone()), now)?)
    }

    /// Sends one already encoded UPDATE (e.g. shared between peers of an update group);
    /// the caller encoded it with a context equal to [`Session::encode_ctx`].
    pub fn send_raw(&mut self, msg: Bytes, now: Instant) -> Result<(), SendError> {
        self.check_send()?;
        self.stats.messages_out += 1;
        self.stats.updates_out += 1;
        self.last_tx = now;
        self.push(Output::Send(msg));
        Ok(())
    }

    /// Sends End-of-RIB for `family` (RFC 4724 §2).
    pub fn send_end_of_rib(&mut self, family: AfiSafi, now: Instant) -> Result<(), SendError> {
        self.check_send()?;
        if !self.active(family) {
            return Err(SendError::FamilyInactive(family));
        }
        self.send_update(&Update::end_of_rib(family), now)
    }

    /// Sends End-of-RIB for every active family (after the initial table).
    pub fn send_end_of_ribs(&mut self, now: Instant) -> Result<(), SendError> {
        let mut fams = self.neg.as_ref().map(|n| n.families.clone()).unwrap_or_default();
        fams.retain(|f| !self.disabled.contains(f));
        for f in fams {
            self.send_end_of_rib(f, now)?;
        }
        Ok(())
    }

    /// Asks the peer to re-send its routes for `family` (RFC 2918).
    pub fn send_route_refresh(&mut self, family: AfiSafi, now: Instant) -> Result<(), SendError> {
        self.check_send()?;
        let n = self.neg.as_ref().ok_or(SendError::NotEstablished(self.state))?;
        if !(n.route_refresh || n.enhanced_rr) {
            return Err(SendError::NotNegotiated("route refresh"));
        }
        if !self.active(family) {
            return Err(SendError::FamilyInactive(family));
        }
        Ok(self.send_message(&Message::RouteRefresh(RouteRefresh::request(family)), now)?)
    }

    /// Sends a BoRR (`begin`) or EoRR around a re-advertisement of `family`
    /// (RFC 7313 §4); requires enhanced route refresh.
    pub fn send_refresh_marker(&mut self, family: AfiSafi, begin: bool, now: Instant) -> Result<(), SendError> {
        self.check_send()?;
        if !self.neg.as_ref().is_some_and(|n| n.enhanced_rr) {
            return Err(SendError::NotNegotiated("enhanced route refresh"));
        }
        if !self.active(family) {
            return Err(SendError::FamilyInactive(family));
        }
        let subtype = if begin { RefreshSubtype::BeginOfRefresh } else { RefreshSubtype::EndOfRefresh };
        let m = RouteRefresh { family, subtype, orf: Bytes::new() };
        Ok(self.send_message(&Message::RouteRefresh(m), now)?)
    }
}

fn merge(a: &mut MpNlri, b: MpNlri) -> Result<(), MpNlri> {
    match (a, b) {
        (MpNlri::Ipv4(x), MpNlri::Ipv4(y)) => x.extend(y),
        (MpNlri::Ipv6(x), MpNlri::Ipv6(y)) => x.extend(y),
        (MpNlri::Opaque(x), MpNlri::Opaque(y)) => {
            let mut v = BytesMut::from(&x[..]);
            v.extend_from_slice(&y);
            *x = v.freeze();
        }
        (_, b) => return Err(b),
    }
    Ok(())
}

/// RFC 7606 §2 treat-as-withdraw: every prefix the UPDATE announced becomes a
/// withdrawal (NLRI field → Withdrawn Routes, MP_REACH_NLRI → MP_UNREACH_NLRI of the
/// same family), and the attributes go. One UPDATE holds one MP_UNREACH_NLRI, so two
/// families give two UPDATEs. UPDATEs that would withdraw nothing are not produced (an
/// empty one would read as End-of-RIB).
pub fn treat_as_withdraw(u: Update) -> Vec<Update> {
    let mut withdrawn = u.withdrawn.clone();
    withdrawn.extend(u.nlri.iter().copied());
    let reach = u.mp_reach().cloned();
    let mut unreach = u.mp_unreach().cloned();
    let mut extra = None;
    if let Some(r) = reach {
        match &mut unreach {
            Some(un) if un.family == r.family => {
                if let Err(b) = merge(&mut un.withdrawn, r.nlri) {
                    extra = Some(MpUnreach { family: r.family, withdrawn: b });
                }
            }
            Some(_) => extra = Some(MpUnreach { family: r.family, withdrawn: r.nlri }),
            None => unreach = Some(MpUnreach { family: r.family, withdrawn: r.nlri }),
        }
    }
    let mut out = Vec::new();
    let mut first = Update { withdrawn, ..Default::default() };
    if let Some(un) = unreach.filter(|m| !m.withdrawn.is_empty()) {
        first.attributes.push(Attribute::new(AttrValue::MpUnreach(Box::new(un))));
    }
    if !first.withdrawn.is_empty() || !first.attributes.is_empty() {
        out.push(first);
    }
    if let Some(un) = extra.filter(|m| !m.withdrawn.is_empty()) {
        out.push(Update {
            attributes: bgp_proto::smallvec::smallvec![Attribute::new(AttrValue::MpUnreach(Box::new(un)))],
            ..Default::default()
        });
    }
    out
}
