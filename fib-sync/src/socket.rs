//! A raw `NETLINK_ROUTE` socket (libc), with the options the sync relies on.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const NETLINK_ADD_MEMBERSHIP: libc::c_int = 1;
const NETLINK_CAP_ACK: libc::c_int = 10;
const NETLINK_EXT_ACK: libc::c_int = 11;

/// rtnetlink multicast groups the event socket joins.
pub(crate) const GROUPS: [u32; 5] = [
    1,  // RTNLGRP_LINK
    5,  // RTNLGRP_IPV4_IFADDR
    7,  // RTNLGRP_IPV4_ROUTE
    9,  // RTNLGRP_IPV6_IFADDR
    11, // RTNLGRP_IPV6_ROUTE
];

/// A bound netlink socket.
#[derive(Debug)]
pub(crate) struct NlSocket {
    fd: OwnedFd,
    /// The port id the kernel gave us; notifications caused by our requests carry it.
    pub portid: u32,
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn setopt(fd: RawFd, level: libc::c_int, opt: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: `v` lives for the call and its size is passed.
    check(unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            &v as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

impl NlSocket {
    /// Open a socket joined to `groups`, with the given buffer sizes.
    pub fn open(groups: &[u32], rcvbuf: usize, sndbuf: usize, nonblocking: bool) -> io::Result<Self> {
        let mut ty = libc::SOCK_RAW | libc::SOCK_CLOEXEC;
        if nonblocking {
            ty |= libc::SOCK_NONBLOCK;
        }
        // SAFETY: plain socket(2); the fd is owned right away.
        let fd = check(unsafe { libc::socket(libc::AF_NETLINK, ty, libc::NETLINK_ROUTE) })?;
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let raw = fd.as_raw_fd();
        // Error ACKs without the whole request, but with the kernel's reason text.
        setopt(raw, libc::SOL_NETLINK, NETLINK_CAP_ACK, 1)?;
        let _ = setopt(raw, libc::SOL_NETLINK, NETLINK_EXT_ACK, 1);
        // FORCE variants pass the rmem_max limit (we run as root / CAP_NET_ADMIN).
        let rb = rcvbuf.min(i32::MAX as usize) as libc::c_int;
        if setopt(raw, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, rb).is_err() {
            setopt(raw, libc::SOL_SOCKET, libc::SO_RCVBUF, rb)?;
        }
        let sb = sndbuf.min(i32::MAX as usize) as libc::c_int;
        if setopt(raw, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, sb).is_err() {
            setopt(raw, libc::SOL_SOCKET, libc::SO_SNDBUF, sb)?;
        }
        // SAFETY: zeroed sockaddr_nl is valid; pid 0 lets the kernel choose.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        let len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: `sa` is a valid sockaddr_nl of `len` bytes.
        check(unsafe { libc::bind(raw, &sa as *const _ as *const libc::sockaddr, len) })?;
        let mut got = len;
        // SAFETY: `sa` has room for a sockaddr_nl.
        check(unsafe { libc::getsockname(raw, &mut sa as *mut _ as *mut libc::sockaddr, &mut got) })?;
        for g in groups {
            setopt(raw, libc::SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, *g as libc::c_int)?;
        }
        Ok(NlSocket { fd, portid: sa.nl_pid })
    }

    /// Make blocking receives give up after `d` (EAGAIN), so that a lost ACK cannot
    /// hang the driver.
    pub fn set_recv_timeout(&self, d: std::time::Duration) -> io::Result<()> {
        let tv = libc::timeval { tv_sec: d.as_secs() as libc::time_t, tv_usec: d.subsec_micros() as libc::suseconds_t };
        // SAFETY: `tv` lives for the call and its size is passed.
        check(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const libc::timeval as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        })
        .map(|_| ())
    }

    /// Drop, in the kernel, every message whose `nlmsg_pid` is `pid`: the notifications
    /// of our own writes, which we already know from the ACKs. This saves one
    /// `recvmsg` per route during a bulk load.
    pub fn exclude_pid(&self, pid: u32) -> io::Result<()> {
        // Classic BPF loads are big-endian, the header field is host-endian.
        let k = u32::from_be_bytes(pid.to_ne_bytes());
        let prog = [
            libc::sock_filter { code: 0x20, jt: 0, jf: 0, k: 12 }, // ld [12]
            libc::sock_filter { code: 0x15, jt: 0, jf: 1, k },     // jeq #k
            libc::sock_filter { code: 0x06, jt: 0, jf: 0, k: 0 },  // ret #0 (drop)
            libc::sock_filter { code: 0x06, jt: 0, jf: 0, k: u32::MAX }, // ret all
        ];
        let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_ptr() as *mut libc::sock_filter };
        // SAFETY: `fprog` points at `prog`, which outlives the call (the kernel copies it).
        check(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                &fprog as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        })
        .map(|_| ())
    }

    /// Send one buffer of (possibly many) messages to the kernel.
    pub fn send(&self, buf: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: `buf` is valid for `buf.len()` bytes.
            let r = unsafe { libc::send(self.fd.as_raw_fd(), buf.as_ptr() as *const libc::c_void, buf.len(), 0) };
            if r >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Receive one datagram into `buf` (its capacity), returning its length.
    pub fn recv(&self, buf: &mut Vec<u8>, dontwait: bool) -> io::Result<usize> {
        buf.clear();
        let flags = if dontwait { libc::MSG_DONTWAIT } else { 0 };
        loop {
            // SAFETY: writes at most `capacity` bytes into `buf`'s allocation.
            let r = unsafe {
                libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr() as *mut libc::c_void, buf.capacity(), flags)
            };
            if r >= 0 {
                // SAFETY: the kernel initialised `r` bytes.
                unsafe { buf.set_len(r as usize) };
                return Ok(r as usize);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

impl AsRawFd for NlSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Move the calling thread into the network namespace at `path` (`/var/run/netns/NAME`).
pub(crate) fn enter_netns(path: &std::path::Path) -> io::Result<()> {
    let f = std::fs::File::open(path)?;
    // SAFETY: setns on a descriptor we own; affects only this thread.
    check(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }).map(|_| ())
}

/// `strerror` for a positive errno.
pub(crate) fn strerror(errno: i32) -> String {
    io::Error::from_raw_os_error(errno).to_string()
}
