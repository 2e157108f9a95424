"""The driver matrix scenario (../cases.ts) for PyMySQL, Debian's python3-pymysql.

Run by test/e2e/drivers/matrix.test.ts with /usr/bin/python3 and the target in RW_* environment
variables; prints the JSON transcript (../transcript.ts) on stdout.

PyMySQL has no server-side prepared statements (parameters are escaped into the statement text,
binary values as _binary'...'), no compression, no COM_CHANGE_USER and no COM_RESET_CONNECTION:
those cases are not in its list. It does not ask for CLIENT_SESSION_TRACK.
"""

import datetime
import decimal
import hashlib
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import pymysql
from pymysql.constants import CLIENT

E = os.environ
TARGET = dict(
    host=E["RW_HOST"],
    port=int(E["RW_PORT"]),
    user=E["RW_USER"],
    password=E["RW_PASSWORD"],
    database=E["RW_DB"],
    charset="utf8mb4",
    # What most applications (Django, SQLAlchemy's AUTOCOMMIT) run with; autocommit_off turns it
    # off through the API.
    autocommit=True,
    connect_timeout=30,
    read_timeout=20,
    write_timeout=20,
)


def canon(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (bytes, bytearray)):
        return {"hex": bytes(v).hex()}
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time, datetime.timedelta)):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [canon(x) for x in v]
    if isinstance(v, dict):
        return {str(k): canon(x) for k, x in v.items()}
    return repr(v)


def error_info(e):
    if isinstance(e, pymysql.err.MySQLError) and len(e.args) >= 2 and isinstance(e.args[0], int):
        return {"errno": e.args[0], "sqlstate": None, "message": str(e.args[1])}
    return {"errno": None, "sqlstate": None, "message": "%s: %s" % (type(e).__name__, e)}


class Recorder:
    def __init__(self):
        self.cases = {}
        self.steps = None

    def step(self, label, fn):
        try:
            v = fn()
            self.steps.append([label, canon(v)])
            return v
        except Exception as e:  # noqa: BLE001 - every failure is a transcript entry
            self.steps.append([label, {"error": error_info(e)}])
            return None

    def note(self, label, value):
        self.steps.append([label, canon(value)])

    def run(self, name, fn):
        self.steps = []
        result = {"steps": self.steps}
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            result["fatal"] = error_info(e)
        self.cases[name] = result


rec = Recorder()


def connect(**extra):
    return pymysql.connect(**{**TARGET, **extra})


def q(conn, sql, args=None):
    """Runs one statement; the step is its rows (a result set) or its affected rows."""

    def run():
        with conn.cursor() as cur:
            n = cur.execute(sql, args)
            if cur.description is None:
                return {"affected": n, "lastrowid": cur.lastrowid}
            return {"columns": [d[0] for d in cur.description], "rows": cur.fetchall()}

    return rec.step(sql, run)


def all_sets(conn, sql, args=None):
    """Every result set of a statement (CALL), as nextset() walks them."""

    def run():
        out = []
        with conn.cursor() as cur:
            cur.execute(sql, args)
            while True:
                if cur.description is None:
                    out.append({"affected": cur.rowcount})
                else:
                    out.append(cur.fetchall())
                if not cur.nextset():
                    break
        return out

    return rec.step(sql, run)


def with_conn(fn, **extra):
    c = connect(**extra)
    try:
        fn(c)
    finally:
        try:
            c.close()
        except Exception:  # noqa: BLE001
            pass


def blob_payload(n):
    return bytes(i % 251 for i in range(n))


def crud(c):
    rec.step("read first", lambda: type(q_value(c, "SELECT @@server_id")).__name__)
    q(c, "CREATE TABLE crud (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) NOT NULL, n INT)")
    q(c, "INSERT INTO crud (name, n) VALUES ('héllo 😀', 1), ('𝄞 clef', 2), ('plain', 3)")
    q(c, "SELECT id, name, n FROM crud ORDER BY id")
    q(c, "SELECT name, CHAR_LENGTH(name) AS cl, LENGTH(name) AS bl FROM crud WHERE name LIKE %s", ("%😀%",))
    q(c, "UPDATE crud SET name = CONCAT(name, ' 🚀'), n = n + 10 WHERE n >= 2")
    q(c, "SELECT id, name, n FROM crud ORDER BY id")
    q(c, "DELETE FROM crud WHERE n = 1")
    q(c, "SELECT COUNT(*) AS c FROM crud")


def q_value(c, sql):
    with c.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def transactions(c):
    q(c, "CREATE TABLE tx (id INT PRIMARY KEY, v VARCHAR(20))")
    rec.step("begin", lambda: c.begin())
    q(c, "INSERT INTO tx VALUES (1, 'rolled back')")
    q(c, "SELECT COUNT(*) AS c FROM tx")
    rec.step("rollback", lambda: c.rollback())
    q(c, "SELECT COUNT(*) AS c FROM tx")
    rec.step("begin", lambda: c.begin())
    q(c, "INSERT INTO tx VALUES (2, 'committed')")
    q(c, "SELECT @@in_transaction AS t")
    rec.step("commit", lambda: c.commit())
    q(c, "SELECT @@in_transaction AS t")
    q(c, "SELECT id, v FROM tx ORDER BY id")


def autocommit_off(c):
    q(c, "CREATE TABLE ac (id INT PRIMARY KEY)")
    rec.step("autocommit(False)", lambda: c.autocommit(False))
    q(c, "INSERT INTO ac VALUES (1)")
    q(c, "SELECT COUNT(*) AS c FROM ac")
    rec.step("rollback", lambda: c.rollback())
    q(c, "SELECT COUNT(*) AS c FROM ac")
    q(c, "INSERT INTO ac VALUES (2)")
    rec.step("commit", lambda: c.commit())
    q(c, "SELECT @@autocommit AS a, @@in_transaction AS t")
    q(c, "SELECT id FROM ac")
    rec.step("autocommit(True)", lambda: c.autocommit(True))


def last_insert_id(c):
    q(c, "CREATE TABLE li (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10)) AUTO_INCREMENT = 100")
    q(c, "INSERT INTO li (v) VALUES ('a')")
    rec.step("insert_id()", lambda: c.insert_id())
    q(c, "SELECT LAST_INSERT_ID() AS id")
    q(c, "INSERT INTO li (v) VALUES ('b'), ('c')")
    q(c, "SELECT LAST_INSERT_ID() AS id")
    q(c, "INSERT INTO li (v) VALUES (%s)", ("d",))
    q(c, "SELECT LAST_INSERT_ID() AS id")
    q(c, "SELECT LAST_INSERT_ID(42) AS id")
    q(c, "SELECT LAST_INSERT_ID() AS id")


def temporary_table(c):
    q(c, "CREATE TEMPORARY TABLE tmp (id INT, v VARCHAR(10))")
    q(c, "INSERT INTO tmp VALUES (1, 'x'), (2, 'y')")
    q(c, "SELECT id, v FROM tmp ORDER BY id")
    q(c, "SELECT COUNT(*) AS c FROM information_schema.schemata WHERE schema_name = DATABASE()")
    q(c, "SELECT v FROM tmp WHERE id = %s", (2,))
    q(c, "DROP TEMPORARY TABLE tmp")
    q(c, "SELECT id FROM tmp")


def user_variables(c):
    q(c, "SET @a = 'x😀', @b = 42")
    q(c, "SELECT @a AS a, @b AS b")
    q(c, "SELECT @b + 1 AS c")
    q(c, "SELECT @c := 5 AS c")
    q(c, "SELECT @c AS c, @never_set AS n")


def prepared_null_binary(c):
    # PyMySQL escapes parameters into the text (no COM_STMT_PREPARE): NULL, _binary'...'.
    q(c, "CREATE TABLE ps (id INT PRIMARY KEY, s VARCHAR(40) NULL, b VARBINARY(300) NULL, d DOUBLE NULL, dt DATETIME(6) NULL)")
    ins = "INSERT INTO ps VALUES (%s, %s, %s, %s, %s)"
    q(c, ins, (1, "emoji 😀", bytes(range(256)), 1.5, datetime.datetime(2024, 2, 29, 12, 34, 56, 789000)))
    q(c, ins, (2, None, None, None, None))
    sel = "SELECT id, s, b, HEX(b) AS h, d, CAST(dt AS CHAR) AS dt FROM ps WHERE id = %s"
    q(c, sel, (1,))
    q(c, sel, (2,))
    q(c, "SELECT COUNT(*) AS c FROM ps WHERE s <=> %s", (None,))
    q(c, "SELECT %s AS p, HEX(%s) AS h", (b"\x00\xff\x00", b"\x00\xff\x00"))


def json_column(c):
    q(c, "CREATE TABLE js (id INT PRIMARY KEY, doc JSON)")
    q(c, """INSERT INTO js VALUES (1, '{"a": 1, "b": [1, 2, "😀"], "c": {"d": null}}')""")
    q(c, "SELECT id, doc FROM js")
    q(c, "SELECT JSON_EXTRACT(doc, '$.b[2]') AS e, JSON_VALUE(doc, '$.a') AS v FROM js")
    q(c, "UPDATE js SET doc = JSON_SET(doc, '$.a', 2)")
    q(c, "SELECT JSON_UNQUOTE(JSON_EXTRACT(doc, '$.a')) AS a FROM js")
    q(c, "SELECT JSON_OBJECT('k', 'v😀') AS o")


def stored_procedure(c):
    q(c, "CREATE PROCEDURE sp(IN a INT, OUT b INT) BEGIN SELECT a AS first; SELECT a * 2 AS second, 'x😀' AS s; SET b = a * 10; END")
    all_sets(c, "CALL sp(3, @out)")
    q(c, "SELECT @out AS o")

    def callproc():
        out = []
        with c.cursor() as cur:
            cur.callproc("sp", (4, 0))
            while True:
                out.append(cur.fetchall() if cur.description else {"affected": cur.rowcount})
                if not cur.nextset():
                    break
            cur.execute("SELECT @_sp_1")
            out.append(cur.fetchall())
        return out

    rec.step("callproc('sp', (4, 0)) and @_sp_1", callproc)
    q(c, "CREATE TABLE spt (id INT PRIMARY KEY)")
    q(c, "CREATE PROCEDURE spw(IN a INT) INSERT INTO spt VALUES (a)")
    all_sets(c, "CALL spw(7)")
    q(c, "SELECT id FROM spt")


def large_blob(c):
    payload = blob_payload(4 * 1024 * 1024)
    rec.note("payload sha256", hashlib.sha256(payload).hexdigest())
    q(c, "CREATE TABLE lob (id INT PRIMARY KEY, data LONGBLOB)")
    rec.step("insert 4 MiB", lambda: c.cursor().execute("INSERT INTO lob VALUES (%s, %s)", (1, payload)))
    q(c, "SELECT id, LENGTH(data) AS len, SHA2(data, 256) AS sha FROM lob ORDER BY id")

    def read_back():
        with c.cursor() as cur:
            cur.execute("SELECT data FROM lob WHERE id = 1")
            d = cur.fetchone()[0]
            return [len(d), hashlib.sha256(d).hexdigest()]

    rec.step("read back", read_back)


def switch_database(c):
    db, db2 = E["RW_DB"], E["RW_DB2"]
    q(c, "SELECT DATABASE() AS db")
    rec.step("select_db(db2)", lambda: c.select_db(db2))
    q(c, "SELECT DATABASE() AS db")
    q(c, "CREATE TABLE sw (id INT)")
    q(c, "INSERT INTO sw VALUES (1)")
    q(c, "SELECT COUNT(*) AS c FROM sw")
    q(c, "USE `%s`" % db)
    q(c, "SELECT DATABASE() AS db")
    q(c, "SELECT COUNT(*) AS c FROM sw")
    q(c, "SELECT COUNT(*) AS c FROM `%s`.sw" % db2)


def row_lock(a):
    b = connect()
    try:
        q(a, "CREATE TABLE rl (id INT PRIMARY KEY, v INT)")
        q(a, "INSERT INTO rl VALUES (1, 0), (2, 0)")
        rec.step("A begin", lambda: a.begin())
        q(a, "SELECT v FROM rl WHERE id = 1 FOR UPDATE")
        q(a, "SELECT trx_rows_locked AS n FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = CONNECTION_ID()")
        q(b, "SELECT v FROM rl WHERE id = 1 FOR UPDATE NOWAIT")
        q(b, "SELECT id FROM rl FOR UPDATE SKIP LOCKED")
        q(a, "UPDATE rl SET v = 1 WHERE id = 1")
        rec.step("A commit", lambda: a.commit())
        q(b, "SELECT v FROM rl WHERE id = 1 FOR UPDATE NOWAIT")
    finally:
        b.close()


def get_lock(a):
    b = connect()
    name = "lock_" + E["RW_TAG"]
    try:
        q(a, "SELECT GET_LOCK(%s, 0) AS l", (name,))
        q(a, "SELECT IS_USED_LOCK(%s) = CONNECTION_ID() AS mine", (name,))
        q(b, "SELECT GET_LOCK(%s, 0) AS l", (name,))
        q(b, "SELECT IS_FREE_LOCK(%s) AS f", (name,))
        q(a, "SELECT RELEASE_LOCK(%s) AS r", (name,))
        q(b, "SELECT GET_LOCK(%s, 0) AS l", (name,))
        q(b, "SELECT RELEASE_LOCK(%s) AS r", (name,))
        q(a, "SELECT RELEASE_LOCK(%s) AS r", (name,))
    finally:
        b.close()


def batch_insert(c):
    q(c, "CREATE TABLE bi (id INT PRIMARY KEY, v VARCHAR(20), b VARBINARY(10) NULL)")
    rows = [(i, "row %d 😀" % i, None if i % 3 == 0 else bytes([i])) for i in range(100)]
    ins = "INSERT INTO bi (id, v, b) VALUES (%s, %s, %s)"
    # executemany rewrites an INSERT ... VALUES into multi-row INSERTs.
    rec.step("executemany 100 rows", lambda: c.cursor().executemany(ins, rows))
    q(c, "SELECT COUNT(*) AS n, SUM(id) AS s, COUNT(b) AS nb FROM bi")
    q(c, "SELECT id, v, b FROM bi WHERE id IN (1, 50, 99) ORDER BY id")
    rec.step("executemany with a duplicate key", lambda: c.cursor().executemany(ins, [(100, "new", None), (1, "dup", None)]))
    q(c, "SELECT COUNT(*) AS n FROM bi")


def connect_unlisted():
    def body(c):
        q(c, "SELECT CURRENT_USER() AS u, DATABASE() AS db")
        q(c, "CREATE TABLE cu (id INT)")
        q(c, "INSERT INTO cu VALUES (1)")
        q(c, "SELECT id FROM cu")

    with_conn(body, user=E["RW_UNLISTED_USER"], password=E["RW_UNLISTED_PASSWORD"])


def many_connections():
    with_conn(lambda c: q(c, "CREATE TABLE mc (id INT PRIMARY KEY)"))

    def one(i):
        try:
            c = connect()
            try:
                with c.cursor() as cur:
                    cur.execute("INSERT INTO mc VALUES (%s)", (i,))
                    cur.execute("SELECT COUNT(*) FROM mc WHERE id = %s", (i,))
                    return cur.fetchone()[0]
            finally:
                c.close()
        except pymysql.err.MySQLError as e:
            return "error %s" % (e.args[0],)

    def reader(_):
        try:
            c = connect()
            try:
                return q_value(c, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = DATABASE()")
            finally:
                c.close()
        except pymysql.err.MySQLError as e:
            return "error %s" % (e.args[0],)

    n = int(E["RW_CONNS"])
    with ThreadPoolExecutor(max_workers=n) as pool:
        rec.note("per connection", list(pool.map(one, range(n))))
        # Then as many connections that only read: what spreads over the replicas.
        rec.note("readers", list(pool.map(reader, range(n))))


def session_settings(c):
    q(c, "SET @@sql_mode = 'ANSI_QUOTES'")
    q(c, "SELECT @@sql_mode AS m")
    q(c, 'SELECT "id" FROM (SELECT 1 AS id) t')
    q(c, "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_520_nopad_ci")
    q(c, "SELECT 'a' = 'a ' AS eq, @@collation_connection AS c")
    q(c, "SET time_zone = '+05:00'")
    q(c, "SELECT @@time_zone AS tz, CAST(FROM_UNIXTIME(0) AS CHAR) AS t")
    q(c, "SELECT @@session_track_state_change AS s, @@session_track_system_variables AS v")


def read_then_write_multi():
    """Issue #12's PyMySQL case: MULTI_STATEMENTS, no CLIENT_SESSION_TRACK, a read then DDL."""

    def body(c):
        rec.step("read first", lambda: type(q_value(c, "SELECT @@server_id")).__name__)
        q(c, "CREATE TABLE rw (i INT)")
        q(c, "INSERT INTO rw VALUES (1); INSERT INTO rw VALUES (2)")
        q(c, "SELECT COUNT(*) FROM rw")

    with_conn(body, client_flag=CLIENT.MULTI_STATEMENTS)


def server_status(c):
    # PyMySQL keeps the last OK/EOF packet's status flags in conn.server_status.
    for sql in ["SET @a = 1", "BEGIN", "DO 1", "COMMIT", "SET autocommit = 0", "SET autocommit = 1"]:
        rec.step(sql, lambda sql=sql: (c.cursor().execute(sql), c.server_status)[1])


def warnings(c):
    # PyMySQL hands the application no warning count (1.0 dropped the automatic SHOW WARNINGS);
    # conn.show_warnings() runs SHOW WARNINGS. No server-side prepares: no prepared step.
    def read(sql):
        def run():
            with c.cursor() as cur:
                cur.execute(sql)
                row = cur.fetchone()
                rec.note("@where", row[-1])
                return list(row[:-1])

        return rec.step(sql, run)

    def show():
        rec.step("show_warnings()", lambda: [list(w) for w in c.show_warnings()])

    read("SELECT 'a' + 1 AS x, @@server_id AS sid")
    show()
    q(c, "SELECT @@warning_count AS w")
    read("SELECT CAST('x' AS SIGNED) AS n, @@server_id AS sid FROM pdb")
    show()
    q(c, "SELECT @@warning_count AS w")
    # The server keeps the warnings list through a statement without a table.
    read("SELECT 'b' + 1 AS x, @@server_id AS sid")
    q(c, "SELECT 1 AS one")
    q(c, "SHOW WARNINGS")
    q(c, "SELECT @@warning_count AS w")
    q(c, "CREATE TABLE wn (id INT PRIMARY KEY)")
    q(c, "INSERT INTO wn VALUES (1)")
    q(c, "INSERT IGNORE INTO wn VALUES (1)")
    show()
    q(c, "SELECT ROW_COUNT() AS rc")
    q(c, "INSERT IGNORE INTO wn VALUES (1), (2)")
    q(c, "SELECT ROW_COUNT() AS rc")
    q(c, "SELECT @@warning_count AS w")
    show()
    q(c, "SELECT * FROM nosuch_table")
    q(c, "SHOW ERRORS")
    q(c, "SELECT @@error_count AS e, @@warning_count AS w")


CASES = [
    ("crud_utf8mb4", lambda: with_conn(crud)),
    ("transaction_commit_rollback", lambda: with_conn(transactions)),
    ("autocommit_off", lambda: with_conn(autocommit_off)),
    ("last_insert_id", lambda: with_conn(last_insert_id)),
    ("temporary_table", lambda: with_conn(temporary_table)),
    ("user_variables", lambda: with_conn(user_variables)),
    ("prepared_null_binary", lambda: with_conn(prepared_null_binary)),
    ("json_column", lambda: with_conn(json_column)),
    ("stored_procedure", lambda: with_conn(stored_procedure)),
    ("large_blob", lambda: with_conn(large_blob)),
    ("switch_database", lambda: with_conn(switch_database)),
    ("row_lock", lambda: with_conn(row_lock)),
    ("get_lock", lambda: with_conn(get_lock)),
    ("batch_insert", lambda: with_conn(batch_insert)),
    ("connect_unlisted", connect_unlisted),
    ("many_connections", many_connections),
    ("session_settings", lambda: with_conn(session_settings)),
    ("read_then_write", read_then_write_multi),
    ("server_status", lambda: with_conn(server_status)),
    ("warnings", lambda: with_conn(warnings)),
]

if __name__ == "__main__":
    only = set(filter(None, E.get("RW_ONLY", "").split(",")))
    for name, fn in CASES:
        if not only or name in only:
            rec.run(name, fn)
    json.dump({"driver": "PyMySQL " + pymysql.__version__, "cases": rec.cases}, sys.stdout, ensure_ascii=False)
