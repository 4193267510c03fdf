package quorumkv.node;

import akka.Done;
import akka.actor.Address;
import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorSystem;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import quorumkv.config.Settings;
import quorumkv.storage.ActorSystemSetups;
import quorumkv.storage.SqliteNativeLibrary;
import quorumkv.storage.SqliteStore;

/**
 * Starts one quorumkv node: prepares its SQLite file, joins the cluster, serves HTTP. When the
 * cluster downs the node (it was cut off, or paused, for longer than the others waited), its
 * ActorSystem stops, the journal's connection to SQLite with it; this process then starts a new
 * incarnation that recovers the replica from the same file and joins again. The process exits
 * only when told to (SIGTERM) or when the node cannot start at all.
 */
public final class Main {
  private static final String SYSTEM_NAME = "quorumkv";
  /** An incarnation that lived less than this waits a moment before the next one. */
  private static final Duration SHORT_LIFE = Duration.ofSeconds(10);
  /** The exit code when RESTORE_FROM names a file that is not a sound backup (nothing was written). */
  static final int BAD_BACKUP = 2;

  /** NodeGuardian stops the node with this reason when its HTTP port cannot be bound. */
  static final CoordinatedShutdown.Reason HTTP_BIND_FAILED = new CoordinatedShutdown.Reason() {
    @Override
    public String toString() {
      return "HTTP port could not be bound";
    }
  };

  private Main() {}

  public static void main(String[] args) throws Exception {
    Config config = ConfigFactory.load();
    Settings settings = Settings.from(config);
    try {
      SqliteNativeLibrary.useCopyIn(settings.dataDir());
    } catch (IOException e) {
      System.err.println("quorumkv node " + settings.nodeId() + ": no copy of SQLite's native library in "
          + settings.dataDir() + " (" + e + "); the driver extracts its own");
    }
    try {
      // Before the node joins: no leader ever sees a half-restored replica.
      new Restore(settings, Restore.unresolvedNodeConfig()).runIfRequested();
    } catch (Restore.RestoreFailed e) {
      System.err.println("quorumkv node " + settings.nodeId() + " did not start: " + e.getMessage());
      System.exit(e.badBackup() ? BAD_BACKUP : 1);
    }
    try {
      SqliteStore.prepare(settings.dataDir());
    } catch (Exception e) {
      System.err.println("quorumkv node " + settings.nodeId() + " failed to start: " + e);
      e.printStackTrace();
      System.exit(1);
    }
    for (int incarnation = 1; ; incarnation++) {
      long started = System.nanoTime();
      Config nodeConfig = clusterConfig(settings, incarnation).withFallback(config);
      ActorSystem<Void> system = ActorSystem.create(NodeGuardian.create(settings), SYSTEM_NAME, ActorSystemSetups.of(nodeConfig));
      Done ignored = system.getWhenTerminated().toCompletableFuture().join();
      Optional<CoordinatedShutdown.Reason> reason = CoordinatedShutdown.get(system).getShutdownReason();
      if (reason.isEmpty() || reason.get() == HTTP_BIND_FAILED) {
        System.err.println("quorumkv node " + settings.nodeId() + " stopped: "
            + reason.map(Object::toString).orElse("its actor system terminated unexpectedly"));
        System.exit(1);
      }
      if (reason.get() == CoordinatedShutdown.jvmExitReason()) {
        return; // SIGTERM: the JVM is on its way out
      }
      System.err.println("quorumkv node " + settings.nodeId() + ": incarnation " + incarnation + " stopped ("
          + reason.get() + "); starting incarnation " + (incarnation + 1) + ", which joins the cluster again");
      if (System.nanoTime() - started < SHORT_LIFE.toNanos()) {
        Thread.sleep(1000);
      }
    }
  }

  /**
   * What is derived from the settings rather than written in application.conf, for one
   * incarnation of the node: seeds, roles, bind address.
   */
  static Config clusterConfig(Settings settings, int incarnation) {
    String self = settings.clusterHost() + ":" + settings.clusterPort();
    // The first seed of a new cluster forms it at once in its first incarnation only: a later one
    // (this node was downed) must ask the other seeds, or it would found a cluster of its own and,
    // knowing no other seed, never find the running one (seen after node0 was paused for 35 s).
    List<String> seedList = settings.formNewCluster() && incarnation == 1 && settings.seedNodes().indexOf(self) == 0
        ? List.of(self) : settings.seedNodes();
    List<String> seeds = ReplicaDowning.seedAddresses(SYSTEM_NAME, seedList).stream().map(Address::toString).toList();
    Config derived = ConfigFactory.empty()
        .withValue("akka.cluster.seed-nodes", ConfigValueFactory.fromIterable(seeds))
        .withValue("akka.cluster.roles", ConfigValueFactory.fromIterable(List.of(settings.nodeId())));
    // Only the first seed forms a cluster by itself when no seed answers within seed-node-timeout;
    // every other seed waits that long between two rounds of asking to join, so it gets the short
    // join-retry-interval instead (a node not found in the list keeps Akka's behaviour).
    if (settings.seedNodes().indexOf(self) > 0) {
      derived = derived.withValue("akka.cluster.seed-node-timeout",
          ConfigValueFactory.fromAnyRef(settings.joinRetryInterval().toMillis() + "ms"));
    }
    if (!settings.clusterBindHost().isEmpty()) {
      derived = derived.withValue("akka.remote.artery.bind.hostname", ConfigValueFactory.fromAnyRef(settings.clusterBindHost()));
    }
    return derived;
  }
}
