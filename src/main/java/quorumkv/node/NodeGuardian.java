package quorumkv.node;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import java.util.Random;
import quorumkv.config.Settings;
import quorumkv.replication.ReplicationDelay;

/**
 * The root of a node: starts it through {@link NodeWiring}, with the injected replication delay of
 * its settings, and shuts the node down if its HTTP port cannot be bound.
 */
public final class NodeGuardian {
  private NodeGuardian() {}

  /** How long a stopping node answers the requests it has (Akka's phase for it allows 5 s). */
  static final java.time.Duration HTTP_DRAIN_DEADLINE = java.time.Duration.ofSeconds(4);

  public static Behavior<Void> create(Settings settings) {
    return Behaviors.setup(ctx -> {
      Settings.Replication r = settings.replication();
      NodeWiring.Node node = NodeWiring.of(ctx, settings)
          .start(ReplicationDelay.uniform(r.minDelay(), r.maxDelay(), new Random()));
      ActorSystem<Void> system = ctx.getSystem();
      node.http().whenComplete((binding, failure) -> {
        if (failure != null) {
          system.log().error("Could not bind HTTP on {}:{}; shutting down",
              settings.httpHost(), settings.httpPort(), failure);
          akka.actor.CoordinatedShutdown.get(system).runAll(Main.HTTP_BIND_FAILED);
        } else {
          system.log().info("Node {} serving HTTP on {}", settings.nodeId(), binding.localAddress());
          // On a stop (SIGTERM) or a new incarnation: take no new connections, answer the requests
          // in flight (a write forwarded to the leader included), then close; those still open
          // after the deadline get a 503. Without it, every request in flight was reset, also
          // writes that were applied.
          binding.addToCoordinatedShutdown(HTTP_DRAIN_DEADLINE, system);
        }
      });
      return Behaviors.empty();
    });
  }
}
