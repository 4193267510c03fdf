package quorumkv.tools;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Types;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import quorumkv.harness.FileTrees;
import quorumkv.node.Restore;
import quorumkv.storage.SqliteStore;

/**
 * SQLite's part of a journal write with nothing else around it: the insert a node's journal makes
 * for each write (the same table, made by {@link SqliteStore#prepare}, the same JDBC URL and
 * settings from application.conf: WAL, {@code synchronous} as configured, so an fsync per commit),
 * timed in a loop on this disk. With {@code --replicas 6} six files are written at once, one thread
 * each, as six nodes on one machine do. Compare with {@code quorumkv_journal_insert_seconds} (the
 * same insert inside a running node) and {@code quorumkv_replica_persist_seconds} (the whole
 * journal write as the replica sees it): docs/performance-log.md, "Where a journal write's time goes".
 *
 * <p>Usage: {@code java -cp tools/target/quorumkv-tools.jar quorumkv.tools.JournalInsertBench
 * [--replicas 6] [--writes 3000] [--payload-bytes 1500]}. The files go to a temp directory under
 * {@code --dir} (default: the working directory, which is where {@code ./kv} keeps its data), removed
 * afterwards.
 */
@Command(name = "JournalInsertBench", mixinStandardHelpOptions = true, versionProvider = ToolCommandLine.Version.class,
    sortOptions = false, usageHelpAutoWidth = true,
    description = {"Times the journal's SQLite insert and commit (fsync included) alone, on this disk, in one or "
        + "several replica files written at once.",
        "Run as: java -cp tools/target/quorumkv-tools.jar quorumkv.tools.JournalInsertBench [options]"},
    footer = "Exits 0 after the report, 1 when a write fails, 2 on bad options.")
public final class JournalInsertBench implements Callable<Integer> {
  /** The columns the journal's insert sets (quorumkv.storage.DirectJournalDao), in its order. */
  private static final String INSERT = "INSERT INTO event_journal (deleted, persistence_id, sequence_number, writer, "
      + "write_timestamp, adapter_manifest, event_payload, event_ser_id, event_ser_manifest, meta_payload, "
      + "meta_ser_id, meta_ser_manifest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

  @Option(names = "--replicas", paramLabel = "N", description = "Replica files written at once, one thread each (default: ${DEFAULT-VALUE}).")
  int replicas = 6;

  @Option(names = "--writes", paramLabel = "N", description = "Journal writes per replica (default: ${DEFAULT-VALUE}).")
  int writes = 3000;

  @Option(names = "--payload-bytes", paramLabel = "B",
      description = "Bytes of each event (a journal write of one entry of ~100 bytes is ~200; ten entries ~1,500) (default: ${DEFAULT-VALUE}).")
  int payloadBytes = 1500;

  @Option(names = "--dir", paramLabel = "DIR", description = "Where the temporary files go (default: the working directory).")
  Path dir = Path.of(".");

  public static void main(String[] args) {
    ToolCommandLine.exit(new JournalInsertBench(), args);
  }

  @Override
  public Integer call() throws Exception {
    if (replicas < 1 || writes < 10 || payloadBytes < 1) {
      System.err.println("JournalInsertBench: need --replicas >= 1, --writes >= 10, --payload-bytes >= 1");
      return 2;
    }
    Path root = Files.createTempDirectory(dir.toAbsolutePath().normalize(), "journal-insert-bench");
    try {
      long[][] times = new long[replicas][];
      List<Thread> threads = new ArrayList<>();
      CountDownLatch ready = new CountDownLatch(replicas);
      CountDownLatch go = new CountDownLatch(1);
      AtomicReference<Exception> failure = new AtomicReference<>();
      for (int r = 0; r < replicas; r++) {
        int replica = r;
        Path dataDir = root.resolve("node" + r);
        SqliteStore.prepare(dataDir);
        Thread t = new Thread(() -> {
          try (Connection c = DriverManager.getConnection(url(dataDir));
              PreparedStatement insert = c.prepareStatement(INSERT)) {
            ready.countDown();
            go.await();
            times[replica] = run(insert, "replica-node" + replica);
          } catch (Exception e) {
            failure.compareAndSet(null, e);
            ready.countDown(); // a replica that failed before it was ready must not hold the others
          }
        }, "journal-insert-" + r);
        threads.add(t);
        t.start();
      }
      ready.await();
      go.countDown();
      for (Thread t : threads) {
        t.join();
      }
      if (failure.get() != null) {
        System.err.println("JournalInsertBench: a write failed: " + failure.get());
        return 1;
      }
      System.out.printf("%d replica file(s) written at once, %d writes each of a %d-byte event (%s):%n",
          replicas, writes, payloadBytes, root);
      for (int r = 0; r < replicas; r++) {
        System.out.println("  replica " + r + ": " + summary(times[r]));
      }
      System.out.println("  all:       " + summary(Arrays.stream(times).flatMapToLong(Arrays::stream).toArray()));
      return 0;
    } finally {
      FileTrees.delete(root);
    }
  }

  /** The JDBC URL a node with this data directory gives its journal (application.conf's, resolved there). */
  private static String url(Path dataDir) {
    Config config = Restore.unresolvedNodeConfig()
        .withValue("quorumkv.data-dir", ConfigValueFactory.fromAnyRef(dataDir.toString()))
        .resolve();
    return config.getString("akka-persistence-jdbc.shared-databases.sqlite.db.url");
  }

  private long[] run(PreparedStatement insert, String persistenceId) throws Exception {
    byte[] payload = new byte[payloadBytes];
    new Random(persistenceId.hashCode()).nextBytes(payload);
    long[] nanos = new long[writes];
    for (int i = 0; i < writes; i++) {
      long started = System.nanoTime();
      insert.setBoolean(1, false);
      insert.setString(2, persistenceId);
      insert.setLong(3, i + 1);
      insert.setString(4, "journal-insert-bench");
      insert.setLong(5, System.currentTimeMillis());
      insert.setString(6, "");
      insert.setBytes(7, payload);
      insert.setInt(8, 1);
      insert.setString(9, "quorumkv.replication.FollowerActor$Appended");
      insert.setNull(10, Types.BLOB);
      insert.setNull(11, Types.INTEGER);
      insert.setNull(12, Types.VARCHAR);
      insert.executeUpdate(); // commits: SQLite's implicit transaction, as the journal's single-row write
      nanos[i] = System.nanoTime() - started;
    }
    return nanos;
  }

  private static String summary(long[] nanos) {
    long[] sorted = nanos.clone();
    Arrays.sort(sorted);
    double mean = Arrays.stream(sorted).average().orElse(0) / 1e6;
    return String.format("mean %.3f ms, p50 %.3f, p90 %.3f, p99 %.3f, max %.2f ms", mean,
        sorted[sorted.length / 2] / 1e6, sorted[(int) (sorted.length * 0.9)] / 1e6,
        sorted[(int) (sorted.length * 0.99)] / 1e6, sorted[sorted.length - 1] / 1e6);
  }
}
