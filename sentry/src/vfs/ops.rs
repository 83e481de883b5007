//! Calls that change the tree: make, remove, rename and link names, set
//! attributes. Each resolves the parent directory in the sandbox's tree,
//! asks the Gofer for the one change, and keeps the dentry cache true.

use moat_gofer::{HandleId, Owner, SetAttr, Stat};
use nix::errno::Errno;

use super::{Found, Vfs, dcache};

/// A path split into its parent directory (resolved) and last name.
#[derive(Debug)]
pub struct Parent {
    /// The directory.
    pub dir: Found,
    /// The last component.
    pub name: Vec<u8>,
    /// Canonical path of the name.
    pub path: Vec<u8>,
}

fn gofer_err(e: moat_gofer::ClientError) -> Errno {
    e.errno()
}

impl Vfs {
    /// Resolves all of `path` but its last component, which must be a
    /// plain name (`.` and `..` give `dot_err`). Trailing slashes are
    /// dropped, as Linux does for calls on directories.
    pub fn parent(&self, cwd: &[u8], path: &[u8], dot_err: Errno) -> Result<Parent, Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= super::PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let trimmed = {
            let end = path.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
            &path[..end]
        };
        if trimmed.is_empty() {
            // "/" itself.
            return Err(dot_err);
        }
        let (dir, name) = match trimmed.iter().rposition(|&b| b == b'/') {
            Some(0) => (&b"/"[..], &trimmed[1..]),
            Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
            None => (&b"."[..], trimmed),
        };
        if name == b"." || name == b".." {
            return Err(dot_err);
        }
        if name.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        let found = self.lookup(cwd, dir, true)?;
        if !found.stat.is_dir() {
            self.release(found.handle);
            return Err(Errno::ENOTDIR);
        }
        if self.synth_node(found.handle).is_some() {
            // procfs and devfs take no new names.
            self.release(found.handle);
            return Err(Errno::EACCES);
        }
        let full = dcache::child_path(&found.path, name);
        Ok(Parent { dir: found, name: name.to_vec(), path: full })
    }

    fn done(&self, p: Parent) {
        self.release(p.dir.handle);
    }

    /// Forgets cached names at and below `path`, and drops their handles.
    fn forget(&self, path: &[u8]) {
        let handles = self.dcache.forget(path);
        if !handles.is_empty() {
            let _ = self.gofer.release(&handles);
        }
    }

    fn made(&self, handle: HandleId) {
        let _ = self.gofer.release(&[handle]);
    }

    /// mkdir.
    pub fn mkdir(&self, cwd: &[u8], path: &[u8], mode: u32, owner: Owner) -> Result<(), Errno> {
        let p = self.parent(cwd, path, Errno::EEXIST)?;
        let r = self.gofer.mkdir(p.dir.handle, &p.name, mode, owner).map_err(gofer_err);
        self.done(p);
        self.made(r?.handle);
        Ok(())
    }

    /// mknod of a FIFO or socket.
    pub fn mknod(&self, cwd: &[u8], path: &[u8], mode: u32, owner: Owner) -> Result<(), Errno> {
        let p = self.parent(cwd, path, Errno::EEXIST)?;
        let r = self.gofer.mknod(p.dir.handle, &p.name, mode, owner).map_err(gofer_err);
        self.done(p);
        self.made(r?.handle);
        Ok(())
    }

    /// symlink.
    pub fn symlink(&self, cwd: &[u8], target: &[u8], path: &[u8], owner: Owner) -> Result<(), Errno> {
        let p = self.parent(cwd, path, Errno::EEXIST)?;
        let r = self.gofer.symlink(p.dir.handle, &p.name, target, owner).map_err(gofer_err);
        self.done(p);
        self.made(r?.handle);
        Ok(())
    }

    /// unlink (`rmdir` false) or rmdir (true).
    pub fn unlink(&self, cwd: &[u8], path: &[u8], rmdir: bool) -> Result<(), Errno> {
        // Linux: rmdir of "." is EINVAL, of ".." ENOTEMPTY; unlink of either
        // is EISDIR.
        let last = path.rsplit(|&b| b == b'/').find(|c| !c.is_empty()).unwrap_or(b"");
        let dot_err = match (rmdir, last) {
            (true, b"..") => Errno::ENOTEMPTY,
            (true, _) => Errno::EINVAL,
            (false, _) => Errno::EISDIR,
        };
        if !rmdir && path.ends_with(b"/") {
            // unlink("dir/") is about a directory.
            let found = self.lookup(cwd, path, true)?;
            self.release(found.handle);
            return Err(if found.stat.is_dir() { Errno::EISDIR } else { Errno::ENOTDIR });
        }
        let p = self.parent(cwd, path, dot_err)?;
        let flags = if rmdir { libc::AT_REMOVEDIR } else { 0 };
        let r = self.gofer.unlink(p.dir.handle, &p.name, flags).map_err(gofer_err);
        if r.is_ok() {
            self.forget(&p.path);
        }
        self.done(p);
        r
    }

    /// rename / renameat2.
    pub fn rename(&self, cwd_old: &[u8], old: &[u8], cwd_new: &[u8], new: &[u8], flags: u32) -> Result<(), Errno> {
        let o = self.parent(cwd_old, old, Errno::EBUSY)?;
        let n = match self.parent(cwd_new, new, Errno::EBUSY) {
            Ok(n) => n,
            Err(e) => {
                self.done(o);
                return Err(e);
            }
        };
        let r = self.gofer.rename(o.dir.handle, &o.name, n.dir.handle, &n.name, flags).map_err(gofer_err);
        if r.is_ok() {
            self.forget(&o.path);
            self.forget(&n.path);
        }
        self.done(o);
        self.done(n);
        r
    }

    /// link: `target` (already resolved) gets the new name `path`.
    pub fn link(&self, target: &Found, cwd: &[u8], path: &[u8]) -> Result<(), Errno> {
        let p = self.parent(cwd, path, Errno::EEXIST)?;
        let r = self.gofer.link(p.dir.handle, &p.name, target.handle).map_err(gofer_err);
        self.done(p);
        let node = r?;
        self.made(node.handle);
        // The link count of the target changed.
        self.note_written(&target.stat);
        Ok(())
    }

    /// The target of a symlink found by lookup (EINVAL if it is none).
    pub fn readlink(&self, found: &Found) -> Result<Vec<u8>, Errno> {
        if let Some((node, _)) = self.synth_node(found.handle) {
            return match node {
                super::synth::SynthNode::Symlink(t) => Ok(t),
                _ => Err(Errno::EINVAL),
            };
        }
        if !found.stat.is_symlink() {
            return Err(Errno::EINVAL);
        }
        if let Some(t) = self.dcache_target(&found.path) {
            return Ok(t);
        }
        self.gofer.readlink(found.handle).map_err(gofer_err)
    }

    /// File system statistics of the file system holding a found file.
    pub fn statfs(&self, found: &Found) -> Result<moat_gofer::StatFs, Errno> {
        if self.synth_node(found.handle).is_some() {
            return Ok(moat_gofer::StatFs {
                fs_type: found.stat.dev,
                bsize: 4096,
                namelen: 255,
                frsize: 4096,
                ..Default::default()
            });
        }
        self.gofer.statfs(found.handle).map_err(gofer_err)
    }

    /// Sets attributes of a file found by lookup.
    pub fn set_attr(&self, found: &Found, attr: SetAttr) -> Result<(), Errno> {
        if self.synth_node(found.handle).is_some() {
            return Err(Errno::EPERM);
        }
        self.gofer.set_attr(found.handle, attr).map_err(gofer_err)?;
        self.note_written(&found.stat);
        Ok(())
    }

    /// Attributes the Gofer reports now (after a change).
    pub fn stat_now(&self, found: &Found) -> Result<Stat, Errno> {
        self.gofer.stat(found.handle).map_err(gofer_err)
    }
}
