//! Byte streams recorded from real BIRD 2, FRR, GoBGP and ExaBGP sessions (see
//! tests/data/peers/README.md and the `record-peers` tool in the tests crate) decode
//! completely, under the context the two recorded OPENs negotiate.

use bgp_proto::{frame, negotiate, DecodeCtx, EncodeCtx, Message, Open, MAX_EXTENDED_MESSAGE_LEN};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/peers")
}

fn split(stream: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let len = frame(rest, MAX_EXTENDED_MESSAGE_LEN).expect("valid framing").expect("whole message");
        out.push(&rest[..len]);
        rest = &rest[len..];
    }
    out
}

fn first_open(msgs: &[&[u8]]) -> Open {
    match Message::decode(msgs[0], &DecodeCtx::default()) {
        Ok(Message::Open(o)) => o,
        other => panic!("stream does not start with an OPEN: {other:?}"),
    }
}

/// Per recording: (messages by type, announced prefixes, withdrawn prefixes).
#[derive(Debug, Default)]
struct Summary {
    types: BTreeMap<u8, usize>,
    announced: usize,
    withdrawn: usize,
    end_of_rib: Vec<String>,
    reencoded_exact: usize,
    reencoded_differs: Vec<String>,
}

/// The recording of the other direction of the same session: `X.sent.bgp` for our
/// responder's sessions, the pair's other file for two daemons captured together.
fn other_direction(peer_file: &Path) -> PathBuf {
    let name = peer_file.file_name().unwrap().to_string_lossy().to_string();
    if let Some(rest) = name.strip_prefix("pair-") {
        let session = &rest[..rest.find('.').unwrap()];
        let dir = peer_file.parent().unwrap();
        let other = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n.starts_with(&format!("pair-{session}.")) && n.ends_with(".bgp") && n != name
        });
        return other.unwrap_or_else(|| panic!("no other direction for {name}"));
    }
    peer_file.with_extension("sent.bgp")
}

fn decode_recording(peer_file: &Path) -> Summary {
    let name = peer_file.file_name().unwrap().to_string_lossy().to_string();
    let peer_bytes = std::fs::read(peer_file).unwrap();
    let sent_bytes = std::fs::read(other_direction(peer_file)).unwrap();
    let peer_msgs = split(&peer_bytes);
    let sent_msgs = split(&sent_bytes);
    let remote = first_open(&peer_msgs);
    let local = first_open(&sent_msgs);
    let external = remote.asn() != local.asn();
    // The peer's messages are decoded with what we negotiated as receiver, and our
    // re-encoding uses the peer's view (what it negotiated as sender).
    let (dctx, _) = negotiate(&local, &remote, external);
    let (_, ectx_peer) = negotiate(&remote, &local, external);
    // The recorder's index says, from the NLRI layout, which families carry path IDs:
    // our negotiation must agree.
    if let Some(expected) = index_add_path(&name) {
        for (f, fam) in [("1/1", bgp_proto::AfiSafi::IPV4_UNICAST), ("2/1", bgp_proto::AfiSafi::IPV6_UNICAST)] {
            assert_eq!(dctx.add_path(fam), expected.iter().any(|e| e == f), "{name}: ADD-PATH for {f}");
        }
    }
    let mut s = Summary::default();
    for (i, m) in peer_msgs.iter().enumerate() {
        let msg = Message::decode(m, &dctx).unwrap_or_else(|e| panic!("{name}: message {i} failed: {e}"));
        *s.types.entry(msg.msg_type()).or_default() += 1;
        if let Message::Update(u) = &msg {
            s.announced += u.announced_v4().count() + u.announced_v6().count();
            s.withdrawn += u.withdrawn_v4().count() + u.withdrawn_v6().count();
            if let Some(f) = u.as_end_of_rib() {
                s.end_of_rib.push(f.to_string());
            }
        }
        let ctx = if i == 0 { EncodeCtx::default() } else { ectx_peer.clone() };
        match msg.to_bytes(&ctx) {
            Ok(b) if b.as_ref() == *m => s.reencoded_exact += 1,
            Ok(b) => s.reencoded_differs.push(format!("{name} #{i}: {} -> {}", hex(m), hex(&b))),
            Err(e) => s.reencoded_differs.push(format!("{name} #{i}: encode failed: {e}")),
        }
    }
    s
}

/// `add_path_in_stream` of a file in tests/data/peers/index.json.
fn index_add_path(file: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(data_dir().join("index.json")).ok()?;
    // A light scan instead of a JSON dependency: find the entry's object and its list.
    let at = text.find(&format!("\"file\": \"{file}\""))?;
    let start = text[..at].rfind('{')?;
    let obj = &text[start..at];
    let list = obj.split("\"add_path_in_stream\":").nth(1)?;
    let list = &list[list.find('[')? + 1..list.find(']')?];
    Some(list.split(',').map(|x| x.trim().trim_matches('"').to_string()).filter(|x| !x.is_empty()).collect())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn every_recorded_stream_decodes_and_reencodes() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .expect("tests/data/peers exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bgp") && !p.to_string_lossy().ends_with(".sent.bgp"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "expected recordings from every daemon, found {files:?}");
    let mut differs = Vec::new();
    for f in &files {
        let s = decode_recording(f);
        let name = f.file_name().unwrap().to_string_lossy();
        eprintln!("{name}: {s:?}");
        assert_eq!(s.types.get(&1), Some(&1), "{name}: exactly one OPEN");
        assert!(s.types.get(&2).copied().unwrap_or(0) >= 2, "{name}: UPDATEs expected");
        assert!(s.announced >= 2, "{name}: announcements expected");
        assert!(!s.end_of_rib.is_empty(), "{name}: End-of-RIB expected");
        differs.extend(s.reencoded_differs);
    }
    // Every message a real daemon sent re-encodes to the same bytes, except where the
    // daemon's encoding is not canonical; those are listed here with the reason.
    assert!(differs.is_empty(), "re-encoding differs:\n{}", differs.join("\n"));
}

#[test]
fn daemons_cover_each_family_and_add_path() {
    let dir = data_dir();
    for daemon in ["bird", "frr", "gobgp", "exabgp"] {
        let any = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .any(|n| n.starts_with(daemon) && n.ends_with(".bgp") && !n.ends_with(".sent.bgp"));
        assert!(any, "no recording from {daemon}");
    }
    // An ADD-PATH recording carries path identifiers on its prefixes.
    let f = dir.join("bird-ibgp-addpath.bgp");
    let peer = std::fs::read(&f).unwrap();
    let sent = std::fs::read(f.with_extension("sent.bgp")).unwrap();
    let (pm, sm) = (split(&peer), split(&sent));
    let (dctx, _) = negotiate(&first_open(&sm), &first_open(&pm), false);
    assert!(dctx.add_path(bgp_proto::AfiSafi::IPV4_UNICAST), "ADD-PATH receive negotiated for IPv4");
    let with_ids = pm
        .iter()
        .filter_map(|m| match Message::decode(m, &dctx) {
            Ok(Message::Update(u)) => Some(u.announced_v4().filter(|n| n.path_id.is_some()).count()),
            _ => None,
        })
        .sum::<usize>();
    assert!(with_ids > 0, "path identifiers expected in {f:?}");
}
