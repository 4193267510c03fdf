package quorumkv.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Prepares a node's SQLite file for akka-persistence-jdbc before the ActorSystem starts: the
 * plugin ships no SQLite schema, and its SchemaUtils rejects the SQLite profile. The tables are
 * the plugin's Postgres schema adapted to SQLite: AUTOINCREMENT needs an INTEGER PRIMARY KEY, so
 * {@code ordering} is the key and (persistence_id, sequence_number) a unique index.
 */
public final class SqliteStore {
  public static final String FILE_NAME = "replica.db";

  private static final String[] SCHEMA = {
    """
    CREATE TABLE IF NOT EXISTS event_journal (
      ordering INTEGER PRIMARY KEY AUTOINCREMENT,
      persistence_id VARCHAR(255) NOT NULL,
      sequence_number BIGINT NOT NULL,
      deleted BOOLEAN DEFAULT FALSE NOT NULL,
      writer VARCHAR(255) NOT NULL,
      write_timestamp BIGINT,
      adapter_manifest VARCHAR(255),
      event_ser_id INTEGER NOT NULL,
      event_ser_manifest VARCHAR(255) NOT NULL,
      event_payload BLOB NOT NULL,
      meta_ser_id INTEGER,
      meta_ser_manifest VARCHAR(255),
      meta_payload BLOB)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS event_journal_pid_seq_idx ON event_journal(persistence_id, sequence_number)",
    """
    CREATE TABLE IF NOT EXISTS event_tag (
      event_id BIGINT NOT NULL,
      tag VARCHAR(256) NOT NULL,
      PRIMARY KEY (event_id, tag),
      FOREIGN KEY (event_id) REFERENCES event_journal(ordering) ON DELETE CASCADE)""",
    """
    CREATE TABLE IF NOT EXISTS snapshot (
      persistence_id VARCHAR(255) NOT NULL,
      sequence_number BIGINT NOT NULL,
      created BIGINT NOT NULL,
      snapshot_ser_id INTEGER NOT NULL,
      snapshot_ser_manifest VARCHAR(255) NOT NULL,
      snapshot_payload BLOB NOT NULL,
      meta_ser_id INTEGER,
      meta_ser_manifest VARCHAR(255),
      meta_payload BLOB,
      PRIMARY KEY (persistence_id, sequence_number))"""
  };

  private SqliteStore() {}

  /** Creates the directory, the file, WAL mode (persistent in the file) and the tables. */
  public static Path prepare(Path dataDir) throws IOException, SQLException {
    Files.createDirectories(dataDir);
    Path file = dataDir.resolve(FILE_NAME);
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file);
        Statement s = c.createStatement()) {
      s.execute("PRAGMA journal_mode=WAL");
      for (String ddl : SCHEMA) {
        s.execute(ddl);
      }
    }
    return file;
  }
}
