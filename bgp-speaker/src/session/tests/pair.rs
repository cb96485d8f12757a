//! Two sessions back to back on a virtual clock.

use super::harness::*;
use crate::session::*;
use bgp_proto::{AfiSafi, AttrValue, Attribute, Nlri, Notification, Origin, Update};

fn route(prefix: &str) -> Update {
    Update {
        attributes: bgp_proto::smallvec::smallvec![
            Attribute::new(AttrValue::Origin(Origin::Igp)),
            Attribute::new(AttrValue::AsPath(bgp_proto::AsPath::from_sequence([65001]))),
            Attribute::new(AttrValue::NextHop("10.0.0.1".parse().unwrap())),
        ],
        nlri: bgp_proto::smallvec::smallvec![Nlri::new(prefix.parse().unwrap())],
        ..Default::default()
    }
}

fn established(p: &Pair, side: usize) -> Option<Negotiated> {
    p.log[side].iter().find_map(|o| match o {
        Output::Established(n) => Some((**n).clone()),
        _ => None,
    })
}

#[test]
fn pair_establishes_exchanges_updates_and_shuts_down_with_message() {
    let mut p = Pair::new(cfg_a(), cfg_b());
    p.connect();
    assert_eq!((p.s[0].state(), p.s[1].state()), (State::Established, State::Established));
    let (na, nb) = (established(&p, 0).unwrap(), established(&p, 1).unwrap());
    assert_eq!((na.peer_id, nb.peer_id), (B_ID, A_ID));
    assert_eq!(na.families, nb.families);
    assert_eq!(p.s[1].direction(), Some(Direction::Inbound));
    p.take_log(1);

    // Routes flow both ways.
    let now = p.now;
    p.s[0].send_update(&route("10.244.1.0/26"), now).unwrap();
    p.s[0].send_end_of_ribs(now).unwrap();
    p.run();
    let got = updates(&p.log[1]);
    assert_eq!(got, [route("10.244.1.0/26")]);
    assert!(has(&p.log[1], |o| matches!(o, Output::EndOfRib(AfiSafi::IPV6_UNICAST))));

    // Keepalives keep both up for an hour.
    p.advance(secs(3600));
    assert_eq!((p.s[0].state(), p.s[1].state()), (State::Established, State::Established));

    // A stops with an RFC 9003 message; B sees it.
    p.take_log(1);
    p.input(0, Input::Stop { notification: Some(Notification::cease_with_message(2, "node drained for upgrade")) });
    let (reason, _, rcv) = down(&p.log[1]).unwrap();
    assert_eq!(reason, DownReason::NotificationReceived);
    let rcv = rcv.unwrap();
    assert_eq!((rcv.code, rcv.subcode), (6, 2));
    assert_eq!(rcv.shutdown_communication().unwrap().as_deref(), Some("node drained for upgrade"));
    assert_eq!((p.s[0].state(), p.s[1].state()), (State::Idle, State::Idle));
    let (sa, sb) = (p.s[0].stats(), p.s[1].stats());
    assert_eq!(sa.updates_out, 3);
    assert_eq!(sb.updates_in, 3);
    assert_eq!(sa.notifications_out, 1);
    assert_eq!(sb.notifications_in, 1);
}

#[test]
fn pair_recovers_after_connection_loss() {
    let mut p = Pair::new(cfg_a(), cfg_b());
    p.connect();
    // B drops the connection (e.g. its pod restarted): both go down, A reconnects.
    p.input(1, Input::TcpClosed);
    assert_eq!(p.s[0].state(), State::Idle);
    p.input(1, Input::Start);
    p.advance(secs(10));
    assert_eq!((p.s[0].state(), p.s[1].state()), (State::Established, State::Established));
    assert_eq!(p.s[0].stats().established_count, 2);
}

#[test]
fn pair_negotiates_extended_message_and_add_path() {
    let mut a = cfg_a();
    let mut b = cfg_b();
    for c in [&mut a, &mut b] {
        c.extended_message = true;
        c.families[0].add_path = Some(bgp_proto::capability::AddPathMode::Both);
    }
    let mut p = Pair::new(a, b);
    p.connect();
    assert_eq!(p.s[1].max_frame_len(), 65535);
    assert!(p.s[0].encode_ctx().add_path(AfiSafi::IPV4_UNICAST));
    let mut u = route("10.244.2.0/26");
    u.nlri[0].path_id = Some(7);
    let now = p.now;
    p.s[0].send_update(&u, now).unwrap();
    p.run();
    assert_eq!(updates(&p.log[1]), [u]);
}

#[test]
fn pair_bad_peer_as_never_establishes() {
    let mut b = cfg_b();
    b.peer_as = PeerAs::Exact(64999);
    let mut p = Pair::new(cfg_a(), b);
    p.connect();
    let (_, sent_b, _) = down(&p.log[1]).unwrap();
    assert_eq!(sent_b.unwrap(), Notification::new(2, 2, bytes::Bytes::new()));
    let (reason, _, rcv) = down(&p.log[0]).unwrap();
    assert_eq!((reason, rcv.map(|n| (n.code, n.subcode))), (DownReason::NotificationReceived, Some((2, 2))));
}
