//! Real-kernel tests on loopback (127.0.0.0/8 only).

use super::*;
use std::net::{IpAddr, Ipv4Addr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn lo(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

async fn try_pair(listen_key: &[u8], connect_key: Option<&[u8]>, src: u8) -> io::Result<()> {
    let l = listen(SocketAddr::new(lo(1), 0), 8)?;
    listener_md5(&l, IpNet::new(lo(src), 32).unwrap(), Some(listen_key))?;
    let addr = l.local_addr()?;
    let opts = TransportOpts {
        source: Some(lo(src)),
        md5_key: connect_key.map(|k| k.to_vec()),
        connect_timeout: Some(Duration::from_millis(700)),
        ..Default::default()
    };
    let accept = tokio::spawn(async move {
        let (mut s, _) = l.accept().await?;
        s.write_all(b"ok").await?;
        io::Result::Ok(())
    });
    let mut c = connect(addr, &opts).await?;
    let mut buf = [0u8; 2];
    c.read_exact(&mut buf).await?;
    assert_eq!(&buf, b"ok");
    accept.abort();
    Ok(())
}

#[tokio::test]
async fn md5_matching_key_connects() {
    try_pair(b"s3cret", Some(b"s3cret"), 2).await.expect("matching MD5 keys must connect");
}

#[tokio::test]
async fn md5_wrong_key_never_connects() {
    let e = try_pair(b"s3cret", Some(b"wrong"), 3).await.expect_err("wrong MD5 key must not connect");
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
}

#[tokio::test]
async fn md5_missing_key_never_connects() {
    let e = try_pair(b"s3cret", None, 4).await.expect_err("unsigned SYN must be dropped");
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
}

#[tokio::test]
async fn md5_prefix_key_covers_a_range() {
    let l = listen(SocketAddr::new(lo(1), 0), 8).unwrap();
    listener_md5(&l, "127.0.9.0/24".parse().unwrap(), Some(b"range")).unwrap();
    let addr = l.local_addr().unwrap();
    let opts = TransportOpts {
        source: Some("127.0.9.7".parse().unwrap()),
        md5_key: Some(b"range".to_vec()),
        connect_timeout: Some(Duration::from_millis(700)),
        ..Default::default()
    };
    let t = tokio::spawn(async move { l.accept().await.map(|_| ()) });
    connect(addr, &opts).await.expect("a source inside the keyed range connects");
    t.await.unwrap().unwrap();
}

#[tokio::test]
async fn gtsm_both_sides_connect_with_ttl_255() {
    let l = listen(SocketAddr::new(lo(1), 0), 8).unwrap();
    set_gtsm(&l, true, 1).unwrap();
    let addr = l.local_addr().unwrap();
    let opts =
        TransportOpts { gtsm_hops: Some(1), connect_timeout: Some(Duration::from_secs(2)), ..Default::default() };
    let t = tokio::spawn(async move { l.accept().await });
    let c = connect(addr, &opts).await.expect("loopback is zero hops away");
    let (s, _) = t.await.unwrap().unwrap();
    apply_accepted(&s, true, &opts).unwrap();
    assert_eq!(socket2::SockRef::from(&c).ttl_v4().unwrap(), 255);
    assert_eq!(socket2::SockRef::from(&s).ttl_v4().unwrap(), 255);
}

#[tokio::test]
async fn gtsm_drops_a_peer_sending_a_low_ttl() {
    // The listener demands TTL 255; a client without GTSM sends TTL 64 and its SYN is
    // dropped by IP_MINTTL, so the connect times out.
    let l = listen(SocketAddr::new(lo(1), 0), 8).unwrap();
    set_gtsm(&l, true, 1).unwrap();
    let addr = l.local_addr().unwrap();
    let opts = TransportOpts { ttl: Some(64), connect_timeout: Some(Duration::from_millis(700)), ..Default::default() };
    let e = connect(addr, &opts).await.expect_err("TTL 64 must not pass GTSM");
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
}

/// TCP_QUICKACK as the kernel reports it (1: quick-ACK mode, 0: delayed ACKs).
fn quickack(fd: &impl std::os::fd::AsRawFd) -> libc::c_int {
    let mut v: libc::c_int = -1;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: v and len are live and sized for an int option.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    assert_eq!(r, 0, "{}", io::Error::last_os_error());
    v
}

#[tokio::test]
async fn sessions_use_delayed_acks_and_no_nagle() {
    let l = listen(SocketAddr::new(lo(1), 0), 8).unwrap();
    let addr = l.local_addr().unwrap();
    let opts = TransportOpts { connect_timeout: Some(Duration::from_secs(2)), ..Default::default() };
    let t = tokio::spawn(async move { l.accept().await });
    let mut c = connect(addr, &opts).await.unwrap();
    // The dialling side speaks first (its OPEN carries the handshake's last ACK).
    c.write_all(b"open").await.unwrap();
    let (mut s, _) = t.await.unwrap().unwrap();
    // Inherited from the listener.
    assert_eq!(quickack(&s), 0, "accepted: delayed ACKs before apply_accepted");
    assert!(s.nodelay().unwrap(), "accepted: TCP_NODELAY inherited from the listener");
    apply_accepted(&s, true, &opts).unwrap();
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).await.unwrap();
    for (side, sock) in [("dialled", &c), ("accepted", &s)] {
        assert_eq!(quickack(sock), 0, "{side}: delayed ACKs");
        assert!(sock.nodelay().unwrap(), "{side}: TCP_NODELAY");
    }
}

#[tokio::test]
async fn a_bound_source_gets_its_port_at_connect() {
    let l = listen(SocketAddr::new(lo(1), 0), 8).unwrap();
    let addr = l.local_addr().unwrap();
    let opts =
        TransportOpts { source: Some(lo(2)), connect_timeout: Some(Duration::from_secs(2)), ..Default::default() };
    let t = tokio::spawn(async move { l.accept().await });
    let c = connect(addr, &opts).await.unwrap();
    let (s, peer) = t.await.unwrap().unwrap();
    let local = c.local_addr().unwrap();
    assert_eq!(local.ip(), lo(2), "the configured source address");
    assert_ne!(local.port(), 0, "a port chosen at connect");
    assert_eq!(peer, local);
    assert_eq!(s.local_addr().unwrap(), addr);
}
