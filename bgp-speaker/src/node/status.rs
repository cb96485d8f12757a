//! `calicoctl node status` tables.

use super::mesh::{PeerType, Wanted};
use crate::PeerStatus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRow {
    /// PEER ADDRESS.
    pub address: IpAddr,
    /// PEER TYPE: "node-to-node mesh", "global", "node specific".
    pub peer_type: String,
    /// Name of the member or BGPPeer.
    pub name: String,
    /// STATE: "up" when Established, else "start" (BIRD's protocol states).
    pub state: String,
    /// SINCE: the time of the last state change, HH:MM:SS (UTC) today, else the date.
    pub since: String,
    /// INFO: the session state, and the last error if any.
    pub info: String,
    /// Seconds since the epoch of the last state change.
    pub since_unix: u64,
}

/// The node status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Node name.
    pub node: String,
    /// Seconds since start.
    pub uptime: u64,
    /// IPv4 peers.
    pub ipv4: Vec<PeerRow>,
    /// IPv6 peers.
    pub ipv6: Vec<PeerRow>,
}

fn civil(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// BIRD's time format: `HH:MM:SS` for today, else `YYYY-MM-DD`.
pub fn since_text(t: SystemTime, now: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let now_s = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    if secs / 86_400 == now_s / 86_400 {
        let s = secs % 86_400;
        format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        let (y, m, d) = civil((secs / 86_400) as i64);
        format!("{y:04}-{m:02}-{d:02}")
    }
}

/// Builds the status from the speaker's peers and the node's neighbour list.
pub fn build(node: &str, peers: &[PeerStatus], wanted: &BTreeMap<IpAddr, Wanted>, uptime: Duration) -> Status {
    let now = SystemTime::now();
    let mut st = Status { node: node.to_string(), uptime: uptime.as_secs(), ipv4: Vec::new(), ipv6: Vec::new() };
    for p in peers {
        let w = wanted.get(&p.address);
        let kind = w.map(|w| w.kind).unwrap_or(PeerType::Global);
        let established = p.state == "Established";
        let mut info = p.state.clone();
        if let (false, Some(e)) = (established, &p.last_error) {
            info = format!("{info} ({e})");
        }
        let row = PeerRow {
            address: p.address,
            peer_type: kind.label().to_string(),
            name: w.map(|w| w.name.clone()).unwrap_or_default(),
            state: if established { "up" } else { "start" }.to_string(),
            since: since_text(p.since, now),
            info,
            since_unix: p.since.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs(),
        };
        if p.address.is_ipv4() {
            st.ipv4.push(row);
        } else {
            st.ipv6.push(row);
        }
    }
    st.ipv4.sort_by_key(|r| r.address);
    st.ipv6.sort_by_key(|r| r.address);
    st
}

fn table(rows: &[PeerRow]) -> String {
    let head = ["PEER ADDRESS", "PEER TYPE", "STATE", "SINCE", "INFO"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| [r.address.to_string(), r.peer_type.clone(), r.state.clone(), r.since.clone(), r.info.clone()])
        .collect();
    let mut w: [usize; 5] = head.map(str::len);
    for c in &cells {
        for i in 0..5 {
            w[i] = w[i].max(c[i].len());
        }
    }
    let sep: String = w.iter().map(|n| format!("+{}", "-".repeat(n + 2))).collect::<String>() + "+\n";
    let center = |s: &str, n: usize| {
        let pad = n - s.len();
        format!("| {}{}{} ", " ".repeat(pad / 2), s, " ".repeat(pad - pad / 2))
    };
    let mut out = sep.clone();
    out += &(head.iter().enumerate().map(|(i, h)| center(h, w[i])).collect::<String>() + "|\n");
    out += &sep;
    for c in &cells {
        out +=
            &(c.iter().enumerate().map(|(i, s)| format!("| {s:<width$} ", width = w[i])).collect::<String>() + "|\n");
    }
    out += &sep;
    out
}

impl Status {
    /// The text `calicoctl node status` prints (after its process line).
    pub fn render(&self) -> String {
        let mut out = "Calico process is running.\n\nIPv4 BGP status\n".to_string();
        if self.ipv4.is_empty() {
            out += "No IPv4 peers found.\n";
        } else {
            out += &table(&self.ipv4);
        }
        out += "\nIPv6 BGP status\n";
        if self.ipv6.is_empty() {
            out += "No IPv6 peers found.\n";
        } else {
            out += &table(&self.ipv6);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_layout() {
        let rows = vec![PeerRow {
            address: "192.168.73.44".parse().unwrap(),
            peer_type: "node-to-node mesh".into(),
            name: "n2".into(),
            state: "up".into(),
            since: "07:34:34".into(),
            info: "Established".into(),
            since_unix: 0,
        }];
        let t = table(&rows);
        let want = "\
+---------------+-------------------+-------+----------+-------------+
| PEER ADDRESS  |     PEER TYPE     | STATE |  SINCE   |    INFO     |
+---------------+-------------------+-------+----------+-------------+
| 192.168.73.44 | node-to-node mesh | up    | 07:34:34 | Established |
+---------------+-------------------+-------+----------+-------------+
";
        assert_eq!(t, want);
    }

    #[test]
    fn since_formats() {
        let t = UNIX_EPOCH + Duration::from_secs(19_000 * 86_400 + 3_723);
        assert_eq!(since_text(t, t), "01:02:03");
        assert_eq!(since_text(t, t + Duration::from_secs(86_400)), "2022-01-08");
    }
}
