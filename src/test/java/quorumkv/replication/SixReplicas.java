package quorumkv.replication;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import com.typesafe.config.Config;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import quorumkv.TestConfig;
import quorumkv.config.Settings;
import quorumkv.node.NodeWiring;

/**
 * Six replicas, node0..node5, in one ActorSystem on real SQLite journals (a fresh data directory),
 * wired as a node wires them; no leader yet. Close it to shut the ActorSystem down.
 */
final class SixReplicas implements AutoCloseable {
  static final List<String> NODES = List.of("node0", "node1", "node2", "node3", "node4", "node5");

  final ActorTestKit testKit;
  final NodeWiring wiring;
  /** By node, in node order; a test may replace one (a replica started again). */
  final Map<String, NodeWiring.Replica> replicas = new LinkedHashMap<>();

  /** {@code name} names the ActorSystem and the data directory; {@code overrides} is HOCON. */
  SixReplicas(String name, String overrides) {
    Config config = TestConfig.local(TestConfig.newDataDir(name), overrides);
    testKit = ActorTestKit.create(name, config);
    Settings settings = Settings.from(config);
    wiring = new NodeWiring(testKit::spawn, testKit.system(), settings);
    // As if the node had joined its cluster an election timeout ago: its replicas may promise terms.
    ReplicationStatus.get(testKit.system()).joined(System.nanoTime() - settings.replication().election().timeoutMin().toNanos());
    for (String node : NODES) {
      replicas.put(node, wiring.replica(node));
    }
  }

  @Override
  public void close() {
    testKit.shutdownTestKit();
  }
}
