//! bgp-decode: decodes MRT files, raw BGP byte streams and hex to JSON lines.
fn main() {
    eprintln!("bgp-decode: not built yet");
    std::process::exit(2);
}
