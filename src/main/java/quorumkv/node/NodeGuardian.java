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
        }
      });
      return Behaviors.empty();
    });
  }
}
