//! AS_PATH and AS4_PATH (RFC 4271 §4.3, RFC 5065 §3, RFC 6793 §4).

use serde::Serialize;

/// AS_PATH segment types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SegmentKind {
    /// 1: AS_SET, unordered.
    Set,
    /// 2: AS_SEQUENCE, ordered.
    Sequence,
    /// 3: AS_CONFED_SEQUENCE (RFC 5065).
    ConfedSequence,
    /// 4: AS_CONFED_SET (RFC 5065).
    ConfedSet,
}

impl SegmentKind {
    /// The wire code.
    pub fn code(self) -> u8 {
        match self {
            SegmentKind::Set => 1,
            SegmentKind::Sequence => 2,
            SegmentKind::ConfedSequence => 3,
            SegmentKind::ConfedSet => 4,
        }
    }
    /// Parses the wire code.
    pub fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            1 => SegmentKind::Set,
            2 => SegmentKind::Sequence,
            3 => SegmentKind::ConfedSequence,
            4 => SegmentKind::ConfedSet,
            _ => return None,
        })
    }
    /// Whether this is one of the confederation segment types.
    pub fn is_confed(self) -> bool {
        matches!(self, SegmentKind::ConfedSequence | SegmentKind::ConfedSet)
    }
}

/// One AS_PATH segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct AsSegment {
    /// Segment type.
    pub kind: SegmentKind,
    /// The ASNs, 1 to 255 of them.
    pub asns: Vec<u32>,
}

/// An AS_PATH (or AS4_PATH) value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AsPath {
    /// Segments in wire order.
    pub segments: Vec<AsSegment>,
}

impl AsPath {
    /// A path of one AS_SEQUENCE (empty when `asns` is).
    pub fn from_sequence(asns: impl IntoIterator<Item = u32>) -> Self {
        let asns: Vec<u32> = asns.into_iter().collect();
        let mut p = AsPath::default();
        for chunk in asns.chunks(255) {
            p.segments.push(AsSegment { kind: SegmentKind::Sequence, asns: chunk.to_vec() });
        }
        p
    }

    /// Path length for best-path selection (RFC 4271 §9.1.2.2 a): each AS in a sequence
    /// counts one, each AS_SET counts one, confederation segments count zero
    /// (RFC 5065 §5.3).
    pub fn path_len(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s.kind {
                SegmentKind::Sequence => s.asns.len(),
                SegmentKind::Set => 1,
                _ => 0,
            })
            .sum()
    }

    /// The first AS of the path (the neighbour AS for eBGP), if it starts with a sequence.
    pub fn first_as(&self) -> Option<u32> {
        self.segments.first().filter(|s| s.kind == SegmentKind::Sequence).and_then(|s| s.asns.first().copied())
    }

    /// The originating AS: the last AS of the last sequence segment.
    pub fn origin_as(&self) -> Option<u32> {
        self.segments.last().filter(|s| s.kind == SegmentKind::Sequence).and_then(|s| s.asns.last().copied())
    }

    /// Whether `asn` appears anywhere in the path, and how many times.
    pub fn count(&self, asn: u32) -> usize {
        self.segments.iter().map(|s| s.asns.iter().filter(|&&a| a == asn).count()).sum()
    }

    /// Prepends `asn` `times` times (RFC 4271 §5.1.2), merging into a leading sequence
    /// that has room.
    pub fn prepend(&mut self, asn: u32, times: usize) {
        for _ in 0..times {
            match self.segments.first_mut() {
                Some(s) if s.kind == SegmentKind::Sequence && s.asns.len() < 255 => s.asns.insert(0, asn),
                _ => self.segments.insert(0, AsSegment { kind: SegmentKind::Sequence, asns: vec![asn] }),
            }
        }
    }

    /// Whether any ASN needs 4 octets.
    pub fn has_wide_asn(&self) -> bool {
        self.segments.iter().any(|s| s.asns.iter().any(|&a| a > 0xffff))
    }

    /// Number of ASNs, counting confederation segments (RFC 6793 §4.2.3 counts them).
    fn raw_count(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s.kind {
                SegmentKind::Sequence | SegmentKind::ConfedSequence => s.asns.len(),
                _ => 1,
            })
            .sum()
    }

    /// RFC 6793 §4.2.3: rebuilds the real path from AS_PATH (with AS_TRANS) and the
    /// AS4_PATH of an old (2-octet) speaker. When AS4_PATH is longer than AS_PATH it is
    /// ignored; otherwise the leading part of AS_PATH is kept and the tail is replaced.
    pub fn merge_as4(&self, as4: &AsPath) -> AsPath {
        let n = self.raw_count();
        let m = as4.raw_count();
        if m > n {
            return self.clone();
        }
        let mut keep = n - m;
        let mut out = AsPath::default();
        for s in &self.segments {
            if keep == 0 {
                break;
            }
            match s.kind {
                SegmentKind::Sequence | SegmentKind::ConfedSequence => {
                    let take = keep.min(s.asns.len());
                    out.segments.push(AsSegment { kind: s.kind, asns: s.asns[..take].to_vec() });
                    keep -= take;
                }
                _ => {
                    out.segments.push(s.clone());
                    keep -= 1;
                }
            }
        }
        out.segments.extend(as4.segments.iter().cloned());
        out
    }

    /// Decodes an AS_PATH value with 2- or 4-octet ASNs. Checks RFC 4271 §6.3 and
    /// RFC 7606 §7.2 syntax: known segment types, non-empty segments, no overrun.
    pub(crate) fn decode(v: &[u8], four: bool) -> Result<AsPath, &'static str> {
        let w = if four { 4 } else { 2 };
        let mut segments = Vec::new();
        let mut i = 0;
        while i < v.len() {
            if v.len() - i < 2 {
                return Err("segment header truncated");
            }
            let kind = SegmentKind::from_code(v[i]).ok_or("unknown segment type")?;
            let count = v[i + 1] as usize;
            if count == 0 {
                return Err("empty segment");
            }
            i += 2;
            if v.len() - i < count * w {
                return Err("segment overruns the attribute");
            }
            let asns = v[i..i + count * w]
                .chunks_exact(w)
                .map(|c| {
                    if four {
                        u32::from_be_bytes([c[0], c[1], c[2], c[3]])
                    } else {
                        u16::from_be_bytes([c[0], c[1]]) as u32
                    }
                })
                .collect();
            i += count * w;
            segments.push(AsSegment { kind, asns });
        }
        Ok(AsPath { segments })
    }

    /// Encoded length of the value.
    pub(crate) fn encoded_len(&self, four: bool) -> usize {
        let w = if four { 4 } else { 2 };
        // One header per run of up to 255 ASNs; an empty segment is not written (it
        // would be malformed, RFC 7606 §7.2), as `encode` does.
        self.segments.iter().map(|s| s.asns.len() * w + 2 * s.asns.len().div_ceil(255)).sum()
    }
}
