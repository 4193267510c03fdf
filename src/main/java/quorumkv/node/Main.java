package quorumkv.node;

import akka.actor.typed.ActorSystem;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.util.List;
import quorumkv.config.Settings;
import quorumkv.storage.SqliteStore;

/** Starts one quorumkv node: prepares its SQLite file, joins the cluster, serves HTTP. */
public final class Main {
  private static final String SYSTEM_NAME = "quorumkv";

  private Main() {}

  public static void main(String[] args) throws Exception {
    Config config = ConfigFactory.load();
    Settings settings = Settings.from(config);
    try {
      SqliteStore.prepare(settings.dataDir());
      ActorSystem.create(NodeGuardian.create(settings), SYSTEM_NAME, clusterConfig(settings).withFallback(config));
    } catch (Exception e) {
      System.err.println("quorumkv node " + settings.nodeId() + " failed to start: " + e);
      e.printStackTrace();
      System.exit(1);
    }
  }

  /**
   * What is derived from the settings rather than written in application.conf: seeds, roles, bind
   * address; and, for a node process only (not for tests that load application.conf), that a node
   * which has been downed (cut off, or frozen too long) exits: it cannot rejoin under the same
   * identity, and a supervisor (docker's restart policy, ./kv start) starts it afresh.
   */
  private static Config clusterConfig(Settings settings) {
    List<String> seeds = settings.seedNodes().stream().map(s -> "akka://" + SYSTEM_NAME + "@" + s).toList();
    Config derived = ConfigFactory.empty()
        .withValue("akka.coordinated-shutdown.exit-jvm", ConfigValueFactory.fromAnyRef("on"))
        .withValue("akka.cluster.seed-nodes", ConfigValueFactory.fromIterable(seeds))
        .withValue("akka.cluster.roles", ConfigValueFactory.fromIterable(List.of(settings.nodeId())));
    if (!settings.clusterBindHost().isEmpty()) {
      derived = derived.withValue("akka.remote.artery.bind.hostname", ConfigValueFactory.fromAnyRef(settings.clusterBindHost()));
    }
    return derived;
  }
}
