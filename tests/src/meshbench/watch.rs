//! Watches the `proto bird` IPv4 routes of every node's main table through one rtnetlink
//! socket per namespace (subscribed to `RTMGRP_IPV4_ROUTE`, seeded by a dump), on one
//! thread that `poll(2)`s them all, and timestamps the moment every node's table is
//! exactly what it should be. No `ip` process per poll: NETNS-NOTES measured a sweep
//! of `ip route show` over 100 namespaces at ~0.3 s, too coarse for the figures here.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::netns::Netns;

/// `rtm_protocol` of the routes BIRD and our node speaker program (`proto bird`).
pub const RTPROT_BIRD: u8 = 12;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTM_GETROUTE: u16 = 26;
const NLMSG_ERROR: u16 = 2;
const NLMSG_OVERRUN: u16 = 4;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;
const RTN_UNICAST: u8 = 1;
const RTN_BLACKHOLE: u8 = 6;
const RTNH_F_ONLINK: u32 = 4;
const RT_TABLE_MAIN: u32 = 254;
const RTMGRP_IPV4_ROUTE: u32 = 0x40;

/// What the watcher has seen; read by the benchmark while it waits.
#[derive(Debug, Default)]
pub struct Seen {
    /// Per node: prefix → route as `ip route` prints it (`blackhole P`, `P via G dev D`).
    pub routes: Vec<BTreeMap<String, String>>,
    /// Per node: its table is exactly the expected set now.
    pub complete: Vec<bool>,
    /// Per node: when it last became complete.
    pub complete_at: Vec<Option<Instant>>,
    /// When every node became complete (None while some node is not).
    pub all_at: Option<Instant>,
    /// Route messages that added or replaced a `proto bird` route.
    pub changes: u64,
    /// Route messages that deleted one.
    pub deletions: u64,
    /// Nodes whose table was incomplete at some point since the last [`Watch::reset_counters`].
    pub dipped: BTreeSet<usize>,
    /// A socket error that stopped the watcher.
    pub error: Option<String>,
}

/// The watcher thread and its shared state. Dropping it stops the thread.
pub struct Watch {
    /// Shared state.
    pub seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct NsSock {
    fd: OwnedFd,
    /// ifindex → name for the devices routes may use.
    devs: BTreeMap<u32, String>,
}

fn open_socket(ns: &Netns) -> io::Result<NsSock> {
    ns.enter(|| -> io::Result<NsSock> {
        // SAFETY: plain socket(2); the fd is owned at once.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: raw is a fresh, valid descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_nl is plain data; zeroed is valid.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as u16;
        sa.nl_groups = RTMGRP_IPV4_ROUTE;
        // SAFETY: bind with a correctly sized sockaddr_nl.
        let rc = unsafe {
            libc::bind(raw, &sa as *const _ as *const libc::sockaddr, std::mem::size_of::<libc::sockaddr_nl>() as u32)
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // A start-up burst must not overflow the queue (we are root: FORCE ignores rmem_max).
        let size: libc::c_int = 16 << 20;
        // SAFETY: setsockopt with an int option value.
        unsafe {
            libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                &size as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as u32,
            )
        };
        let mut devs = BTreeMap::new();
        for d in ["eth0", "tunl0"] {
            let c = std::ffi::CString::new(d).expect("no NUL");
            // SAFETY: a valid C string.
            let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
            if idx != 0 {
                devs.insert(idx, d.to_string());
            }
        }
        Ok(NsSock { fd, devs })
    })?
}

fn request_dump(fd: &OwnedFd) -> io::Result<()> {
    // nlmsghdr (16) + rtmsg (12).
    let mut b = [0u8; 28];
    b[0..4].copy_from_slice(&28u32.to_ne_bytes());
    b[4..6].copy_from_slice(&RTM_GETROUTE.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    b[6..8].copy_from_slice(&flags.to_ne_bytes());
    b[8..12].copy_from_slice(&1u32.to_ne_bytes());
    b[16] = libc::AF_INET as u8;
    // SAFETY: send from a valid buffer on a valid fd.
    let n = unsafe { libc::send(fd.as_raw_fd(), b.as_ptr() as *const libc::c_void, b.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One parsed `proto bird` route event: (delete?, prefix, rendered route).
fn parse_route(msg_type: u16, body: &[u8], devs: &BTreeMap<u32, String>) -> Option<(bool, String, String)> {
    if body.len() < 12 || body[0] != libc::AF_INET as u8 {
        return None;
    }
    let (dst_len, mut table, proto, rtype) = (body[1], u32::from(body[4]), body[5], body[7]);
    let flags = u32::from_ne_bytes(body[8..12].try_into().ok()?);
    let (mut dst, mut gw, mut oif, mut multipath) = (Ipv4Addr::UNSPECIFIED, None, None, false);
    let mut off = 12;
    while off + 4 <= body.len() {
        let len = u16::from_ne_bytes([body[off], body[off + 1]]) as usize;
        let ty = u16::from_ne_bytes([body[off + 2], body[off + 3]]) & 0x3fff;
        if len < 4 || off + len > body.len() {
            break;
        }
        let v = &body[off + 4..off + len];
        match ty {
            RTA_DST if v.len() == 4 => dst = Ipv4Addr::new(v[0], v[1], v[2], v[3]),
            RTA_GATEWAY if v.len() == 4 => gw = Some(Ipv4Addr::new(v[0], v[1], v[2], v[3])),
            RTA_OIF if v.len() == 4 => oif = Some(u32::from_ne_bytes(v.try_into().ok()?)),
            RTA_TABLE if v.len() == 4 => table = u32::from_ne_bytes(v.try_into().ok()?),
            RTA_MULTIPATH => multipath = true,
            _ => {}
        }
        off += (len + 3) & !3;
    }
    if proto != RTPROT_BIRD || table != RT_TABLE_MAIN {
        return None;
    }
    let prefix = format!("{dst}/{dst_len}");
    let text = match rtype {
        RTN_BLACKHOLE => format!("blackhole {prefix}"),
        RTN_UNICAST if multipath => format!("{prefix} multipath"),
        RTN_UNICAST => {
            let dev = oif.map(|i| devs.get(&i).cloned().unwrap_or_else(|| format!("if{i}"))).unwrap_or_default();
            let mut s = match gw {
                Some(g) => format!("{prefix} via {g} dev {dev}"),
                None => format!("{prefix} dev {dev}"),
            };
            if flags & RTNH_F_ONLINK != 0 {
                s += " onlink";
            }
            s
        }
        t => format!("{prefix} type {t}"),
    };
    Some((msg_type == RTM_DELROUTE, prefix, text))
}

impl Watch {
    /// Opens the sockets, dumps every table and starts watching. `expected[i]` is node
    /// `i`'s exact `proto bird` table.
    pub fn start(nodes: &[&Netns], expected: Vec<BTreeSet<String>>) -> io::Result<Watch> {
        let mut socks = Vec::with_capacity(nodes.len());
        for ns in nodes {
            socks.push(open_socket(ns)?);
        }
        let n = nodes.len();
        let seen = Arc::new(Mutex::new(Seen {
            routes: vec![BTreeMap::new(); n],
            complete: vec![false; n],
            complete_at: vec![None; n],
            ..Default::default()
        }));
        for s in &socks {
            request_dump(&s.fd)?;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = std::thread::Builder::new().name("route-watch".into()).spawn(move || {
            // Wake up ahead of the 100+ node processes so timestamps are not late.
            // SAFETY: setpriority on this thread's own tid.
            unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, -15) };
            if let Err(e) = watch_loop(&socks, &expected, &seen2, &stop2) {
                seen2.lock().unwrap().error = Some(e.to_string());
            }
        })?;
        Ok(Watch { seen, stop, thread: Some(thread) })
    }

    /// Zeroes the change counters and the set of nodes that dipped.
    pub fn reset_counters(&self) {
        let mut s = self.seen.lock().unwrap();
        s.changes = 0;
        s.deletions = 0;
        s.dipped.clear();
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn watch_loop(
    socks: &[NsSock],
    expected: &[BTreeSet<String>],
    seen: &Mutex<Seen>,
    stop: &AtomicBool,
) -> io::Result<()> {
    let mut pfds: Vec<libc::pollfd> =
        socks.iter().map(|s| libc::pollfd { fd: s.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 }).collect();
    let mut buf = vec![0u8; 1 << 20];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: poll over our own pollfd array.
        let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 20) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if rc == 0 {
            continue;
        }
        let mut events: Vec<(usize, bool, String, String)> = Vec::new();
        let mut redump = Vec::new();
        for (i, p) in pfds.iter_mut().enumerate() {
            if p.revents == 0 {
                continue;
            }
            p.revents = 0;
            loop {
                // SAFETY: recv into our buffer.
                let n =
                    unsafe { libc::recv(socks[i].fd.as_raw_fd(), buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
                if n < 0 {
                    let e = io::Error::last_os_error();
                    match e.raw_os_error() {
                        Some(libc::EAGAIN) => break,
                        Some(libc::EINTR) => continue,
                        // The queue overflowed: events were lost; read the table again.
                        Some(libc::ENOBUFS) => {
                            redump.push(i);
                            continue;
                        }
                        _ => return Err(e),
                    }
                }
                let mut off = 0usize;
                let n = n as usize;
                while off + 16 <= n {
                    let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap()) as usize;
                    let ty = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
                    if len < 16 || off + len > n {
                        break;
                    }
                    if ty == NLMSG_OVERRUN {
                        redump.push(i);
                    } else if ty == NLMSG_ERROR {
                        // A failed dump (EBUSY while another dump runs): retry it.
                        let err = i32::from_ne_bytes(buf[off + 16..off + 20].try_into().unwrap_or([0; 4]));
                        if err != 0 {
                            redump.push(i);
                        }
                    } else if ty == RTM_NEWROUTE || ty == RTM_DELROUTE {
                        if let Some((del, p, t)) = parse_route(ty, &buf[off + 16..off + len], &socks[i].devs) {
                            events.push((i, del, p, t));
                        }
                    }
                    off += (len + 3) & !3;
                }
            }
        }
        let now = Instant::now();
        let mut s = seen.lock().unwrap();
        let mut touched = BTreeSet::new();
        for i in redump {
            s.routes[i].clear();
            touched.insert(i);
            request_dump(&socks[i].fd)?;
        }
        for (i, del, p, t) in events {
            touched.insert(i);
            if del {
                if s.routes[i].get(&p) == Some(&t) {
                    s.routes[i].remove(&p);
                    s.deletions += 1;
                }
            } else {
                s.routes[i].insert(p, t);
                s.changes += 1;
            }
        }
        for i in touched {
            let ok = s.routes[i].len() == expected[i].len() && s.routes[i].values().all(|r| expected[i].contains(r));
            if ok != s.complete[i] {
                s.complete[i] = ok;
                if ok {
                    s.complete_at[i] = Some(now);
                } else {
                    s.dipped.insert(i);
                }
            }
        }
        let all = s.complete.iter().all(|c| *c);
        match (all, s.all_at) {
            (true, None) => s.all_at = Some(now),
            (false, Some(_)) => s.all_at = None,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(rtype: u8, proto: u8, attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut b = vec![libc::AF_INET as u8, 26, 0, 0, 254, proto, 0, rtype, 0, 0, 0, 0];
        for (t, v) in attrs {
            let len = (4 + v.len()) as u16;
            b.extend_from_slice(&len.to_ne_bytes());
            b.extend_from_slice(&t.to_ne_bytes());
            b.extend_from_slice(v);
            while b.len() % 4 != 0 {
                b.push(0);
            }
        }
        b
    }

    #[test]
    fn parses_via_and_blackhole_and_skips_other_protocols() {
        let devs = BTreeMap::from([(7u32, "eth0".to_string())]);
        let m = msg(
            RTN_UNICAST,
            12,
            &[(RTA_DST, &[10, 244, 2, 0]), (RTA_GATEWAY, &[198, 18, 0, 2]), (RTA_OIF, &7u32.to_ne_bytes())],
        );
        assert_eq!(
            parse_route(RTM_NEWROUTE, &m, &devs),
            Some((false, "10.244.2.0/26".into(), "10.244.2.0/26 via 198.18.0.2 dev eth0".into()))
        );
        let m = msg(RTN_BLACKHOLE, 12, &[(RTA_DST, &[10, 244, 1, 0])]);
        assert_eq!(
            parse_route(RTM_DELROUTE, &m, &devs),
            Some((true, "10.244.1.0/26".into(), "blackhole 10.244.1.0/26".into()))
        );
        let m = msg(RTN_UNICAST, 4, &[(RTA_DST, &[10, 244, 2, 0])]);
        assert_eq!(parse_route(RTM_NEWROUTE, &m, &devs), None, "proto static is not ours");
    }
}
