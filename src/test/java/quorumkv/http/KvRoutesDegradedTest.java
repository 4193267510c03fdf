package quorumkv.http;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static quorumkv.http.KvRoutesTest.assertNotFound;
import static quorumkv.http.KvRoutesTest.assertWritten;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;
import quorumkv.http.KvRoutesTest.Node;
import quorumkv.http.KvRoutesTest.Reply;

/**
 * Two of the five followers gone (stopped, so they leave the Receptionist): a write whose quorum
 * needs more followers than are left is refused with 503 before it is logged, while writes the
 * remaining three can satisfy still succeed. A class of its own, so KvRoutesTest keeps six replicas.
 */
public class KvRoutesDegradedTest {

  private static Node node;

  @BeforeClass
  public static void startNodeAndStopTwoFollowers() {
    node = Node.start("routes-degraded");
    try {
      // With all five, W=4 works: the 503s below are caused by the lost followers.
      assertWritten(node.put("/kv/before?w=4", "written with five followers"), "before", 4);

      node.testKit.stop(node.replicas.get(4));
      node.testKit.stop(node.replicas.get(5));
      node.awaitCondition("the leader sees three followers", Duration.ofSeconds(30), () -> {
        JsonNode s = node.status();
        return s.path("reachableFollowers").asInt() == 3 && s.path("replication").size() == 4;
      });
    } catch (RuntimeException | Error e) {
      node.close();
      node = null;
      throw e;
    }
  }

  @AfterClass
  public static void stopNode() {
    if (node != null) {
      node.close();
    }
  }

  @Test
  public void aQuorumOfFourWithThreeFollowersLeftIs503AndWritesNothing() {
    JsonNode before = node.status();

    Reply r = node.put("/kv/needs-four?w=4", "never written");

    assertEquals(r.toString(), 503, r.status);
    assertEquals("application/json", r.contentType);
    assertTrue(r.toString(), r.body.get("error").asText().contains("replicas reachable"));
    assertTrue(r.toString(), r.body.get("error").asText().contains("nothing was written"));
    assertEquals(4, r.body.get("required").asInt());
    assertEquals(3, r.body.get("reachable").asInt());
    assertEquals(0, r.body.get("acks").asInt());
    assertEquals("needs-four", r.body.get("key").asText());
    assertEquals("node0", r.body.get("node").asText());
    assertFalse(r.toString(), r.body.has("version"));

    JsonNode after = node.status();
    assertEquals(before.get("lastIndex").asLong(), after.get("lastIndex").asLong());
    assertEquals(before.get("leaderLastIndex").asLong(), after.get("leaderLastIndex").asLong());
    assertEquals(before.get("digest").asText(), after.get("digest").asText());
    assertNotFound(node.get("/kv/needs-four"), "needs-four");
    assertNotFound(node.get("/kv/needs-four?consistency=leader"), "needs-four");
  }

  @Test
  public void everyWritePathRefusesAQuorumThatCannotBeReached() {
    long before = node.leaderLastIndex();

    assertNotEnoughReplicas(node.put("/kv/needs-five?w=5", "x"), 5);
    assertNotEnoughReplicas(node.post("/set?w=4", "{\"key\": \"needs-five\", \"value\": \"x\"}"), 4);
    assertNotEnoughReplicas(node.post("/write?w=5", "{\"key\": \"needs-five\", \"value\": \"x\"}"), 5);
    assertNotEnoughReplicas(node.send("DELETE", "/kv/before?w=4", null), 4);

    assertEquals(before, node.leaderLastIndex());
    assertNotFound(node.get("/kv/needs-five"), "needs-five");
    assertEquals("written with five followers", node.get("/kv/before").body.get("value").asText());
  }

  @Test
  public void aQuorumTheRemainingFollowersCanMeetStillSucceeds() {
    long before = node.leaderLastIndex();

    Reply three = node.put("/kv/needs-three?w=3", "written");
    assertWritten(three, "needs-three", 3);
    assertEquals("only three followers are left to ack", 3, three.body.get("acks").asInt());

    Reply byDefault = node.put("/kv/default-quorum", "written");
    assertWritten(byDefault, "default-quorum", 3);
    assertEquals(3, byDefault.body.get("acks").asInt());

    assertEquals(before + 2, node.leaderLastIndex());
    assertEquals("written", node.get("/kv/needs-three?consistency=leader").body.get("value").asText());
    long version = three.body.get("version").asLong();
    for (int i = 1; i <= 3; i++) {
      assertEquals("node" + i, "written", node.readReplicaAt(i, "needs-three", version).value());
    }
  }

  @Test
  public void statusShowsOnlyTheReplicasThatAreLeft() {
    JsonNode s = node.status();

    assertEquals(3, s.get("reachableFollowers").asInt());
    List<String> nodes = new ArrayList<>();
    s.get("replication").forEach(r -> nodes.add(r.get("node").asText()));
    assertEquals(List.of("node0", "node1", "node2", "node3"), nodes);
    assertEquals("leader", s.get("role").asText());
    assertEquals(200, node.get("/ready").status);
  }

  private static void assertNotEnoughReplicas(Reply r, int required) {
    assertEquals(r.toString(), 503, r.status);
    assertTrue(r.toString(), r.body.get("error").asText().contains("replicas reachable"));
    assertEquals(r.toString(), required, r.body.get("required").asInt());
    assertEquals(r.toString(), 3, r.body.get("reachable").asInt());
    assertEquals(r.toString(), 0, r.body.get("acks").asInt());
  }
}
