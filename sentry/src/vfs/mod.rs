//! Path resolution in the sandbox's own tree. Symlinks are resolved here,
//! by the Sentry, never by the host: an absolute target restarts at the
//! sandbox's root, whatever it says.
//!
//! Paths resolve through the Gofer of the root mount. A dentry cache
//! (`dcache`) keeps the handle of every name walked, so a path seen before
//! costs no round trip; uncached components are walked in one request.
//! The Sentry is the only writer of its rootfs (as gVisor's default
//! "exclusive" mode assumes), so cached names stay true. Mounts and the
//! Sentry's own file systems (tmpfs, devfs, procfs) are the next layers.

use std::sync::Arc;

use std::os::fd::OwnedFd;

use moat_gofer::{GoferClient, HandleId, Stat};

pub mod access;
mod create;
pub mod dcache;
pub mod devfs;
pub mod devpts;
pub mod fifo;
pub mod inode_use;
pub mod mqueuefs;
pub mod ops;
pub mod resolve;
pub mod synth;
pub mod sysfs;
use access::{Actor, MAY_EXEC, MAY_READ, MAY_WRITE};
use nix::errno::Errno;
use resolve::Resolve;

/// Most symlinks followed in one resolution (Linux's `MAXSYMLINKS`).
pub const MAX_SYMLINKS: u32 = 40;
/// Longest path accepted (`PATH_MAX`, with its NUL).
pub const PATH_MAX: usize = 4096;

/// A file found by a path: a Gofer handle, its attributes, and the
/// canonical path it was reached by.
#[derive(Debug)]
pub struct Found {
    /// The Gofer handle; the caller releases it with [`Vfs::release`].
    pub handle: HandleId,
    /// Attributes at lookup.
    pub stat: Stat,
    /// Canonical absolute path.
    pub path: Vec<u8>,
}

/// An opened file: the host descriptor, its canonical path, and for a
/// synthetic directory its entries (read by getdents from the Sentry).
#[derive(Debug)]
pub struct Opened {
    /// The host descriptor.
    pub fd: OwnedFd,
    /// Canonical path.
    pub path: Vec<u8>,
    /// A synthetic directory's entries.
    pub entries: Option<synth::DirEntries>,
    /// A synthetic file's attributes (devices excepted: theirs are the
    /// host device's).
    pub synth_stat: Option<Stat>,
    /// Held while the file is open for writing (ETXTBSY for exec).
    pub writer: Option<inode_use::UseGuard>,
    /// The open end, when the file is a FIFO.
    pub fifo: Option<fifo::FifoEnd>,
}

/// Mode, owner and group of a file.
type ModeOwner = (u32, u32, u32);

/// The sandbox's file tree.
#[derive(Debug)]
pub struct Vfs {
    gofer: Arc<GoferClient>,
    root: HandleId,
    root_stat: Stat,
    root_readonly: bool,
    /// Other Gofer mounts and where they sit in the tree (tmpfs on /tmp…).
    mounts: Vec<MountPoint>,
    /// The Sentry's own file systems (procfs, devfs) by mount path.
    synth_mounts: std::sync::RwLock<Vec<synth::SynthMount>>,
    /// Synthetic nodes handed out as handles.
    synth: synth::SynthTable,
    /// Files open for writing and programs running (ETXTBSY).
    pub inode_use: Arc<inode_use::InodeUse>,
    dcache: dcache::DentryCache,
    /// Files (device, inode) the Sentry opened for writing: their cached
    /// attributes may be stale, so their stat asks the Gofer.
    written: std::sync::Mutex<std::collections::HashSet<(u64, u64)>>,
    /// The pipes of FIFOs open in the sandbox.
    pub fifos: fifo::Fifos,
    /// Mode, owner and group of files (device, inode) whose attributes
    /// the sandbox changed: cached and mount-root attributes may predate
    /// the change, and permission checks must not.
    attrs: std::sync::Mutex<std::collections::HashMap<(u64, u64), ModeOwner>>,
}

/// A path inside a synthetic file system: the file system and the
/// components below its mount point.
struct SynthAt {
    fs: Arc<dyn synth::SynthFs>,
    rel: Vec<Vec<u8>>,
}

/// A Gofer mount other than the root, at a canonical path.
#[derive(Debug, Clone)]
pub struct MountPoint {
    /// Where it is mounted.
    pub path: Vec<u8>,
    /// The root handle of the Gofer mount.
    pub handle: HandleId,
    /// Its root's attributes.
    pub stat: Stat,
}

/// Splits a path into its non-empty components.
fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

impl Vfs {
    /// The tree of the Gofer's mount 0, which the Gofer serves read-only
    /// when `root_readonly`.
    pub fn new(gofer: Arc<GoferClient>, root_readonly: bool) -> Result<Self, Errno> {
        Self::with_mounts(gofer, root_readonly, &[])
    }

    /// The tree of the Gofer's mount 0, with Gofer mount `n` at `path` for
    /// each `(path, n)` of `mounts` (canonical absolute paths).
    pub fn with_mounts(gofer: Arc<GoferClient>, root_readonly: bool, mounts: &[(Vec<u8>, u32)]) -> Result<Self, Errno> {
        let root = gofer.attach(0).map_err(|e| e.errno())?;
        let mut points = Vec::with_capacity(mounts.len());
        for (path, n) in mounts {
            let m = gofer.attach(*n).map_err(|e| e.errno())?;
            points.push(MountPoint { path: path.clone(), handle: m.handle, stat: m.stat });
        }
        Ok(Vfs {
            gofer,
            root: root.handle,
            root_stat: root.stat,
            root_readonly,
            mounts: points,
            synth_mounts: std::sync::RwLock::new(Vec::new()),
            synth: synth::SynthTable::default(),
            inode_use: Arc::default(),
            dcache: dcache::DentryCache::new(dcache::MAX_ENTRIES),
            written: std::sync::Mutex::new(std::collections::HashSet::new()),
            fifos: fifo::Fifos::default(),
            attrs: std::sync::Mutex::default(),
        })
    }

    /// Current attributes of a file found by [`Vfs::lookup`]: the cached
    /// ones while nothing in the sandbox can have changed them (the Sentry
    /// is the rootfs's only writer), else the Gofer's.
    pub fn fresh_stat(&self, found: &Found) -> Result<Stat, Errno> {
        if let Some((_, st)) = self.synth_node(found.handle) {
            return Ok(st);
        }
        let key = (found.stat.dev, found.stat.ino);
        let written = self.written.lock().unwrap_or_else(|p| p.into_inner()).contains(&key);
        if written || !self.dcache.owns(found.handle) {
            return self.gofer.stat(found.handle).map_err(|e| e.errno());
        }
        Ok(found.stat)
    }

    /// `st` with the mode, owner and group the file has now, for
    /// permission checks.
    pub fn perm_stat(&self, st: &Stat) -> Stat {
        let attrs = self.attrs.lock().unwrap_or_else(|p| p.into_inner());
        match attrs.get(&(st.dev, st.ino)) {
            Some(&(mode, uid, gid)) => Stat { mode, uid, gid, ..*st },
            None => *st,
        }
    }

    /// Records a file's mode, owner and group after the sandbox changed
    /// them.
    pub fn note_attrs(&self, now: &Stat) {
        let mut attrs = self.attrs.lock().unwrap_or_else(|p| p.into_inner());
        attrs.insert((now.dev, now.ino), (now.mode, now.uid, now.gid));
    }

    pub(crate) fn note_written(&self, st: &Stat) {
        self.written.lock().unwrap_or_else(|p| p.into_inner()).insert((st.dev, st.ino));
    }

    /// Whether the file system holding canonical path `path` is read-only
    /// (the root may be; the Sentry's tmpfs mounts never are).
    pub fn readonly_at(&self, path: &[u8]) -> bool {
        let in_mount = self
            .mounts
            .iter()
            .any(|m| path == m.path.as_slice() || path.starts_with(&dcache::child_path(&m.path, b"")));
        !in_mount && self.root_readonly
    }

    /// The mount whose root is at canonical path `path`.
    fn mount_at(&self, path: &[u8]) -> Option<&MountPoint> {
        self.mounts.iter().find(|m| m.path == path)
    }

    /// The Gofer client.
    pub fn gofer(&self) -> &GoferClient {
        &self.gofer
    }

    /// Mounts a file system of the Sentry's own at canonical `path`.
    pub fn mount_synth(&self, path: &[u8], fs: Arc<dyn synth::SynthFs>) {
        self.synth_mounts.write().unwrap_or_else(|p| p.into_inner()).push((path.to_vec(), fs));
    }

    /// The synthetic file system holding canonical `path`, and the path's
    /// components below its mount point; none when a Gofer mount deeper in
    /// the tree covers the path (/dev/shm inside /dev).
    fn synth_at(&self, path: &[u8]) -> Option<SynthAt> {
        let mounts = self.synth_mounts.read().unwrap_or_else(|p| p.into_inner());
        let under = |m: &[u8]| path == m || path.starts_with(&dcache::child_path(m, b""));
        // The deepest mount holding the path (/dev/mqueue inside /dev).
        let (mpath, fs) = mounts.iter().filter(|(m, _)| under(m)).max_by_key(|(m, _)| m.len())?;
        if self.mounts.iter().any(|g| g.path.len() > mpath.len() && under(&g.path)) {
            return None;
        }
        let rel = components(&path[mpath.len()..]).map(<[u8]>::to_vec).collect();
        Some(SynthAt { fs: fs.clone(), rel })
    }

    /// The cached target of the symlink at canonical `path`.
    pub(crate) fn dcache_target(&self, path: &[u8]) -> Option<Vec<u8>> {
        self.dcache.get(path).and_then(|d| d.target)
    }

    /// The synthetic node behind `h`, if it is one.
    pub fn synth_node(&self, h: HandleId) -> Option<(synth::SynthNode, Stat)> {
        if synth::SynthTable::is_synth(h) { self.synth.get(h) } else { None }
    }

    /// Drops a handle [`Vfs::lookup`] returned (handles the dentry cache
    /// keeps stay).
    pub fn release(&self, h: HandleId) {
        if synth::SynthTable::is_synth(h) {
            self.synth.release(h);
            return;
        }
        if h != self.root && !self.dcache.owns(h) && !self.mounts.iter().any(|m| m.handle == h) {
            let _ = self.gofer.release(&[h]);
        }
    }

    /// Resolves `path` relative to the directory `cwd` (an absolute
    /// canonical path) for `who`, who must may search every directory the
    /// walk passes through. `follow` says whether a symlink as the last
    /// component is followed. A trailing `/` requires a directory.
    pub fn lookup(&self, cwd: &[u8], path: &[u8], follow: bool, who: &Actor) -> Result<Found, Errno> {
        self.lookup_resolved(cwd, path, follow, Resolve::default(), who)
    }

    /// [`Vfs::lookup`] under openat2's restrictions, anchored at `cwd`.
    pub fn lookup_resolved(
        &self,
        cwd: &[u8],
        path: &[u8],
        follow: bool,
        resolve: Resolve,
        who: &Actor,
    ) -> Result<Found, Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let must_be_dir = path.ends_with(b"/");
        let mut todo: Vec<Vec<u8>> = Vec::new();
        let relative = !path.starts_with(b"/") || (resolve.anchored() && resolve.absolute()?);
        let mut prefix = 0;
        todo.extend(components(path).rev().map(<[u8]>::to_vec));
        if relative {
            let before = todo.len();
            todo.extend(components(cwd).rev().map(<[u8]>::to_vec));
            prefix = todo.len() - before;
        }
        let mut walker = Walker { vfs: self, held: Vec::new(), resolve, prefix, anchor: None, who };
        let r = walker.run(todo, follow || must_be_dir);
        let found = match r {
            Ok(f) => f,
            Err(e) => {
                walker.release_all(None);
                return Err(e);
            }
        };
        walker.release_all(Some(found.handle));
        if must_be_dir && !found.stat.is_dir() {
            self.release(found.handle);
            return Err(Errno::ENOTDIR);
        }
        Ok(found)
    }
}

impl Vfs {
    /// Opens (and with `O_CREAT`, creates) `path` as open(2) does for
    /// `who`, and returns the host descriptor the Gofer donated and the
    /// canonical path. EAGAIN: a FIFO opened for writing, without
    /// O_NONBLOCK, has no reader yet; the caller waits and tries again.
    pub fn open(&self, cwd: &[u8], path: &[u8], flags: i32, mode: u32, who: &Actor) -> Result<Opened, Errno> {
        self.open_resolved(cwd, path, flags, mode, who, Resolve::default())
    }

    /// [`Vfs::open`] under openat2's restrictions, anchored at `cwd`.
    pub fn open_resolved(
        &self,
        cwd: &[u8],
        path: &[u8],
        flags: i32,
        mode: u32,
        who: &Actor,
        resolve: Resolve,
    ) -> Result<Opened, Errno> {
        let follow = flags & libc::O_NOFOLLOW == 0;
        if flags & libc::O_CREAT != 0 {
            let how = create::CreateHow { flags, mode, who, follow, resolve };
            return self.open_create_at(cwd, path, how, 0);
        }
        let found = self.lookup_resolved(cwd, path, follow, resolve, who)?;
        let r = self.open_found(&found, flags, who);
        self.release(found.handle);
        r
    }

    /// The permission an open with `flags` needs (none for O_PATH).
    fn open_permission(&self, found: &Found, flags: i32, who: &Actor) -> Result<(), Errno> {
        if flags & libc::O_PATH != 0 || self.synth_node(found.handle).is_some() || found.stat.is_symlink() {
            // procfs and devfs keep their own rules for now (see
            // docs/security.md); a symlink is refused below.
            return Ok(());
        }
        let mut want = match flags & libc::O_ACCMODE {
            libc::O_RDONLY => MAY_READ,
            libc::O_WRONLY => MAY_WRITE,
            _ => MAY_READ | MAY_WRITE,
        };
        if flags & libc::O_TRUNC != 0 {
            want |= MAY_WRITE;
        }
        if found.stat.is_dir() && want & MAY_WRITE != 0 {
            return Err(Errno::EISDIR);
        }
        who.permission(&self.perm_stat(&found.stat), want)
    }

    fn open_found(&self, found: &Found, flags: i32, who: &Actor) -> Result<Opened, Errno> {
        self.open_permission(found, flags, who)?;
        if let Some((node, _)) = self.synth_node(found.handle) {
            let o = synth::open(&node, flags)?;
            // Devices and terminals are host files: reads and writes go to
            // the host descriptor as they are.
            let host = matches!(node, synth::SynthNode::Device(_) | synth::SynthNode::Pty(_));
            let stat = (!host).then_some(found.stat);
            return Ok(Opened {
                fd: o.fd,
                path: found.path.clone(),
                entries: o.entries,
                synth_stat: stat,
                writer: None,
                fifo: None,
            });
        }
        if found.stat.is_symlink() {
            if flags & (libc::O_PATH | libc::O_NOFOLLOW) != libc::O_PATH | libc::O_NOFOLLOW {
                return Err(Errno::ELOOP);
            }
            // O_PATH | O_NOFOLLOW names the symlink itself (glibc's fchmodat
            // and lchown-style calls open it so): a descriptor that has the
            // link's attributes and nothing to read.
            let fd = nix::sys::memfd::memfd_create(c"moat-symlink", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)?;
            return Ok(Opened {
                fd,
                path: found.path.clone(),
                entries: None,
                synth_stat: Some(found.stat),
                writer: None,
                fifo: None,
            });
        }
        if flags & libc::O_DIRECTORY != 0 && !found.stat.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if found.stat.file_type() == libc::S_IFIFO {
            let fifo = self.fifos.get((found.stat.dev, found.stat.ino))?;
            let (fd, end) = match fifo.open(flags & libc::O_ACCMODE) {
                // A blocking open for writing waits for a reader: the
                // caller, which can wait interruptibly, tries again.
                Err(Errno::ENXIO) if flags & libc::O_NONBLOCK == 0 => return Err(Errno::EAGAIN),
                r => r?,
            };
            return Ok(Opened {
                fd,
                path: found.path.clone(),
                entries: None,
                synth_stat: None,
                writer: None,
                fifo: Some(end),
            });
        }
        let pass =
            libc::O_ACCMODE | libc::O_TRUNC | libc::O_APPEND | libc::O_DIRECTORY | libc::O_NONBLOCK | libc::O_NOATIME;
        let writes = flags & libc::O_ACCMODE != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
        let writer = if writes && found.stat.file_type() == libc::S_IFREG {
            Some(self.inode_use.writer((found.stat.dev, found.stat.ino))?)
        } else {
            None
        };
        let fd = self.gofer.open(found.handle, flags & pass).map_err(|e| e.errno())?;
        if writes {
            self.note_written(&found.stat);
        }
        Ok(Opened { fd, path: found.path.clone(), entries: None, synth_stat: None, writer, fifo: None })
    }
}

/// The canonical path of a stack of names.
fn canonical(names: &[Vec<u8>]) -> Vec<u8> {
    if names.is_empty() {
        return b"/".to_vec();
    }
    let mut path = Vec::new();
    for n in names {
        path.push(b'/');
        path.extend_from_slice(n);
    }
    path
}

/// One resolution in progress; remembers the handles it made so that all
/// but the result are released.
struct Walker<'a> {
    vfs: &'a Vfs,
    held: Vec<HandleId>,
    resolve: Resolve,
    /// Components of the starting directory still to walk: restrictions
    /// apply only after them.
    prefix: usize,
    /// Where an anchored walk (BENEATH, IN_ROOT) started, once reached.
    anchor: Option<Position>,
    /// Who walks: needs search permission on every directory it passes.
    who: &'a Actor,
}

/// A point of a walk: the directory, its canonical names, its ancestors.
#[derive(Clone)]
struct Position {
    cur: (HandleId, Stat),
    names: Vec<Vec<u8>>,
    parents: Vec<(HandleId, Stat)>,
}

impl Walker<'_> {
    fn release_all(&mut self, keep: Option<HandleId>) {
        let (synthetic, gofer): (Vec<HandleId>, Vec<HandleId>) =
            self.held.drain(..).filter(|h| Some(*h) != keep).partition(|h| synth::SynthTable::is_synth(*h));
        for h in synthetic {
            self.vfs.synth.release(h);
        }
        if !gofer.is_empty() {
            let _ = self.vfs.gofer.release(&gofer);
        }
    }

    /// The node for `name` under the directory `cur` (canonical path
    /// `dir`): from the cache, or walked together with the names after it
    /// in `todo` that are plain names too (one round trip for all).
    fn step(
        &mut self,
        cur: HandleId,
        dir: &[u8],
        name: &[u8],
        todo: &[Vec<u8>],
    ) -> Result<(HandleId, Stat, Option<Vec<u8>>), Errno> {
        let key = dcache::child_path(dir, name);
        if let Some(m) = self.vfs.mount_at(&key) {
            // A mount covers whatever the parent file system has there.
            return Ok((m.handle, m.stat, None));
        }
        if let Some(at) = self.vfs.synth_at(&key) {
            let node = at.fs.lookup(&at.rel)?;
            let stat = synth::stat_of(&node, &key, at.fs.magic());
            let target = if let synth::SynthNode::Symlink(t) = &node { Some(t.clone()) } else { None };
            let h = self.vfs.synth.insert(node, stat);
            self.held.push(h);
            return Ok((h, stat, target));
        }
        if let Some(d) = self.vfs.dcache.get(&key) {
            return Ok((d.handle, d.stat, d.target));
        }
        // The plain names that follow, in walking order (todo is reversed).
        let mut batch: Vec<&[u8]> = vec![name];
        let mut at = key.clone();
        for c in todo.iter().rev() {
            if c.as_slice() == b"." || c.as_slice() == b".." || batch.len() >= 64 {
                break;
            }
            at = dcache::child_path(&at, c);
            if self.vfs.mount_at(&at).is_some() {
                break;
            }
            batch.push(c.as_slice());
        }
        let g = &self.vfs.gofer;
        let w = g.walk(cur, &batch).map_err(|e| e.errno())?;
        let mut path = dir.to_vec();
        let mut first = None;
        for (i, node) in w.nodes.iter().enumerate() {
            path = dcache::child_path(&path, batch[i]);
            let target =
                if node.stat.is_symlink() { Some(g.readlink(node.handle).map_err(|e| e.errno())?) } else { None };
            let d = dcache::Dentry { handle: node.handle, stat: node.stat, target: target.clone() };
            if !self.vfs.dcache.insert(path.clone(), d) {
                self.held.push(node.handle);
            }
            if i == 0 {
                first = Some((node.handle, node.stat, target));
            }
        }
        match first {
            Some(f) => Ok(f),
            None => Err(Errno::from_raw(if w.errno != 0 { w.errno } else { libc::EIO })),
        }
    }

    /// `todo` holds the components still to walk, last first.
    fn run(&mut self, mut todo: Vec<Vec<u8>>, follow_last: bool) -> Result<Found, Errno> {
        let root_stat = self.vfs.root_stat;
        let (mut cur, mut cur_stat) = (self.vfs.root, root_stat);
        // Canonical path of `cur`, as a stack of names, and the handles of
        // its ancestors, so `..` goes back the way it came (as Linux does
        // through the dentry's parent, not through a symlink's directory).
        let mut names: Vec<Vec<u8>> = Vec::new();
        let mut parents: Vec<(HandleId, Stat)> = Vec::new();
        let mut links = 0;
        let r = self.resolve;
        loop {
            if self.prefix == 0 && self.anchor.is_none() {
                self.anchor = Some(Position { cur: (cur, cur_stat), names: names.clone(), parents: parents.clone() });
            }
            let Some(c) = todo.pop() else { break };
            let restricted = self.prefix == 0;
            self.prefix = self.prefix.saturating_sub(1);
            if !cur_stat.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            // Linux checks search permission before each component, "." and
            // ".." too, but not on the way to the starting directory.
            if restricted {
                self.who.permission(&self.vfs.perm_stat(&cur_stat), MAY_EXEC)?;
            }
            match c.as_slice() {
                b"." => continue,
                b".." => {
                    let depth = self.anchor.as_ref().map_or(0, |a| a.names.len());
                    if restricted && r.anchored() && names.len() <= depth && r.dotdot_at_anchor()? {
                        continue;
                    }
                    if let Some((h, s)) = parents.pop() {
                        if restricted && r.no_xdev && s.dev != cur_stat.dev {
                            return Err(Errno::EXDEV);
                        }
                        names.pop();
                        (cur, cur_stat) = (h, s);
                    }
                    continue;
                }
                _ => {}
            }
            let dir = canonical(&names);
            let (handle, stat, target) = self.step(cur, &dir, &c, &todo)?;
            if stat.is_symlink() && (!todo.is_empty() || follow_last) {
                if restricted {
                    r.follow(
                        synth::SynthTable::is_synth(handle) && resolve::is_magic_link(&dcache::child_path(&dir, &c)),
                    )?;
                }
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                let target = target.ok_or(Errno::EIO)?;
                if target.starts_with(b"/") {
                    let at_anchor = restricted && r.anchored() && r.absolute()?;
                    match (&self.anchor, at_anchor) {
                        (Some(a), true) => {
                            (cur, cur_stat) = a.cur;
                            names = a.names.clone();
                            parents = a.parents.clone();
                        }
                        _ => {
                            (cur, cur_stat) = (self.vfs.root, root_stat);
                            names.clear();
                            parents.clear();
                        }
                    }
                }
                todo.extend(components(&target).rev().map(<[u8]>::to_vec));
                continue;
            }
            if restricted && r.no_xdev && stat.dev != cur_stat.dev {
                return Err(Errno::EXDEV);
            }
            parents.push((cur, cur_stat));
            names.push(c);
            (cur, cur_stat) = (handle, stat);
        }
        Ok(Found { handle: cur, stat: cur_stat, path: canonical(&names) })
    }
}
