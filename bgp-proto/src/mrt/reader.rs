//! A streaming MRT reader (RFC 6396 §2), with gzip and bzip2 detection.

use super::decode::decode_record;
use super::types::*;
use super::{mrt_type, td2};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// The largest record body the reader accepts. Real records are far smaller (a RIB
/// record with thousands of peers is under 1 MiB); a larger length means the input is
/// not MRT, or is corrupt, and reading stops rather than allocating it.
pub const MAX_RECORD_LEN: u32 = 16 << 20;

/// Wraps `r` in a gzip or bzip2 decoder when its first bytes are the gzip (1f 8b) or
/// bzip2 ("BZh") magic; otherwise returns it as it is. Concatenated members are read.
pub fn decompress<R: Read + Send + 'static>(r: R) -> io::Result<Box<dyn Read + Send>> {
    let mut b = BufReader::with_capacity(1 << 16, r);
    let head = b.fill_buf()?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(b))
    } else if head.starts_with(b"BZh") {
        Box::new(bzip2::bufread::MultiBzDecoder::new(b))
    } else {
        Box::new(b)
    })
}

/// Opens an MRT file, plain, gzip or bzip2 (detected by magic bytes, not extension).
pub fn open(path: impl AsRef<Path>) -> io::Result<MrtReader<Box<dyn Read + Send>>> {
    Ok(MrtReader::new(decompress(File::open(path)?)?))
}

/// Reads MRT records one by one.
///
/// An iterator of `Result<MrtRecord, MrtError>`: a malformed record is an `Err` item
/// (with the record's offset) and reading goes on with the next record, because the
/// header's length locates it. A truncated header or body, an I/O error, or a length
/// over [`MAX_RECORD_LEN`] yields one last `Err` and ends the iteration.
///
/// The reader remembers the last PEER_INDEX_TABLE and fills in [`RibEntry::peer`].
pub struct MrtReader<R: Read> {
    inner: BufReader<R>,
    buf: Vec<u8>,
    offset: u64,
    done: bool,
    peers: Option<Vec<PeerEntry>>,
}

impl<R: Read> MrtReader<R> {
    /// A reader over an uncompressed MRT stream (see [`decompress`] for the others).
    pub fn new(r: R) -> Self {
        MrtReader { inner: BufReader::with_capacity(1 << 16, r), buf: Vec::new(), offset: 0, done: false, peers: None }
    }

    /// Offset of the next record in the input.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The peers of the last PEER_INDEX_TABLE read.
    pub fn peer_index(&self) -> Option<&[PeerEntry]> {
        self.peers.as_deref()
    }

    /// Reads as much of `n` octets as there are into `self.buf`; returns how many.
    fn fill(&mut self, n: usize) -> io::Result<usize> {
        self.buf.clear();
        // Grow with the data actually read, never to a length only the header claims.
        if n <= 1 << 16 {
            self.buf.resize(n, 0);
            let mut got = 0;
            while got < n {
                match self.inner.read(&mut self.buf[got..]) {
                    Ok(0) => break,
                    Ok(k) => got += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            self.buf.truncate(got);
            Ok(got)
        } else {
            (&mut self.inner).take(n as u64).read_to_end(&mut self.buf)
        }
    }

    fn fatal(&mut self, header: Option<MrtHeader>, kind: MrtErrorKind) -> Option<Result<MrtRecord, MrtError>> {
        self.done = true;
        Some(Err(MrtError { offset: self.offset, header, kind }))
    }

    /// Reads the next record, or `None` at the end of the input.
    pub fn next_record(&mut self) -> Option<Result<MrtRecord, MrtError>> {
        if self.done {
            return None;
        }
        // The common case: the whole record is in the read buffer already, and is
        // decoded where it is. A record that runs past the buffer's end (or an error)
        // takes the copying path below.
        if let Ok(avail) = self.inner.fill_buf() {
            if let Some(hb) = avail.first_chunk::<12>() {
                let h = header(hb);
                let end = 12 + h.length as usize;
                if h.length <= MAX_RECORD_LEN && avail.len() >= end {
                    let offset = self.offset;
                    self.offset += end as u64;
                    let r = finish(&mut self.peers, offset, h, &avail[12..end]);
                    self.inner.consume(end);
                    return Some(r);
                }
            }
        }
        let got = match self.fill(12) {
            Ok(g) => g,
            Err(e) => return self.fatal(None, MrtErrorKind::Io { message: e.to_string() }),
        };
        if got == 0 {
            self.done = true;
            return None;
        }
        if got < 12 {
            return self.fatal(None, MrtErrorKind::TruncatedHeader { got });
        }
        let Some(hb) = self.buf.first_chunk::<12>() else {
            return self.fatal(None, MrtErrorKind::TruncatedHeader { got });
        };
        let h = header(hb);
        if h.length > MAX_RECORD_LEN {
            return self.fatal(Some(h), MrtErrorKind::TooLong { length: h.length });
        }
        let got = match self.fill(h.length as usize) {
            Ok(g) => g,
            Err(e) => return self.fatal(Some(h), MrtErrorKind::Io { message: e.to_string() }),
        };
        if got < h.length as usize {
            return self.fatal(Some(h), MrtErrorKind::TruncatedRecord { got, length: h.length });
        }
        let offset = self.offset;
        self.offset += 12 + h.length as u64;
        Some(finish(&mut self.peers, offset, h, &self.buf))
    }
}

/// The common header (RFC 6396 §2).
fn header(b: &[u8; 12]) -> MrtHeader {
    MrtHeader {
        timestamp: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        microseconds: None,
        mrt_type: u16::from_be_bytes([b[4], b[5]]),
        subtype: u16::from_be_bytes([b[6], b[7]]),
        length: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
    }
}

/// Decodes the record at `offset` with header `h` and body `body` (exactly
/// `h.length` octets), and keeps `peers` up to date: a PEER_INDEX_TABLE replaces them
/// (a malformed one clears them), a RIB record's entries are resolved against them.
fn finish(
    peers: &mut Option<Vec<PeerEntry>>,
    offset: u64,
    mut h: MrtHeader,
    mut body: &[u8],
) -> Result<MrtRecord, MrtError> {
    // RFC 6396 §3: the _ET types carry a microsecond timestamp first.
    if matches!(h.mrt_type, mrt_type::BGP4MP_ET | mrt_type::ISIS_ET | mrt_type::OSPF3_ET) {
        let Some((us, rest)) = body.split_first_chunk::<4>() else {
            let kind = MrtErrorKind::Malformed { at: 0, what: "microsecond timestamp truncated" };
            return Err(MrtError { offset, header: Some(h), kind });
        };
        h.microseconds = Some(u32::from_be_bytes(*us));
        body = rest;
    }
    match decode_record(&h, body) {
        Ok(mut body) => {
            match &mut body {
                MrtBody::PeerIndexTable(t) => *peers = Some(t.peers.clone()),
                MrtBody::Rib(rib) => {
                    if let Some(p) = peers {
                        for e in &mut rib.entries {
                            e.peer = p.get(e.peer_index as usize).copied();
                        }
                    }
                }
                _ => {}
            }
            Ok(MrtRecord { offset, header: h, body })
        }
        Err(kind) => {
            if h.mrt_type == mrt_type::TABLE_DUMP_V2 && h.subtype == td2::PEER_INDEX_TABLE {
                *peers = None;
            }
            Err(MrtError { offset, header: Some(h), kind })
        }
    }
}

impl<R: Read> Iterator for MrtReader<R> {
    type Item = Result<MrtRecord, MrtError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record()
    }
}
