//! Raw socket options that neither std, tokio nor socket2 expose: TCP_MD5SIG(_EXT),
//! IP_MINTTL / IPV6_MINHOPCOUNT, and TTL / hop limit.

use ipnet::IpNet;
use std::io;
use std::mem::size_of;
use std::os::fd::AsRawFd;

const TCP_MD5SIG_MAXKEYLEN: usize = 80;
/// `tcpm_flags` bit: `tcpm_prefixlen` is valid (linux/tcp.h).
const TCP_MD5SIG_FLAG_PREFIX: u8 = 1;

/// `struct tcp_md5sig` from linux/tcp.h.
#[repr(C)]
struct TcpMd5Sig {
    addr: libc::sockaddr_storage,
    flags: u8,
    prefixlen: u8,
    keylen: u16,
    ifindex: libc::c_int,
    key: [u8; TCP_MD5SIG_MAXKEYLEN],
}

fn setsockopt<T>(fd: &impl AsRawFd, level: libc::c_int, name: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: `val` points to a live, initialised `T` of the size we pass, and the
    // kernel only reads that many bytes; the fd is valid for the borrow's duration.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (val as *const T).cast::<libc::c_void>(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets (or with `None` deletes) the RFC 2385 MD5 key for peers in `peers`. A host
/// prefix uses plain TCP_MD5SIG; a shorter one uses TCP_MD5SIG_EXT with a prefix.
pub fn set_md5(fd: &impl AsRawFd, peers: IpNet, key: Option<&[u8]>) -> io::Result<()> {
    let key = key.unwrap_or(&[]);
    if key.len() > TCP_MD5SIG_MAXKEYLEN {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "TCP MD5 key longer than 80 octets"));
    }
    // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
    let mut sig = TcpMd5Sig {
        addr: unsafe { std::mem::zeroed() },
        flags: 0,
        prefixlen: 0,
        keylen: key.len() as u16,
        ifindex: 0,
        key: [0; TCP_MD5SIG_MAXKEYLEN],
    };
    sig.key[..key.len()].copy_from_slice(key);
    match peers {
        IpNet::V4(n) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(n.network().octets()) },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&mut sig.addr as *mut libc::sockaddr_storage).cast(), sin) };
        }
        IpNet::V6(n) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr { s6_addr: n.network().octets() },
                sin6_scope_id: 0,
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write((&mut sig.addr as *mut libc::sockaddr_storage).cast(), sin6) };
        }
    }
    let opt = if peers.prefix_len() == peers.max_prefix_len() {
        libc::TCP_MD5SIG
    } else {
        sig.flags = TCP_MD5SIG_FLAG_PREFIX;
        sig.prefixlen = peers.prefix_len();
        libc::TCP_MD5SIG_EXT
    };
    setsockopt(fd, libc::IPPROTO_TCP, opt, &sig)
}

/// Turns TCP's quick-ACK mode off (TCP_QUICKACK 0, tcp(7)): the connection starts in
/// delayed-ACK ("ping-pong") mode, so the ACK of a received message rides on our
/// answer instead of going out alone first. A BGP session's start is request/answer
/// (OPEN -> KEEPALIVE -> UPDATEs): in quick-ACK mode every message costs a pure ACK
/// segment too. Bulk transfers are not slowed: the kernel still ACKs at once every
/// second full-sized segment, and leaves the mode when a delayed ACK times out.
pub fn set_delayed_ack(fd: &impl AsRawFd) -> io::Result<()> {
    let off: libc::c_int = 0;
    setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_QUICKACK, &off)
}

/// Defers the choice of the local port of a socket bound to port 0 to `connect`
/// (IP_BIND_ADDRESS_NO_PORT, ip(7), Linux 4.2+).
pub fn set_bind_no_port(fd: &impl AsRawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    setsockopt(fd, libc::IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT, &on)
}

/// Sets the outgoing TTL (IPv4) or unicast hop limit (IPv6).
pub fn set_ttl(fd: &impl AsRawFd, v4: bool, ttl: u8) -> io::Result<()> {
    let v: libc::c_int = ttl as libc::c_int;
    if v4 {
        setsockopt(fd, libc::IPPROTO_IP, libc::IP_TTL, &v)
    } else {
        setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &v)
    }
}

/// GTSM (RFC 5082 §3): send with TTL 255 and drop anything that arrives with a TTL
/// below `256 - hops`, so only peers at most `hops` hops away get through.
pub fn set_gtsm(fd: &impl AsRawFd, v4: bool, hops: u8) -> io::Result<()> {
    set_ttl(fd, v4, 255)?;
    let min: libc::c_int = 256 - hops.max(1) as libc::c_int;
    if v4 {
        setsockopt(fd, libc::IPPROTO_IP, libc::IP_MINTTL, &min)
    } else {
        setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT, &min)
    }
}
