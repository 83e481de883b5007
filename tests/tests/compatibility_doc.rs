//! docs/compatibility.md must be the table the Sentry implements.

#[test]
fn compatibility_doc_matches_the_syscall_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/compatibility.md");
    let want = moat_sentry::syscalls::compat::table_markdown();
    if std::env::var_os("MOAT_BLESS").is_some() {
        std::fs::write(path, &want).unwrap();
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(have == want, "docs/compatibility.md is out of date: run this test with MOAT_BLESS=1");
}
