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
import java.util.stream.Stream;
import quorumkv.replication.FollowerActor;
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
 * <p>Usage: {@code java -cp quorumkv.jar quorumkv.tools.RecoveryBench [--keys 100000]
 * [--value-size 100] [--batch 1000] [--snapshot-every N]}; {@code --snapshot-every} is in journal
 * events (one per batch), default the node's setting.
 */
public final class RecoveryBench {
  private RecoveryBench() {}

  public static void main(String[] args) throws Exception {
    int keys = 100_000;
    int valueSize = 100;
    int batchSize = 1000;
    Integer snapshotOverride = null;
    Path fillOnly = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--keys" -> keys = Integer.parseInt(args[++i]);
        case "--value-size" -> valueSize = Integer.parseInt(args[++i]);
        case "--batch" -> batchSize = Integer.parseInt(args[++i]);
        case "--snapshot-every" -> snapshotOverride = Integer.parseInt(args[++i]);
        case "--fill-only" -> fillOnly = Path.of(args[++i]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (fillOnly != null) {
      fill(config(fillOnly, snapshotOverride), keys, valueSize, batchSize);
      System.out.println("FILLED");
      System.out.flush();
      Thread.sleep(Long.MAX_VALUE); // the parent kills this JVM with SIGKILL
      return;
    }

    Path dir = Files.createTempDirectory("quorumkv-recovery");
    SqliteStore.prepare(dir);
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
    ActorSystem<Void> restarted = ActorSystem.create(Behaviors.empty(), "restarted", config);
    long started = System.nanoTime();
    FollowerActor.Position p = AskPattern.<FollowerActor.Command, FollowerActor.Position>ask(
        spawn(restarted, config.getInt("quorumkv.storage.snapshot-every")), FollowerActor.GetPosition::new,
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
    ActorSystem<Void> fill = ActorSystem.create(Behaviors.empty(), "fill", config);
    ActorRef<FollowerActor.Command> replica = spawn(fill, config.getInt("quorumkv.storage.snapshot-every"));
    long started = System.nanoTime();
    for (int from = 1; from <= keys; from += batchSize) {
      List<LogEntry> batch = new ArrayList<>();
      for (int i = from; i < from + batchSize && i <= keys; i++) {
        batch.add(new LogEntry(i, 1, "key-" + i, value));
      }
      long prev = from - 1;
      long last = batch.get(batch.size() - 1).index();
      AskPattern.<FollowerActor.Command, FollowerActor.ReplicateReply>ask(replica,
          r -> new FollowerActor.Replicate(1, prev, prev == 0 ? 0 : 1, batch, last, r),
          Duration.ofMinutes(1), fill.scheduler()).toCompletableFuture().get();
    }
    // The commit index rides on the next message: one empty Replicate applies the last batch.
    AskPattern.<FollowerActor.Command, FollowerActor.ReplicateReply>ask(replica,
        r -> new FollowerActor.Replicate(1, keys, 1, List.of(), keys, r),
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

  private static ActorRef<FollowerActor.Command> spawn(ActorSystem<?> system, int snapshotEvery) throws Exception {
    return AskPattern.<akka.actor.typed.SpawnProtocol.Command, ActorRef<FollowerActor.Command>>ask(
        system.systemActorOf(akka.actor.typed.SpawnProtocol.create(), "spawner", akka.actor.typed.Props.empty()),
        r -> new akka.actor.typed.SpawnProtocol.Spawn<>(FollowerActor.create("node9", snapshotEvery, 20_000),
            "replica-node9", akka.actor.typed.Props.empty(), r),
        Duration.ofSeconds(30), system.scheduler()).toCompletableFuture().get();
  }
}
