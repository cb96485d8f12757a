//! Policy matches and actions, TOML round trip, import policy, graceful restart.

use super::*;
use crate::rib::policy::*;

fn ctx(prefix: &str, kind: PeerKind) -> PolicyCtx {
    PolicyCtx { prefix: pfx(prefix), peer_kind: kind, local_as: LOCAL_AS, from_local: false }
}

fn rule(m: Match, then: Vec<Action>) -> Policy {
    Policy { name: "t".into(), default: Terminal::Reject, rules: vec![Rule { name: None, matches: m, then }] }
}

fn accepts(p: &Policy, prefix: &str, kind: PeerKind, a: &PathAttrs) -> bool {
    p.evaluate(&ctx(prefix, kind), a).accept
}

#[test]
fn match_prefix_exact_and_range() {
    let exact = rule(
        Match {
            prefix: vec![PrefixMatch { prefix: "10.244.0.0/16".parse().unwrap(), ge: None, le: None }],
            ..Default::default()
        },
        vec![Action::Accept],
    );
    let a = attrs(&[1]);
    assert!(accepts(&exact, "10.244.0.0/16", PeerKind::Ebgp, &a));
    assert!(!accepts(&exact, "10.244.1.0/26", PeerKind::Ebgp, &a));
    let range = rule(
        Match {
            prefix: vec![PrefixMatch { prefix: "10.244.0.0/16".parse().unwrap(), ge: Some(24), le: Some(26) }],
            ..Default::default()
        },
        vec![Action::Accept],
    );
    assert!(range.evaluate(&ctx("10.244.1.0/26", PeerKind::Ebgp), &a).accept);
    assert!(accepts(&range, "10.244.1.0/24", PeerKind::Ebgp, &a));
    assert!(!accepts(&range, "10.244.1.0/27", PeerKind::Ebgp, &a));
    assert!(!accepts(&range, "10.244.0.0/16", PeerKind::Ebgp, &a));
    assert!(!accepts(&range, "10.245.1.0/26", PeerKind::Ebgp, &a));
    let le_only = rule(
        Match {
            prefix: vec![PrefixMatch { prefix: "10.0.0.0/8".parse().unwrap(), ge: None, le: Some(16) }],
            ..Default::default()
        },
        vec![Action::Accept],
    );
    assert!(accepts(&le_only, "10.0.0.0/8", PeerKind::Ebgp, &a));
    assert!(accepts(&le_only, "10.1.0.0/16", PeerKind::Ebgp, &a));
    assert!(!accepts(&le_only, "10.1.1.0/24", PeerKind::Ebgp, &a));
}

#[test]
fn match_communities_as_path_peer_type() {
    let c = CommunityValue(Community::new(65000, 1));
    let l = LargeCommunityValue(bgp_proto::LargeCommunity::new(65000, 1, 2));
    let with_c = PathAttrs { communities: vec![c.0], ..attrs(&[100, 200]) };
    let with_l = PathAttrs { large_communities: vec![l.0], ..attrs(&[100, 200]) };
    let plain = attrs(&[100, 200]);
    let p = rule(Match { community: Some(c), ..Default::default() }, vec![Action::Accept]);
    assert!(accepts(&p, P, PeerKind::Ebgp, &with_c) && !accepts(&p, P, PeerKind::Ebgp, &plain));
    let p = rule(Match { large_community: Some(l), ..Default::default() }, vec![Action::Accept]);
    assert!(accepts(&p, P, PeerKind::Ebgp, &with_l) && !accepts(&p, P, PeerKind::Ebgp, &plain));
    let p = rule(Match { as_path_contains: Some(200), ..Default::default() }, vec![Action::Accept]);
    assert!(accepts(&p, P, PeerKind::Ebgp, &plain) && !accepts(&p, P, PeerKind::Ebgp, &attrs(&[100])));
    let p = rule(Match { as_path_starts_with: Some(100), ..Default::default() }, vec![Action::Accept]);
    assert!(accepts(&p, P, PeerKind::Ebgp, &plain) && !accepts(&p, P, PeerKind::Ebgp, &attrs(&[200, 100])));
    let p = rule(Match { peer_type: Some(PeerType::Ibgp), ..Default::default() }, vec![Action::Accept]);
    assert!(accepts(&p, P, PeerKind::Ibgp, &plain) && accepts(&p, P, PeerKind::RrClient, &plain));
    assert!(!accepts(&p, P, PeerKind::Ebgp, &plain));
    let p = rule(Match { peer_type: Some(PeerType::Client), ..Default::default() }, vec![Action::Accept]);
    assert!(accepts(&p, P, PeerKind::RrClient, &plain) && !accepts(&p, P, PeerKind::Ibgp, &plain));
    let p = rule(
        Match { peer_type: Some(PeerType::Ebgp), as_path_contains: Some(999), ..Default::default() },
        vec![Action::Accept],
    );
    assert!(!accepts(&p, P, PeerKind::Ebgp, &plain), "all conditions must hold");
}

#[test]
fn actions() {
    let c = CommunityValue(Community::new(65000, 1));
    let l = LargeCommunityValue(bgp_proto::LargeCommunity::new(65000, 1, 2));
    let base = PathAttrs {
        communities: vec![Community::new(1, 1)],
        large_communities: vec![bgp_proto::LargeCommunity::new(1, 1, 1)],
        ..attrs(&[100])
    };
    let run = |then: Vec<Action>| rule(Match::default(), then).evaluate(&ctx(P, PeerKind::Ebgp), &base);
    let v = run(vec![Action::AddCommunity(c), Action::AddLargeCommunity(l), Action::Accept]);
    let m = v.modified.unwrap();
    assert_eq!(m.communities, vec![Community::new(1, 1), c.0]);
    assert_eq!(m.large_communities, vec![bgp_proto::LargeCommunity::new(1, 1, 1), l.0]);
    let v = run(vec![
        Action::RemoveCommunity(CommunityValue(Community::new(1, 1))),
        Action::RemoveLargeCommunity(LargeCommunityValue(bgp_proto::LargeCommunity::new(1, 1, 1))),
        Action::Accept,
    ]);
    let m = v.modified.unwrap();
    assert!(m.communities.is_empty() && m.large_communities.is_empty());
    let m =
        run(vec![Action::Prepend(2), Action::SetLocalPref(250), Action::SetMed(9), Action::Accept]).modified.unwrap();
    assert_eq!(m.as_path, AsPath::from_sequence([LOCAL_AS, LOCAL_AS, 100]));
    assert_eq!((m.local_pref, m.med), (Some(250), Some(9)));
    assert_eq!(run(vec![Action::NextHopSelf, Action::Accept]).next_hop, Some(NextHopAction::SelfAddr));
    assert_eq!(run(vec![Action::NextHopKeep, Action::Accept]).next_hop, Some(NextHopAction::Keep));
    let v = run(vec![Action::Accept, Action::SetMed(1)]);
    assert!(v.accept && v.modified.is_none(), "first terminal action wins");
    assert!(!run(vec![Action::SetMed(1), Action::Reject]).accept);
    // Non-terminal rules fall through to the default.
    assert!(!run(vec![Action::SetMed(1)]).accept);
    let mut p = rule(Match::default(), vec![Action::SetMed(1)]);
    p.default = Terminal::Accept;
    let v = p.evaluate(&ctx(P, PeerKind::Ebgp), &base);
    assert!(v.accept);
    assert_eq!(v.modified.unwrap().med, Some(1));
}

const SAMPLE: &str = r#"
name = "calico-export"
default = "reject"

[[rule]]
name = "pod blocks"
match = { prefix = [{ prefix = "10.244.0.0/16", ge = 26, le = 26 }], peer-type = "ebgp" }
then = [{ add-community = "65000:100" }, { add-large-community = "65000:1:2" }, { prepend = 2 }, "accept"]

[[rule]]
match = { community = "no-export" }
then = ["reject"]

[[rule]]
match = { as-path-starts-with = 64512, as-path-contains = 65001, large-community = "1:2:3" }
then = [{ set-local-pref = 200 }, { set-med = 10 }, { remove-community = "65000:5" }, { remove-large-community = "1:2:3" }, "next-hop-self", "next-hop-keep", "accept"]
"#;

#[test]
fn toml_round_trip() {
    let p = Policy::from_toml(SAMPLE).unwrap();
    assert_eq!(p.default, Terminal::Reject);
    assert_eq!(p.rules.len(), 3);
    assert_eq!(p.rules[0].matches.prefix[0].le, Some(26));
    assert_eq!(p.rules[1].matches.community, Some(CommunityValue(Community::NO_EXPORT)));
    assert_eq!(p.rules[0].then[0], Action::AddCommunity(CommunityValue(Community::new(65000, 100))));
    let s = toml::to_string(&p).unwrap();
    assert_eq!(Policy::from_toml(&s).unwrap(), p, "{s}");
    // And JSON, for the API.
    let j = serde_json::to_string(&p).unwrap();
    assert_eq!(serde_json::from_str::<Policy>(&j).unwrap(), p);
    assert!(Policy::from_toml("name = \"x\"\n[[rule]]\nthen = [{ add-community = \"nope\" }]").is_err());
    // The sample does what it says.
    let v = p.evaluate(&ctx("10.244.3.64/26", PeerKind::Ebgp), &attrs(&[]));
    assert!(v.accept);
    assert_eq!(v.modified.unwrap().as_path, AsPath::from_sequence([LOCAL_AS, LOCAL_AS]));
    assert!(!p.evaluate(&ctx("10.244.3.64/26", PeerKind::Ibgp), &attrs(&[])).accept);
}

#[test]
fn import_policy_in_rib() {
    let mut rib = new_rib();
    let pol = rib.add_policy(Policy {
        name: "in".into(),
        default: Terminal::Accept,
        rules: vec![
            Rule {
                name: None,
                matches: Match {
                    prefix: vec![PrefixMatch { prefix: "10.0.0.0/8".parse().unwrap(), ge: None, le: None }],
                    ..Default::default()
                },
                then: vec![Action::Reject],
            },
            Rule { name: None, matches: Match::default(), then: vec![Action::SetLocalPref(300)] },
        ],
    });
    let mut cfg = PeerConfig::new(IpAddr::V4(ip("192.0.2.1")), 100, ip("10.1.0.1"), PeerKind::Ebgp);
    cfg.import_policy = Some(pol);
    let a = rib.add_peer(cfg);
    rib.peer_up(a, None);
    rib.import(a, attrs(&[100]), [(pfx("10.0.0.0/8"), 0), (pfx(P), 0)]);
    assert_eq!(rib.peer_counts(a), PeerCounts { received: 2, accepted: 1, best: 1 });
    assert_eq!(rib.best(pfx(P)).unwrap().attrs.local_pref, Some(300));
    assert_eq!(rib.best(pfx("10.0.0.0/8")), None);
}

#[test]
fn graceful_restart_stale_mark_and_sweep() {
    use bgp_proto::AfiSafi;
    let mut rib = new_rib();
    let a = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let b = peer(&mut rib, 2, 200, PeerKind::Ebgp);
    announce(&mut rib, a, "10.1.0.0/16", attrs(&[100]));
    announce(&mut rib, a, "10.2.0.0/16", attrs(&[100]));
    announce(&mut rib, a, "2001:db8::/32", attrs(&[100]));
    announce(&mut rib, b, "10.2.0.0/16", attrs(&[200, 1]));
    rib.drain_changes();
    // Restart: IPv4 preserved, IPv6 not negotiated for GR, so flushed.
    assert_eq!(rib.mark_stale(a, &[AfiSafi::IPV4_UNICAST]), 2);
    assert_eq!(rib.routes(pfx("2001:db8::/32")).len(), 0);
    assert!(rib.routes(pfx("10.1.0.0/16"))[0].stale);
    assert_eq!(best_peer(&rib, "10.1.0.0/16"), Some(a), "stale routes stay usable");
    let ch = rib.drain_changes();
    assert_eq!(ch.len(), 1, "only the flushed IPv6 prefix changed");
    // The peer comes back and re-announces one prefix.
    rib.peer_up(a, None);
    announce(&mut rib, a, "10.1.0.0/16", attrs(&[100]));
    assert!(!rib.routes(pfx("10.1.0.0/16"))[0].stale);
    assert!(!rib.has_changes(), "refresh with the same attributes is not a change");
    assert_eq!(rib.sweep_stale(a, AfiSafi::IPV4_UNICAST), 1);
    assert_eq!(best_peer(&rib, "10.2.0.0/16"), Some(b));
    assert_eq!(best_peer(&rib, "10.1.0.0/16"), Some(a));
    assert_eq!(rib.peer_counts(a), PeerCounts { received: 1, accepted: 1, best: 1 });
    assert_eq!(rib.sweep_stale(a, AfiSafi::IPV4_UNICAST), 0);
}

#[test]
fn local_origination_and_withdrawal() {
    let mut rib = new_rib();
    rib.originate(pfx("10.244.1.0/26"), PathAttrs { next_hop: None, ..attrs(&[]) });
    let ch = rib.drain_changes();
    assert_eq!(ch[0].best().unwrap().peer, PeerId::LOCAL);
    assert_eq!(rib.peer_counts(PeerId::LOCAL).best, 1);
    rib.withdraw_local(pfx("10.244.1.0/26"));
    assert!(rib.drain_changes()[0].is_withdraw());
}

#[test]
fn match_source_local_or_remote_peers() {
    let remote = rule(Match { source: Some(RouteSource::RemotePeers), ..Default::default() }, vec![Action::Reject]);
    let remote = Policy { default: Terminal::Accept, ..remote };
    let a = attrs(&[]);
    let learned = ctx("10.244.1.0/26", PeerKind::Ebgp);
    let local = PolicyCtx { from_local: true, ..learned };
    assert!(!remote.evaluate(&learned, &a).accept, "a learned route matches RemotePeers");
    assert!(remote.evaluate(&local, &a).accept, "an originated route does not");
    let only_local = rule(Match { source: Some(RouteSource::Local), ..Default::default() }, vec![Action::Accept]);
    assert!(only_local.evaluate(&local, &a).accept);
    assert!(!only_local.evaluate(&learned, &a).accept);
    let toml =
        "name = \"p\"\ndefault = \"accept\"\n[[rule]]\nmatch = { source = \"remote-peers\" }\nthen = [\"reject\"]\n";
    let parsed = Policy::from_toml(toml).expect("source parses");
    assert_eq!(parsed.rules[0].matches.source, Some(RouteSource::RemotePeers));
}

/// Equal policies share one id (and so peers with equal export policies one update
/// group); each registration is a reference and the last release frees the slot, which
/// the next new policy reuses: replacing policies (reload) or dynamic neighbours coming
/// and going does not accumulate them.
#[test]
fn policies_are_interned_counted_and_freed() {
    use bgp_proto::{AfiSafi, EncodeCtx, FamilySet};
    let mut rib = new_rib();
    let (p1, p2) = (rule(Match::default(), vec![Action::Accept]), rule(Match::default(), vec![Action::Reject]));
    let a = rib.add_policy(p1.clone());
    assert_eq!(rib.add_policy(p1.clone()), a);
    let b = rib.add_policy(p2.clone());
    assert_ne!(a, b);
    assert_eq!(rib.policy_count(), 2);

    // Two peers registered with equal export policies share an update group.
    let member = || MemberConfig {
        ctx: EncodeCtx::default(),
        families: [AfiSafi::IPV4_UNICAST].into_iter().collect::<FamilySet>(),
        nh_self_v4: Some(ip("192.0.2.254")),
        nh_self_v6: None,
    };
    let (x, y) = (peer(&mut rib, 1, LOCAL_AS, PeerKind::RrClient), peer(&mut rib, 2, LOCAL_AS, PeerKind::RrClient));
    rib.set_peer_policies(x, None, Some(a));
    rib.set_peer_policies(y, None, Some(a));
    let mut out = OutGroups::new();
    let (gx, _) = out.join(&rib, x, member());
    let (gy, _) = out.join(&rib, y, member());
    assert_eq!(gx, gy, "one update group for one policy");

    // A reload gives y another policy: the old id is handed back and still held by x.
    let b2 = rib.add_policy(p2.clone());
    assert_eq!(b2, b);
    assert_eq!(rib.set_peer_policies(y, None, Some(b2)), [None, Some(a)]);
    let _ = out.rejoin(&rib, y);
    rib.release_policy(a);
    assert_eq!(rib.policy(a), &p1, "x still holds it");
    assert_eq!(rib.policy_count(), 2);
    // x goes away for good; its last reference frees p1, and a new policy takes the slot.
    out.leave(x);
    rib.clear_peer_policies(x);
    assert_eq!(rib.peer(x).export_policy, None);
    rib.release_policy(b); // the first registration of p2 above
    assert_eq!(rib.policy_count(), 1, "p2 is held by y only");
    let p3 = Policy { name: "third".into(), ..p1.clone() };
    assert_eq!(rib.add_policy(p3.clone()), a, "the freed slot is reused");
    assert_eq!(rib.policy(a), &p3);
    // A hundred replacements leave the count where it was.
    for _ in 0..100 {
        let n = rib.add_policy(p1.clone());
        let old = rib.set_peer_policies(y, None, Some(n));
        old.into_iter().flatten().for_each(|o| rib.release_policy(o));
        let n = rib.add_policy(p2.clone());
        let old = rib.set_peer_policies(y, None, Some(n));
        old.into_iter().flatten().for_each(|o| rib.release_policy(o));
    }
    assert_eq!(rib.policy_count(), 2, "p3, and p2 held by y");
}
