package quorumkv.cli;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import quorumkv.replication.FollowerActor;
import quorumkv.storage.LogEntry;
import quorumkv.storage.SqliteStore;

/**
 * Recovery time of a replica holding N keys: fills one replica's SQLite journal through the real
 * FollowerActor (Replicate batches of 1,000, committed), stops it, starts it again from the file
 * in a fresh ActorSystem (like a restarted JVM), and times until it answers. Prints the SQLite
 * file size too.
 *
 * <p>Usage: {@code java -cp quorumkv.jar quorumkv.cli.RecoveryBench [--keys 100000] [--value-size 100]}
 */
public final class RecoveryBench {
  private RecoveryBench() {}

  public static void main(String[] args) throws Exception {
    int keys = 100_000;
    int valueSize = 100;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--keys" -> keys = Integer.parseInt(args[++i]);
        case "--value-size" -> valueSize = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    Path dir = Files.createTempDirectory("quorumkv-recovery");
    SqliteStore.prepare(dir);
    Config config = ConfigFactory.parseString("akka.actor.provider = local\nakka.loglevel = WARNING")
        .withFallback(ConfigFactory.parseString("quorumkv.data-dir = \"" + dir + "\""))
        .withFallback(ConfigFactory.parseResources("application.conf"))
        .withFallback(ConfigFactory.defaultReference()).resolve();
    int snapshotEvery = config.getInt("quorumkv.storage.snapshot-every");
    String value = "v".repeat(valueSize);

    ActorSystem<Void> fill = ActorSystem.create(Behaviors.empty(), "fill", config);
    ActorRef<FollowerActor.Command> replica = spawn(fill, snapshotEvery);
    long started = System.nanoTime();
    for (int from = 1; from <= keys; from += 1000) {
      List<LogEntry> batch = new ArrayList<>();
      for (int i = from; i < from + 1000 && i <= keys; i++) {
        batch.add(new LogEntry(i, 1, "key-" + i, value));
      }
      long prev = from - 1;
      long last = batch.get(batch.size() - 1).index();
      AskPattern.<FollowerActor.Command, FollowerActor.ReplicateReply>ask(replica,
          r -> new FollowerActor.Replicate(1, prev, prev == 0 ? 0 : 1, batch, last, r),
          Duration.ofMinutes(1), fill.scheduler()).toCompletableFuture().get();
    }
    System.out.printf("filled %d keys of %d bytes in %.1f s%n", keys, valueSize, (System.nanoTime() - started) / 1e9);
    fill.terminate();
    fill.getWhenTerminated().toCompletableFuture().get();

    long bytes;
    try (Stream<Path> files = Files.list(dir)) {
      bytes = files.mapToLong(p -> p.toFile().length()).sum();
    }
    ActorSystem<Void> restarted = ActorSystem.create(Behaviors.empty(), "restarted", config);
    started = System.nanoTime();
    FollowerActor.Position p = AskPattern.<FollowerActor.Command, FollowerActor.Position>ask(
        spawn(restarted, snapshotEvery), FollowerActor.GetPosition::new, Duration.ofMinutes(5), restarted.scheduler())
        .toCompletableFuture().get();
    double seconds = (System.nanoTime() - started) / 1e9;
    System.out.printf("recovered %d keys (applied index %d) in %.2f s; SQLite files %.1f MiB; heap used %.0f MiB%n",
        p.keyCount(), p.appliedIndex(), seconds, bytes / 1048576.0,
        (Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory()) / 1048576.0);
    restarted.terminate();
  }

  private static ActorRef<FollowerActor.Command> spawn(ActorSystem<?> system, int snapshotEvery) throws Exception {
    return AskPattern.<akka.actor.typed.SpawnProtocol.Command, ActorRef<FollowerActor.Command>>ask(
        system.systemActorOf(akka.actor.typed.SpawnProtocol.create(), "spawner", akka.actor.typed.Props.empty()),
        r -> new akka.actor.typed.SpawnProtocol.Spawn<>(FollowerActor.create("node9", snapshotEvery, 20_000),
            "replica-node9", akka.actor.typed.Props.empty(), r),
        Duration.ofSeconds(30), system.scheduler()).toCompletableFuture().get();
  }
}
