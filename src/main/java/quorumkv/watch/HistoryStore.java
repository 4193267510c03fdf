package quorumkv.watch;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import quorumkv.storage.EntryChanges;
import quorumkv.storage.KeyChange;

/**
 * The watch history on disk: its own SQLite file with its own connection (SQLite has one writer
 * per file, and the replica's file belongs to akka-persistence-jdbc). One row per log entry that
 * changed keys, and two numbers: {@code floor} (every change after it is kept) and
 * {@code through} (the applied index the rows are complete up to). Each {@link #write} is one
 * transaction, so rows and {@code through} move together.
 *
 * <p>{@code synchronous=NORMAL}: a commit survives a process crash (kill -9); a power loss can
 * take the last commits back, and then {@link WatchHistory} sees {@code through} behind the
 * replica's snapshot at recovery and raises the floor there: a resume from before it gets 410,
 * never a silent gap.
 */
final class HistoryStore implements AutoCloseable {
  private static final TypeReference<List<KeyChange>> CHANGES = new TypeReference<>() {};

  record Loaded(long floor, long through, List<EntryChanges> entries) {}

  private final ObjectMapper mapper = new ObjectMapper()
      .configure(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
  private final Connection connection;
  private final PreparedStatement insert;
  private final PreparedStatement setMeta;
  private final PreparedStatement deleteUpTo;

  HistoryStore(Path file) throws SQLException {
    connection = DriverManager.getConnection("jdbc:sqlite:" + file);
    try (Statement s = connection.createStatement()) {
      s.execute("PRAGMA journal_mode=WAL");
      s.execute("PRAGMA synchronous=NORMAL");
      s.execute("PRAGMA busy_timeout=10000");
      s.execute("CREATE TABLE IF NOT EXISTS watch_change (version INTEGER PRIMARY KEY, changes TEXT NOT NULL)");
      s.execute("CREATE TABLE IF NOT EXISTS watch_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)");
    }
    connection.setAutoCommit(false);
    insert = connection.prepareStatement("INSERT OR REPLACE INTO watch_change (version, changes) VALUES (?, ?)");
    setMeta = connection.prepareStatement("INSERT OR REPLACE INTO watch_meta (name, value) VALUES (?, ?)");
    deleteUpTo = connection.prepareStatement("DELETE FROM watch_change WHERE version <= ?");
  }

  Loaded load() throws SQLException {
    long floor = 0;
    long through = 0;
    List<EntryChanges> entries = new ArrayList<>();
    try (Statement s = connection.createStatement()) {
      try (ResultSet rs = s.executeQuery("SELECT name, value FROM watch_meta")) {
        while (rs.next()) {
          if (rs.getString(1).equals("floor")) {
            floor = rs.getLong(2);
          } else if (rs.getString(1).equals("through")) {
            through = rs.getLong(2);
          }
        }
      }
      try (ResultSet rs = s.executeQuery("SELECT version, changes FROM watch_change ORDER BY version")) {
        while (rs.next()) {
          entries.add(new EntryChanges(rs.getLong(1), mapper.readValue(rs.getString(2), CHANGES)));
        }
      } catch (JsonProcessingException e) {
        throw new SQLException("unreadable watch history row: " + e.getOriginalMessage(), e);
      }
    }
    connection.commit();
    return new Loaded(floor, through, entries);
  }

  /** Adds {@code added}, drops every row at or below {@code floor}, and records both numbers, atomically. */
  void write(List<EntryChanges> added, long floor, boolean floorMoved, long through) throws SQLException {
    try {
      if (floorMoved) {
        deleteUpTo.setLong(1, floor);
        deleteUpTo.executeUpdate();
        meta("floor", floor);
      }
      for (EntryChanges e : added) {
        if (e.version() > floor) {
          insert.setLong(1, e.version());
          insert.setString(2, mapper.writeValueAsString(e.changes()));
          insert.addBatch();
        }
      }
      if (!added.isEmpty()) {
        insert.executeBatch();
      }
      meta("through", through);
      connection.commit();
    } catch (SQLException | JsonProcessingException | RuntimeException e) {
      connection.rollback();
      throw e instanceof SQLException sql ? sql : new SQLException("writing the watch history failed", e);
    }
  }

  private void meta(String name, long value) throws SQLException {
    setMeta.setString(1, name);
    setMeta.setLong(2, value);
    setMeta.executeUpdate();
  }

  @Override
  public void close() throws SQLException {
    connection.close();
  }
}
