//! The real `route-reflector` process on 127.0.0.1, with in-process bgp-speaker clients
//! connecting from 127.0.1.x: dynamic clients, reflection attributes, status and routes
//! over the control socket, refusal of unknown sources, and reload without resets.

use bgp_proto::{AsPath, NextHop};
use bgp_speaker::rib::{PathAttrs, Prefix, RouteInfo};
use bgp_speaker::session::PeerAs;
use bgp_speaker::{NeighborConfig, Speaker, SpeakerConfig, SpeakerHandle};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_route-reflector");
const CLUSTER: &str = "198.18.5.100";

/// The daemon process; killed (by pid) and its directory removed on drop, also when a
/// test fails.
struct Daemon {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("daemon log:\n{}", self.log());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Daemon {
    fn socket(&self) -> PathBuf {
        self.dir.join("rr.sock")
    }
    fn config(&self) -> PathBuf {
        self.dir.join("rr.toml")
    }
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("rr.log")).unwrap_or_default()
    }

    /// Runs the CLI against this daemon.
    fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN).arg("--socket").arg(self.socket()).args(args).output().unwrap()
    }

    fn status(&self) -> Vec<serde_json::Value> {
        let out = self.cli(&["status", "--json"]);
        assert!(out.status.success(), "status: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().clone()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A configuration: one dynamic client group on 127.0.1.0/24, with `extra` group
/// settings and `policies` appended.
fn config(port: u16, socket: &Path, extra: &str, policies: &str) -> String {
    config_top(port, socket, "", extra, policies)
}

/// [`config`] with `top` lines at the top level.
fn config_top(port: u16, socket: &Path, top: &str, extra: &str, policies: &str) -> String {
    format!(
        "asn = 64512\nrouter_id = \"198.18.5.1\"\ncluster_id = \"{CLUSTER}\"\nlisten = [\"127.0.0.1\"]\nport = {port}\n\
         control_socket = \"{}\"\n{top}\n\n[[group]]\nname = \"nodes\"\ntype = \"client\"\nranges = [\"127.0.1.0/24\"]\n\
         hold_time = 9\n{extra}\n{policies}",
        socket.display()
    )
}

fn start(name: &str, top: &str, extra: &str, policies: &str) -> Daemon {
    let dir = std::env::temp_dir().join(format!("rr-daemon-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let text = config_top(port, &dir.join("rr.sock"), top, extra, policies);
    std::fs::write(dir.join("rr.toml"), text).unwrap();
    let log = std::fs::File::create(dir.join("rr.log")).unwrap();
    let child = Command::new(BIN)
        .arg("--config")
        .arg(dir.join("rr.toml"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let d = Daemon { child, dir, port };
    let t = Instant::now();
    while !d.socket().exists() {
        assert!(t.elapsed() < Duration::from_secs(10), "the daemon did not start:\n{}", d.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    d
}

/// A client speaker (AS 64512) connecting to the reflector from `source`.
async fn client(d: &Daemon, router_id: &str, source: &str) -> SpeakerHandle {
    let rid: Ipv4Addr = router_id.parse().unwrap();
    let mut cfg = SpeakerConfig::new(64512, rid);
    let mut n = NeighborConfig::new(64512, rid, IpAddr::from([127, 0, 0, 1]), PeerAs::Exact(64512));
    n.port = d.port;
    n.transport.source = Some(source.parse().unwrap());
    n.transport.connect_timeout = Some(Duration::from_secs(2));
    n.session.connect_retry = Duration::from_millis(300);
    n.session.idle_hold = Duration::from_millis(100);
    n.session.hold_time = 9;
    cfg.neighbors = vec![n];
    Speaker::start(cfg).await.unwrap()
}

/// Polls `f` until it returns Some, for at most 15 s.
async fn eventually<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn best(h: &SpeakerHandle, p: Prefix) -> Option<RouteInfo> {
    h.routes(Some(p)).await.unwrap().into_iter().flat_map(|(_, v)| v).find(|r| r.best)
}

fn pfx(s: &str) -> Prefix {
    s.parse().unwrap()
}

fn local() -> PathAttrs {
    PathAttrs { as_path: AsPath::default(), ..Default::default() }
}

async fn both_established(d: &Daemon) -> Vec<serde_json::Value> {
    eventually("both clients Established at the reflector", async || {
        let s = d.status();
        (s.len() == 2 && s.iter().all(|p| p["state"] == "Established")).then_some(s)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_clients_are_reflected_and_shown() {
    let d = start("reflect", "", "", "");
    let c1 = client(&d, "198.18.5.2", "127.0.1.2").await;
    let c2 = client(&d, "198.18.5.3", "127.0.1.3").await;
    let status = both_established(&d).await;
    for (p, addr) in status.iter().zip(["127.0.1.2", "127.0.1.3"]) {
        assert_eq!(p["address"], addr);
        assert_eq!(p["type"], "dynamic");
        assert_eq!(p["rr_client"], true);
        assert_eq!(p["group"], "nodes");
        assert_eq!(p["asn"], 64512);
    }

    let block = pfx("10.244.1.0/26");
    c1.originate(block, local()).await.unwrap();
    let r = eventually("C2 learns C1's block", async || best(&c2, block).await).await;
    assert_eq!(r.route.attrs.originator_id, Some("198.18.5.2".parse().unwrap()));
    assert_eq!(r.route.attrs.cluster_list, vec![CLUSTER.parse::<Ipv4Addr>().unwrap()]);
    assert_eq!(r.route.attrs.next_hop, Some(NextHop::V4("127.0.1.2".parse().unwrap())));

    // routes over the control socket: JSON and table.
    let out = d.cli(&["routes", "10.244.1.0/26", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["prefix"], "10.244.1.0/26");
    assert_eq!(v[0]["paths"][0]["from"], "127.0.1.2");
    assert_eq!(v[0]["paths"][0]["best"], true);
    let table = String::from_utf8(d.cli(&["routes"]).stdout).unwrap();
    assert!(table.lines().any(|l| l.starts_with("*>") && l.contains("10.244.1.0/26") && l.contains("127.0.1.2")));
    let s = eventually("counters", async || {
        let s = d.status();
        (s[0]["received"] == 1 && s[1]["advertised"] == 1).then_some(s)
    })
    .await;
    assert_eq!(s[0]["advertised"], 0, "split horizon: C1 is not sent its own route");
    assert!(s[0]["updates_received"].as_u64().unwrap() >= 1, "{s:?}");
    // UPDATEs sent: C2 got the one announcement (End-of-RIB markers are not counted).
    assert_eq!((&s[0]["updates_sent"], &s[1]["updates_sent"]), (&0.into(), &1.into()), "{s:?}");
    let table = String::from_utf8(d.cli(&["status"]).stdout).unwrap();
    assert!(table.lines().any(|l| l.starts_with("127.0.1.3") && l.contains("dynamic") && l.contains("Established")));

    // A source outside every range is refused, and the log says so.
    let outsider = client(&d, "198.18.5.9", "127.0.2.9").await;
    eventually("the refusal in the log", async || {
        d.log().lines().any(|l| l.contains("refused connection") && l.contains("127.0.2.9")).then_some(())
    })
    .await;
    assert_eq!(d.status().len(), 2);

    // dump --mrt: a TABLE_DUMP_V2 file the MRT reader reads back.
    let mrt = d.dir.join("rib.mrt");
    let out = d.cli(&["dump", "--mrt", mrt.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut r = bgp_proto::mrt::open(&mrt).unwrap();
    let (mut records, mut tables) = (0, 0);
    while let Some(rec) = r.next_record() {
        let rec = rec.unwrap();
        if let bgp_proto::mrt::MrtBody::PeerIndexTable(t) = &rec.body {
            tables += 1;
            // RFC 6396 §4.3.1: each peer's BGP identifier, from its OPEN.
            // Dynamic peers are listed in the order they connected.
            let mut peers: Vec<(String, String)> =
                t.peers.iter().map(|p| (p.ip.to_string(), p.bgp_id.to_string())).collect();
            peers.sort();
            let want = [("0.0.0.0", "198.18.5.1"), ("127.0.1.2", "198.18.5.2"), ("127.0.1.3", "198.18.5.3")];
            assert_eq!(peers, want.map(|(a, b)| (a.to_string(), b.to_string())), "{t:?}");
        }
        records += 1;
    }
    assert_eq!((records, tables), (2, 1), "peer index table and one RIB record");

    for h in [c1, c2, outsider] {
        h.shutdown(None).await.unwrap();
    }
}

const POLICIES: &str = "[[policy]]\nname = \"to-clients\"\ndefault = \"accept\"\n\n[[policy.rule]]\n\
                        match = { prefix = [{ prefix = \"10.244.5.0/26\" }] }\nthen = [\"reject\"]\n\n\
                        [[policy]]\nname = \"from-clients\"\ndefault = \"accept\"\n\n[[policy.rule]]\n\
                        match = { prefix = [{ prefix = \"10.244.1.0/26\" }] }\nthen = [\"reject\"]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_changes_policies_without_resetting_sessions() {
    let d = start("reload", "", "", POLICIES);
    let c1 = client(&d, "198.18.6.2", "127.0.1.2").await;
    let c2 = client(&d, "198.18.6.3", "127.0.1.3").await;
    let before = both_established(&d).await;
    let (kept, drained) = (pfx("10.244.1.0/26"), pfx("10.244.5.0/26"));
    c1.originate(kept, local()).await.unwrap();
    c1.originate(drained, local()).await.unwrap();
    eventually("C2 learns both blocks", async || {
        (best(&c2, kept).await.is_some() && best(&c2, drained).await.is_some()).then_some(())
    })
    .await;

    // A bad file: the reload fails, the daemon keeps running on the old configuration.
    let good = std::fs::read_to_string(d.config()).unwrap();
    std::fs::write(d.config(), good.replace("hold_time = 9", "hold_time = 2")).unwrap();
    let out = d.cli(&["reload"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("group \"nodes\": hold_time: must be 0 or at least 3"), "{err}");
    assert!(d.log().contains("reload failed; keeping the running configuration"));

    // Export policy for the clients: 10.244.5.0/26 is no longer reflected.
    let text = config(d.port, &d.socket(), "export = \"to-clients\"", POLICIES);
    std::fs::write(d.config(), text).unwrap();
    let out = d.cli(&["reload"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2 policy updated\n");
    eventually("C2 loses the drained block", async || best(&c2, drained).await.is_none().then_some(())).await;
    assert!(best(&c2, kept).await.is_some(), "the other block stays");

    // Import policy: 10.244.1.0/26 from the clients is rejected after a route refresh.
    let text = config(d.port, &d.socket(), "export = \"to-clients\"\nimport = \"from-clients\"", POLICIES);
    std::fs::write(d.config(), text).unwrap();
    assert!(d.cli(&["reload"]).status.success());
    eventually("C2 loses the rejected block", async || best(&c2, kept).await.is_none().then_some(())).await;
    let v: serde_json::Value = serde_json::from_slice(&d.cli(&["routes", "10.244.1.0/26", "--json"]).stdout).unwrap();
    assert_eq!(v[0]["paths"][0]["rejected"], true, "{v}");

    // No session was reset.
    let after = d.status();
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a["state"], "Established");
        assert_eq!(a["flaps"], 0, "{a}");
        assert_eq!(a["since"], b["since"], "{a}");
    }
    for h in [c1, c2] {
        h.shutdown(None).await.unwrap();
    }
}

fn wait_log(d: &Daemon, what: &str) {
    let t = Instant::now();
    while !d.log().contains(what) {
        assert!(t.elapsed() < Duration::from_secs(10), "{what:?} not in the log:\n{}", d.log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sighup_reloads_and_refuses_restart_only_changes() {
    let d = start("hup", "", "", "");
    let pid = d.child.id().to_string();
    let text = std::fs::read_to_string(d.config()).unwrap();
    std::fs::write(d.config(), text.replace("hold_time = 9", "hold_time = 30")).unwrap();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    wait_log(&d, "configuration reloaded");

    // A static non-client group comes and goes with reloads.
    let with_peer = format!(
        "{}\n[[group]]\nname = \"upstream\"\ntype = \"non-client\"\npeer_as = 65000\npeers = [\"127.0.3.1\"]\npassive = true\n",
        std::fs::read_to_string(d.config()).unwrap()
    );
    std::fs::write(d.config(), &with_peer).unwrap();
    let out = d.cli(&["reload"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1 added\n", "{}", String::from_utf8_lossy(&out.stderr));
    let s = d.status();
    assert_eq!(
        (s.len(), &s[0]["type"], &s[0]["group"], &s[0]["asn"]),
        (1, &"non-client".into(), &"upstream".into(), &65000.into())
    );
    let table = String::from_utf8(d.cli(&["status"]).stdout).unwrap();
    assert!(table.lines().any(|l| l.starts_with("127.0.3.1") && l.contains("non-client") && l.contains("upstream")));
    // A changed session setting resets the peer (remove and add).
    std::fs::write(d.config(), with_peer.replace("peer_as = 65000", "peer_as = 65001")).unwrap();
    assert_eq!(String::from_utf8_lossy(&d.cli(&["reload"]).stdout), "1 reset\n");
    assert_eq!(d.status()[0]["asn"], 65001);
    std::fs::write(d.config(), with_peer.split("\n[[group]]\nname = \"upstream\"").next().unwrap()).unwrap();
    assert_eq!(String::from_utf8_lossy(&d.cli(&["reload"]).stdout), "1 removed\n");
    let t = Instant::now();
    while !d.status().is_empty() {
        assert!(t.elapsed() < Duration::from_secs(10), "the removed peer stays");
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(d.config()).unwrap();
    std::fs::write(d.config(), text.replace("router_id = \"198.18.5.1\"", "router_id = \"198.18.5.2\"")).unwrap();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    wait_log(&d, "router_id cannot change on reload; restart the reflector");
}

#[test]
fn metrics_are_served_over_http() {
    use std::io::{Read, Write};
    let port = free_port();
    let d = start("metrics", &format!("metrics = \"127.0.0.1:{port}\""), "", "");
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    assert!(body.starts_with("HTTP/1.0 200 OK\r\n"), "{body}");
    assert!(body.contains("rr_sessions{state=\"Established\"} 0\n"), "{body}");
    assert!(body.contains("process_resident_memory_bytes "), "{body}");
    assert!(body.contains("rr_last_change_timestamp_seconds "), "{body}");
    assert!(body.contains("# TYPE rr_peer_updates_sent_total counter\n"), "{body}");
    assert!(body.contains("# TYPE rr_peer_updates_received_total counter\n"), "{body}");
    drop(d);
}

/// A reload that takes the MD5 password off a dynamic range removes the key from the
/// listener too: a client without a key gets in afterwards (with the key left behind,
/// the kernel drops its unsigned SYNs and it never connects).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_removing_a_ranges_md5_password_removes_the_listener_key() {
    let d = start("md5", "", "md5_password = \"s3cret-key\"", "");
    let rid: Ipv4Addr = "198.18.7.2".parse().unwrap();
    let mut cfg = SpeakerConfig::new(64512, rid);
    let mut n = NeighborConfig::new(64512, rid, IpAddr::from([127, 0, 0, 1]), PeerAs::Exact(64512));
    n.port = d.port;
    n.transport.source = Some("127.0.1.2".parse().unwrap());
    n.transport.md5_key = Some(b"s3cret-key".to_vec());
    n.transport.connect_timeout = Some(Duration::from_secs(1));
    n.session.connect_retry = Duration::from_millis(300);
    n.session.idle_hold = Duration::from_millis(100);
    cfg.neighbors = vec![n];
    let signed = Speaker::start(cfg).await.unwrap();
    eventually("the signed client Established", async || {
        let s = d.status();
        (s.len() == 1 && s[0]["state"] == "Established").then_some(())
    })
    .await;
    signed.shutdown(None).await.unwrap();

    let text = std::fs::read_to_string(d.config()).unwrap();
    std::fs::write(d.config(), text.replace("md5_password = \"s3cret-key\"", "")).unwrap();
    let out = d.cli(&["reload"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plain = client(&d, "198.18.7.3", "127.0.1.3").await;
    eventually("the unsigned client Established", async || {
        d.status().iter().any(|p| p["address"] == "127.0.1.3" && p["state"] == "Established").then_some(())
    })
    .await;
    plain.shutdown(None).await.unwrap();
}

/// A static neighbour with an MD5 password that a reload removes takes its listener key
/// with it: a later connection from its address completes the TCP handshake (and is
/// refused by the reflector, as any unknown source), instead of its SYNs being dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_removing_a_static_md5_neighbour_removes_the_listener_key() {
    let d = start("md5s", "", "", "");
    let base = std::fs::read_to_string(d.config()).unwrap();
    let with_peer = format!(
        "{base}\n[[group]]\nname = \"upstream\"\ntype = \"non-client\"\npeer_as = 65000\npeers = [\"127.0.3.1\"]\n\
         passive = true\nmd5_password = \"s3cret-key\"\n"
    );
    std::fs::write(d.config(), &with_peer).unwrap();
    assert_eq!(String::from_utf8_lossy(&d.cli(&["reload"]).stdout), "1 added\n");
    std::fs::write(d.config(), &base).unwrap();
    assert_eq!(String::from_utf8_lossy(&d.cli(&["reload"]).stdout), "1 removed\n");
    eventually("the removed peer gone", async || d.status().is_empty().then_some(())).await;
    let connect = async {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        s.bind("127.0.3.1:0".parse().unwrap()).unwrap();
        s.connect(SocketAddr::from(([127, 0, 0, 1], d.port))).await
    };
    let r = tokio::time::timeout(Duration::from_secs(5), connect).await;
    assert!(matches!(r, Ok(Ok(_))), "unsigned TCP handshake from 127.0.3.1: {r:?}");
    eventually("the refusal in the log", async || {
        d.log().lines().any(|l| l.contains("refused connection") && l.contains("127.0.3.1")).then_some(())
    })
    .await;
}
