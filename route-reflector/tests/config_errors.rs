//! Bad configuration files through the real binary (`route-reflector check`): each is
//! reported as `error: FILE:LINE: [group "x":] field: reason` on stderr, exit status 1.

use std::path::PathBuf;
use std::process::Command;

const HEAD: &str = "asn = 64512\nrouter_id = \"192.0.2.1\"\n";

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("rr-config-errors-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes `text` to `name`.toml, runs `check` on it, and asserts the exact stderr
/// (after the file name) and a failing exit status.
fn bad(name: &str, text: &str, expected: &str) {
    let path = dir().join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_route-reflector")).args(["check", "--config"]).arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr, format!("error: {}:{expected}\n", path.display()), "{name}");
    assert_eq!(out.status.code(), Some(1), "{name}: exit status");
    assert!(out.stdout.is_empty(), "{name}: nothing on stdout");
}

fn group(body: &str) -> String {
    format!("{HEAD}\n[[group]]\n{body}")
}

#[test]
fn hold_time_must_be_zero_or_at_least_three() {
    let t = group("name = \"clients\"\ntype = \"client\"\nranges = [\"10.0.0.0/16\"]\nhold_time = 2\n");
    bad("hold", &t, "8: group \"clients\": hold_time: must be 0 or at least 3");
}

#[test]
fn keepalive_must_fit_the_hold_time() {
    let t = group("name = \"clients\"\ntype = \"client\"\nranges = [\"10.0.0.0/16\"]\nhold_time = 9\nkeepalive = 4\n");
    bad("keepalive", &t, "9: group \"clients\": keepalive: must be 1 to hold_time / 3 (3)");
}

#[test]
fn router_id_must_be_usable() {
    bad("rid", "asn = 64512\nrouter_id = \"0.0.0.0\"\n", "2: router_id: 0.0.0.0 cannot be a BGP identifier");
    bad(
        "rid-syntax",
        "asn = 64512\nrouter_id = \"10.0.0.300\"\n",
        "2: router_id: \"10.0.0.300\" is not an IPv4 address",
    );
    bad(
        "cluster-id",
        "asn = 64512\nrouter_id = \"10.0.0.1\"\ncluster_id = \"224.0.0.1\"\n",
        "3: cluster_id: 224.0.0.1 cannot be a BGP identifier",
    );
    bad("no-rid", "asn = 64512\n", "1: missing field `router_id`");
}

#[test]
fn as_numbers_are_checked() {
    bad("as-trans", "asn = 23456\nrouter_id = \"192.0.2.1\"\n", "1: asn: 23456 is AS_TRANS (RFC 6793), not a real AS");
    bad("as-big", "asn = 4294967296\nrouter_id = \"192.0.2.1\"\n", "1: asn: 4294967296 is larger than 4294967295");
    bad("as-zero", "asn = 0\nrouter_id = \"192.0.2.1\"\n", "1: asn: 0 is reserved (RFC 7607, RFC 7300)");
    let t = group("name = \"clients\"\ntype = \"client\"\npeer_as = 65000\nranges = [\"10.0.0.0/16\"]\n");
    bad("client-as", &t, "7: group \"clients\": peer_as: clients must be in our AS 64512 (route reflection is iBGP)");
}

#[test]
fn dynamic_ranges_must_not_overlap() {
    let t = format!(
        "{HEAD}\n[[group]]\nname = \"a\"\ntype = \"client\"\nranges = [\"10.0.0.0/16\"]\n\n\
         [[group]]\nname = \"b\"\ntype = \"client\"\nranges = [\"10.0.4.0/24\"]\n"
    );
    bad("overlap", &t, "12: group \"b\": ranges: 10.0.4.0/24 overlaps 10.0.0.0/16 of group \"a\"");
    let t = group("name = \"clients\"\ntype = \"client\"\nranges = [\"10.0.0.1/16\"]\n");
    bad("host-bits", &t, "7: group \"clients\": ranges: 10.0.0.1/16 has host bits set (did you mean 10.0.0.0/16?)");
}

#[test]
fn a_peer_belongs_to_one_group() {
    let t = format!(
        "{HEAD}\n[[group]]\nname = \"a\"\ntype = \"non-client\"\npeers = [\"192.0.2.7\"]\n\n\
         [[group]]\nname = \"b\"\ntype = \"non-client\"\npeers = [\"192.0.2.8\", \"192.0.2.7\"]\n"
    );
    bad("dup-peer", &t, "12: group \"b\": peers: 192.0.2.7 is also a peer of group \"a\"");
    let t = group("name = \"lonely\"\ntype = \"client\"\n");
    bad("empty-group", &t, "5: group \"lonely\": has neither peers nor ranges");
}

#[test]
fn md5_password_at_most_80_bytes() {
    let t = group(&format!(
        "name = \"up\"\ntype = \"non-client\"\npeer_as = 65000\npeers = [\"192.0.2.9\"]\nmd5_password = \"{}\"\n",
        "x".repeat(81)
    ));
    bad("md5", &t, "9: group \"up\": md5_password: must be 1-80 bytes long (is 81; RFC 2385)");
}

#[test]
fn gtsm_and_ttl_exclude_each_other() {
    let t = group(
        "name = \"up\"\ntype = \"non-client\"\npeer_as = 65000\npeers = [\"192.0.2.9\"]\ngtsm_hops = 1\nttl = 2\n",
    );
    bad("gtsm-ttl", &t, "10: group \"up\": ttl: cannot be combined with gtsm_hops (GTSM sends TTL 255)");
}

#[test]
fn unknown_keys_and_values_are_refused() {
    let t = group("name = \"clients\"\ntype = \"client\"\nranges = [\"10.0.0.0/16\"]\nhold = 30\n");
    bad(
        "unknown-field",
        &t,
        "8: group \"clients\": unknown field `hold`, expected one of `name`, `type`, `peer_as`, `peers`, `ranges`, \
         `limit`, `peer_port`, `passive`, `hold_time`, `keepalive`, `connect_retry`, `md5_password`, `gtsm_hops`, \
         `ttl`, `source`, `families`, `add_path`, `max_prefix`, `max_prefix_restart`, `graceful_restart`, \
         `restart_time`, `import`, `export`, `description`",
    );
    let t = group("name = \"clients\"\ntype = \"clients\"\nranges = [\"10.0.0.0/16\"]\n");
    bad("bad-type", &t, "6: group \"clients\": type: unknown variant `clients`, expected `client` or `non-client`");
    let t = group("name = \"clients\"\ntype = \"client\"\npeers = [\"10.0.0.300\"]\n");
    bad("bad-ip", &t, "7: group \"clients\": peers: invalid IP address syntax");
}

#[test]
fn policies_are_checked() {
    let t = group("name = \"clients\"\ntype = \"client\"\nranges = [\"10.0.0.0/16\"]\nexport = \"to-clients\"\n");
    bad("no-policy", &t, "8: group \"clients\": export: no policy named \"to-clients\"");
    let t = format!("{HEAD}\n[[policy]]\nname = \"p\"\n\n[[policy.rule]]\nmatch = {{ prefixes = [] }}\n");
    bad(
        "policy-field",
        &t,
        "8: policy \"p\": match: unknown field `prefixes`, expected one of `prefix`, `community`, \
         `large-community`, `as-path-contains`, `as-path-starts-with`, `peer-type`, `source`",
    );
}

#[test]
fn fib_sync_is_not_supported_yet() {
    bad(
        "fib",
        &format!("{HEAD}\nfib_sync = true\n"),
        "4: fib_sync: not supported yet (the reflector installs no kernel routes)",
    );
}

#[test]
fn toml_syntax_errors_have_a_line() {
    bad("syntax", &format!("{HEAD}\n[[group]\nname = \"x\"\n"), "4: unclosed array table, expected `]`");
}

#[test]
fn good_files_pass() {
    let ex = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/reflector.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_route-reflector")).args(["check", "--config", ex]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("ok (3 groups, 3 static peers, 2 dynamic ranges)\n"));
    let out = Command::new(env!("CARGO_BIN_EXE_route-reflector")).arg("check").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "embedded default: ok (1 groups, 0 static peers, 1 dynamic ranges)\n"
    );
}
