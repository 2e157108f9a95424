// Issue #19's report, replayed with MariaDB Connector/J (Debian libmariadb-java, 2.7) as a
// single source file:
//
//   java -cp /usr/share/java/mariadb-java-client.jar RelayStall.java HOST PORT USER PASSWORD DB RUNS [SOCKET_TIMEOUT_MS]
//
// Each run, on a fresh connection (useServerPrepStmts=true, socketTimeout 30 s unless told):
// a few dozen ordinary statements that pin the session to one backend connection (a user
// variable, a temporary table: the state /sessions showed during the stall), then a 4 MiB BLOB
// inserted with a prepared statement and read back, then the text query
// SELECT seq, REPEAT('x', 100) FROM seq_1_to_20000. Before the fix, that last result sometimes
// never came: the client waited its whole socket timeout ("Read timed out"). Every run prints one
// line; the last line is RESULT {json}: runs, ok, stalls (socket timeouts), errors (anything
// else, e.g. wrong data), and run times.

import java.net.SocketTimeoutException;
import java.sql.*;
import java.util.*;

public class RelayStall {
  static final int BLOB_BYTES = 4 << 20;
  static final int ROWS = 20_000;

  public static void main(String[] args) throws Exception {
    String host = args[0];
    int port = Integer.parseInt(args[1]);
    String user = args[2];
    String password = args[3];
    String db = args[4];
    int runs = Integer.parseInt(args[5]);
    int socketTimeoutMs = args.length > 6 ? Integer.parseInt(args[6]) : 30_000;
    String url = "jdbc:mariadb://" + host + ":" + port + "/" + db
        + "?useServerPrepStmts=true&socketTimeout=" + socketTimeoutMs;

    try (Connection c = DriverManager.getConnection(url, user, password); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE IF NOT EXISTS relay_blobs (id INT AUTO_INCREMENT PRIMARY KEY, run INT, b LONGBLOB)");
    }

    int ok = 0, stalls = 0, errors = 0;
    List<Long> times = new ArrayList<>();
    List<String> failures = new ArrayList<>();
    for (int run = 1; run <= runs; run++) {
      long t0 = System.nanoTime();
      String[] stage = {"connect"};
      try {
        once(url, user, password, run, stage);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        times.add(ms);
        ok++;
        System.out.println("run " + run + ": ok in " + ms + " ms");
      } catch (Exception e) {
        long ms = (System.nanoTime() - t0) / 1_000_000;
        boolean timedOut = false;
        for (Throwable t = e; t != null; t = t.getCause()) {
          if (t instanceof SocketTimeoutException || t instanceof SQLTimeoutException
              || String.valueOf(t.getMessage()).contains("timed out")) {
            timedOut = true;
          }
        }
        if (timedOut) stalls++;
        else errors++;
        String what = "run " + run + ": " + (timedOut ? "STALL" : "ERROR") + " at " + stage[0] + " after " + ms
            + " ms: " + e;
        failures.add(what);
        System.out.println(what);
      }
      System.out.flush();
    }
    Collections.sort(times);
    long median = times.isEmpty() ? -1 : times.get(times.size() / 2);
    long max = times.isEmpty() ? -1 : times.get(times.size() - 1);
    StringBuilder f = new StringBuilder("[");
    for (String x : failures) {
      if (f.length() > 1) f.append(',');
      f.append('"').append(x.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", " ")).append('"');
    }
    f.append(']');
    System.out.println("RESULT {\"runs\":" + runs + ",\"ok\":" + ok + ",\"stalls\":" + stalls + ",\"errors\":" + errors
        + ",\"medianMs\":" + median + ",\"maxMs\":" + max + ",\"socketTimeoutMs\":" + socketTimeoutMs
        + ",\"failures\":" + f + "}");
  }

  /** One run, on its own connection; `stage[0]` says where it is, for the failure line. */
  static void once(String url, String user, String password, int run, String[] stage) throws Exception {
    try (Connection c = DriverManager.getConnection(url, user, password)) {
      stage[0] = "ordinary statements";
      try (Statement s = c.createStatement()) {
        s.execute("SET @run = " + run);
        s.execute("CREATE TEMPORARY TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64), qty INT)");
      }
      try (PreparedStatement ins = c.prepareStatement("INSERT INTO items (name, qty) VALUES (?, ?)")) {
        for (int i = 0; i < 12; i++) {
          ins.setString(1, "item " + i);
          ins.setInt(2, i * run);
          ins.executeUpdate();
        }
      }
      try (PreparedStatement sel = c.prepareStatement("SELECT id, name, qty FROM items WHERE id = ?")) {
        for (int i = 1; i <= 8; i++) {
          sel.setInt(1, i);
          try (ResultSet rs = sel.executeQuery()) {
            if (!rs.next() || rs.getInt(3) != (i - 1) * run) throw new IllegalStateException("item " + i + " wrong");
          }
        }
      }
      try (Statement s = c.createStatement()) {
        s.executeUpdate("UPDATE items SET qty = qty + 1 WHERE id <= 4");
        s.executeUpdate("DELETE FROM items WHERE id > 10");
        expectLong(s, "SELECT COUNT(*) FROM items", 10);
        expectLong(s, "SELECT @run", run);
        expectLong(s, "SELECT SUM(qty) FROM items", 45L * run + 4);
        expectLong(s, "SELECT COUNT(*) FROM seq_1_to_100", 100);
        try (ResultSet rs = s.executeQuery("SELECT name FROM items ORDER BY id")) {
          int n = 0;
          while (rs.next()) n++;
          if (n != 10) throw new IllegalStateException(n + " items");
        }
      }

      stage[0] = "4 MiB BLOB insert (prepared)";
      byte[] blob = new byte[BLOB_BYTES];
      new Random(run).nextBytes(blob);
      long id;
      try (PreparedStatement ins = c.prepareStatement("INSERT INTO relay_blobs (run, b) VALUES (?, ?)",
          Statement.RETURN_GENERATED_KEYS)) {
        ins.setInt(1, run);
        ins.setBytes(2, blob);
        ins.executeUpdate();
        try (ResultSet keys = ins.getGeneratedKeys()) {
          keys.next();
          id = keys.getLong(1);
        }
      }

      stage[0] = "4 MiB BLOB read back (prepared)";
      try (PreparedStatement sel = c.prepareStatement("SELECT b FROM relay_blobs WHERE id = ?")) {
        sel.setLong(1, id);
        try (ResultSet rs = sel.executeQuery()) {
          if (!rs.next() || !Arrays.equals(rs.getBytes(1), blob)) throw new IllegalStateException("BLOB differs");
        }
      }

      stage[0] = "SELECT seq, REPEAT('x', 100) FROM seq_1_to_20000";
      try (Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("SELECT seq, REPEAT('x', 100) FROM seq_1_to_20000")) {
        int n = 0;
        while (rs.next()) {
          n++;
          if (rs.getInt(1) != n || rs.getString(2).length() != 100) throw new IllegalStateException("row " + n);
        }
        if (n != ROWS) throw new IllegalStateException(n + " rows");
      }

      stage[0] = "clean up";
      try (PreparedStatement del = c.prepareStatement("DELETE FROM relay_blobs WHERE id = ?")) {
        del.setLong(1, id);
        del.executeUpdate();
      }
    }
  }

  static void expectLong(Statement s, String sql, long want) throws SQLException {
    try (ResultSet rs = s.executeQuery(sql)) {
      if (!rs.next() || rs.getLong(1) != want) throw new IllegalStateException(sql + ": not " + want);
    }
  }
}
