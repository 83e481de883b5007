"""sqlite3 in memory: 10,000 rows inserted in a transaction, an index,
aggregates, a join, a rollback, and a database shared by threads with
check_same_thread=False."""
import sqlite3
import threading

db = sqlite3.connect(":memory:", check_same_thread=False)
db.execute("create table t (id integer primary key, grp integer, name text, val real)")
with db:
    db.executemany("insert into t (grp, name, val) values (?, ?, ?)",
                   ((i % 17, "name%05d" % i, i * 0.5) for i in range(10000)))
db.execute("create index t_grp on t (grp)")
print("rows", db.execute("select count(*) from t").fetchone()[0])
print("sum", db.execute("select sum(val), min(name), max(name) from t").fetchone())
print("groups", db.execute("select grp, count(*) from t group by grp order by grp limit 5").fetchall())
print("plan uses the index", any("t_grp" in r[-1] for r in db.execute("explain query plan select * from t where grp = 3")))
db.execute("create table g (grp integer primary key, label text)")
with db:
    db.executemany("insert into g values (?, ?)", ((g, "L%d" % g) for g in range(17)))
print("join", db.execute("select g.label, count(*) from t join g using (grp) where t.id % 1000 = 0 group by g.label order by 1").fetchall())
try:
    with db:
        db.execute("delete from t")
        raise RuntimeError("roll back")
except RuntimeError:
    pass
print("after rollback", db.execute("select count(*) from t").fetchone()[0])
lock = threading.Lock()


def writer(k):
    for i in range(200):
        with lock, db:
            db.execute("insert into t (grp, name, val) values (?, ?, ?)", (100 + k, "thread", i))


ts = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("rows from threads", db.execute("select count(*), sum(val) from t where grp >= 100").fetchone())
print("sqlite", sqlite3.sqlite_version_info >= (3, 0, 0))
db.close()
