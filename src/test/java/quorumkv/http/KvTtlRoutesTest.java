package quorumkv.http;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static quorumkv.http.KvRoutesTest.assertNotFound;
import static quorumkv.http.KvRoutesTest.assertWritten;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;
import quorumkv.http.KvRoutesTest.Node;
import quorumkv.http.KvRoutesTest.Reply;

/**
 * TTL keys over real HTTP against the one-node cluster of {@link KvRoutesTest} (six replicas):
 * {@code ?ttl=} on PUT and {@code ttl} on txn puts, {@code ttlMs} on every read shape, expiry
 * through the log, and every bad TTL answered 400 without writing anything. Keys that expire in a
 * test are waited out before it returns, so no expiry entry lands in another test's "nothing was
 * written" check.
 */
public class KvTtlRoutesTest {

  private static final Duration EXPIRY_WAIT = Duration.ofSeconds(15);
  private static Node node;

  @BeforeClass
  public static void startNode() {
    node = Node.start("ttl");
  }

  @AfterClass
  public static void stopNode() {
    if (node != null) {
      node.close();
    }
  }

  private static void assertTtlMs(Reply r, long atMost) {
    assertTrue(r + " carries ttlMs", r.body.has("ttlMs"));
    long ttlMs = r.body.get("ttlMs").asLong();
    assertTrue(r + ": ttlMs " + ttlMs + " in [0, " + atMost + "]", ttlMs >= 0 && ttlMs <= atMost);
  }

  private static void awaitGone(String key) {
    node.awaitCondition(key + " expired on the leader's replica", EXPIRY_WAIT,
        () -> node.get("/kv/" + key + "?consistency=leader").status == 404);
    long last = node.leaderLastIndex();
    node.awaitCondition("the leader's replica applied " + last, Duration.ofSeconds(10),
        () -> node.status().get("appliedIndex").asLong() >= last);
  }

  @Test
  public void everyReadShapeCarriesTheTimeLeftForAKeyWithATtl() throws Exception {
    assertWritten(node.put("/kv/ttl-read?ttl=1h", "v"), "ttl-read", 3);
    assertWritten(node.put("/kv/ttl-read-permanent", "v"), "ttl-read-permanent", 3);
    long hour = Duration.ofHours(1).toMillis();
    for (String level : new String[] {"leader", "linearizable", "local"}) {
      node.awaitCondition("ttl-read readable at " + level, Duration.ofSeconds(10),
          () -> node.get("/kv/ttl-read?consistency=" + level).status == 200);
      Reply r = node.get("/kv/ttl-read?consistency=" + level);
      assertTtlMs(r, hour);
      assertTrue(r.toString(), r.body.get("ttlMs").asLong() > hour - 60_000);
      assertFalse(r.toString(), node.get("/kv/ttl-read-permanent?consistency=" + level).body.has("ttlMs"));
    }
    assertTtlMs(node.get("/get?key=ttl-read&consistency=leader"), hour);
    assertTtlMs(node.get("/read?key=ttl-read&consistency=leader"), hour);

    Reply page = node.get("/kv?prefix=ttl-read&consistency=leader");
    assertEquals(page.toString(), 2, page.body.get("items").size());
    assertTrue(page.toString(), page.body.get("items").get(0).get("ttlMs").asLong() > hour - 60_000);
    assertFalse(page.toString(), page.body.get("items").get(1).has("ttlMs"));
    Reply keysOnly = node.get("/kv?prefix=ttl-read&keysOnly=true&consistency=leader");
    assertTrue(keysOnly.toString(), keysOnly.body.get("items").get(0).has("ttlMs"));

    Reply txn = node.post("/txn", "{\"success\": [{\"op\": \"get\", \"key\": \"ttl-read\"},"
        + " {\"op\": \"get\", \"key\": \"ttl-read-permanent\"}]}");
    assertEquals(txn.toString(), 200, txn.status);
    assertTrue(txn.toString(), txn.body.get("results").get(0).get("ttlMs").asLong() > hour - 60_000);
    assertFalse(txn.toString(), txn.body.get("results").get(1).has("ttlMs"));

    HttpResponse<String> backup = node.getRaw("/backup?consistency=leader");
    assertEquals(200, backup.statusCode());
    ObjectMapper json = new ObjectMapper();
    boolean sawTtl = false;
    boolean sawPermanent = false;
    for (String line : backup.body().split("\n")) {
      JsonNode l = json.readTree(line);
      if (l.has("key") && l.get("key").asText().equals("ttl-read")) {
        sawTtl = l.get("ttlMs").asLong() > hour - 60_000;
      }
      if (l.has("key") && l.get("key").asText().equals("ttl-read-permanent")) {
        sawPermanent = !l.has("ttlMs");
      }
    }
    assertTrue(backup.body(), sawTtl && sawPermanent);
  }

  @Test
  public void aKeyWithATtlDisappearsThroughTheLogAndARewriteWithoutTtlStays() {
    long before = node.leaderLastIndex();
    assertWritten(node.put("/kv/ttl-gone?ttl=1s", "v"), "ttl-gone", 3);
    assertWritten(node.put("/kv/ttl-kept?ttl=1", "v"), "ttl-kept", 3);
    assertWritten(node.put("/kv/ttl-kept", "permanent now"), "ttl-kept", 3);
    assertWritten(node.put("/kv/ttl-cas?ifVersion=0&ttl=1s", "v"), "ttl-cas", 3);
    assertTtlMs(node.get("/kv/ttl-cas?consistency=leader"), 1_000);
    Reply txn = node.post("/txn", "{\"success\": [{\"op\": \"put\", \"key\": \"ttl-txn\", \"value\": \"v\", \"ttl\": \"1s\"},"
        + " {\"op\": \"put\", \"key\": \"ttl-txn-n\", \"value\": \"v\", \"ttl\": 2}]}");
    assertEquals(txn.toString(), 200, txn.status);
    assertTtlMs(node.get("/kv/ttl-txn-n?consistency=leader"), 2_000);

    for (String key : new String[] {"ttl-gone", "ttl-cas", "ttl-txn", "ttl-txn-n"}) {
      awaitGone(key);
      assertNotFound(node.get("/kv/" + key + "?consistency=linearizable"), key);
    }
    Reply kept = node.get("/kv/ttl-kept?consistency=leader");
    assertEquals(kept.toString(), "permanent now", kept.body.get("value").asText());
    assertFalse(kept.toString(), kept.body.has("ttlMs"));
    // the expiry went through the log: index moved past the writes, and the leader counted it
    assertTrue(node.leaderLastIndex() > before + 5);
    String metrics = node.getText("/metrics")[2];
    assertTrue(metrics, metrics.lines().anyMatch(l -> l.startsWith("quorumkv_ttl_expired_keys_total")
        && Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)) >= 4));
  }

  @Test
  public void badTtlsAre400AndWriteNothing() {
    assertWritten(node.put("/kv/ttl-guarded", "original"), "ttl-guarded", 3);
    String[] bad = {"", "0", "0s", "500ms", "1.5s", "-1", "-1s", "31d", "2592001", "721h", "43201m", "1h30m", "abc",
        "30S", "%2030s", "30s%20", "30sec", "s", "99999999999", "1e3", "P1D", "0x10"};
    for (String ttl : bad) {
      node.assertRejectedWritesNothing("PUT", "/kv/ttl-guarded?ttl=" + ttl, "changed",
          "ttl must be a duration from 1s to 30d");
      node.assertRejectedWritesNothing("PUT", "/kv/ttl-guarded?ifVersion=0&ttl=" + ttl, "changed",
          "ttl must be a duration from 1s to 30d");
    }
    Reply read = node.get("/kv/ttl-guarded?consistency=leader");
    assertEquals("original", read.body.get("value").asText());
    assertFalse(read.toString(), read.body.has("ttlMs"));
  }

  @Test
  public void theTtlBoundsAndEveryUnitAreAccepted() {
    String[][] good = {{"1s", "1000"}, {"1", "1000"}, {"30d", Long.toString(Duration.ofDays(30).toMillis())},
        {"2592000", Long.toString(Duration.ofDays(30).toMillis())}, {"720h", Long.toString(Duration.ofDays(30).toMillis())},
        {"5m", "300000"}, {"2h", "7200000"}};
    for (String[] g : good) {
      String key = "ttl-bound-" + g[0];
      assertWritten(node.put("/kv/" + key + "?ttl=" + g[0], "v"), key, 3);
      Reply r = node.get("/kv/" + key + "?consistency=leader");
      long limit = Long.parseLong(g[1]);
      assertTtlMs(r, limit);
      if (limit >= 60_000) {
        assertTrue(r.toString(), r.body.get("ttlMs").asLong() > limit - 30_000);
      }
    }
    for (String g : new String[] {"1s", "1"}) {
      awaitGone("ttl-bound-" + g);
    }
  }
}
