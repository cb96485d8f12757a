//! Socket plumbing for BGP transport: TCP MD5 signatures (RFC 2385), GTSM (RFC 5082),
//! TTL for eBGP multihop, source binding, and listeners.
//!
//! The options that must be in place before the handshake (MD5, TTL, minimum TTL) are
//! set on the socket before `connect` or `listen`.

mod sockopt;

pub use sockopt::{set_bind_no_port, set_delayed_ack, set_gtsm, set_md5, set_ttl};

use ipnet::IpNet;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Transport settings of one peer (or one dynamic range).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransportOpts {
    /// Local address to bind before connecting.
    pub source: Option<std::net::IpAddr>,
    /// TCP MD5 key (RFC 2385), at most 80 octets.
    pub md5_key: Option<Vec<u8>>,
    /// GTSM (RFC 5082): accept only packets from at most this many hops away (1 =
    /// directly connected). Sets the outgoing TTL to 255.
    pub gtsm_hops: Option<u8>,
    /// Outgoing TTL (eBGP multihop); ignored when GTSM is on.
    pub ttl: Option<u8>,
    /// How long a connect may take.
    pub connect_timeout: Option<Duration>,
}

/// Opens a TCP connection to `remote` with the options applied before the SYN.
pub async fn connect(remote: SocketAddr, opts: &TransportOpts) -> io::Result<TcpStream> {
    let sock = if remote.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    if let Some(key) = &opts.md5_key {
        set_md5(&sock, IpNet::from(remote.ip()), Some(key))?;
    }
    apply_ttl(&sock, remote.is_ipv4(), opts)?;
    if let Some(src) = opts.source {
        // Port 0 with IP_BIND_ADDRESS_NO_PORT (ip(7)): the kernel picks the port at
        // `connect`, by the whole 4-tuple, instead of searching for a port free for
        // every destination at `bind` (mesh-bench: `bind` was ~2% of a node's CPU).
        let _ = set_bind_no_port(&sock);
        sock.bind(SocketAddr::new(src, 0))?;
    }
    sock.set_nodelay(true)?;
    // In delayed-ACK mode the kernel also holds back the handshake's last ACK, so it
    // rides on our OPEN (tcp_rcv_synsent_state_process); connecting leaves the mode,
    // so it is set again below.
    set_delayed_ack(&sock)?;
    let fut = sock.connect(remote);
    let stream = match opts.connect_timeout {
        Some(t) => tokio::time::timeout(t, fut).await.map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??,
        None => fut.await?,
    };
    set_delayed_ack(&stream)?;
    Ok(stream)
}

fn apply_ttl(sock: &impl std::os::fd::AsRawFd, v4: bool, opts: &TransportOpts) -> io::Result<()> {
    if let Some(h) = opts.gtsm_hops {
        set_gtsm(sock, v4, h)?;
    } else if let Some(t) = opts.ttl {
        set_ttl(sock, v4, t)?;
    }
    Ok(())
}

/// A listening socket with SO_REUSEADDR, and for IPv6 addresses dual-stack off so an
/// IPv4 listener can share the port.
pub fn listen(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let sock = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    sock.set_reuseaddr(true)?;
    if addr.is_ipv6() {
        let s2 = socket2::SockRef::from(&sock);
        s2.set_only_v6(true)?;
    }
    sock.bind(addr)?;
    // Accepted connections inherit TCP_NODELAY from the listener (no per-connection
    // setsockopt).
    sock.set_nodelay(true)?;
    let l = sock.listen(backlog)?;
    // Accepted connections inherit delayed-ACK mode from the listener, so it holds
    // from the first segment on: the ACK of the peer's OPEN rides on our OPEN.
    set_delayed_ack(&l)?;
    Ok(l)
}

/// Installs (or with `None` removes) an MD5 key on a listener for every source inside
/// `peers` (TCP_MD5SIG_EXT with a prefix, Linux 4.13+), so configured peers and dynamic
/// ranges can authenticate on one listening socket.
pub fn listener_md5(listener: &TcpListener, peers: IpNet, key: Option<&[u8]>) -> io::Result<()> {
    set_md5(listener, peers, key)
}

/// Applies GTSM or TTL settings to an accepted connection (from an IPv4 peer when
/// `v4`), and delayed ACKs ([`set_delayed_ack`]) again: the handshake or early data may
/// have taken the socket out of the mode it inherited. TCP_NODELAY comes from the
/// listener ([`listen`]).
pub fn apply_accepted(stream: &TcpStream, v4: bool, opts: &TransportOpts) -> io::Result<()> {
    set_delayed_ack(stream)?;
    apply_ttl(stream, v4, opts)
}

#[cfg(test)]
mod tests;
