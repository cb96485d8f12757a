//! Peers our speaker with BIRD 2, each in its own network namespace joined by a veth.
//!
//! ```sh
//! sudo cargo run -p bgp-speaker --example bird_peer
//! ```
//!
//! Needs root, `ip` and `bird`/`birdc`. Creates `bgpex-us-PID` (198.18.0.1, AS 65001,
//! our speaker) and `bgpex-bird-PID` (198.18.0.2, AS 65002, BIRD), originates
//! 10.244.0.0/26, waits until BIRD has it, prints BIRD's `show route` and the routes we
//! learned (BIRD's 10.244.1.0/26), then removes everything (also on error).

use bgp_speaker::rib::{PathAttrs, Prefix};
use bgp_speaker::session::PeerAs;
use bgp_speaker::{NeighborConfig, Speaker, SpeakerConfig};
use std::os::fd::AsRawFd;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn run(args: &[&str]) -> Result<String> {
    let out = Command::new(args[0]).args(&args[1..]).output()?;
    if !out.status.success() {
        return Err(format!("{args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Namespaces, the work directory and BIRD; removed on drop.
struct Lab {
    us: String,
    bird_ns: String,
    dir: std::path::PathBuf,
    bird: Option<Child>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut b) = self.bird.take() {
            let _ = b.kill();
            let _ = b.wait();
        }
        for ns in [&self.us, &self.bird_ns] {
            let _ = run(&["ip", "netns", "del", ns]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const BIRD_CONF: &str = r#"router id 198.18.0.2;
protocol device { }
protocol static { ipv4; route 10.244.1.0/26 blackhole; }
protocol bgp speaker {
  local 198.18.0.2 as 65002;
  neighbor 198.18.0.1 as 65001;
  connect delay time 1;
  ipv4 { import all; export where source = RTS_STATIC; };
}
"#;

fn main() -> Result<()> {
    let pid = std::process::id();
    let dir = std::env::temp_dir().join(format!("bgpex-{pid}"));
    std::fs::create_dir_all(&dir)?;
    let mut lab = Lab { us: format!("bgpex-us-{pid}"), bird_ns: format!("bgpex-bird-{pid}"), dir, bird: None };
    for ns in [&lab.us, &lab.bird_ns] {
        run(&["ip", "netns", "add", ns])?;
        run(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
    }
    run(&["ip", "-n", &lab.us, "link", "add", "u0", "type", "veth", "peer", "name", "b0", "netns", &lab.bird_ns])?;
    for (ns, dev, addr) in [(&lab.us, "u0", "198.18.0.1/24"), (&lab.bird_ns, "b0", "198.18.0.2/24")] {
        run(&["ip", "-n", ns, "addr", "add", addr, "dev", dev])?;
        run(&["ip", "-n", ns, "link", "set", dev, "up"])?;
    }
    let conf = lab.dir.join("bird.conf");
    let sock = lab.dir.join("bird.ctl");
    std::fs::write(&conf, BIRD_CONF)?;
    let (conf, sock) = (conf.display().to_string(), sock.display().to_string());
    lab.bird =
        Some(Command::new("ip").args(["netns", "exec", &lab.bird_ns, "bird", "-f", "-c", &conf, "-s", &sock]).spawn()?);

    // Everything from here on (this thread's sockets) lives in our namespace.
    let f = std::fs::File::open(format!("/run/netns/{}", lab.us))?;
    // SAFETY: setns on a valid namespace fd, for this thread only.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let rid = "198.18.0.1".parse()?;
        let mut n = NeighborConfig::new(65001, rid, "198.18.0.2".parse()?, PeerAs::Exact(65002));
        n.transport.source = Some("198.18.0.1".parse()?);
        n.session.connect_retry = Duration::from_secs(1);
        let mut cfg = SpeakerConfig::new(65001, rid);
        cfg.neighbors = vec![n];
        let h = Speaker::start(cfg).await?;
        let block: Prefix = "10.244.0.0/26".parse()?;
        h.originate(block, PathAttrs::default()).await?;
        let start = Instant::now();
        let shown = loop {
            let out = run(&["birdc", "-s", &sock, "show", "route", "10.244.0.0/26"]).unwrap_or_default();
            if out.contains("10.244.0.0/26") {
                break out;
            }
            if start.elapsed() > Duration::from_secs(30) {
                return Err::<(), Box<dyn std::error::Error>>("BIRD did not learn 10.244.0.0/26 in 30 s".into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        println!("BIRD's show route 10.244.0.0/26:\n{shown}");
        println!("{}", run(&["birdc", "-s", &sock, "show", "route"])?);
        tokio::time::sleep(Duration::from_millis(500)).await;
        println!("Our routes:");
        for (p, paths) in h.routes(None).await? {
            for r in paths {
                println!(
                    "  {p} best={} as_path={:?} next_hop={:?}",
                    r.best, r.route.attrs.as_path, r.route.attrs.next_hop
                );
            }
        }
        for p in h.peers().await? {
            println!("Peer {} AS {:?}: {}", p.address, p.asn, p.state);
        }
        h.shutdown(Some("example done".into())).await?;
        Ok(())
    })?;
    drop(lab);
    Ok(())
}
