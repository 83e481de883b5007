"""A temporary tree: os.walk (sorted), shutil.copytree with symlinks,
filecmp.dircmp reporting a difference, os.scandir, shutil.move, rmtree."""
import filecmp
import os
import shutil
import tempfile

d = tempfile.mkdtemp()
try:
    src = os.path.join(d, "src")
    for sub in ["a", "a/b", "a/b/c", "d"]:
        os.makedirs(os.path.join(src, sub))
    for i, sub in enumerate(["", "a", "a/b", "a/b/c", "d"]):
        for k in range(3):
            with open(os.path.join(src, sub, "f%d.txt" % k), "w") as f:
                f.write("%s %d\n" % (sub, k) * (i + 1))
    os.symlink("f0.txt", os.path.join(src, "link"))
    walked = []
    for root, dirs, files in os.walk(src):
        dirs.sort()
        walked.append((os.path.relpath(root, src), sorted(files)))
    for w in walked:
        print(w)
    dst = os.path.join(d, "dst")
    shutil.copytree(src, dst, symlinks=True)
    print("link copied as a link", os.path.islink(os.path.join(dst, "link")), os.readlink(os.path.join(dst, "link")))
    cmp = filecmp.dircmp(src, dst)
    print("identical", sorted(cmp.same_files), "differ", cmp.diff_files)
    with open(os.path.join(dst, "f1.txt"), "a") as f:
        f.write("changed\n")
    cmp = filecmp.dircmp(src, dst)
    print("after a change, differ", cmp.diff_files)
    print("deep compare a/b", filecmp.cmp(os.path.join(src, "a/b/f2.txt"), os.path.join(dst, "a/b/f2.txt"), shallow=False))
    print("scandir", sorted((e.name, e.is_dir(), e.is_symlink()) for e in os.scandir(dst)))
    shutil.move(os.path.join(dst, "d"), os.path.join(dst, "moved"))
    print("after move", sorted(os.listdir(dst)))
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(dst) for f in fs if not f == "link")
    print("bytes in the copy", total)
    shutil.rmtree(dst)
    print("removed", os.path.exists(dst))
finally:
    shutil.rmtree(d)
