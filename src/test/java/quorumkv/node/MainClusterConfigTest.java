package quorumkv.node;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.junit.Test;
import quorumkv.config.Settings;

/** The seeds, roles and timeouts {@link Main} derives for each incarnation of a node. */
public class MainClusterConfigTest {
  private static final String SEEDS = "127.0.0.1:2550,127.0.0.1:2551,127.0.0.1:2552";
  private static final List<String> ALL_SEEDS = List.of(
      "akka://quorumkv@127.0.0.1:2550", "akka://quorumkv@127.0.0.1:2551", "akka://quorumkv@127.0.0.1:2552");

  private static Settings node(String id, int port, boolean formNewCluster) {
    Config config = ConfigFactory.parseString("quorumkv { node-id = " + id + ", cluster { port = " + port
            + ", seed-nodes = \"" + SEEDS + "\", form-new-cluster = " + formNewCluster + ", join-retry-interval = 700ms } }")
        .withFallback(ConfigFactory.parseResources("application.conf"))
        .resolve();
    return Settings.from(config);
  }

  @Test
  public void theFirstSeedOfANewClusterFormsItAloneOnlyInItsFirstIncarnation() {
    Settings node0 = node("node0", 2550, true);
    assertEquals(List.of("akka://quorumkv@127.0.0.1:2550"),
        Main.clusterConfig(node0, 1).getStringList("akka.cluster.seed-nodes"));
    // Downed and started again in the same process: it must ask the others, or it founds an island.
    assertEquals(ALL_SEEDS, Main.clusterConfig(node0, 2).getStringList("akka.cluster.seed-nodes"));
    assertEquals(ALL_SEEDS, Main.clusterConfig(node0, 7).getStringList("akka.cluster.seed-nodes"));
  }

  @Test
  public void withoutFormNewClusterEveryIncarnationAsksEverySeed() {
    Settings node0 = node("node0", 2550, false);
    assertEquals(ALL_SEEDS, Main.clusterConfig(node0, 1).getStringList("akka.cluster.seed-nodes"));
    Settings node2 = node("node2", 2552, true); // the setting only matters on the first seed
    assertEquals(ALL_SEEDS, Main.clusterConfig(node2, 1).getStringList("akka.cluster.seed-nodes"));
  }

  @Test
  public void onlyTheSeedsAfterTheFirstAskAgainAtTheJoinRetryInterval() {
    assertEquals("700ms", Main.clusterConfig(node("node1", 2551, false), 1).getString("akka.cluster.seed-node-timeout"));
    assertFalse("the first seed keeps Akka's seed-node-timeout before it forms a cluster alone",
        Main.clusterConfig(node("node0", 2550, false), 1).hasPath("akka.cluster.seed-node-timeout"));
    assertFalse("a node that is no seed keeps Akka's behaviour",
        Main.clusterConfig(node("node5", 2555, false), 1).hasPath("akka.cluster.seed-node-timeout"));
  }

  @Test
  public void eachNodeCarriesItsIdAsItsRole() {
    Config derived = Main.clusterConfig(node("node2", 2552, false), 1);
    assertEquals(List.of("node2"), derived.getStringList("akka.cluster.roles"));
    assertTrue(derived.getStringList("akka.cluster.seed-nodes").contains("akka://quorumkv@127.0.0.1:2552"));
  }
}
