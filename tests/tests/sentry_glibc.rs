//! Dynamically linked Debian programs (ld.so, glibc) natively and under
//! `moat do`: same stdout and status. Single-threaded programs only, so
//! far: threads come with the glibc workloads issue.

use moat_tests::differential::check_all;

#[test]
fn coreutils_match_native() {
    let text: &[u8] = b"pear\napple\nfig\napple\n";
    check_all(&[
        (&["/bin/true"], b""),
        (&["/bin/false"], b""),
        (&["/bin/echo", "dynamic", "echo"], b""),
        (&["/bin/ls", "/etc/ssl"], b""),
        (&["/bin/ls", "-la", "/etc/hostname", "/etc/passwd"], b""),
        (&["/bin/cat", "/etc/os-release"], b""),
        (&["/usr/bin/sort"], text),
        (&["/usr/bin/sort", "-u", "-r"], text),
        (&["/usr/bin/uniq", "-c"], b"a\na\nb\n"),
        (&["/usr/bin/wc", "-l", "/etc/passwd"], b""),
        (&["/usr/bin/head", "-n", "2", "/etc/passwd"], b""),
        (&["/usr/bin/tail", "-c", "20", "/etc/passwd"], b""),
        (&["/usr/bin/tr", "a-z", "A-Z"], text),
        (&["/usr/bin/cut", "-d:", "-f1", "/etc/passwd"], b""),
        (&["/usr/bin/seq", "2", "3", "20"], b""),
        (&["/usr/bin/printf", "%05.1f|%x|%s\\n", "3.14159", "255", "str"], b""),
        (&["/usr/bin/sha256sum", "/etc/hostname"], b""),
        (&["/usr/bin/md5sum", "/etc/passwd"], b""),
        (&["/usr/bin/base64"], text),
        (&["/usr/bin/od", "-An", "-tx1", "/etc/hostname"], b""),
        (&["/usr/bin/stat", "-c", "%n %s %a %F", "/etc/passwd", "/usr"], b""),
        (&["/usr/bin/readlink", "-f", "/bin/sh"], b""),
        (&["/usr/bin/realpath", "/usr/../etc/./hostname"], b""),
        (&["/usr/bin/basename", "/a/b/c.txt", ".txt"], b""),
        (&["/usr/bin/dirname", "/a/b/c.txt"], b""),
        (&["/usr/bin/expr", "7", "*", "6"], b""),
        (&["/usr/bin/env", "-i", "X=1", "/usr/bin/env"], b""),
        (&["/usr/bin/date", "-d", "@0", "-u", "+%Y-%m-%d"], b""),
        (&["/usr/bin/nproc"], b""),
        (&["/usr/bin/id", "-u"], b""),
        (&["/usr/bin/dd", "if=/etc/passwd", "bs=16", "count=2", "status=none"], b""),
        (&["/usr/bin/tee"], text),
        (&["/usr/bin/cat", "/nonexistent"], b""),
        (&["/usr/bin/timeout", "5", "/bin/echo", "in time"], b""),
        (&["/usr/bin/timeout", "0.2", "/usr/bin/sleep", "5"], b""),
    ]);
}

#[test]
fn bash_matches_native() {
    let bash = |script: &'static str| -> (&'static [&'static str], &'static [u8]) {
        (Box::leak(Box::new(["/bin/bash", "-c", script])), b"")
    };
    check_all(&[
        bash("a=(one two three); echo ${#a[@]} ${a[1]}; declare -A m=([k]=v); echo ${m[k]}"),
        bash("x=$(echo sub | tr a-z A-Z); echo \"$x\"; echo $((2**10))"),
        bash("f() { local n=$1; (( n <= 1 )) && echo 1 && return; echo $(( n * $(f $((n-1))) )); }; f 5"),
        bash("trap 'echo trapped' EXIT; echo body"),
        bash("cat <(echo from process substitution)"),
        bash("for i in 1 2 3; do echo $i; done | sort -r | head -n 2"),
        bash("set -e; false; echo not reached"),
        bash("sleep 0.1 & wait $!; echo waited $?"),
        bash("coproc C { read x; echo got $x; }; echo hi >&${C[1]}; read r <&${C[0]}; echo $r; wait"),
        // The second job ends while wait -n waits: one that ends before wait
        // -n starts is, natively too, already reported and skipped (bash
        // prints "first 3" then), which made the case depend on timing.
        // The sleeper is killed once wait -n returns.
        bash("(sleep 5 >/dev/null 2>&1; exit 3) & (sleep 0.3; exit 4) & wait -n; echo first $?; kill %1; wait"),
        bash("/bin/bash -c 'kill -TERM $$; echo not reached'; echo child $?"),
        bash("shopt -s nullglob; echo /etc/host*; printf '%s\\n' \"${PWD}\""),
    ]);
}

#[test]
fn python_and_perl_match_native() {
    check_all(&[
        (&["/usr/bin/python3", "-c", "import sys, json; print(json.dumps({'a': [1, 2]}), sys.version_info[0])"], b""),
        (
            &[
                "/usr/bin/python3",
                "-c",
                "import hashlib, zlib; print(hashlib.sha256(b'x').hexdigest(), zlib.crc32(b'x'))",
            ],
            b"",
        ),
        (&["/usr/bin/python3", "-c", "import os; print(sorted(os.listdir('/etc/ssl')))"], b""),
        (
            &[
                "/usr/bin/python3",
                "-c",
                "import subprocess; print(subprocess.run(['/bin/echo', 'sub'], capture_output=True).stdout)",
            ],
            b"",
        ),
        (&["/usr/bin/python3", "-c", "import sys; sys.exit(3)"], b""),
        // mmap of a file: stores reach read(), writes reach the mapping.
        (
            &["/usr/bin/python3", "-"],
            b"import mmap, os, tempfile\n\
              fd, p = tempfile.mkstemp(); os.write(fd, b'hello world')\n\
              m = mmap.mmap(fd, 11); m[0:5] = b'HELLO'; m.flush(); print(os.pread(fd, 11, 0))\n\
              os.pwrite(fd, b'W', 6); print(m[:]); m.close(); os.unlink(p)\n",
        ),
        // socketpair, a descriptor passed with SCM_RIGHTS, SO_PEERCRED,
        // datagrams, and asyncio's event loop (its self-pipe is a socketpair).
        (
            &["/usr/bin/python3", "-"],
            b"import socket, os, struct, asyncio\n\
              a, b = socket.socketpair(); a.sendall(b'hello'); print(b.recv(10))\n\
              r, w = os.pipe(); socket.send_fds(a, [b'fd'], [w]); msg, fds, fl, _ = socket.recv_fds(b, 10, 4)\n\
              os.write(fds[0], b'via the passed fd'); print(msg, len(fds), fl, os.read(r, 100))\n\
              pid, uid, gid = struct.unpack('3i', a.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))\n\
              print(pid == os.getpid(), uid, gid); a.shutdown(socket.SHUT_WR); print(b.recv(10))\n\
              d1, d2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM); d1.send(b'1'); d1.send(b'22')\n\
              print(d2.recv(9), d2.recv(9))\n\
              async def main():\n\
              \x20   x, y = socket.socketpair()\n\
              \x20   rd, wr = await asyncio.open_connection(sock=x)\n\
              \x20   y.sendall(b'line\\n'); return await rd.readline()\n\
              print(asyncio.run(main()))\n",
        ),
        // A named Unix socket server: path and abstract names, a client in a
        // child process, SO_PEERCRED, datagrams to a name, asyncio's server.
        (
            &["/usr/bin/python3", "-"],
            b"import socket, os, asyncio, struct\n\
              p = f'/tmp/moat-py-srv-{os.getpid()}'; srv = socket.socket(socket.AF_UNIX); srv.bind(p); srv.listen(5)\n\
              print(srv.getsockname() == p, oct(os.stat(p).st_mode & 0o170000))\n\
              if os.fork() == 0:\n\
              \x20   c = socket.socket(socket.AF_UNIX); c.connect(p); c.sendall(str(c.getpeername() == p).encode())\n\
              \x20   print('child got', c.recv(100)); os._exit(0)\n\
              conn, addr = srv.accept(); print(repr(addr), conn.recv(100))\n\
              pid, uid, gid = struct.unpack('3i', conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))\n\
              print(pid != os.getpid(), uid, gid); conn.sendall(b'pong'); os.wait(); os.unlink(p)\n\
              a = socket.socket(socket.AF_UNIX); a.bind('\\0moat-py-abstract'); a.listen()\n\
              b = socket.socket(socket.AF_UNIX); b.connect('\\0moat-py-abstract'); s2, _ = a.accept(); b.send(b'abs')\n\
              print(s2.recv(9), b.getpeername())\n\
              d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); d.bind(p + '.d')\n\
              e = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); e.sendto(b'dg', p + '.d'); print(d.recv(9)); os.unlink(p + '.d')\n\
              async def main():\n\
              \x20   async def handle(r, w):\n\
              \x20       w.write((await r.readline()).upper()); await w.drain(); w.close()\n\
              \x20   server = await asyncio.start_unix_server(handle, p + '.a')\n\
              \x20   r, w = await asyncio.open_unix_connection(p + '.a'); w.write(b'hi asyncio\\n'); await w.drain()\n\
              \x20   line = await r.readline(); w.close(); server.close(); await server.wait_closed(); os.unlink(p + '.a')\n\
              \x20   return line\n\
              print(asyncio.run(main()))\n",
        ),
        // sqlite3 (fcntl record locks): 100,000 rows in one transaction.
        (
            &["/usr/bin/python3", "-"],
            b"import sqlite3, os\n\
              p = f'/tmp/moat-sqlite-{os.getpid()}.db'; c = sqlite3.connect(p); c.execute('create table t(a, b)')\n\
              with c: c.executemany('insert into t values (?, ?)', ((i, str(i) * 3) for i in range(100000)))\n\
              print(c.execute('select count(*), sum(a), max(b) from t').fetchone())\n\
              print(c.execute('select b from t where a = 4242').fetchone()); c.close(); os.unlink(p)\n",
        ),
        // /proc: a process's environ, limits, statm, fdinfo, task, mounts;
        // /proc/sys and /proc/stat; a forked child's cmdline.
        (
            &["/usr/bin/python3", "-"],
            b"import os\n\
              r = lambda p: open(p).read()\n\
              want = {'environ', 'limits', 'statm', 'fdinfo', 'task', 'mountinfo', 'oom_score_adj', 'loginuid'}\n\
              print(want <= set(os.listdir('/proc/self')), 'PATH' in r('/proc/self/environ'))\n\
              print(r('/proc/self/limits').splitlines()[0]); print(r('/proc/self/limits').splitlines()[8].split()[:4])\n\
              print(len(r('/proc/self/statm').split()), r('/proc/self/oom_score_adj'), r('/proc/self/loginuid'))\n\
              print(r('/proc/sys/kernel/ostype').strip(), r('/proc/sys/kernel/ngroups_max').strip(), r('/proc/sys/kernel/cap_last_cap').strip())\n\
              print(len(r('/proc/sys/kernel/random/boot_id').strip()), r('/proc/sys/kernel/random/uuid') != r('/proc/sys/kernel/random/uuid'))\n\
              print(r('/proc/sys/vm/overcommit_memory').strip(), r('/proc/sys/fs/nr_open').strip())\n\
              fd = os.open('/etc/passwd', os.O_RDONLY); os.lseek(fd, 5, 0); print(r(f'/proc/self/fdinfo/{fd}').splitlines()[:2])\n\
              print(os.listdir('/proc/self/task') == [str(os.getpid())], r(f'/proc/self/task/{os.getpid()}/comm').strip())\n\
              print(r('/proc/stat').split()[0], 'ctxt' in r('/proc/stat'), len(r('/proc/self/mountinfo').splitlines()) > 0)\n\
              import struct; raw = open('/proc/self/auxv', 'rb').read(); aux = dict(struct.iter_unpack('QQ', raw))\n\
              print(len(raw) % 16, raw[-16:] == bytes(16), aux.get(6), aux.get(11), 33 in aux, 25 in aux, 31 in aux)\n\
              if os.fork() == 0:\n\
              \x20   print('child cmdline', r('/proc/self/cmdline').split(chr(0))[0]); os._exit(0)\n\
              os.wait()\n",
        ),
        // selectors (epoll) over a pipe and an eventfd.
        (
            &["/usr/bin/python3", "-"],
            b"import os, selectors\n\
              r, w = os.pipe(); sel = selectors.DefaultSelector(); print(type(sel).__name__)\n\
              sel.register(r, selectors.EVENT_READ, 'pipe'); print(sel.select(0))\n\
              os.write(w, b'x'); print([(k.data, m) for k, m in sel.select(1)])\n\
              e = os.eventfd(0); sel.register(e, selectors.EVENT_READ, 'eventfd'); os.eventfd_write(e, 3)\n\
              print(sorted(k.data for k, m in sel.select(1)), os.eventfd_read(e))\n",
        ),
        (
            &[
                "/usr/bin/perl",
                "-e",
                "my @a = map { $_ * 2 } 1..5; print join(',', @a), \"\\n\"; print scalar(() = 'abcabc' =~ /b/g), \"\\n\"",
            ],
            b"",
        ),
        (&["/usr/bin/perl", "-ne", "print if /root/", "/etc/passwd"], b""),
    ]);
}

/// More GNU coreutils, in bash: the ones that change files work in a
/// scratch directory of their own (moat's /tmp is the sandbox's tmpfs).
#[test]
fn more_coreutils_match_native() {
    check_all(&[
        (&["/bin/bash", "-c", "ls -la /etc/ssl | tail -n +2 | awk '{print $1, $NF}'"], b""),
        (&["/bin/bash", "-c", "ls -R /usr/share/doc/coreutils"], b""),
        (&["/bin/bash", "-c", "stat -c '%n %s %F %a' /etc/passwd /bin /usr"], b""),
        (&["/bin/bash", "-c", "date -d @1700000000 -u '+%F %T %A %j'"], b""),
        (&["/bin/bash", "-c", "date -u -d '2024-02-29 12:00' +%s"], b""),
        (&["/bin/bash", "-c", "sort -t: -k3 -n /etc/passwd | cut -d: -f1"], b""),
        (&["/bin/bash", "-c", "sort --parallel=2 -S 1M /etc/services | sha256sum"], b""),
        (&["/bin/bash", "-c", "seq -s, 1 0.5 3; seq -w 8 11"], b""),
        (&["/bin/bash", "-c", "printf '%05d|%-6s|%x\\n' 42 hi 255"], b""),
        (&["/bin/bash", "-c", "shuf -i 1-20 --random-source=/etc/passwd | head -5"], b""),
        (&["/bin/bash", "-c", "timeout 0.2 sleep 5; echo status $?"], b""),
        (&["/bin/bash", "-c", "timeout -s KILL 0.2 sleep 5; echo status $?"], b""),
        (&["/bin/bash", "-c", "timeout 5 true; echo status $?"], b""),
        (&["/bin/bash", "-c", "nproc; nproc --all"], b""),
        (&["/bin/bash", "-c", "du -s /usr/share/doc/coreutils | cut -f1"], b""),
        (
            &[
                "/bin/bash",
                "-c",
                "d=$(mktemp -d); echo abc > $d/f; cp $d/f $d/g && cmp $d/f $d/g && echo copied; rm -r $d",
            ],
            b"",
        ),
        (
            &[
                "/bin/bash",
                "-c",
                "d=$(mktemp -d); cp -a /usr/share/doc/coreutils $d/c && diff -r /usr/share/doc/coreutils $d/c && echo tree; rm -rf $d",
            ],
            b"",
        ),
        (&["/bin/bash", "-c", "d=$(mktemp -d); echo x > $d/a && mv $d/a $d/b && ls $d; rm -r $d"], b""),
        (&["/bin/bash", "-c", "d=$(mktemp -d); mkdir -p $d/x/y/z && rm -r $d/x && ls -A $d | wc -l; rmdir $d"], b""),
        (
            &[
                "/bin/bash",
                "-c",
                "d=$(mktemp -d); install -m 640 /etc/hostname $d/h && stat -c %a $d/h; install -d -m 700 $d/dir && stat -c %a $d/dir; rm -r $d",
            ],
            b"",
        ),
        (
            &[
                "/bin/bash",
                "-c",
                "d=$(mktemp -d); split -l 50 /etc/services $d/p- && ls $d | wc -l && cat $d/p-* | cmp - /etc/services && echo same; rm -r $d",
            ],
            b"",
        ),
        (&["/bin/bash", "-c", "echo tee-me | tee /dev/stderr 2>/dev/null"], b""),
        (&["/bin/bash", "-c", "d=$(mktemp -d); echo t | tee $d/1 $d/2 >/dev/null; cat $d/1 $d/2; rm -r $d"], b""),
        (
            &[
                "/bin/bash",
                "-c",
                "d=$(mktemp -d); ln -s /etc/passwd $d/l && readlink $d/l && readlink -f $d/l; ln /etc/hostname $d/h 2>&1 | head -c 0; rm -r $d",
            ],
            b"",
        ),
        (&["/bin/bash", "-c", "readlink -f /usr/bin/../bin/./ls"], b""),
        (&["/bin/bash", "-c", "mktemp -u /tmp/x.XXXX | cut -c1-7"], b""),
        (&["/bin/bash", "-c", "dd if=/dev/zero bs=1k count=4 2>/dev/null | od -An -c | head -2"], b""),
        (&["/bin/bash", "-c", "dd if=/etc/services bs=100 skip=2 count=3 2>/dev/null | sha256sum"], b""),
        (&["/bin/bash", "-c", "od -An -tx2 -N16 /etc/passwd"], b""),
        (&["/bin/bash", "-c", "sha256sum /etc/passwd /etc/group"], b""),
        (&["/bin/bash", "-c", "base64 -w 20 /etc/hostname; base64 /etc/hostname | base64 -d"], b""),
        (
            &[
                "/bin/bash",
                "-c",
                "head -c 1000 /etc/services | base64 | base64 -d | cmp - <(head -c 1000 /etc/services) && echo roundtrip",
            ],
            b"",
        ),
        (&["/bin/bash", "-c", "cut -d: -f1,7 /etc/passwd | sort | head -3"], b""),
        (&["/bin/bash", "-c", "tr -s ' ' < /etc/services | head -3"], b""),
        (&["/bin/bash", "-c", "env -i A=1 B=2 env"], b""),
        (&["/bin/bash", "-c", "id -u; id -g; id -un"], b""),
        (&["/bin/bash", "-c", "expr 6 \\* 7; expr length abcdef"], b""),
        (&["/bin/bash", "-c", "factor 1234567 9999991"], b""),
        (&["/bin/bash", "-c", "numfmt --to=iec 123456789; numfmt --from=iec 1K"], b""),
        (&["/bin/bash", "-c", "d=$(mktemp -d); touch -d '2020-01-01 00:00:00' $d/t && stat -c %Y $d/t; rm -r $d"], b""),
        (&["/bin/bash", "-c", "find /usr/share/doc/coreutils -type f | sort"], b""),
        (&["/bin/bash", "-c", "echo a b c d | xargs -n2 echo"], b""),
        (&["/bin/bash", "-c", "yes | head -3"], b""),
        (&["/bin/bash", "-c", "wc /etc/services"], b""),
        (&["/bin/bash", "-c", "comm <(sort /etc/passwd) <(sort /etc/group) | wc -l"], b""),
        (&["/bin/bash", "-c", "paste -d, <(seq 3) <(seq 4 6)"], b""),
        (&["/bin/bash", "-c", "join <(printf '1 a\\n2 b\\n') <(printf '1 x\\n2 y\\n')"], b""),
        (&["/bin/bash", "-c", "nl -ba /etc/hostname"], b""),
        (&["/bin/bash", "-c", "fold -w 5 /etc/hostname"], b""),
        (&["/bin/bash", "-c", "basename /usr/lib/x.so .so; dirname /usr/lib/x.so"], b""),
        (&["/bin/bash", "-c", "d=$(mktemp -d); truncate -s 10k $d/t && stat -c %s $d/t; rm -r $d"], b""),
        (&["/bin/bash", "-c", "tac /etc/hostname /etc/hostname"], b""),
        (&["/bin/bash", "-c", "rev <<< abcdef"], b""),
        (&["/bin/bash", "-c", "echo 3 1 2 | tr ' ' '\\n' | sort -n | paste -sd+ | bc"], b""),
        (&["/bin/bash", "-c", "md5sum /etc/passwd; sha1sum /etc/passwd; b2sum -l 64 /etc/passwd"], b""),
        (&["/bin/bash", "-c", "pr -h x -l 5 /etc/hostname | head -3 | tail -1"], b""),
        (&["/bin/bash", "-c", "d=$(mktemp -d); cd $d; mkfifo p; (echo via-fifo > p &); cat p; cd /; rm -r $d"], b""),
        (&["/bin/bash", "-c", "df --output=target /etc | tail -1"], b""),
    ]);
}

/// The workloads of the glibc issue: tar, find | xargs sha256sum, perl,
/// gcc and make, git, the sqlite3 shell.
#[test]
fn workloads_match_native() {
    check_all(&[
        (
            &[
                "/bin/bash",
                "-c",
                "d=$(mktemp -d); tar czf $d/doc.tgz -C /usr/share doc 2>/dev/null; mkdir $d/x; tar xzf $d/doc.tgz -C $d/x && diff -r --no-dereference /usr/share/doc $d/x/doc >/dev/null && echo tar round trip; rm -rf $d",
            ],
            b"",
        ),
        (&["/bin/bash", "-c", "find /usr/lib/python3.11 -type f | sort | xargs sha256sum | sha256sum"], b""),
        (
            &[
                "/bin/bash",
                "-c",
                "perl -e 'open(F, \"<\", \"/etc/services\") or die; my %n; while (<F>) { $n{$2}++ if /^(\\w+)\\s+\\d+\\/(tcp|udp)/ } print join(\",\", map { \"$_=$n{$_}\" } sort keys %n), \"\\n\"'",
            ],
            b"",
        ),
        (&["/bin/bash", "-c", "perl -ne 'print \"$1\\n\" if /^(root|daemon):/' /etc/passwd"], b""),
        (
            &[
                "/bin/bash",
                "-c",
                "d=$(mktemp -d); cd $d; printf '#include <stdio.h>\\nint main(void){puts(\"hello from gcc\");return 0;}\\n' > h.c && gcc -o h h.c && ./h; cd /; rm -rf $d",
            ],
            b"",
        ),
        (
            &[
                "/bin/bash",
                "-c",
                "d=$(mktemp -d); cd $d; printf 'int f(void);\\nint main(void){return f();}\\n' > m.c; printf 'int f(void){return 3;}\\n' > f.c; printf 'prog: m.o f.o\\n\\tgcc -o prog m.o f.o\\n%%.o: %%.c\\n\\tgcc -c $<\\n' > Makefile; make -s && ./prog; echo \"prog exited $?\"; cd /; rm -rf $d",
            ],
            b"",
        ),
        (
            &[
                "/bin/bash",
                "-c",
                "d=$(mktemp -d); cd $d; git init -q r && cd r && git config user.email a@b && git config user.name n && echo hi > f && git add f && git -c commit.gpgsign=false commit -qm first && echo more >> f && git -c commit.gpgsign=false commit -qam second && git log --format=%s && git show --stat --format= HEAD | tail -1; cd /; rm -rf $d",
            ],
            b"",
        ),
        (
            &[
                "/bin/bash",
                "-c",
                "d=$(mktemp -d); (echo 'begin;'; echo 'create table t(a, b);'; for i in $(seq 1 100000); do echo \"insert into t values($i, 'v$i');\"; done; echo 'commit;') | sqlite3 $d/db && sqlite3 $d/db 'select count(*), sum(a), max(b) from t'; rm -rf $d",
            ],
            b"",
        ),
    ]);
}
