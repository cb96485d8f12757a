//! bgp-decode: decodes MRT files, raw BGP byte streams and hex to JSON lines.
//!
//! See the `--help` text below and the `bgp_proto::mrt` module documentation for the
//! JSON schema.

use bgp_proto::mrt::{self, MessageError};
use bgp_proto::{frame, Capability, DecodeCtx, FamilySet, Message, HEADER_LEN};
use clap::{Parser, Subcommand};
use serde::Serialize;
use std::io::{self, BufRead, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

const SCHEMA: &str = "\
OUTPUT: one JSON object per line.
  mrt:    one object per MRT record: {offset, timestamp, microseconds?, type, subtype, length,
          record: \"bgp4mp-message\" | \"bgp4mp-state-change\" | \"peer-index-table\" | \"rib\" |
          \"table-dump\" | \"unsupported\", ...}. BGP4MP messages: peer_as, local_as, peer_ip,
          local_ip, interface_index, and \"message\": {\"type\": \"update\", \"body\": {withdrawn,
          attributes, nlri}} or \"error\": {...}. RIB records: sequence, family, prefix, entries
          [{peer_index, peer {bgp_id, ip, asn}, originated_time, path_id?, attributes}].
          A record that cannot be read: {\"error\": {offset, kind, header?, ...}}.
  stream, hex: {\"offset\": n, \"message\": {\"type\": ..., \"body\": ...}} per message, or
          {\"offset\": n, \"error\": {kind, offset, code, subcode, action, data, salvaged?, others?}}.
  Attributes: {\"flags\": n, \"type\": \"origin\" | \"as-path\" | \"next-hop\" | \"med\" | \"local-pref\" |
          \"communities\" | \"mp-reach\" | ... | \"unknown\", \"value\": ...}. Prefixes are strings
          (\"10.0.0.0/8\"), with \"path_id\" under ADD-PATH. Opaque bytes are lowercase hex.
The full schema is in the bgp_proto::mrt module documentation (cargo doc -p bgp-proto).";

/// Decode BGP messages and MRT files to JSON lines.
#[derive(Parser)]
#[command(name = "bgp-decode", version, after_long_help = SCHEMA)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Decode MRT files (RFC 6396), plain, gzip or bzip2 (detected by magic bytes).
    Mrt {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Decode a raw byte stream of concatenated BGP messages, such as one direction of a
    /// TCP session.
    ///
    /// Session context: 4-octet ASNs and no ADD-PATH until an OPEN is seen. After an
    /// OPEN, the stream is assumed to carry what its sender advertised: 4-octet ASNs if
    /// the OPEN has capability 65, and path identifiers in the families where it
    /// advertised ADD-PATH Send or Both (assuming the other side agreed to receive).
    /// --as2 and --add-path override this.
    Stream {
        /// The file, or - for stdin.
        file: String,
        #[command(flatten)]
        opts: CtxOpts,
    },
    /// Decode hex. Spaces, colons and a 0x prefix are ignored. Input that does not start
    /// with the 16-octet marker gets a header prepended (type from --type), as in the
    /// ExaBGP test vectors. Without arguments, each line of stdin is one input.
    Hex {
        /// Hex; all arguments are joined into one input.
        hex: Vec<String>,
        /// Message type for input without a header (1 OPEN, 2 UPDATE, ...).
        #[arg(long = "type", default_value_t = 2)]
        msg_type: u8,
        #[command(flatten)]
        opts: CtxOpts,
    },
}

#[derive(clap::Args, Clone, Copy)]
struct CtxOpts {
    /// Path identifiers in every typed family (IPv4/IPv6 unicast and multicast).
    #[arg(long)]
    add_path: bool,
    /// 2-octet ASNs in AS_PATH and AGGREGATOR.
    #[arg(long)]
    as2: bool,
}

#[derive(Serialize)]
struct ErrorLine<'a, E: Serialize> {
    error: &'a E,
}

#[derive(Serialize)]
struct MsgLine<'a> {
    offset: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a MessageError>,
}

type Out = BufWriter<io::StdoutLock<'static>>;

fn line<T: Serialize>(out: &mut Out, v: &T) -> io::Result<()> {
    serde_json::to_writer(&mut *out, v).map_err(|e| match e.io_error_kind() {
        Some(k) => io::Error::from(k),
        None => io::Error::other(e),
    })?;
    out.write_all(b"\n")
}

fn run_mrt(files: &[PathBuf], out: &mut Out) -> io::Result<bool> {
    let mut ok = true;
    for f in files {
        let reader = match mrt::open(f) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("bgp-decode: {}: {e}", f.display());
                ok = false;
                continue;
            }
        };
        for item in reader {
            match item {
                Ok(rec) => line(out, &rec)?,
                Err(e) => {
                    ok &= !e.is_fatal();
                    line(out, &ErrorLine { error: &e })?
                }
            }
        }
    }
    Ok(ok)
}

struct Session {
    ctx: DecodeCtx,
    opts: CtxOpts,
}

impl Session {
    fn new(opts: CtxOpts) -> Self {
        let ctx = DecodeCtx {
            four_octet_as: !opts.as2,
            add_path: if opts.add_path { FamilySet::all_typed() } else { FamilySet::new() },
            extended_message: true,
            external: false,
            // Recorded messages may carry RFC 8950 next hops; accept them.
            extended_next_hop: FamilySet::all_typed(),
        };
        Session { ctx, opts }
    }

    /// Decodes one framed message, printing it, and learns the context from OPENs.
    fn decode(&mut self, msg: &[u8], offset: usize, out: &mut Out) -> io::Result<()> {
        match Message::decode(msg, &self.ctx) {
            Ok(m) => {
                if let Message::Open(o) = &m {
                    if !self.opts.as2 {
                        self.ctx.four_octet_as = o.four_octet_asn().is_some();
                    }
                    if !self.opts.add_path {
                        self.ctx.add_path = o
                            .capabilities()
                            .filter_map(|c| match c {
                                Capability::AddPath(v) => Some(v.iter()),
                                _ => None,
                            })
                            .flatten()
                            .filter(|a| a.mode.sends())
                            .map(|a| a.family)
                            .collect();
                    }
                }
                line(out, &MsgLine { offset, message: Some(&m), error: None })
            }
            Err(e) => line(out, &MsgLine { offset, message: None, error: Some(&MessageError::from(&e)) }),
        }
    }

    /// Frames and decodes concatenated messages. After a framing error, resynchronises
    /// on the next marker.
    fn decode_all(&mut self, buf: &[u8], out: &mut Out) -> io::Result<()> {
        let mut i = 0;
        while i < buf.len() {
            match frame(&buf[i..], 65535) {
                Ok(Some(n)) => {
                    self.decode(&buf[i..i + n], i, out)?;
                    i += n;
                }
                Ok(None) => {
                    // Truncated: let the decoder describe it.
                    self.decode(&buf[i..], i, out)?;
                    break;
                }
                Err(e) => {
                    line(out, &MsgLine { offset: i, message: None, error: Some(&MessageError::from(&e)) })?;
                    i += 1;
                    match buf[i..].windows(16).position(|w| w == [0xff; 16]) {
                        Some(p) => i += p,
                        None => break,
                    }
                }
            }
        }
        Ok(())
    }
}

fn run_stream(file: &str, opts: CtxOpts, out: &mut Out) -> io::Result<()> {
    let mut buf = Vec::new();
    if file == "-" {
        io::stdin().lock().read_to_end(&mut buf)?;
    } else {
        buf = std::fs::read(file)?;
    }
    Session::new(opts).decode_all(&buf, out)
}

/// Parses hex, ignoring spaces, colons and `0x`.
fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.replace("0x", "").replace("0X", "");
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace() && *b != b':').collect();
    if !digits.len().is_multiple_of(2) {
        return Err("odd number of hex digits".into());
    }
    let val = |c: u8| -> Result<u8, String> {
        (c as char).to_digit(16).map(|d| d as u8).ok_or_else(|| format!("not a hex digit: {:?}", c as char))
    };
    digits.chunks(2).map(|p| Ok(val(p[0])? << 4 | val(p[1])?)).collect()
}

/// Prepends a header (marker, length, type) to input that lacks one.
fn with_header(b: Vec<u8>, msg_type: u8) -> Vec<u8> {
    if b.len() >= 16 && b[..16] == [0xff; 16] {
        return b;
    }
    let len = (b.len() + HEADER_LEN).min(u16::MAX as usize) as u16;
    let mut m = Vec::with_capacity(b.len() + HEADER_LEN);
    m.extend_from_slice(&[0xff; 16]);
    m.extend_from_slice(&len.to_be_bytes());
    m.push(msg_type);
    m.extend_from_slice(&b);
    m
}

fn run_hex(args: &[String], msg_type: u8, opts: CtxOpts, out: &mut Out) -> io::Result<bool> {
    let inputs: Vec<String> = if args.is_empty() {
        io::stdin()
            .lock()
            .lines()
            .collect::<io::Result<Vec<_>>>()?
            .into_iter()
            .filter(|l| !l.trim().is_empty())
            .collect()
    } else {
        vec![args.join("")]
    };
    let mut ok = true;
    let mut session = Session::new(opts);
    for s in inputs {
        match parse_hex(&s) {
            Ok(b) => session.decode_all(&with_header(b, msg_type), out)?,
            Err(e) => {
                eprintln!("bgp-decode: {e}");
                ok = false;
            }
        }
    }
    Ok(ok)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out: Out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let r = match &cli.cmd {
        Cmd::Mrt { files } => run_mrt(files, &mut out),
        Cmd::Stream { file, opts } => run_stream(file, *opts, &mut out).map(|_| true),
        Cmd::Hex { hex, msg_type, opts } => run_hex(hex, *msg_type, *opts, &mut out),
    };
    let r = r.and_then(|ok| out.flush().map(|_| ok));
    match r {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        // `bgp-decode ... | head` closes the pipe: not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bgp-decode: {e}");
            ExitCode::from(2)
        }
    }
}
