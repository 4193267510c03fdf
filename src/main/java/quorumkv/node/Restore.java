package quorumkv.node;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import quorumkv.config.Settings;
import quorumkv.replication.FollowerActor;
import quorumkv.storage.ActorSystemSetups;
import quorumkv.storage.BackupFile;
import quorumkv.storage.KeyValue;
import quorumkv.storage.SqliteStore;

/**
 * Seeds a node's replica from a backup before the node starts ({@code RESTORE_FROM}), only when
 * its data directory holds no replica yet.
 *
 * <p>The whole file is checked first ({@link BackupFile#verify}: header, order, count, digest);
 * a bad file stops here with nothing written. Then, in a local ActorSystem of its own (no cluster,
 * no HTTP: no leader can reach a half-seeded replica), the node's own replica is given the backup
 * as a full state transfer at the backup's index — the same {@code InstallState} chunks a leader
 * sends a replica that is too far behind, at term 0 — and snapshots it with the last chunk. All
 * of this goes to a SQLite file in {@code restoring/}, moved to {@code replica.db} only once the
 * snapshot is written: a restore cut off half way leaves no replica, and the next start restores
 * again. Every node seeded from the same file then holds the same state at the same index; the
 * elected leader's log continues after it.
 */
public final class Restore {
  /** The file beside replica.db that says which backup the replica was restored from. */
  public static final String MARKER = "restored-from.json";
  private static final String WORK_DIR = "restoring";
  private static final Duration CHUNK_TIMEOUT = Duration.ofMinutes(2);
  /** The last chunk is answered once the snapshot of the whole state is written. */
  private static final Duration SNAPSHOT_TIMEOUT = Duration.ofMinutes(10);

  /** Why a restore did not happen; the node must not start. */
  public static final class RestoreFailed extends Exception {
    private static final long serialVersionUID = 1L;
    private final boolean badBackup;

    RestoreFailed(String message, boolean badBackup, Throwable cause) {
      super(message, cause);
      this.badBackup = badBackup;
    }

    /** The file itself is unusable (as opposed to the disk or the journal failing). */
    public boolean badBackup() {
      return badBackup;
    }
  }

  private static final Logger log = LoggerFactory.getLogger(Restore.class);

  private final Settings settings;
  private final Config unresolvedConfig;

  /**
   * {@code unresolvedConfig}: the node's configuration before substitutions are resolved, so that
   * the journal's JDBC URL follows the data directory the restore works in.
   */
  public Restore(Settings settings, Config unresolvedConfig) {
    this.settings = settings;
    this.unresolvedConfig = unresolvedConfig;
  }

  /** The node's configuration before resolution, as {@code ConfigFactory.load()} reads it. */
  public static Config unresolvedNodeConfig() {
    return ConfigFactory.defaultOverrides()
        .withFallback(ConfigFactory.defaultApplication())
        .withFallback(ConfigFactory.defaultReference());
  }

  /**
   * Restores {@code settings.restoreFrom()} into the data directory if it is set and the directory
   * holds no replica; returns whether it did.
   */
  public boolean runIfRequested() throws RestoreFailed {
    if (settings.restoreFrom().isEmpty()) {
      return false;
    }
    Path backup = settings.restoreFrom().get();
    Path dataDir = settings.dataDir();
    String held;
    try {
      held = existingReplica(dataDir);
    } catch (SQLException e) {
      throw new RestoreFailed("cannot tell whether " + dataDir.resolve(SqliteStore.FILE_NAME)
          + " holds a replica, so RESTORE_FROM=" + backup + " is not applied: " + e.getMessage(), false, e);
    }
    if (held != null) {
      log.warn("RESTORE_FROM=" + backup + " ignored: " + held + ". A restore never overwrites data: to restore, "
          + "start the node with an empty data directory");
      return false;
    }
    BackupFile.Header header;
    long started = System.nanoTime();
    try {
      log.info("Checking backup " + backup + " before restoring it into " + dataDir);
      header = BackupFile.verify(backup);
    } catch (BackupFile.InvalidBackup e) {
      throw new RestoreFailed("not restoring: " + e.getMessage(), true, e);
    } catch (IOException e) {
      throw new RestoreFailed("not restoring: cannot read " + backup + ": " + e, true, e);
    }
    log.info(String.format("Backup %s is sound: %d keys at index %d, digest %s (checked in %d ms)",
        backup, header.keys(), header.index(), header.digest(), (System.nanoTime() - started) / 1_000_000));
    try {
      seed(backup, header, dataDir);
    } catch (IOException | SQLException | IllegalStateException e) {
      throw new RestoreFailed("restore of " + backup + " failed; nothing was put in " + dataDir + ": " + e, false, e);
    } catch (BackupFile.InvalidBackup e) {
      throw new RestoreFailed("restore of " + backup + " failed (the file changed while it was read?); nothing was "
          + "put in " + dataDir + ": " + e.getMessage(), true, e);
    }
    log.info(String.format("Restored %d keys at index %d (digest %s) into %s in %d ms",
        header.keys(), header.index(), header.digest(), dataDir, (System.nanoTime() - started) / 1_000_000));
    return true;
  }

  /**
   * Why the data directory's replica counts as existing (a description), or null when there is
   * none: no replica.db, or one with neither events nor snapshots (what a node that never
   * received anything leaves).
   */
  static String existingReplica(Path dataDir) throws SQLException {
    Path file = dataDir.resolve(SqliteStore.FILE_NAME);
    if (!Files.exists(file)) {
      return null;
    }
    long events = 0;
    long snapshots = 0;
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file);
        Statement s = c.createStatement()) {
      events = count(s, "event_journal");
      snapshots = count(s, "snapshot");
    }
    if (events == 0 && snapshots == 0) {
      return null;
    }
    Path marker = dataDir.resolve(MARKER);
    String origin = "";
    if (Files.isReadable(marker)) {
      try {
        origin = " (restored earlier: " + Files.readString(marker, StandardCharsets.UTF_8).strip() + ")";
      } catch (IOException e) {
        origin = "";
      }
    }
    return file + " already holds this node's replica (" + events + " journal events, " + snapshots + " snapshots)"
        + origin;
  }

  private static long count(Statement s, String table) throws SQLException {
    try (ResultSet tables = s.executeQuery("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='" + table + "'")) {
      if (!tables.next() || tables.getLong(1) == 0) {
        return 0;
      }
    }
    try (ResultSet rows = s.executeQuery("SELECT count(*) FROM " + table)) {
      return rows.next() ? rows.getLong(1) : 0;
    }
  }

  private void seed(Path backup, BackupFile.Header header, Path dataDir)
      throws IOException, SQLException, BackupFile.InvalidBackup {
    Path work = dataDir.resolve(WORK_DIR);
    deleteRecursively(work); // what a restore cut off earlier left
    SqliteStore.prepare(work);
    if (header.index() > 0) {
      install(backup, header, work);
    }
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + work.resolve(SqliteStore.FILE_NAME));
        Statement s = c.createStatement()) {
      // Everything into the database file itself, so that the file alone is the replica.
      s.execute("PRAGMA wal_checkpoint(TRUNCATE)");
    }
    Path target = dataDir.resolve(SqliteStore.FILE_NAME);
    for (String suffix : List.of("-wal", "-shm", "")) {
      Files.deleteIfExists(dataDir.resolve(SqliteStore.FILE_NAME + suffix)); // an empty replica.db only
    }
    Files.move(work.resolve(SqliteStore.FILE_NAME), target, StandardCopyOption.ATOMIC_MOVE);
    String marker = String.format("{\"file\":\"%s\",\"index\":%d,\"keys\":%d,\"digest\":\"%s\",\"at\":\"%s\"}%n",
        backup.toString().replace("\\", "\\\\").replace("\"", "\\\""), header.index(), header.keys(), header.digest(),
        Instant.now());
    Files.writeString(dataDir.resolve(MARKER), marker, StandardCharsets.UTF_8);
    deleteRecursively(work);
  }

  /** Installs the backup into the replica of this node over the SQLite file in {@code work}. */
  private void install(Path backup, BackupFile.Header header, Path work)
      throws IOException, BackupFile.InvalidBackup {
    Config local = ConfigFactory.empty()
        .withValue("quorumkv.data-dir", ConfigValueFactory.fromAnyRef(work.toString()))
        .withValue("akka.actor.provider", ConfigValueFactory.fromAnyRef("local"))
        .withFallback(unresolvedConfig)
        .resolve();
    Settings.Replication r = settings.replication();
    // The replica is the guardian of a system of its own: nothing else runs there.
    ActorSystem<FollowerActor.Command> replica = ActorSystem.create(
        FollowerActor.create(settings.nodeId(), settings.snapshotEvery(), r.retainedEntries()),
        "quorumkv-restore", ActorSystemSetups.of(local));
    try {
      int[] chunk = {0};
      long[] sent = {0};
      BackupFile.read(backup, r.stateTransferChunk(), pairs -> {
        sent[0] += pairs.size();
        send(replica, header, chunk[0]++, sent[0], pairs);
      });
      if (header.keys() == 0) {
        send(replica, header, 0, 0, List.of());
      }
    } finally {
      replica.terminate();
      try {
        replica.getWhenTerminated().toCompletableFuture().get(1, TimeUnit.MINUTES);
      } catch (Exception e) {
        log.warn("The restore's actor system did not stop cleanly: " + e);
      }
    }
  }

  /**
   * Sends one chunk and waits until the replica has persisted it (its position answers once the
   * chunk's event is in the journal, and counts the keys installed so far), so that the file is
   * never read faster than it is written and a replica that restarted half way is noticed.
   */
  private void send(ActorSystem<FollowerActor.Command> replica, BackupFile.Header header, int chunk, long sent,
      List<KeyValue> pairs) {
    boolean last = sent == header.keys();
    try {
      if (last) {
        FollowerActor.ReplicateReply reply = AskPattern.<FollowerActor.Command, FollowerActor.ReplicateReply>ask(replica,
            replyTo -> new FollowerActor.InstallState(0, header.index(), 0, chunk, true, pairs, replyTo),
            SNAPSHOT_TIMEOUT, replica.scheduler()).toCompletableFuture().join();
        if (!(reply instanceof FollowerActor.Acked acked) || acked.matchIndex() != header.index()) {
          throw new IllegalStateException("the replica answered " + reply + " to the last chunk of the backup");
        }
      } else {
        replica.tell(new FollowerActor.InstallState(0, header.index(), 0, chunk, false, pairs, replica.ignoreRef()));
      }
      FollowerActor.Position p = AskPattern.<FollowerActor.Command, FollowerActor.Position>ask(replica,
          FollowerActor.GetPosition::new, CHUNK_TIMEOUT, replica.scheduler()).toCompletableFuture().join();
      if (p.keyCount() != sent || (last && (p.appliedIndex() != header.index() || !p.digest().equals(header.digest())))) {
        throw new IllegalStateException("the replica holds " + p.keyCount() + " keys at index " + p.appliedIndex()
            + " with digest " + p.digest() + " after " + sent + " keys of the backup were sent (did it restart?)");
      }
      if (chunk % 100 == 99) {
        log.info("Restoring: " + sent + " of " + header.keys() + " keys installed");
      }
    } catch (CompletionException e) {
      throw new IllegalStateException("the replica did not take chunk " + chunk + " of the backup: " + e.getCause(), e);
    }
  }

  private static void deleteRecursively(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (var paths = Files.walk(dir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.delete(p);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }
}
