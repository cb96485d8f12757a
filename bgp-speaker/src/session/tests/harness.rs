//! Test harness: one session driven by hand ([`H`]) and two sessions wired back to
//! back ([`Pair`]), both on a virtual clock.

use crate::session::*;
use bgp_proto::{AfiSafi, Capability, DecodeCtx, EncodeCtx, Message, Notification, Open};
use bytes::{Bytes, BytesMut};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

pub const A_ID: Ipv4Addr = Ipv4Addr::new(1, 1, 1, 1);
pub const B_ID: Ipv4Addr = Ipv4Addr::new(2, 2, 2, 2);

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Side A: AS 65001, expects 65002.
pub fn cfg_a() -> SessionConfig {
    SessionConfig::new(65001, A_ID, PeerAs::Exact(65002))
}

/// Side B: AS 65002, expects 65001, passive.
pub fn cfg_b() -> SessionConfig {
    let mut c = SessionConfig::new(65002, B_ID, PeerAs::Exact(65001));
    c.passive = true;
    c
}

/// The OPEN a typical peer (B) sends to A.
pub fn peer_open() -> Open {
    Open::new(
        65002,
        90,
        B_ID,
        vec![
            Capability::Multiprotocol { family: AfiSafi::IPV4_UNICAST, reserved: 0 },
            Capability::Multiprotocol { family: AfiSafi::IPV6_UNICAST, reserved: 0 },
            Capability::RouteRefresh,
            Capability::EnhancedRouteRefresh,
        ],
    )
}

pub fn enc(m: &Message) -> Bytes {
    m.to_bytes(&EncodeCtx::default()).unwrap()
}

/// The wire bytes of a NOTIFICATION.
pub fn notif_bytes(code: u8, sub: u8, data: &[u8]) -> Vec<u8> {
    enc(&Message::Notification(Notification::new(code, sub, Bytes::copy_from_slice(data)))).to_vec()
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Messages in the `Send` outputs.
pub fn sent(outs: &[Output]) -> Vec<Message> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send(b) => Some(Message::decode(b, &DecodeCtx::default()).unwrap()),
            _ => None,
        })
        .collect()
}

/// Raw bytes of the `Send` outputs.
pub fn sent_bytes(outs: &[Output]) -> Vec<Vec<u8>> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send(b) => Some(b.to_vec()),
            _ => None,
        })
        .collect()
}

pub fn states(outs: &[Output]) -> Vec<(State, State)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::StateChanged { from, to } => Some((*from, *to)),
            _ => None,
        })
        .collect()
}

pub fn down(outs: &[Output]) -> Option<(DownReason, Option<Notification>, Option<Notification>)> {
    outs.iter().find_map(|o| match o {
        Output::Down { reason, notification_sent, notification_received } => {
            Some((reason.clone(), notification_sent.clone(), notification_received.clone()))
        }
        _ => None,
    })
}

pub fn timer_set(outs: &[Output], k: TimerKind) -> Option<Instant> {
    outs.iter().rev().find_map(|o| match o {
        Output::SetTimer(x, at) if *x == k => Some(*at),
        _ => None,
    })
}

pub fn has(outs: &[Output], f: impl Fn(&Output) -> bool) -> bool {
    outs.iter().any(f)
}

pub fn updates(outs: &[Output]) -> Vec<bgp_proto::Update> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Update(u) => Some((**u).clone()),
            _ => None,
        })
        .collect()
}

/// One session driven by hand.
pub struct H {
    pub s: Session,
    pub t0: Instant,
    pub now: Instant,
}

impl H {
    pub fn new(cfg: SessionConfig) -> H {
        let t0 = Instant::now();
        H { s: Session::new(cfg, t0), t0, now: t0 }
    }

    pub fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.s.poll_output()).collect()
    }

    pub fn input(&mut self, i: Input) -> Vec<Output> {
        self.s.handle(i, self.now);
        self.drain()
    }

    pub fn msg(&mut self, m: Message) -> Vec<Output> {
        self.input(Input::Frame(enc(&m)))
    }

    pub fn raw(&mut self, b: &[u8]) -> Vec<Output> {
        self.input(Input::Frame(Bytes::copy_from_slice(b)))
    }

    pub fn advance(&mut self, d: Duration) -> Vec<Output> {
        self.now += d;
        self.s.handle_timeout(self.now);
        self.drain()
    }

    pub fn connected(&mut self) -> Vec<Output> {
        let direction = if self.s.state() == State::Connect { Direction::Outbound } else { Direction::Inbound };
        self.input(Input::TcpConnected { local: addr("10.0.0.1:179"), remote: addr("10.0.0.2:50000"), direction })
    }

    /// Start, connect, and go to OpenSent.
    pub fn drive_open_sent(&mut self) -> Vec<Output> {
        let mut o = self.input(Input::Start);
        o.extend(self.connected());
        assert_eq!(self.s.state(), State::OpenSent);
        o
    }

    pub fn drive_open_confirm(&mut self, peer: Open) -> Vec<Output> {
        let mut o = self.drive_open_sent();
        o.extend(self.msg(Message::Open(peer)));
        assert_eq!(self.s.state(), State::OpenConfirm, "{o:?}");
        o
    }

    pub fn drive_established(&mut self, peer: Open) -> Vec<Output> {
        let mut o = self.drive_open_confirm(peer);
        o.extend(self.msg(Message::Keepalive));
        assert_eq!(self.s.state(), State::Established);
        o
    }
}

/// Two sessions back to back: A (index 0) and B (index 1).
pub struct Pair {
    pub s: [Session; 2],
    pub log: [Vec<Output>; 2],
    pub now: Instant,
    link: bool,
    inbox: [BytesMut; 2],
}

impl Pair {
    pub fn new(a: SessionConfig, b: SessionConfig) -> Pair {
        let now = Instant::now();
        Pair {
            s: [Session::new(a, now), Session::new(b, now)],
            log: [Vec::new(), Vec::new()],
            now,
            link: false,
            inbox: [BytesMut::new(), BytesMut::new()],
        }
    }

    /// Starts both (B first, it is passive) and runs until quiet.
    pub fn connect(&mut self) {
        self.s[1].handle(Input::Start, self.now);
        self.s[0].handle(Input::Start, self.now);
        self.run();
    }

    pub fn input(&mut self, side: usize, i: Input) {
        self.s[side].handle(i, self.now);
        self.run();
    }

    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = self.s.iter().filter_map(|s| s.next_deadline()).min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    for s in &mut self.s {
                        s.handle_timeout(self.now);
                    }
                    self.run();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    /// Moves outputs between the two until nothing happens.
    pub fn run(&mut self) {
        for _ in 0..1000 {
            let mut progress = false;
            let mut closed = [false; 2];
            let mut connect = false;
            for side in 0..2 {
                while let Some(o) = self.s[side].poll_output() {
                    progress = true;
                    match &o {
                        Output::Connect => connect = true,
                        Output::Send(b) if self.link => self.inbox[1 - side].extend_from_slice(b),
                        Output::CloseConnection if self.link => {
                            self.link = false;
                            closed[1 - side] = true;
                        }
                        _ => {}
                    }
                    self.log[side].push(o);
                }
            }
            for side in 0..2 {
                loop {
                    let max = self.s[side].max_frame_len();
                    match bgp_proto::frame(&self.inbox[side], max) {
                        Ok(Some(len)) => {
                            let m = self.inbox[side].split_to(len).freeze();
                            self.s[side].handle(Input::Frame(m), self.now);
                            progress = true;
                        }
                        Ok(None) => break,
                        Err(e) => {
                            self.inbox[side].clear();
                            self.s[side].handle(Input::FrameError(e), self.now);
                            break;
                        }
                    }
                }
            }
            for (side, &c) in closed.iter().enumerate() {
                if c {
                    self.inbox = [BytesMut::new(), BytesMut::new()];
                    self.s[side].handle(Input::TcpClosed, self.now);
                    progress = true;
                }
            }
            if connect {
                if !self.link && self.s[1].accepts_connection() {
                    self.link = true;
                    let (a, b) = (addr("10.0.0.1:40000"), addr("10.0.0.2:179"));
                    self.s[1]
                        .handle(Input::TcpConnected { local: b, remote: a, direction: Direction::Inbound }, self.now);
                    self.s[0]
                        .handle(Input::TcpConnected { local: a, remote: b, direction: Direction::Outbound }, self.now);
                } else {
                    self.s[0].handle(Input::TcpConnectFailed, self.now);
                }
                progress = true;
            }
            if !progress {
                return;
            }
        }
        panic!("pair did not settle");
    }

    pub fn take_log(&mut self, side: usize) -> Vec<Output> {
        std::mem::take(&mut self.log[side])
    }
}
