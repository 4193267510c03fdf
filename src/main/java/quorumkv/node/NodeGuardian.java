package quorumkv.node;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.SupervisorStrategy;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
import akka.cluster.typed.ClusterSingleton;
import akka.cluster.typed.SingletonActor;
import akka.http.javadsl.Http;
import java.time.Duration;
import java.util.Random;
import quorumkv.config.Settings;
import quorumkv.http.KvRoutes;
import quorumkv.replication.FollowerActor;
import quorumkv.replication.LeaderActor;
import quorumkv.replication.ReplicaView;
import quorumkv.replication.ReplicationDelay;
import quorumkv.replication.WriteForwarder;

/**
 * The root of a node: its replica (registered with the Receptionist), the leader singleton (runs
 * on one node, reached from every node through a proxy) and the HTTP server.
 */
public final class NodeGuardian {
  private NodeGuardian() {}

  public static Behavior<Void> create(Settings settings) {
    return Behaviors.setup(ctx -> {
      ReplicaView view = new ReplicaView(settings.nodeId());
      ActorRef<FollowerActor.Command> replica = ctx.spawn(
          FollowerActor.create(settings.nodeId(), settings.snapshotEvery(), settings.replication().retainedEntries(), view),
          FollowerActor.actorName(settings.nodeId()));
      ctx.getSystem().receptionist().tell(Receptionist.register(FollowerActor.SERVICE_KEY, replica));

      ActorRef<LeaderActor.Command> leader = ClusterSingleton.get(ctx.getSystem()).init(
          SingletonActor.of(supervisedLeader(settings, replica), "leader"));

      ActorRef<WriteForwarder.Command> writes = ctx.spawn(WriteForwarder.create(
          leader, settings.askTimeout(), settings.replication().maxBatchEntries()), "writes");
      KvRoutes routes = new KvRoutes(settings, ctx.getSystem(), leader, writes, replica, view);
      Http.get(ctx.getSystem())
          .newServerAt(settings.httpHost(), settings.httpPort())
          .bind(routes.routes())
          .whenComplete((binding, failure) -> {
            if (failure != null) {
              ctx.getSystem().log().error("Could not bind HTTP on {}:{}; shutting down",
                  settings.httpHost(), settings.httpPort(), failure);
              ctx.getSystem().terminate();
            } else {
              ctx.getSystem().log().info("Node {} serving HTTP on {}", settings.nodeId(), binding.localAddress());
            }
          });
      return Behaviors.empty();
    });
  }

  static Behavior<LeaderActor.Command> supervisedLeader(Settings settings, ActorRef<FollowerActor.Command> replica) {
    Settings.Replication r = settings.replication();
    ReplicationDelay delay = r.delayInjected()
        ? ReplicationDelay.uniform(r.minDelay(), r.maxDelay(), new Random())
        : ReplicationDelay.none();
    return Behaviors.supervise(LeaderActor.create(r, settings.nodeId(), replica, delay, true))
        .onFailure(SupervisorStrategy.restartWithBackoff(Duration.ofMillis(500), Duration.ofSeconds(5), 0.2));
  }
}
