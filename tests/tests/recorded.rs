//! Sanity checks on the streams recorded from real peers in
//! `bgp-proto/tests/data/peers` (by `record-peers`). Only the framing and a rough look
//! at UPDATEs: full decoding is bgp-proto's job.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tests::wire;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bgp-proto/tests/data/peers")
}

fn index() -> BTreeMap<String, serde_json::Value> {
    let text = std::fs::read_to_string(data_dir().join("index.json")).expect("index.json");
    let v: Vec<serde_json::Value> = serde_json::from_str(&text).expect("index.json parses");
    v.into_iter().map(|n| (n["file"].as_str().expect("file").to_string(), n)).collect()
}

fn bgp_files() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(data_dir())
        .expect("data dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".bgp"))
        .collect();
    v.sort();
    v
}

fn max_len(note: &serde_json::Value) -> usize {
    if note["extended_message"] == true {
        65535
    } else {
        4096
    }
}

fn load(name: &str) -> Vec<u8> {
    std::fs::read(data_dir().join(name)).expect(name)
}

fn labels(name: &str, idx: &BTreeMap<String, serde_json::Value>) -> Vec<String> {
    let note = idx.get(name).unwrap_or_else(|| panic!("{name} not in index.json"));
    wire::labels(&load(name), max_len(note)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn count(l: &[String], what: &str) -> usize {
    l.iter().filter(|x| *x == what).count()
}

fn pos(l: &[String], what: &str, name: &str) -> usize {
    l.iter().position(|x| x == what).unwrap_or_else(|| panic!("{name}: no {what} in {l:?}"))
}

#[test]
fn every_file_is_indexed_and_frames_cleanly() {
    let idx = index();
    let files = bgp_files();
    assert!(files.len() >= 20, "expected the full recording, found {files:?}");
    let readme = std::fs::read_to_string(data_dir().join("README.md")).expect("README.md");
    for f in &files {
        assert!(readme.contains(f.as_str()), "{f} not described in README.md");
        let l = labels(f, &idx);
        assert_eq!(&l[..2], ["OPEN", "KEEPALIVE"], "{f}");
        assert!(!l.iter().any(|x| x.contains("malformed")), "{f}: {l:?}");
        assert_eq!(idx[f]["bytes"].as_u64(), Some(load(f).len() as u64), "{f}");
    }
    for name in idx.keys() {
        assert!(files.contains(name), "index.json lists missing {name}");
    }
}

#[test]
fn daemon_streams_hold_table_eor_refresh_and_withdrawals() {
    let idx = index();
    let files: Vec<String> =
        bgp_files().into_iter().filter(|f| !f.starts_with("pair-") && !f.ends_with(".sent.bgp")).collect();
    for k in ["bird", "frr", "gobgp", "exabgp"] {
        assert!(files.iter().any(|f| f.starts_with(k)), "no {k} recording");
    }
    for f in &files {
        let l = labels(f, &idx);
        let eor4 = pos(&l, "EOR(1/1)", f);
        let eor6 = pos(&l, "EOR(2/1)", f);
        let table_end = eor4.max(eor6);
        // 9 routes: 5 IPv4 + 4 IPv6, one UPDATE each (no two share attributes).
        assert!(count(&l[..table_end], "UPDATE") >= 9, "{f}: {l:?}");
        // The ROUTE-REFRESH makes the peer resend its 5 IPv4 routes.
        assert!(count(&l[table_end..], "UPDATE") >= 5, "{f}: {l:?}");
        if idx[f]["enhanced_route_refresh"] == true {
            let borr = pos(&l, "ROUTE-REFRESH(1/1/1)", f);
            let eorr = pos(&l, "ROUTE-REFRESH(1/1/2)", f);
            assert!(table_end < borr && borr < eorr, "{f}: {l:?}");
        }
        let data = load(f);
        let frames = wire::frames(&data, max_len(&idx[f])).expect("frames");
        let infos: Vec<wire::UpdateInfo> = frames.iter().filter_map(|x| wire::update_info(x.bytes)).collect();
        assert!(infos.iter().any(|u| u.withdrawn_len > 0), "{f}: no IPv4 withdrawal");
        assert!(infos.iter().any(|u| matches!(u.mp_unreach, Some((2, 1, n)) if n > 0)), "{f}: no IPv6 withdrawal");
        assert!(infos.iter().any(|u| u.attrs.contains(&8)), "{f}: no COMMUNITIES");
        assert!(infos.iter().any(|u| u.attrs.contains(&32)), "{f}: no LARGE_COMMUNITY");
        let ibgp = idx[f]["session"] == "iBGP";
        // BIRD 2.0.12 does not send MED to eBGP peers, even for its own static routes.
        let med_expected = ibgp || !f.starts_with("bird-");
        assert_eq!(infos.iter().any(|u| u.attrs.contains(&4)), med_expected, "{f}: MED");
        assert_eq!(infos.iter().any(|u| u.attrs.contains(&5)), ibgp, "{f}: LOCAL_PREF only on iBGP");
        assert!(idx[f]["problems"].as_array().is_some_and(|p| p.is_empty()), "{f}: {}", idx[f]["problems"]);
    }
}

#[test]
fn responder_streams_are_open_keepalive_refresh_cease() {
    let idx = index();
    for f in bgp_files().into_iter().filter(|f| f.ends_with(".sent.bgp")) {
        let l: Vec<String> = labels(&f, &idx)
            .into_iter()
            .enumerate()
            .filter(|(i, x)| *i < 2 || x != "KEEPALIVE")
            .map(|(_, x)| x)
            .collect();
        assert_eq!(l, ["OPEN", "KEEPALIVE", "ROUTE-REFRESH(1/1/0)", "NOTIFICATION(6/2)"], "{f}");
    }
}

#[test]
fn pair_captures_hold_both_directions() {
    let idx = index();
    let pairs: Vec<String> = bgp_files().into_iter().filter(|f| f.starts_with("pair-")).collect();
    assert!(pairs.len() >= 4, "{pairs:?}");
    for f in &pairs {
        let l = labels(f, &idx);
        pos(&l, "EOR(1/1)", f);
        pos(&l, "EOR(2/1)", f);
        assert!(count(&l, "UPDATE") >= 9, "{f}: {l:?}");
        assert!(count(&l, "WITHDRAW") >= 1, "{f}: {l:?}");
    }
}

/// With ADD-PATH in a stream, IPv4 NLRI carry a 4-byte path ID before each prefix.
/// Checks the first IPv4 announcement's NLRI length against both layouts.
#[test]
fn add_path_notes_match_the_nlri_layout() {
    let idx = index();
    for f in bgp_files() {
        let note = &idx[&f];
        let add_path = note["add_path_in_stream"].as_array().is_some_and(|a| a.iter().any(|x| x == "1/1"));
        if f.contains("addpath") && !f.ends_with(".sent.bgp") {
            assert!(add_path, "{f}: ADD-PATH expected");
        }
        if !f.contains("addpath") {
            assert!(!add_path, "{f}: ADD-PATH not expected");
        }
        let data = load(&f);
        let frames = wire::frames(&data, max_len(note)).expect("frames");
        let Some(first) = frames.iter().find(|x| wire::update_info(x.bytes).is_some_and(|u| u.nlri_len > 0)) else {
            continue;
        };
        let u = wire::update_info(first.bytes).expect("update");
        let nlri = &first.bytes[first.bytes.len() - u.nlri_len..];
        let id = if add_path { 4 } else { 0 };
        let mut off = 0;
        while off < nlri.len() {
            let plen = nlri[off + id] as usize;
            assert!((1..=32).contains(&plen), "{f}: NLRI layout {nlri:02x?}");
            off += id + 1 + plen.div_ceil(8);
        }
        assert_eq!(off, nlri.len(), "{f}: NLRI layout {nlri:02x?}");
    }
}

#[test]
fn four_octet_as_responder_uses_as_trans() {
    let data = load("frr-ebgp-as4.sent.bgp");
    let open = wire::parse_open(wire::frames(&data, 4096).expect("frames")[0].bytes).expect("open");
    assert_eq!(open.my_as, wire::AS_TRANS);
    assert_eq!(open.as4(), Some(4_200_000_001));
}
