//! Calls that change the tree: make, remove, rename and link names, set
//! attributes. Each resolves the parent directory in the sandbox's tree,
//! asks the Gofer for the one change, and keeps the dentry cache true.

use moat_gofer::{HandleId, SetAttr, Stat};
use nix::errno::Errno;

use super::access::{Actor, MAY_EXEC, MAY_WRITE};
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
    /// plain name (`.` and `..` give `dot_err`), for `who`, who must may
    /// search the directory. Trailing slashes are dropped, as Linux does
    /// for calls on directories.
    pub fn parent(&self, cwd: &[u8], path: &[u8], dot_err: Errno, who: &Actor) -> Result<Parent, Errno> {
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
        if name.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut found = self.lookup(cwd, dir, true, who)?;
        if !found.stat.is_dir() {
            self.release(found.handle);
            return Err(Errno::ENOTDIR);
        }
        found.stat = self.perm_stat(&found.stat);
        if let Err(e) = who.permission(&found.stat, MAY_EXEC) {
            self.release(found.handle);
            return Err(e);
        }
        if name == b"." || name == b".." {
            self.release(found.handle);
            return Err(dot_err);
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

    /// The attributes of the name `p` ends in, if it exists.
    fn child(&self, p: &Parent) -> Result<Option<Stat>, Errno> {
        if let Some(d) = self.dcache.get(&p.path) {
            return Ok(Some(self.perm_stat(&d.stat)));
        }
        let w = self.gofer.walk(p.dir.handle, &[&p.name]).map_err(gofer_err)?;
        match w.nodes.first() {
            Some(n) => {
                self.made(n.handle);
                Ok(Some(self.perm_stat(&n.stat)))
            }
            None if w.errno == libc::ENOENT => Ok(None),
            None => Err(Errno::from_raw(if w.errno != 0 { w.errno } else { libc::EIO })),
        }
    }

    /// `may_create` on the parent of `p`, with Linux's order of errors:
    /// an existing name is EEXIST before any permission is checked (the
    /// name is only looked up when the check fails: the Gofer says EEXIST
    /// otherwise).
    fn may_create_name(&self, p: &Parent, who: &Actor) -> Result<(), Errno> {
        who.may_create(&p.dir.stat).map_err(|e| match self.child(p) {
            Ok(Some(_)) => Errno::EEXIST,
            _ => e,
        })
    }

    /// `may_delete` of the name `p` ends in, with Linux's order of errors
    /// (a missing name is ENOENT first). Only a sticky directory, or a
    /// refusal, needs the victim's attributes.
    fn may_delete_name(&self, p: &Parent, who: &Actor) -> Result<Option<Stat>, Errno> {
        let sticky = p.dir.stat.mode & libc::S_ISVTX != 0;
        if !sticky && who.permission(&p.dir.stat, MAY_WRITE | MAY_EXEC).is_ok() {
            return Ok(None);
        }
        let victim = self.child(p)?.ok_or(Errno::ENOENT)?;
        who.may_delete(&p.dir.stat, &victim)?;
        Ok(Some(victim))
    }

    /// Runs `make` on the parent of a new name, once `who` may create it
    /// there: EEXIST first, as Linux looks the name up before checking.
    fn make(
        &self,
        cwd: &[u8],
        path: &[u8],
        who: &Actor,
        make: impl FnOnce(&Parent) -> Result<moat_gofer::Node, Errno>,
    ) -> Result<(), Errno> {
        let p = self.parent(cwd, path, Errno::EEXIST, who)?;
        let r = self.may_create_name(&p, who).and_then(|()| make(&p));
        self.done(p);
        self.made(r?.handle);
        Ok(())
    }

    /// mkdir.
    pub fn mkdir(&self, cwd: &[u8], path: &[u8], mode: u32, who: &Actor) -> Result<(), Errno> {
        self.make(cwd, path, who, |p| {
            let (owner, mode) = who.new_owner(&p.dir.stat, mode, true);
            self.gofer.mkdir(p.dir.handle, &p.name, mode, owner).map_err(gofer_err)
        })
    }

    /// mknod of a FIFO or socket.
    pub fn mknod(&self, cwd: &[u8], path: &[u8], mode: u32, who: &Actor) -> Result<(), Errno> {
        self.make(cwd, path, who, |p| {
            let (owner, mode) = who.new_owner(&p.dir.stat, mode, false);
            self.gofer.mknod(p.dir.handle, &p.name, mode, owner).map_err(gofer_err)
        })
    }

    /// symlink.
    pub fn symlink(&self, cwd: &[u8], target: &[u8], path: &[u8], who: &Actor) -> Result<(), Errno> {
        self.make(cwd, path, who, |p| {
            let (owner, _) = who.new_owner(&p.dir.stat, 0o777, false);
            self.gofer.symlink(p.dir.handle, &p.name, target, owner).map_err(gofer_err)
        })
    }

    /// unlink (`rmdir` false) or rmdir (true).
    pub fn unlink(&self, cwd: &[u8], path: &[u8], rmdir: bool, who: &Actor) -> Result<(), Errno> {
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
            let found = self.lookup(cwd, path, true, who)?;
            self.release(found.handle);
            return Err(if found.stat.is_dir() { Errno::EISDIR } else { Errno::ENOTDIR });
        }
        let p = self.parent(cwd, path, dot_err, who)?;
        let flags = if rmdir { libc::AT_REMOVEDIR } else { 0 };
        let r = self
            .may_delete_name(&p, who)
            .and_then(|_| self.gofer.unlink(p.dir.handle, &p.name, flags).map_err(gofer_err));
        if r.is_ok() {
            self.forget(&p.path);
        }
        self.done(p);
        r
    }

    /// rename / renameat2.
    pub fn rename(
        &self,
        (cwd_old, old): (&[u8], &[u8]),
        (cwd_new, new): (&[u8], &[u8]),
        flags: u32,
        who: &Actor,
    ) -> Result<(), Errno> {
        let o = self.parent(cwd_old, old, Errno::EBUSY, who)?;
        let n = match self.parent(cwd_new, new, Errno::EBUSY, who) {
            Ok(n) => n,
            Err(e) => {
                self.done(o);
                return Err(e);
            }
        };
        let r = self
            .may_rename(&o, &n, flags, who)
            .and_then(|()| self.gofer.rename(o.dir.handle, &o.name, n.dir.handle, &n.name, flags).map_err(gofer_err));
        if r.is_ok() {
            self.forget(&o.path);
            self.forget(&n.path);
        }
        self.done(o);
        self.done(n);
        r
    }

    /// `vfs_rename`'s checks: the old name may go, the new one may be
    /// made or replaced, and a directory moving to another parent may have
    /// its `..` rewritten. Missing names are left to the Gofer's errors.
    fn may_rename(&self, o: &Parent, n: &Parent, flags: u32, who: &Actor) -> Result<(), Errno> {
        let moved = self.may_delete_name(o, who)?;
        let new_dir_sticky = n.dir.stat.mode & libc::S_ISVTX != 0;
        let target = if new_dir_sticky || who.may_create(&n.dir.stat).is_err() { self.child(n)? } else { None };
        match &target {
            Some(t) => who.may_delete(&n.dir.stat, t)?,
            None => who.may_create(&n.dir.stat)?,
        }
        if o.dir.path != n.dir.path {
            // A directory moving to another parent has its ".." rewritten.
            let moved = match moved {
                Some(m) => Some(m),
                None => self.child(o)?,
            };
            if let Some(m) = moved.filter(Stat::is_dir) {
                who.permission(&m, MAY_WRITE)?;
            }
            let target = match target {
                Some(t) => Some(t),
                None if flags & libc::RENAME_EXCHANGE != 0 => self.child(n)?,
                None => None,
            };
            if let Some(t) = target.filter(|t| t.is_dir() && flags & libc::RENAME_EXCHANGE != 0) {
                who.permission(&t, MAY_WRITE)?;
            }
        }
        Ok(())
    }

    /// link: `target` (already resolved) gets the new name `path`.
    pub fn link(&self, target: &Found, cwd: &[u8], path: &[u8], who: &Actor) -> Result<(), Errno> {
        if target.stat.is_dir() {
            return Err(Errno::EPERM);
        }
        who.may_link(&self.perm_stat(&target.stat))?;
        let p = self.parent(cwd, path, Errno::EEXIST, who)?;
        let r = self
            .may_create_name(&p, who)
            .and_then(|()| self.gofer.link(p.dir.handle, &p.name, target.handle).map_err(gofer_err));
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
        let owner_or_mode = attr.mode.is_some() || attr.uid.is_some() || attr.gid.is_some();
        self.gofer.set_attr(found.handle, attr).map_err(gofer_err)?;
        self.note_written(&found.stat);
        if owner_or_mode {
            // What permission checks see from now on (chown may also have
            // cleared set-id bits).
            let now = self.stat_now(found)?;
            self.note_attrs(&now);
        }
        Ok(())
    }

    /// Attributes the Gofer reports now (after a change).
    pub fn stat_now(&self, found: &Found) -> Result<Stat, Errno> {
        self.gofer.stat(found.handle).map_err(gofer_err)
    }
}
