package quorumkv.tools;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import quorumkv.harness.FileTrees;
import quorumkv.replication.FollowerActor;
import quorumkv.storage.ActorSystemSetups;
import quorumkv.storage.LogEntry;
import quorumkv.storage.SqliteStore;

/**
 * Recovery time of a replica holding N keys after kill -9: a child JVM fills one replica's SQLite
 * file through the real FollowerActor (Replicate batches, committed, snapshots as configured) and
 * is killed with SIGKILL as soon as the last batch is acknowledged (no graceful stop, no WAL
 * checkpoint); then this JVM starts the replica from that file in a fresh ActorSystem and times
 * until it answers. Prints the SQLite file size, the largest snapshot, and the heap the recovered
 * replica holds (used heap after a full GC, minus the same measured before it started).
 *
 * <p>Usage: {@code java -cp tools/target/quorumkv-tools.jar quorumkv.tools.RecoveryBench [--keys 100000]
 * [--value-size 100] [--batch 1000] [--snapshot-every N]}; {@code --snapshot-every} is in journal
 * events (one per batch), default the node's setting.
 */
@Command(name = "RecoveryBench", mixinStandardHelpOptions = true, versionProvider = ToolCommandLine.Version.class,
    sortOptions = false, usageHelpAutoWidth = true,
    description = {"Recovery time of one replica holding N keys after kill -9: a child JVM fills its SQLite file "
        + "through the real FollowerActor and is killed with SIGKILL; this JVM times the replica's restart.",
        "Run as: java -cp tools/target/quorumkv-tools.jar quorumkv.tools.RecoveryBench [options]"},
    footer = "Exits 0 after the report, 1 when the fill or the restart fails, 2 on bad options.")
public final class RecoveryBench implements Callable<Integer> {

  @Spec
  private CommandSpec spec;

  @Option(names = "--keys", paramLabel = "N", description = "Keys the replica holds (default: ${DEFAULT-VALUE}).")
  int keys = 100_000;

  @Option(names = "--value-size", paramLabel = "B", description = "Bytes per value (default: ${DEFAULT-VALUE}).")
  int valueSize = 100;

  @Option(names = "--batch", paramLabel = "ENTRIES",
      description = "Log entries per Replicate message, one journal event each (default: ${DEFAULT-VALUE}).")
  int batchSize = 1000;

  @Option(names = "--snapshot-every", paramLabel = "EVENTS",
      description = "Journal events between snapshots (default: the node's, storage.snapshot-every in application.conf).")
  Integer snapshotOverride;

  /** Set in the child JVM only: fill this data directory, print FILLED, wait to be killed. */
  @Option(names = "--fill-only", paramLabel = "DIR", hidden = true)
  Path fillOnly;

  public static void main(String[] args) {
    ToolCommandLine.exit(new RecoveryBench(), args);
  }

  /** Rejects sizes that cannot describe a replica to fill. */
  void validate() {
    requireAtLeast("--keys", keys, 1);
    requireAtLeast("--value-size", valueSize, 0);
    requireAtLeast("--batch", batchSize, 1);
    if (snapshotOverride != null) {
      requireAtLeast("--snapshot-every", snapshotOverride, 1);
    }
  }

  private void requireAtLeast(String option, int value, int minimum) {
    if (value < minimum) {
      throw new ParameterException(spec.commandLine(), option + " must be at least " + minimum + ", got " + value);
    }
  }

  @Override
  public Integer call() throws Exception {
    validate();
    if (fillOnly != null) {
      fill(config(fillOnly, snapshotOverride), keys, valueSize, batchSize);
      System.out.println("FILLED");
      System.out.flush();
      Thread.sleep(Long.MAX_VALUE); // the parent kills this JVM with SIGKILL
      return 0;
    }

    Path dir = Files.createTempDirectory("quorumkv-recovery");
    try {
      SqliteStore.prepare(dir);
      measure(dir);
    } finally {
      FileTrees.delete(dir); // a 1,000,000-key replica is ~350 MiB of SQLite files
    }
    return 0;
  }

  private void measure(Path dir) throws Exception {
    List<String> child = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx2g",
        "-cp", System.getProperty("java.class.path"), RecoveryBench.class.getName(),
        "--fill-only", dir.toString(), "--keys", Integer.toString(keys), "--value-size", Integer.toString(valueSize),
        "--batch", Integer.toString(batchSize)));
    if (snapshotOverride != null) {
      child.addAll(List.of("--snapshot-every", snapshotOverride.toString()));
    }
    Process filler = new ProcessBuilder(child).redirectErrorStream(true).start();
    try (BufferedReader out = new BufferedReader(new InputStreamReader(filler.getInputStream()))) {
      String line;
      boolean filled = false;
      while (!filled && (line = out.readLine()) != null) {
        if (line.equals("FILLED")) {
          filled = true;
        } else {
          System.out.println("  [filler] " + line);
        }
      }
      if (!filled) {
        throw new IllegalStateException("the filler JVM exited without filling (exit " + filler.waitFor() + ")");
      }
    } finally {
      filler.destroyForcibly(); // SIGKILL
      filler.waitFor();
    }
    System.out.println("filler JVM killed with SIGKILL");

    long bytes;
    try (Stream<Path> files = Files.list(dir)) {
      bytes = files.mapToLong(p -> p.toFile().length()).sum();
    }
    Config config = config(dir, snapshotOverride);
    long heapBefore = usedHeapAfterGc();
    ActorSystem<Void> restarted = ActorSystem.create(Behaviors.empty(), "restarted", ActorSystemSetups.of(config));
    long started = System.nanoTime();
    FollowerActor.Position p = AskPattern.<FollowerActor.Command, FollowerActor.Position>ask(
        spawn(restarted, config), FollowerActor.GetPosition::new,
        Duration.ofMinutes(5), restarted.scheduler())
        .toCompletableFuture().get();
    double seconds = (System.nanoTime() - started) / 1e9;
    long heapHeld = usedHeapAfterGc() - heapBefore;
    System.out.printf("recovered %d keys (applied index %d) in %.2f s after kill -9%n", p.keyCount(), p.appliedIndex(), seconds);
    System.out.printf("SQLite files %.1f MiB; largest snapshot %s; heap held by the recovered replica %.0f MiB%n",
        bytes / 1048576.0, largestSnapshot(dir), heapHeld / 1048576.0);
    restarted.terminate();
    restarted.getWhenTerminated().toCompletableFuture().get();
  }

  private static Config config(Path dir, Integer snapshotOverride) {
    Config config = ConfigFactory.parseString("akka.actor.provider = local\nakka.loglevel = WARNING")
        .withFallback(ConfigFactory.parseString("quorumkv.data-dir = \"" + dir + "\""));
    if (snapshotOverride != null) {
      config = config.withFallback(ConfigFactory.parseString("quorumkv.storage.snapshot-every = " + snapshotOverride));
    }
    return config.withFallback(ConfigFactory.parseResources("application.conf"))
        .withFallback(ConfigFactory.defaultReference()).resolve();
  }

  private static void fill(Config config, int keys, int valueSize, int batchSize) throws Exception {
    String value = "v".repeat(valueSize);
    ActorSystem<Void> fill = ActorSystem.create(Behaviors.empty(), "fill", ActorSystemSetups.of(config));
    ActorRef<FollowerActor.Command> replica = spawn(fill, config);
    long started = System.nanoTime();
    for (int from = 1; from <= keys; from += batchSize) {
      List<LogEntry> batch = new ArrayList<>();
      for (int i = from; i < from + batchSize && i <= keys; i++) {
        batch.add(new LogEntry(i, 1, "key-" + i, value));
      }
      long prev = from - 1;
      long last = batch.get(batch.size() - 1).index();
      AskPattern.<FollowerActor.Command, FollowerActor.ReplicateReply>ask(replica,
          r -> new FollowerActor.Replicate(1, "bench", prev, prev == 0 ? 0 : 1, batch, last, System.nanoTime(), r),
          Duration.ofMinutes(1), fill.scheduler()).toCompletableFuture().get();
    }
    // The commit index rides on the next message: one empty Replicate applies the last batch.
    AskPattern.<FollowerActor.Command, FollowerActor.ReplicateReply>ask(replica,
        r -> new FollowerActor.Replicate(1, "bench", keys, 1, List.of(), keys, System.nanoTime(), r),
        Duration.ofMinutes(1), fill.scheduler()).toCompletableFuture().get();
    System.out.printf("filled %d keys of %d bytes in %.1f s (batches of %d)%n",
        keys, valueSize, (System.nanoTime() - started) / 1e9, batchSize);
  }

  private static long usedHeapAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(100);
    }
    Runtime rt = Runtime.getRuntime();
    return rt.totalMemory() - rt.freeMemory();
  }

  private static String largestSnapshot(Path dir) throws SQLException {
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve(SqliteStore.FILE_NAME));
         Statement st = c.createStatement();
         ResultSet rs = st.executeQuery("SELECT max(length(snapshot_payload)), count(*) FROM snapshot")) {
      rs.next();
      return rs.getInt(2) == 0 ? "none (no snapshot was due)"
          : String.format("%.1f MiB (%d kept)", rs.getLong(1) / 1048576.0, rs.getInt(2));
    }
  }

  /** The replica as the node configures it: snapshot interval and retained entries from the config. */
  private static ActorRef<FollowerActor.Command> spawn(ActorSystem<?> system, Config config) throws Exception {
    int snapshotEvery = config.getInt("quorumkv.storage.snapshot-every");
    int retainedEntries = config.getInt("quorumkv.replication.retained-entries");
    return AskPattern.<akka.actor.typed.SpawnProtocol.Command, ActorRef<FollowerActor.Command>>ask(
        system.systemActorOf(akka.actor.typed.SpawnProtocol.create(), "spawner", akka.actor.typed.Props.empty()),
        r -> new akka.actor.typed.SpawnProtocol.Spawn<>(FollowerActor.create("node9", snapshotEvery, retainedEntries),
            "replica-node9", akka.actor.typed.Props.empty(), r),
        Duration.ofSeconds(30), system.scheduler()).toCompletableFuture().get();
  }
}
