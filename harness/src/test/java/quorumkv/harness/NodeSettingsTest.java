package quorumkv.harness;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.Test;

public class NodeSettingsTest {
  private static final String CONF = String.join("\n",
      "quorumkv {",
      "  node-id = \"node0\"",
      "  node-id = ${?NODE_ID}",
      "  replication {",
      "    write-quorum = 3",
      "    write-quorum = ${?WRITE_QUORUM}",
      "    max-batch-entries = 1000",
      "  }",
      "  data-dir = \"data/\"${quorumkv.node-id}",
      "}");

  @Test
  public void everyEnvironmentOverrideAndTheJvmVariablesAreSettings() {
    NodeSettings settings = NodeSettings.fromConfig(CONF);
    assertEquals(java.util.Set.of("NODE_ID", "WRITE_QUORUM", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"),
        settings.names());
  }

  @Test
  public void inheritedSettingsAreRemovedAndOnlyTheGivenOnesSet() {
    Map<String, String> env = new HashMap<>(Map.of("PATH", "/bin", "WRITE_QUORUM", "5", "_JAVA_OPTIONS", "-Xmx8g"));
    NodeSettings.fromConfig(CONF).apply(env, Map.of("NODE_ID", "node4"));
    assertEquals(Map.of("PATH", "/bin", "NODE_ID", "node4"), env);
  }

  @Test
  public void aSettingTheNodeDoesNotReadIsRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> NodeSettings.fromConfig(CONF).check(Map.of("WRITE_QUORUMS", "2")));
    assertTrue(e.getMessage(), e.getMessage().contains("WRITE_QUORUMS"));
  }

  /** The repository's own application.conf, which the node's jar carries. */
  @Test
  public void theNodesApplicationConfNamesItsSettings() throws IOException {
    Path conf = Path.of("..", "application.conf");
    NodeSettings settings = NodeSettings.fromConfig(Files.readString(conf));
    for (String name : new String[] {"NODE_ID", "SEED_NODES", "DATA_DIR", "WRITE_QUORUM", "FOLLOWERS", "HTTP_PORT",
        "CLUSTER_PORT", "REPLICATION_TIMEOUT", "RETAINED_ENTRIES", "JDK_JAVA_OPTIONS"}) {
      assertTrue(name + " in " + settings.names(), settings.names().contains(name));
    }
    assertFalse(settings.names().contains("quorumkv.node-id"));
  }
}
