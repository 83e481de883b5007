//! Differential tests of calls that change the file tree: the same shell
//! script on a scratch tree natively, and under `moat do` on a twin tree
//! served read-write (`--rootfs DIR --rootfs-rw`); same output, same
//! status, same tree afterwards.

use std::process::{Command, Output};

use moat_tests::*;

fn run_both(script: &str) {
    let native_dir = Scratch::new("tree-native");
    let moat_dir = Scratch::new("tree-moat");
    // Both trees hold bin/busybox: moat's root needs it, and the native
    // tree must look the same.
    for d in [&native_dir, &moat_dir] {
        std::fs::create_dir(d.path().join("bin")).unwrap();
        std::fs::copy("/bin/busybox", d.path().join("bin/busybox")).unwrap();
    }
    let native: Output =
        Command::new("/bin/busybox").args(["sh", "-c", script]).current_dir(native_dir.path()).output().unwrap();
    let root = moat_dir.path().to_str().unwrap();
    let moat: Output = Command::new(moat_bin())
        .args(["do", "--rootfs", root, "--rootfs-rw", "--", "/bin/busybox", "sh", "-c", script])
        .output()
        .unwrap();
    assert_eq!(
        (String::from_utf8_lossy(&native.stdout), native.status.code()),
        (String::from_utf8_lossy(&moat.stdout), moat.status.code()),
        "script {script:?}\nmoat stderr: {}",
        String::from_utf8_lossy(&moat.stderr)
    );
    assert_eq!(tree_snapshot(native_dir.path()), tree_snapshot(moat_dir.path()), "trees differ after {script:?}");
}

const B: &str = "/bin/busybox";

#[test]
fn making_moving_and_removing_names() {
    run_both(&format!(
        "{B} mkdir -p a/b/c && echo hi > a/b/c/f && {B} cp -a a a2 && {B} mv a2 a3 && {B} ln -s a3/b link \
         && {B} ln a/b/c/f hard && {B} mkdir d && {B} rmdir d && {B} mkfifo pipe && {B} ls -1 . && {B} cat link/c/f \
         && {B} readlink link && {B} stat -c '%n %s %h %F' a/b/c/f hard pipe link && {B} rm -r a3 && {B} ls -1"
    ));
}

#[test]
fn attributes_and_their_errors() {
    run_both(&format!(
        "echo data > f && {B} chmod 640 f && {B} stat -c '%a' f && {B} touch -d '2020-02-03 04:05:06' f \
         && {B} stat -c '%y' f | {B} cut -c1-19 && {B} truncate -s 2 f && {B} cat f && echo; \
         {B} mkdir d; {B} rmdir d/x; echo $?; {B} rm d; echo $?; {B} mv d d/sub; echo $?; {B} ln f d; echo $?; \
         {B} mkdir f; echo $?; {B} rmdir f; echo $?; {B} ln -s f f; echo $?; {B} chown 12:34 f && {B} stat -c '%u %g' f"
    ));
}

#[test]
fn directories_of_many_entries() {
    run_both(&format!(
        "{B} mkdir many && cd many && for i in $({B} seq 1 300); do echo $i > file$i; done && cd .. \
         && {B} ls many | {B} wc -l && {B} find many -type f | {B} sort | {B} head -n 3 && {B} rm -r many && {B} ls"
    ));
}

#[test]
fn archives_and_disk_usage() {
    run_both(&format!(
        "{B} mkdir -p src/d && echo one > src/a && echo two > src/d/b && {B} tar cf t.tar src && {B} mkdir out \
         && {B} tar xf t.tar -C out && {B} cat out/src/d/b && {B} gzip -k src/a && {B} gunzip -c src/a.gz \
         && {B} du -s src | {B} cut -f2 && {B} nohup {B} echo nohup ok 2>/dev/null && {B} rm -f nohup.out \
         && {B} find out -type f | {B} sort && {B} touch -r src/a src/d/b && {B} cmp src/a src/a.gz; echo cmp $?"
    ));
}
