//! `open` with `O_CREAT`: the parent walked, the last name created or
//! opened, and a last symlink followed to the file it names (creating that
//! one if it is missing), under openat2's restrictions.

use nix::errno::Errno;

use super::access::Actor;
use super::resolve::Resolve;
use super::{Found, MAX_SYMLINKS, Opened, Vfs, dcache};

/// What an `O_CREAT` open asks, carried through the symlinks it follows.
#[derive(Clone, Copy)]
pub(super) struct CreateHow<'a> {
    pub(super) flags: i32,
    pub(super) mode: u32,
    pub(super) who: &'a Actor,
    pub(super) follow: bool,
    pub(super) resolve: Resolve,
}

impl Vfs {
    pub(super) fn open_create_at(&self, cwd: &[u8], path: &[u8], how: CreateHow, depth: u32) -> Result<Opened, Errno> {
        let CreateHow { flags, mode, who, follow, resolve } = how;
        if path.ends_with(b"/") {
            return Err(Errno::EISDIR);
        }
        let (dir, name) = match path.iter().rposition(|&b| b == b'/') {
            Some(0) => (&b"/"[..], &path[1..]),
            Some(i) => (&path[..i], &path[i + 1..]),
            None => (&b"."[..], path),
        };
        if name.is_empty() {
            return Err(Errno::ENOENT);
        }
        let parent = self.lookup_resolved(cwd, dir, true, resolve, who)?;
        if self.synth_node(parent.handle).is_some() {
            // procfs and devfs: no new names; existing ones open as is.
            self.release(parent.handle);
            let found = self.lookup_resolved(cwd, path, follow, resolve, who)?;
            let r = if flags & libc::O_EXCL != 0 { Err(Errno::EEXIST) } else { self.open_found(&found, flags, who) };
            self.release(found.handle);
            return r;
        }
        let parent = Found { stat: self.perm_stat(&parent.stat), ..parent };
        let result = (|| {
            if !parent.stat.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            let mut full = parent.path.clone();
            if full != b"/" {
                full.push(b'/');
            }
            full.extend_from_slice(name);
            // The last name is looked up like any other component.
            who.permission(&parent.stat, super::access::MAY_EXEC)?;
            let w = self.gofer.walk(parent.handle, &[name]).map_err(|e| e.errno())?;
            let existing = w.nodes.first().copied();
            let r = match existing {
                Some(_) if flags & libc::O_EXCL != 0 => Err(Errno::EEXIST),
                Some(n) if n.stat.is_symlink() && follow => {
                    // O_CREAT follows a last symlink, and creates its target
                    // if that is missing (in the directory the link names).
                    if depth >= MAX_SYMLINKS {
                        return Err(Errno::ELOOP);
                    }
                    let target = self.gofer.readlink(n.handle).map_err(|e| e.errno())?;
                    resolve.follow(false)?;
                    let next = if !resolve.anchored() {
                        if target.starts_with(b"/") { target } else { dcache::child_path(&parent.path, &target) }
                    } else if target.starts_with(b"/") {
                        // IN_ROOT: the target is under the anchor (BENEATH
                        // refused it above).
                        resolve.absolute()?;
                        target
                    } else {
                        // Still relative to the anchor, through the
                        // directory the link is in.
                        [dir, b"/", &target].concat()
                    };
                    self.open_create_at(cwd, &next, how, depth + 1)
                }
                Some(n) if n.stat.is_dir() => Err(Errno::EISDIR),
                Some(n) => {
                    let found = Found { handle: n.handle, stat: n.stat, path: full.clone() };
                    self.open_found(&found, flags, who)
                }
                None if w.errno == libc::ENOENT => {
                    who.may_create(&parent.stat)?;
                    let (owner, mode) = who.new_owner(&parent.stat, mode & 0o7777, false);
                    let pass = libc::O_ACCMODE | libc::O_TRUNC | libc::O_APPEND | libc::O_NONBLOCK;
                    let (node, fd) =
                        self.gofer.create(parent.handle, name, flags & pass, mode, owner).map_err(|e| e.errno())?;
                    self.note_written(&node.stat);
                    self.release(node.handle);
                    let writer = if flags & libc::O_ACCMODE != libc::O_RDONLY {
                        Some(self.inode_use.writer((node.stat.dev, node.stat.ino))?)
                    } else {
                        None
                    };
                    Ok(Opened { fd, path: full, entries: None, synth_stat: None, writer, fifo: None })
                }
                None => Err(Errno::from_raw(w.errno)),
            };
            if let Some(n) = existing {
                self.release(n.handle);
            }
            r
        })();
        self.release(parent.handle);
        result
    }
}
