package quorumkv.node;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.SupervisorStrategy;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Adapter;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
import akka.http.javadsl.Http;
import akka.http.javadsl.ServerBinding;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import quorumkv.config.Settings;
import quorumkv.http.KvRoutes;
import quorumkv.replication.FollowerActor;
import quorumkv.replication.LeaderActor;
import quorumkv.replication.ReplicaView;
import quorumkv.replication.ReplicationDelay;
import quorumkv.replication.WriteForwarder;
import quorumkv.watch.WatchHistory;

/**
 * How a node's actors are wired together, in one place: {@link NodeGuardian} starts a node with
 * it, and the in-JVM tests start their nodes, replicas and leaders with it, so that what a test
 * runs is what a node runs.
 */
public final class NodeWiring {

  /** Spawns a named actor: an {@code ActorContext}'s {@code spawn}, or an {@code ActorTestKit}'s. */
  @FunctionalInterface
  public interface Spawner {
    <T> ActorRef<T> spawn(Behavior<T> behavior, String name);
  }

  /** A replica and the view of its applied state that local reads use. */
  public record Replica(ActorRef<FollowerActor.Command> ref, ReplicaView view) {}

  /** A running node: its replica, the leader (wherever it runs), its write forwarder and its HTTP server. */
  public record Node(
      Replica replica, ActorRef<LeaderActor.Command> leader, ActorRef<WriteForwarder.Command> writes,
      CompletionStage<ServerBinding> http) {}

  private final Spawner spawner;
  private final ActorSystem<?> system;
  private final Settings settings;

  public NodeWiring(Spawner spawner, ActorSystem<?> system, Settings settings) {
    this.spawner = spawner;
    this.system = system;
    this.settings = settings;
  }

  /** Wiring whose actors are children of {@code context}. */
  public static NodeWiring of(ActorContext<?> context, Settings settings) {
    return new NodeWiring(context::spawn, context.getSystem(), settings);
  }

  /**
   * This node: its replica, its LeaderActor (one on every node; the replicas elect which leads,
   * and the others pass writes on to it) replicating through {@code delay}, the write forwarder,
   * and the routes bound on the configured HTTP address.
   */
  public Node start(ReplicationDelay delay) {
    Replica replica = replica(settings.nodeId());
    // A deposed leader restarts as a follower (it has logged why); any other failure restarts it too,
    // logged with its stack trace by the outer supervisor.
    SupervisorStrategy restart = SupervisorStrategy.restartWithBackoff(Duration.ofMillis(100), Duration.ofSeconds(2), 0.2);
    Behavior<LeaderActor.Command> supervised = Behaviors.supervise(
            Behaviors.supervise(leader(settings.nodeId(), replica, delay))
                .onFailure(LeaderActor.Deposed.class, restart.withLoggingEnabled(false)))
        .onFailure(restart);
    ActorRef<LeaderActor.Command> leader = spawner.spawn(supervised, "leader");
    ActorRef<WriteForwarder.Command> writes = spawner.spawn(
        WriteForwarder.create(leader, settings.askTimeout(), settings.replication().maxBatchEntries(),
            settings.replication().maxBatchBytes()), "writes");
    KvRoutes routes = new KvRoutes(settings, system, leader, writes, replica.ref(), replica.view());
    CompletionStage<ServerBinding> http =
        Http.get(system).newServerAt(settings.httpHost(), settings.httpPort()).bind(routes.handler());
    return new Node(replica, leader, writes, http);
  }

  /** Spawns the replica of {@code nodeId} and registers it with the Receptionist, where leaders find it. */
  public Replica replica(String nodeId) {
    ReplicaView view = new ReplicaView(nodeId, watchHistory(nodeId));
    ActorRef<FollowerActor.Command> ref = spawner.spawn(
        FollowerActor.create(nodeId, settings.snapshotEvery(), settings.replication().retainedEntries(), view,
            settings.replication().election().timeoutMin(), settings.commitFlushDelay()),
        FollowerActor.actorName(nodeId));
    system.receptionist().tell(Receptionist.register(FollowerActor.SERVICE_KEY, ref));
    return new Replica(ref, view);
  }

  /**
   * The watch history of {@code nodeId}'s replica, in its own SQLite file beside the replica's
   * (one per node, so in-JVM tests with several replicas in one data directory keep theirs apart).
   */
  private WatchHistory watchHistory(String nodeId) {
    Path file = settings.dataDir().resolve("watch-" + nodeId + ".db");
    try {
      Files.createDirectories(settings.dataDir());
      WatchHistory history = WatchHistory.open(file, settings.watch());
      Duration tick = settings.watch().progressInterval().dividedBy(5);
      tick = tick.compareTo(Duration.ofSeconds(1)) > 0 ? Duration.ofSeconds(1)
          : tick.compareTo(Duration.ofMillis(20)) < 0 ? Duration.ofMillis(20) : tick;
      system.scheduler().scheduleWithFixedDelay(tick, tick, () -> history.progress(System.nanoTime()),
          system.executionContext());
      // After every actor stopped (nothing applies changes any more) and before the system's
      // termination completes, so that its last changes are written before the node's next
      // incarnation (quorumkv.node.Main) opens the file again.
      Adapter.toClassic(system).registerOnTermination(history::close);
      return history;
    } catch (IOException | SQLException e) {
      throw new IllegalStateException("cannot open the watch history " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * The leader as it runs on {@code nodeId}, beside that node's replica, its messages to the
   * followers going through {@code delay}. It follows cluster reachability when the system is a
   * cluster.
   */
  public Behavior<LeaderActor.Command> leader(String nodeId, Replica localReplica, ReplicationDelay delay) {
    boolean clustered = system.settings().classicSettings().HasCluster();
    Settings.Replication r = settings.replication();
    int nodeIndex = nodeId.equals(settings.nodeId()) ? r.election().nodeIndex()
        : Settings.nodeIndex(-1, nodeId, r.followers() + 1);
    return LeaderActor.create(r, nodeId, nodeIndex, localReplica.ref(), localReplica.view(), delay, clustered);
  }
}
