//! The kernel-level form of a route (interface indexes, not names) and how two forms
//! compare (sans-IO).

use std::net::IpAddr;

/// One next hop as the kernel sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Hop {
    /// Gateway.
    pub gw: IpAddr,
    /// Output interface index; 0 = not specified (the kernel picks it).
    pub oif: u32,
    /// `RTNH_F_ONLINK`.
    pub onlink: bool,
    /// ECMP weight 1..=256.
    pub weight: u16,
}

/// A route's forwarding part as written to or read from the kernel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Spec {
    /// `RTN_BLACKHOLE`.
    Blackhole,
    /// `RTN_UNREACHABLE`.
    Unreachable,
    /// `RTN_UNICAST` with one (`via`) or more (multipath) gateways, sorted.
    Unicast(Box<[Hop]>),
    /// Anything we never install (device routes, prohibit, local, ...).
    Other,
}

impl Spec {
    /// Build a unicast spec with hops in canonical (sorted) order.
    pub fn unicast(mut hops: Vec<Hop>) -> Spec {
        hops.sort();
        Spec::Unicast(hops.into_boxed_slice())
    }

    /// Whether the kernel's route `have` is what we asked for with `self`.
    ///
    /// The kernel fills in what we left out (the output interface of a plain `via`), and
    /// adds state flags (`linkdown`, `dead`), so an unspecified interface matches any and
    /// flags other than `onlink` are ignored.
    pub fn satisfied_by(&self, have: &Spec) -> bool {
        match (self, have) {
            (Spec::Blackhole, Spec::Blackhole) | (Spec::Unreachable, Spec::Unreachable) => true,
            (Spec::Unicast(want), Spec::Unicast(have)) => {
                if want.len() != have.len() {
                    return false;
                }
                let mut used = vec![false; have.len()];
                want.iter().all(|w| {
                    let found = have.iter().enumerate().position(|(i, h)| {
                        !used[i]
                            && h.gw == w.gw
                            && (w.oif == 0 || h.oif == w.oif)
                            && h.onlink == w.onlink
                            && h.weight == w.weight
                    });
                    match found {
                        Some(i) => {
                            used[i] = true;
                            true
                        }
                        None => false,
                    }
                })
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(gw: &str, oif: u32, onlink: bool) -> Hop {
        Hop { gw: gw.parse().unwrap(), oif, onlink, weight: 1 }
    }

    #[test]
    fn unspecified_oif_matches_any() {
        let want = Spec::unicast(vec![hop("198.18.0.1", 0, false)]);
        assert!(want.satisfied_by(&Spec::unicast(vec![hop("198.18.0.1", 7, false)])));
        assert!(!want.satisfied_by(&Spec::unicast(vec![hop("198.18.0.2", 7, false)])));
        assert!(!want.satisfied_by(&Spec::unicast(vec![hop("198.18.0.1", 7, true)])));
        let want = Spec::unicast(vec![hop("198.18.0.1", 3, true)]);
        assert!(!want.satisfied_by(&Spec::unicast(vec![hop("198.18.0.1", 7, true)])));
        assert!(want.satisfied_by(&Spec::unicast(vec![hop("198.18.0.1", 3, true)])));
    }

    #[test]
    fn multipath_order_free() {
        let want = Spec::unicast(vec![hop("198.18.0.2", 0, false), hop("198.18.0.1", 0, false)]);
        let have = Spec::unicast(vec![hop("198.18.0.1", 4, false), hop("198.18.0.2", 4, false)]);
        assert!(want.satisfied_by(&have));
        let fewer = Spec::unicast(vec![hop("198.18.0.1", 4, false)]);
        assert!(!want.satisfied_by(&fewer));
        assert!(!Spec::Blackhole.satisfied_by(&Spec::Unreachable));
        assert!(Spec::Blackhole.satisfied_by(&Spec::Blackhole));
        assert!(!Spec::Other.satisfied_by(&Spec::Other));
    }
}
