use moat_tests::*;

#[test]
fn process_gofer_serves_a_tree() {
    let dir = Scratch::new("smoke");
    std::fs::create_dir(dir.path().join("a")).unwrap();
    std::fs::write(dir.path().join("a/f"), b"hello").unwrap();
    let g = ProcessGofer::start(&[TestMount::rw(dir.path())]);
    let root = g.client().attach(0).unwrap();
    let w = g.client().walk(root.handle, &[b"a", b"f"]).unwrap();
    assert_eq!(w.errno, 0);
    let fd = g.client().open(w.nodes[1].handle, libc::O_RDONLY).unwrap();
    let mut s = String::new();
    use std::io::Read;
    std::fs::File::from(fd).read_to_string(&mut s).unwrap();
    assert_eq!(s, "hello");
    let out = g.finish();
    assert!(out.status.success(), "{:?} {}", out.status, String::from_utf8_lossy(&out.stderr));
}
