// The driver matrix scenario (../cases.ts) for MariaDB Connector/J (Debian libmariadb-java, 2.7),
// run as a single source file: java -cp /usr/share/java/mariadb-java-client.jar Matrix.java
// The target comes in RW_* environment variables; the JSON transcript (../transcript.ts) goes to
// stdout. Server-side prepared statements (useServerPrepStmts=true); executeBatch uses
// COM_STMT_BULK_EXECUTE when the server offers it (useBulkStmts, the default). JDBC has no
// change-user call and no status flags: those cases are not in its list.

import java.io.ByteArrayInputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.sql.*;
import java.util.*;
import java.util.concurrent.*;

public class Matrix {
  static final Map<String, String> E = System.getenv();
  static final Map<String, Object> cases = new LinkedHashMap<>();
  static List<Object> steps;

  interface Body { Object run() throws Exception; }
  interface ConnBody { void run(Connection c) throws Exception; }

  // ---- canonical JSON ---------------------------------------------------------------------

  static String json(Object v) {
    StringBuilder b = new StringBuilder();
    write(b, v);
    return b.toString();
  }

  static void write(StringBuilder b, Object v) {
    if (v == null) b.append("null");
    else if (v instanceof Boolean || v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte)
      b.append(v);
    else if (v instanceof Double || v instanceof Float) b.append(v.toString());
    else if (v instanceof byte[]) write(b, Map.of("hex", hex((byte[]) v)));
    else if (v instanceof int[]) {
      List<Object> l = new ArrayList<>();
      for (int x : (int[]) v) l.add(x);
      write(b, l);
    } else if (v instanceof Map) {
      b.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
        if (!first) b.append(',');
        first = false;
        write(b, String.valueOf(e.getKey()));
        b.append(':');
        write(b, e.getValue());
      }
      b.append('}');
    } else if (v instanceof List) {
      b.append('[');
      boolean first = true;
      for (Object x : (List<?>) v) {
        if (!first) b.append(',');
        first = false;
        write(b, x);
      }
      b.append(']');
    } else {
      String s = v.toString();
      b.append('"');
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        switch (c) {
          case '"': b.append("\\\""); break;
          case '\\': b.append("\\\\"); break;
          case '\n': b.append("\\n"); break;
          case '\r': b.append("\\r"); break;
          case '\t': b.append("\\t"); break;
          default:
            if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
      }
      b.append('"');
    }
  }

  static String hex(byte[] d) {
    StringBuilder b = new StringBuilder();
    for (byte x : d) b.append(String.format("%02x", x & 0xff));
    return b.toString();
  }

  static String sha256(byte[] d) throws Exception {
    return hex(MessageDigest.getInstance("SHA-256").digest(d));
  }

  // ---- recording ----------------------------------------------------------------------------

  static Map<String, Object> errorInfo(Throwable e) {
    Map<String, Object> m = new LinkedHashMap<>();
    if (e instanceof SQLException) {
      SQLException s = (SQLException) e;
      m.put("errno", s.getErrorCode());
      m.put("sqlstate", s.getSQLState());
    } else {
      m.put("errno", null);
      m.put("sqlstate", null);
    }
    m.put("message", e.getClass().getSimpleName() + ": " + e.getMessage());
    return m;
  }

  static Object step(String label, Body fn) {
    try {
      Object v = fn.run();
      steps.add(Arrays.asList(label, v));
      return v;
    } catch (Exception e) {
      steps.add(Arrays.asList(label, Map.of("error", errorInfo(e))));
      return null;
    }
  }

  static void note(String label, Object v) { steps.add(Arrays.asList(label, v)); }

  static void runCase(String name, Body fn) {
    steps = new ArrayList<>();
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("steps", steps);
    try {
      fn.run();
    } catch (Exception e) {
      r.put("fatal", errorInfo(e));
    }
    cases.put(name, r);
  }

  // ---- connections and statements -------------------------------------------------------

  static Connection connect(Map<String, String> o) throws SQLException {
    String host = o.getOrDefault("host", E.get("RW_HOST"));
    String port = o.getOrDefault("port", E.get("RW_PORT"));
    String url = "jdbc:mariadb://" + host + ":" + port + "/" + o.getOrDefault("db", E.get("RW_DB"))
        // useResetConnection (reset() sends COM_RESET_CONNECTION) must not be combined with server prepares.
        + (o.containsKey("reset") ? "?useResetConnection=true&useServerPrepStmts=false" : "?useServerPrepStmts=true")
        + "&connectTimeout=30000&socketTimeout=" + o.getOrDefault("socketTimeout", "20000")
        + (o.containsKey("compress") ? "&useCompression=true" : "");
    return DriverManager.getConnection(url, o.getOrDefault("user", E.get("RW_USER")),
        o.getOrDefault("password", E.get("RW_PASSWORD")));
  }

  static Connection connect() throws SQLException { return connect(Map.of()); }

  static Object withConn(Map<String, String> o, ConnBody fn) throws Exception {
    try (Connection c = connect(o)) {
      fn.run(c);
    }
    return null;
  }

  static Object withConn(ConnBody fn) throws Exception { return withConn(Map.of(), fn); }

  static List<Object> rows(ResultSet rs) throws SQLException {
    List<Object> out = new ArrayList<>();
    ResultSetMetaData md = rs.getMetaData();
    while (rs.next()) {
      Map<String, Object> row = new LinkedHashMap<>();
      for (int i = 1; i <= md.getColumnCount(); i++) {
        Object v = rs.getObject(i);
        if (v instanceof java.math.BigDecimal || v instanceof java.math.BigInteger || v instanceof java.util.Date)
          v = v.toString();
        row.put(md.getColumnLabel(i), v);
      }
      out.add(row);
    }
    return out;
  }

  /** Every result of a statement: result sets as rows, updates as {"affected": n}. */
  static Object results(Statement st, boolean isRs) throws SQLException {
    List<Object> sets = new ArrayList<>();
    while (true) {
      if (isRs) {
        try (ResultSet rs = st.getResultSet()) { sets.add(rows(rs)); }
      } else {
        int n = st.getUpdateCount();
        if (n == -1) break;
        sets.add(Map.of("affected", n));
      }
      isRs = st.getMoreResults();
    }
    return sets.size() == 1 ? sets.get(0) : sets;
  }

  static Object q(Connection c, String sql) {
    return step(sql, () -> {
      try (Statement st = c.createStatement()) { return results(st, st.execute(sql)); }
    });
  }

  static Object x(Connection c, String label, String sql, Object... params) {
    return step(label, () -> {
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        bind(ps, params);
        return results(ps, ps.execute());
      }
    });
  }

  /** The first row without its sid column, which is recorded as the step `@where`. */
  static Object whereRow(ResultSet rs) throws SQLException {
    @SuppressWarnings("unchecked")
    Map<String, Object> row = (Map<String, Object>) rows(rs).get(0);
    note("@where", row.remove("sid"));
    return row;
  }

  /** A SQLWarning chain as [error code, SQL state, message] triples. */
  static Object warnings(SQLWarning w) {
    List<Object> out = new ArrayList<>();
    for (; w != null; w = w.getNextWarning()) out.add(Arrays.asList(w.getErrorCode(), w.getSQLState(), w.getMessage()));
    return out;
  }

  static void bind(PreparedStatement ps, Object[] params) throws SQLException {
    for (int i = 0; i < params.length; i++) {
      Object p = params[i];
      if (p == null) ps.setNull(i + 1, Types.VARCHAR);
      else if (p instanceof byte[]) ps.setBytes(i + 1, (byte[]) p);
      else if (p instanceof Integer) ps.setInt(i + 1, (Integer) p);
      else if (p instanceof Double) ps.setDouble(i + 1, (Double) p);
      else ps.setString(i + 1, p.toString());
    }
  }

  static byte[] blobPayload(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) b[i] = (byte) (i % 251);
    return b;
  }

  // ---- the cases ------------------------------------------------------------------------------

  public static void main(String[] args) throws Exception {
    Set<String> only = new HashSet<>();
    for (String s : E.getOrDefault("RW_ONLY", "").split(",")) if (!s.isEmpty()) only.add(s);
    Map<String, Body> all = new LinkedHashMap<>();

    all.put("crud_utf8mb4", () -> withConn(c -> {
      step("read first", () -> {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT @@server_id")) {
          rs.next();
          return rs.getObject(1).getClass().getSimpleName();
        }
      });
      q(c, "CREATE TABLE crud (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) NOT NULL, n INT)");
      q(c, "INSERT INTO crud (name, n) VALUES ('héllo 😀', 1), ('𝄞 clef', 2), ('plain', 3)");
      q(c, "SELECT id, name, n FROM crud ORDER BY id");
      x(c, "prepared LIKE", "SELECT name, CHAR_LENGTH(name) AS cl, LENGTH(name) AS bl FROM crud WHERE name LIKE ?", "%😀%");
      q(c, "UPDATE crud SET name = CONCAT(name, ' 🚀'), n = n + 10 WHERE n >= 2");
      q(c, "SELECT id, name, n FROM crud ORDER BY id");
      q(c, "DELETE FROM crud WHERE n = 1");
      q(c, "SELECT COUNT(*) AS c FROM crud");
    }));

    all.put("transaction_commit_rollback", () -> withConn(c -> {
      q(c, "CREATE TABLE tx (id INT PRIMARY KEY, v VARCHAR(20))");
      q(c, "START TRANSACTION");
      q(c, "INSERT INTO tx VALUES (1, 'rolled back')");
      q(c, "SELECT COUNT(*) AS c FROM tx");
      q(c, "ROLLBACK");
      q(c, "SELECT COUNT(*) AS c FROM tx");
      q(c, "START TRANSACTION");
      q(c, "INSERT INTO tx VALUES (2, 'committed')");
      q(c, "SELECT @@in_transaction AS t");
      q(c, "COMMIT");
      q(c, "SELECT @@in_transaction AS t");
      q(c, "SELECT id, v FROM tx ORDER BY id");
    }));

    all.put("autocommit_off", () -> withConn(c -> {
      q(c, "CREATE TABLE ac (id INT PRIMARY KEY)");
      step("setAutoCommit(false)", () -> { c.setAutoCommit(false); return c.getAutoCommit(); });
      q(c, "INSERT INTO ac VALUES (1)");
      q(c, "SELECT COUNT(*) AS c FROM ac");
      step("rollback()", () -> { c.rollback(); return "ok"; });
      q(c, "SELECT COUNT(*) AS c FROM ac");
      q(c, "INSERT INTO ac VALUES (2)");
      step("commit()", () -> { c.commit(); return "ok"; });
      q(c, "SELECT @@autocommit AS a, @@in_transaction AS t");
      q(c, "SELECT id FROM ac");
      step("setAutoCommit(true)", () -> { c.setAutoCommit(true); return c.getAutoCommit(); });
    }));

    all.put("last_insert_id", () -> withConn(c -> {
      q(c, "CREATE TABLE li (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10)) AUTO_INCREMENT = 100");
      step("insert, getGeneratedKeys", () -> {
        try (Statement st = c.createStatement()) {
          st.executeUpdate("INSERT INTO li (v) VALUES ('a')", Statement.RETURN_GENERATED_KEYS);
          try (ResultSet rs = st.getGeneratedKeys()) { return rows(rs); }
        }
      });
      q(c, "SELECT LAST_INSERT_ID() AS id");
      q(c, "INSERT INTO li (v) VALUES ('b'), ('c')");
      q(c, "SELECT LAST_INSERT_ID() AS id");
      step("prepared insert, getGeneratedKeys", () -> {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO li (v) VALUES (?)", Statement.RETURN_GENERATED_KEYS)) {
          ps.setString(1, "d");
          ps.executeUpdate();
          try (ResultSet rs = ps.getGeneratedKeys()) { return rows(rs); }
        }
      });
      q(c, "SELECT LAST_INSERT_ID() AS id");
      q(c, "SELECT LAST_INSERT_ID(42) AS id");
      q(c, "SELECT LAST_INSERT_ID() AS id");
    }));

    all.put("temporary_table", () -> withConn(c -> {
      q(c, "CREATE TEMPORARY TABLE tmp (id INT, v VARCHAR(10))");
      q(c, "INSERT INTO tmp VALUES (1, 'x'), (2, 'y')");
      q(c, "SELECT id, v FROM tmp ORDER BY id");
      q(c, "SELECT COUNT(*) AS c FROM information_schema.schemata WHERE schema_name = DATABASE()");
      x(c, "prepared select", "SELECT v FROM tmp WHERE id = ?", 2);
      q(c, "DROP TEMPORARY TABLE tmp");
      q(c, "SELECT id FROM tmp");
    }));

    all.put("user_variables", () -> withConn(c -> {
      q(c, "SET @a = 'x😀', @b = 42");
      q(c, "SELECT @a AS a, @b AS b");
      q(c, "SELECT @b + 1 AS c");
      q(c, "SELECT @c := 5 AS c");
      q(c, "SELECT @c AS c, @never_set AS n");
      x(c, "prepared read of @a", "SELECT @a AS a, ? AS p", 1);
    }));

    all.put("prepared_null_binary", () -> withConn(c -> {
      byte[] bytes = new byte[256];
      for (int i = 0; i < 256; i++) bytes[i] = (byte) i;
      q(c, "CREATE TABLE ps (id INT PRIMARY KEY, s VARCHAR(40) NULL, b VARBINARY(300) NULL, d DOUBLE NULL, dt DATETIME(6) NULL)");
      String ins = "INSERT INTO ps VALUES (?, ?, ?, ?, ?)";
      x(c, "insert 1", ins, 1, "emoji 😀", bytes, 1.5, "2024-02-29 12:34:56.789");
      x(c, "insert 2 (nulls)", ins, 2, null, null, null, null);
      String sel = "SELECT id, s, b, HEX(b) AS h, d, CAST(dt AS CHAR) AS dt FROM ps WHERE id = ?";
      x(c, "select 1", sel, 1);
      x(c, "select 2", sel, 2);
      x(c, "null-safe compare", "SELECT COUNT(*) AS c FROM ps WHERE s <=> ?", (Object) null);
      x(c, "binary echo", "SELECT ? AS p, HEX(?) AS h", new byte[] {0, (byte) 255, 0}, new byte[] {0, (byte) 255, 0});
    }));

    all.put("prepared_per_database", () -> {
      // Fresh sessions, one after the other, alternating databases, each a read (for a replica).
      for (int i = 0; i < 16; i++) {
        final int n = i;
        withConn(Map.of("db", E.get(i % 2 == 0 ? "RW_DB" : "RW_DB2")), c -> {
          x(c, "session " + n, "SELECT v, DATABASE() AS d FROM pdb WHERE id = ?", 1);
        });
      }
      return null;
    });

    all.put("json_column", () -> withConn(c -> {
      q(c, "CREATE TABLE js (id INT PRIMARY KEY, doc JSON)");
      q(c, "INSERT INTO js VALUES (1, '{\"a\": 1, \"b\": [1, 2, \"😀\"], \"c\": {\"d\": null}}')");
      q(c, "SELECT id, doc FROM js");
      x(c, "prepared select", "SELECT id, doc FROM js WHERE id = ?", 1);
      step("column type name", () -> {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT doc FROM js")) {
          ResultSetMetaData md = rs.getMetaData();
          return Arrays.asList(md.getColumnTypeName(1), md.getColumnType(1), md.getColumnClassName(1));
        }
      });
      q(c, "SELECT JSON_EXTRACT(doc, '$.b[2]') AS e, JSON_VALUE(doc, '$.a') AS v FROM js");
      q(c, "UPDATE js SET doc = JSON_SET(doc, '$.a', 2)");
      q(c, "SELECT JSON_UNQUOTE(JSON_EXTRACT(doc, '$.a')) AS a FROM js");
      q(c, "SELECT JSON_OBJECT('k', 'v😀') AS o");
    }));

    all.put("stored_procedure", () -> withConn(c -> {
      q(c, "CREATE PROCEDURE sp(IN a INT, OUT b INT) BEGIN SELECT a AS first; SELECT a * 2 AS second, 'x😀' AS s; SET b = a * 10; END");
      q(c, "CALL sp(3, @out)");
      q(c, "SELECT @out AS o");
      step("CallableStatement {call sp(?, ?)} with OUT", () -> {
        try (CallableStatement cs = c.prepareCall("{call sp(?, ?)}")) {
          cs.setInt(1, 4);
          cs.registerOutParameter(2, Types.INTEGER);
          Object sets = results(cs, cs.execute());
          return Arrays.asList(sets, cs.getInt(2));
        }
      });
      q(c, "CREATE TABLE spt (id INT PRIMARY KEY)");
      q(c, "CREATE PROCEDURE spw(IN a INT) INSERT INTO spt VALUES (a)");
      q(c, "CALL spw(7)");
      q(c, "SELECT id FROM spt");
    }));

    all.put("large_blob", () -> withConn(c -> {
      byte[] payload = blobPayload(4 * 1024 * 1024);
      note("payload sha256", sha256(payload));
      q(c, "CREATE TABLE lob (id INT PRIMARY KEY, data LONGBLOB)");
      step("setBinaryStream insert", () -> {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO lob VALUES (1, ?)")) {
          ps.setBinaryStream(1, new ByteArrayInputStream(payload), payload.length);
          return ps.executeUpdate();
        }
      });
      x(c, "setBytes insert", "INSERT INTO lob VALUES (?, ?)", 2, payload);
      q(c, "SELECT id, LENGTH(data) AS len, SHA2(data, 256) AS sha FROM lob ORDER BY id");
      step("read back (binary)", () -> {
        try (PreparedStatement ps = c.prepareStatement("SELECT data FROM lob WHERE id = ?")) {
          ps.setInt(1, 1);
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            byte[] d = rs.getBytes(1);
            return Arrays.asList(d.length, sha256(d));
          }
        }
      });
      step("read back (text)", () -> {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT data FROM lob WHERE id = 2")) {
          rs.next();
          byte[] d = rs.getBytes(1);
          return Arrays.asList(d.length, sha256(d));
        }
      });
    }));

    all.put("switch_database", () -> withConn(c -> {
      q(c, "SELECT DATABASE() AS db");
      step("setCatalog(db2)", () -> { c.setCatalog(E.get("RW_DB2")); return c.getCatalog(); });
      q(c, "SELECT DATABASE() AS db");
      q(c, "CREATE TABLE sw (id INT)");
      q(c, "INSERT INTO sw VALUES (1)");
      q(c, "SELECT COUNT(*) AS c FROM sw");
      step("setCatalog(db)", () -> { c.setCatalog(E.get("RW_DB")); return c.getCatalog(); });
      q(c, "SELECT DATABASE() AS db");
      q(c, "SELECT COUNT(*) AS c FROM sw");
      q(c, "SELECT COUNT(*) AS c FROM `" + E.get("RW_DB2") + "`.sw");
    }));

    all.put("row_lock", () -> withConn(a -> withConn(b -> {
      q(a, "CREATE TABLE rl (id INT PRIMARY KEY, v INT)");
      q(a, "INSERT INTO rl VALUES (1, 0), (2, 0)");
      step("A setAutoCommit(false)", () -> { a.setAutoCommit(false); return "ok"; });
      q(a, "SELECT v FROM rl WHERE id = 1 FOR UPDATE");
      q(a, "SELECT trx_rows_locked AS n FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = CONNECTION_ID()");
      q(b, "SELECT v FROM rl WHERE id = 1 FOR UPDATE NOWAIT");
      q(b, "SELECT id FROM rl FOR UPDATE SKIP LOCKED");
      q(a, "UPDATE rl SET v = 1 WHERE id = 1");
      step("A commit()", () -> { a.commit(); a.setAutoCommit(true); return "ok"; });
      q(b, "SELECT v FROM rl WHERE id = 1 FOR UPDATE NOWAIT");
    })));

    all.put("get_lock", () -> withConn(a -> withConn(b -> {
      String n = "lock_" + E.get("RW_TAG");
      x(a, "A GET_LOCK", "SELECT GET_LOCK(?, 0) AS l", n);
      x(a, "A IS_USED_LOCK mine", "SELECT IS_USED_LOCK(?) = CONNECTION_ID() AS mine", n);
      x(b, "B GET_LOCK", "SELECT GET_LOCK(?, 0) AS l", n);
      x(b, "B IS_FREE_LOCK", "SELECT IS_FREE_LOCK(?) AS f", n);
      x(a, "A RELEASE_LOCK", "SELECT RELEASE_LOCK(?) AS r", n);
      x(b, "B GET_LOCK", "SELECT GET_LOCK(?, 0) AS l", n);
      x(b, "B RELEASE_LOCK", "SELECT RELEASE_LOCK(?) AS r", n);
      x(a, "A RELEASE_LOCK", "SELECT RELEASE_LOCK(?) AS r", n);
    })));

    all.put("batch_insert", () -> withConn(c -> {
      q(c, "CREATE TABLE bi (id INT PRIMARY KEY, v VARCHAR(20), b VARBINARY(10) NULL)");
      String ins = "INSERT INTO bi (id, v, b) VALUES (?, ?, ?)";
      step("executeBatch 100 rows", () -> {
        try (PreparedStatement ps = c.prepareStatement(ins)) {
          for (int i = 0; i < 100; i++) {
            ps.setInt(1, i);
            ps.setString(2, "row " + i + " 😀");
            if (i % 3 == 0) ps.setNull(3, Types.VARBINARY);
            else ps.setBytes(3, new byte[] {(byte) i});
            ps.addBatch();
          }
          return ps.executeBatch();
        }
      });
      q(c, "SELECT COUNT(*) AS n, SUM(id) AS s, COUNT(b) AS nb FROM bi");
      q(c, "SELECT id, v, b FROM bi WHERE id IN (1, 50, 99) ORDER BY id");
      step("executeBatch with a duplicate key", () -> {
        try (PreparedStatement ps = c.prepareStatement(ins)) {
          for (int id : new int[] {100, 1}) {
            ps.setInt(1, id);
            ps.setString(2, id == 1 ? "dup" : "new");
            ps.setNull(3, Types.VARBINARY);
            ps.addBatch();
          }
          try {
            return ps.executeBatch();
          } catch (BatchUpdateException e) {
            return Arrays.asList(errorInfo(e), e.getUpdateCounts());
          }
        }
      });
      q(c, "SELECT COUNT(*) AS n FROM bi");
    }));

    all.put("reset_connection", () -> withConn(Map.of("reset", "1"), c -> {
      q(c, "USE `" + E.get("RW_DB2") + "`");
      q(c, "SET @r = 1, SESSION lock_wait_timeout = 7");
      q(c, "CREATE TEMPORARY TABLE rt (i INT)");
      // Connector/J 2.7's reset(): COM_RESET_CONNECTION with useResetConnection on MariaDB 10.2.4+.
      step("reset()", () -> { c.unwrap(org.mariadb.jdbc.MariaDbConnection.class).reset(); return "ok"; });
      q(c, "SELECT @r AS r, @@lock_wait_timeout AS lwt, DATABASE() AS db, @@sql_mode AS m");
      q(c, "SELECT i FROM rt");
    }));

    all.put("connect_unlisted", () -> withConn(
        Map.of("user", E.get("RW_UNLISTED_USER"), "password", E.get("RW_UNLISTED_PASSWORD")), c -> {
          q(c, "SELECT CURRENT_USER() AS u, DATABASE() AS db");
          q(c, "CREATE TABLE cu (id INT)");
          q(c, "INSERT INTO cu VALUES (1)");
          q(c, "SELECT id FROM cu");
        }));

    all.put("compression", () -> withConn(
        Map.of("host", E.get("RW_COMPRESS_HOST"), "port", E.get("RW_COMPRESS_PORT"), "compress", "1",
            "socketTimeout", "5000"), c -> {
          step("big compressible result", () -> {
            try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT REPEAT('rwsplit ', 200000) AS big")) {
              rs.next();
              byte[] d = rs.getString(1).getBytes(StandardCharsets.UTF_8);
              return Arrays.asList(d.length, sha256(d));
            }
          });
          q(c, "CREATE TABLE cz (id INT PRIMARY KEY, t MEDIUMTEXT)");
          x(c, "prepared insert", "INSERT INTO cz VALUES (?, ?)", 1, "compress me ".repeat(10000));
          q(c, "SELECT id, LENGTH(t) AS len FROM cz");
        }));

    all.put("many_connections", () -> {
      withConn(c -> q(c, "CREATE TABLE mc (id INT PRIMARY KEY)"));
      int n = Integer.parseInt(E.get("RW_CONNS"));
      ExecutorService pool = Executors.newFixedThreadPool(n);
      List<Future<Object>> fs = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        final int id = i;
        fs.add(pool.submit(() -> {
          try (Connection c = connect(); PreparedStatement ins = c.prepareStatement("INSERT INTO mc VALUES (?)");
              PreparedStatement sel = c.prepareStatement("SELECT COUNT(*) FROM mc WHERE id = ?")) {
            ins.setInt(1, id);
            ins.executeUpdate();
            sel.setInt(1, id);
            try (ResultSet rs = sel.executeQuery()) {
              rs.next();
              return (Object) rs.getLong(1);
            }
          } catch (SQLException e) {
            return "error " + e.getErrorCode();
          }
        }));
      }
      List<Object> out = new ArrayList<>();
      for (Future<Object> f : fs) out.add(f.get());
      note("per connection", out);
      // Then as many connections that only read: what spreads over the replicas.
      List<Future<Object>> rs = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        rs.add(pool.submit(() -> {
          try (Connection c = connect(); Statement st = c.createStatement();
              ResultSet r = st.executeQuery("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = DATABASE()")) {
            r.next();
            return (Object) r.getLong(1);
          } catch (SQLException e) {
            return "error " + e.getErrorCode();
          }
        }));
      }
      List<Object> readers = new ArrayList<>();
      for (Future<Object> f : rs) readers.add(f.get());
      pool.shutdown();
      note("readers", readers);
      return null;
    });

    all.put("session_settings", () -> withConn(c -> {
      q(c, "SET @@sql_mode = 'ANSI_QUOTES'");
      q(c, "SELECT @@sql_mode AS m");
      q(c, "SELECT \"id\" FROM (SELECT 1 AS id) t");
      q(c, "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_520_nopad_ci");
      q(c, "SELECT 'a' = 'a ' AS eq, @@collation_connection AS c");
      q(c, "SET time_zone = '+05:00'");
      q(c, "SELECT @@time_zone AS tz, CAST(FROM_UNIXTIME(0) AS CHAR) AS t");
      q(c, "SELECT @@session_track_state_change AS s, @@session_track_system_variables AS v");
    }));

    // Statement.getWarnings(): Connector/J sends SHOW WARNINGS when the statement's OK or EOF
    // packet counted some, and hands the application a SQLWarning chain.
    all.put("warnings", () -> withConn(c -> {
      for (String sql : new String[] {"SELECT 'a' + 1 AS x, @@server_id AS sid",
          "SELECT CAST('x' AS SIGNED) AS n, @@server_id AS sid FROM pdb"}) {
        try (Statement st = c.createStatement()) {
          step(sql, () -> {
            try (ResultSet rs = st.executeQuery(sql)) { return whereRow(rs); }
          });
          step("getWarnings()", () -> warnings(st.getWarnings()));
        }
        q(c, "SELECT @@warning_count AS w");
      }
      try (PreparedStatement ps = c.prepareStatement("SELECT ? + 1 AS x, @@server_id AS sid")) {
        step("prepared ? + 1", () -> {
          ps.setString(1, "q");
          try (ResultSet rs = ps.executeQuery()) { return whereRow(rs); }
        });
        step("getWarnings()", () -> warnings(ps.getWarnings()));
      }
      q(c, "SELECT @@warning_count AS w");
      // The server keeps the warnings list through a statement without a table.
      step("SELECT 'b' + 1", () -> {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT 'b' + 1 AS x, @@server_id AS sid")) {
          return whereRow(rs);
        }
      });
      q(c, "SELECT 1 AS one");
      q(c, "SHOW WARNINGS");
      q(c, "SELECT @@warning_count AS w");
      q(c, "CREATE TABLE wn (id INT PRIMARY KEY)");
      q(c, "INSERT INTO wn VALUES (1)");
      try (Statement st = c.createStatement()) {
        step("INSERT IGNORE", () -> st.executeUpdate("INSERT IGNORE INTO wn VALUES (1)"));
        step("getWarnings()", () -> warnings(st.getWarnings()));
      }
      q(c, "SELECT ROW_COUNT() AS rc");
      q(c, "INSERT IGNORE INTO wn VALUES (1), (2)");
      q(c, "SELECT ROW_COUNT() AS rc");
      q(c, "SELECT @@warning_count AS w");
      q(c, "SHOW WARNINGS");
      q(c, "SELECT * FROM nosuch_table");
      q(c, "SHOW ERRORS");
      q(c, "SELECT @@error_count AS e, @@warning_count AS w");
    }));

    for (Map.Entry<String, Body> e : all.entrySet()) {
      if (only.isEmpty() || only.contains(e.getKey())) runCase(e.getKey(), e.getValue());
    }
    Map<String, Object> out = new LinkedHashMap<>();
    DatabaseMetaData md;
    String version;
    try (Connection c = connect()) {
      version = c.getMetaData().getDriverName() + " " + c.getMetaData().getDriverVersion();
    } catch (SQLException e) {
      version = "MariaDB Connector/J (version unknown: " + e.getMessage() + ")";
    }
    out.put("driver", version);
    out.put("cases", cases);
    PrintStream ps = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    ps.print(json(out));
    ps.flush();
  }
}
