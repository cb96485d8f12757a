//! Unit tests of the NLRI codec: the fast paths against the general ones.
use super::*;
use proptest::prelude::*;

/// The careful loop alone is the reference for the fast path.
fn reference<P: Prefix, const ADD: bool>(buf: &[u8]) -> (Vec<Nlri<P>>, Result<(), NlriFault>) {
    let mut v = Vec::new();
    let r = decode_tail::<P, ADD>(buf, 0, &mut v);
    (v, r)
}

fn check_decode(buf: &[u8]) {
    for add in [false, true] {
        let mut v4 = Vec::new();
        let r4 = decode_v4(buf, add, &mut v4);
        let want4 = if add { reference::<Ipv4Net, true>(buf) } else { reference::<Ipv4Net, false>(buf) };
        assert_eq!((v4, r4), want4, "v4 add_path={add} {buf:02x?}");
        let mut v6 = Vec::new();
        let r6 = decode_v6(buf, add, &mut v6);
        let want6 = if add { reference::<Ipv6Net, true>(buf) } else { reference::<Ipv6Net, false>(buf) };
        assert_eq!((v6, r6), want6, "v6 add_path={add} {buf:02x?}");
    }
}

fn check_encode<P: Prefix + std::fmt::Debug + PartialEq>(v: &[Nlri<P>], room: usize) {
    for add in [false, true] {
        let mut one = BytesMut::new();
        let mut fit_n = 0;
        for n in v {
            if one.len() + encoded_len(n, add) > room {
                break;
            }
            encode_one(n, add, &mut one);
            fit_n += 1;
        }
        let mut fit = BytesMut::from(&b"xy"[..]);
        assert_eq!(encode_fit(v, add, room, &mut fit), (fit_n, one.len()));
        assert_eq!(&fit[2..], &one[..]);
        if room == usize::MAX {
            let mut all = BytesMut::new();
            encode_all(v, add, &mut all);
            assert_eq!(all, one);
        }
    }
}

#[test]
fn mask_edges() {
    assert_eq!(mask128(0), 0);
    assert_eq!(mask128(1), 1 << 127);
    assert_eq!(mask128(64), (u64::MAX as u128) << 64);
    assert_eq!(mask128(128), u128::MAX);
    assert_eq!(mask32(0), 0);
    assert_eq!(mask32(1), 0x8000_0000);
    assert_eq!(mask32(24), 0xffff_ff00);
    assert_eq!(mask32(32), u32::MAX);
}

#[test]
fn fast_path_faults_match_the_careful_path() {
    check_decode(&[]);
    check_decode(&[24, 10, 0, 0, 24, 10, 0, 1, 33, 1, 2, 3, 4, 5, 6]);
    check_decode(&[24, 10, 0, 0, 24, 10, 0, 1, 32, 1, 2, 3]);
    check_decode(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 129, 0]);
    check_decode(&[128; 40]);
}

/// Prefix lengths at the octet boundaries and the ends of the address.
const V4_LENS: [u8; 8] = [0, 1, 7, 8, 9, 24, 25, 32];
const V6_LENS: [u8; 6] = [0, 1, 48, 64, 127, 128];

/// Pseudo-random octets (xorshift), so that host bits are set.
fn noise(seed: &mut u64) -> u8 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    (*seed >> 24) as u8
}

/// The wire form of prefixes of `lens` (with `add`, path identifier `0x0102_0300 + k`
/// for the k-th), random octets in the host bits, and the NLRI it must decode to,
/// built independently of this module (`make` from the significant octets, then
/// `trunc` to clear the host bits).
fn wire<P>(lens: &[u8], add: bool, seed: &mut u64, make: impl Fn(&[u8], u8) -> P) -> (Vec<u8>, Vec<Nlri<P>>) {
    let mut buf = Vec::new();
    let mut want = Vec::new();
    for (k, &len) in lens.iter().enumerate() {
        let path_id = add.then_some(0x0102_0300 + k as u32);
        if let Some(id) = path_id {
            buf.extend_from_slice(&id.to_be_bytes());
        }
        buf.push(len);
        let octets: Vec<u8> = (0..(len as usize).div_ceil(8)).map(|_| noise(seed)).collect();
        buf.extend_from_slice(&octets);
        want.push(Nlri { path_id, prefix: make(&octets, len) });
    }
    (buf, want)
}

fn make_v4(o: &[u8], len: u8) -> Ipv4Net {
    let mut a = [0u8; 4];
    a[..o.len()].copy_from_slice(o);
    Ipv4Net::new(Ipv4Addr::from(a), len).unwrap().trunc()
}

fn make_v6(o: &[u8], len: u8) -> Ipv6Net {
    let mut a = [0u8; 16];
    a[..o.len()].copy_from_slice(o);
    Ipv6Net::new(Ipv6Addr::from(a), len).unwrap().trunc()
}

/// Runs of every edge length: all of one length (1 to 12 of them) and mixed, rotated
/// so that each length is the last prefix, at the very end of the buffer.
fn runs(lens: &[u8]) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for &l in lens {
        // Fewer under Miri, which runs these ~1000 times slower.
        for count in (1..=12).filter(|c| !cfg!(miri) || [1, 2, 5, 12].contains(c)) {
            v.push(vec![l; count]);
        }
    }
    for r in 0..lens.len() {
        let mut mixed: Vec<u8> = lens.iter().chain(lens).copied().collect();
        mixed.rotate_left(r + 1);
        v.push(mixed);
    }
    v
}

/// `decode_v4` or `decode_v6`.
type DecodeFn<P> = fn(&[u8], bool, &mut Vec<Nlri<P>>) -> Result<(), NlriFault>;

/// The fast decode path (batches of unchecked windows) against the expected values
/// and the careful loop, for every edge length, whole and cut at every octet (the
/// buffer is an exact-size allocation, so an over-read is caught under Miri).
fn check_fast_decode<P: Prefix + std::fmt::Debug + PartialEq>(
    lens: &[u8],
    make: impl Fn(&[u8], u8) -> P + Copy,
    decode: DecodeFn<P>,
) {
    let mut seed = 0x9e37_79b9_7f4a_7c15;
    for run in runs(lens) {
        for add in [false, true] {
            let (buf, want) = wire(&run, add, &mut seed, make);
            let mut got = Vec::new();
            assert_eq!(decode(&buf.clone().into_boxed_slice(), add, &mut got), Ok(()), "{run:?} add={add}");
            assert_eq!(got, want, "{run:?} add={add}");
            // Under Miri only the cuts within two windows of the end.
            let from = if cfg!(miri) { buf.len().saturating_sub(2 * 21) } else { 0 };
            for cut in from..buf.len() {
                let part = buf[..cut].to_vec().into_boxed_slice();
                let mut got = Vec::new();
                let r = decode(&part, add, &mut got);
                let reference = if add { reference::<P, true>(&part) } else { reference::<P, false>(&part) };
                assert_eq!((got, r), reference, "{run:?} add={add} cut at {cut}");
            }
        }
    }
}

#[test]
fn fast_decode_edge_lengths_v4() {
    check_fast_decode(&V4_LENS, make_v4, decode_v4);
}

#[test]
fn fast_decode_edge_lengths_v6() {
    check_fast_decode(&V6_LENS, make_v6, decode_v6);
}

/// A length over the maximum inside a batch: the prefixes before it are kept, the
/// fault is reported at its offset, as by the careful loop.
#[test]
fn fast_decode_fault_inside_a_batch() {
    let mut buf: Vec<u8> = [24u8, 10, 0, 0].repeat(20);
    buf.extend_from_slice(&[33, 1, 2, 3, 4]);
    buf.extend_from_slice(&[24u8, 10, 0, 0].repeat(20));
    let mut v = Vec::new();
    assert_eq!(decode_v4(&buf, false, &mut v), Err(NlriFault { at: 80, reason: "prefix length exceeds 32" }));
    assert_eq!(v.len(), 20);
    let mut buf: Vec<u8> = [48u8, 0x20, 1, 0xd, 0xb8, 0, 1].repeat(20);
    buf.extend_from_slice(&[129; 17]);
    let mut v = Vec::new();
    let want = NlriFault { at: 140, reason: "prefix length exceeds the address length" };
    assert_eq!(decode_v6(&buf, false, &mut v), Err(want));
    assert_eq!(v.len(), 20);
    check_decode(&buf);
}

/// The wire form of `v` written independently: path identifier (0 when missing),
/// length octet, the significant octets.
fn expected_wire<P: Prefix>(v: &[Nlri<P>], add: bool, octets: impl Fn(&P) -> Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    for n in v {
        if add {
            out.extend_from_slice(&n.path_id.unwrap_or(0).to_be_bytes());
        }
        let len = n.prefix.len_bits();
        out.push(len);
        out.extend_from_slice(&octets(&n.prefix)[..(len as usize).div_ceil(8)]);
    }
    out
}

/// The fast encode path (one store per prefix into the spare capacity) against the
/// bytes written independently, for runs long enough to take it, with the output
/// starting empty (reserved to the exact worst case, so an overrun is caught under
/// Miri) or not, and with `encode_fit` cut at every room.
fn check_fast_encode<P: Prefix + std::fmt::Debug + PartialEq>(
    lens: &[u8],
    make: impl Fn(&[u8], u8) -> P + Copy,
    octets: impl Fn(&P) -> Vec<u8> + Copy,
) {
    let mut seed = 0x2545_f491_4f6c_dd1d;
    for run in runs(lens).into_iter().filter(|r| r.len() > SHORT_RUN) {
        for add in [false, true] {
            let (_, mut v) = wire(&run, add, &mut seed, make);
            if add {
                v[1].path_id = None; // Sent as 0.
            }
            let want = expected_wire(&v, add, octets);
            let mut out = BytesMut::new();
            encode_all(&v, add, &mut out);
            assert_eq!(&out[..], &want[..], "{run:?} add={add}");
            let mut out = BytesMut::from(&b"xyz"[..]);
            encode_all(&v, add, &mut out);
            assert_eq!(&out[3..], &want[..], "{run:?} add={add}");
            let from = if cfg!(miri) { want.len().saturating_sub(2 * 21) } else { 0 };
            for room in from..=want.len() + 1 {
                let fit = v.iter().scan(0, |used, n| {
                    *used += encoded_len(n, add);
                    (*used <= room).then_some(*used)
                });
                let (count, used) = fit.enumerate().last().map_or((0, 0), |(k, u)| (k + 1, u));
                let mut out = BytesMut::new();
                assert_eq!(encode_fit(&v, add, room, &mut out), (count, used), "{run:?} add={add} room={room}");
                assert_eq!(&out[..], &want[..used], "{run:?} add={add} room={room}");
            }
        }
    }
}

#[test]
fn fast_encode_edge_lengths_v4() {
    check_fast_encode(&V4_LENS, make_v4, |p: &Ipv4Net| p.addr().octets().to_vec());
}

#[test]
fn fast_encode_edge_lengths_v6() {
    check_fast_encode(&V6_LENS, make_v6, |p: &Ipv6Net| p.addr().octets().to_vec());
}

proptest! {
    #[test]
    fn decode_matches_reference(buf in proptest::collection::vec(
        prop_oneof![0u8..=33, Just(24u8), Just(48u8), Just(64u8), Just(128u8), Just(129u8), any::<u8>()], 0..80)) {
        check_decode(&buf);
    }

    #[test]
    fn encode_matches_encode_one(
        v4 in proptest::collection::vec((any::<u32>(), 0u8..=32, proptest::option::of(any::<u32>())), 0..40),
        v6 in proptest::collection::vec((any::<u128>(), 0u8..=128, proptest::option::of(any::<u32>())), 0..40),
        room in prop_oneof![Just(usize::MAX), 0usize..300],
    ) {
        let v4: Vec<_> = v4.into_iter()
            .map(|(a, l, p)| Nlri { path_id: p, prefix: Ipv4Net::new(Ipv4Addr::from(a), l).unwrap() })
            .collect();
        let v6: Vec<_> = v6.into_iter()
            .map(|(a, l, p)| Nlri { path_id: p, prefix: Ipv6Net::new(Ipv6Addr::from(a), l).unwrap() })
            .collect();
        check_encode(&v4, room);
        check_encode(&v6, room);
    }
}
