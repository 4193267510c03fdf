package quorumkv.http;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static quorumkv.http.KvRoutesTest.assertBadRequest;
import static quorumkv.http.KvRoutesTest.assertNotFound;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;
import quorumkv.http.KvRoutesTest.Node;
import quorumkv.http.KvRoutesTest.Reply;

/**
 * Compare-and-set ({@code ?ifVersion=}), prefix deletes ({@code DELETE /kv?prefix=}) and
 * transactions ({@code POST /txn}) over real HTTP against the one-node cluster of
 * {@link KvRoutesTest} (six replicas, W = 3 of 5). A failed condition and every bad input are
 * checked to change nothing: no key, version or digest moves (bad input does not even log).
 */
public class KvCasTxnRoutesTest {

  private static Node node;

  @BeforeClass
  public static void startNode() {
    node = Node.start("cas-txn");
  }

  @AfterClass
  public static void stopNode() {
    if (node != null) {
      node.close();
    }
  }

  private static long versionOf(String key) {
    Reply r = node.get("/kv/" + key + "?consistency=leader");
    return r.status == 404 ? 0 : r.body.get("version").asLong();
  }

  /** Key count and digest of the leader's replica, once it has applied everything logged. */
  private static Map<String, JsonNode> contents() {
    long last = node.leaderLastIndex();
    node.awaitCondition("the leader's replica applied " + last, java.time.Duration.ofSeconds(10),
        () -> node.status().get("appliedIndex").asLong() >= last);
    JsonNode s = node.status();
    Map<String, JsonNode> out = new LinkedHashMap<>();
    out.put("keyCount", s.get("keyCount"));
    out.put("digest", s.get("digest"));
    return out;
  }

  private static void assertIndexHeader(Reply r, long atLeast) {
    assertNotNull(r + " carries " + KvRoutes.INDEX_HEADER, r.index);
    assertTrue(r + ": index " + r.index, Long.parseLong(r.index) >= atLeast);
  }

  private static void assertConditionFailed(Reply r, String key, long currentVersion) {
    assertEquals(r.toString(), 412, r.status);
    assertEquals(r.toString(), "application/json", r.contentType);
    assertTrue(r.toString(), r.body.get("error").asText().contains("compare-and-set failed"));
    assertEquals(r.toString(), key, r.body.get("key").asText());
    assertEquals(r.toString(), currentVersion, r.body.get("currentVersion").asLong());
    assertIndexHeader(r, currentVersion + 1);
  }

  /** Bad input: {@code status} with a JSON error naming the problem, and the log does not move. */
  private static void assertRejected(String method, String path, String body, int status, String errorPart) {
    long lastBefore = node.leaderLastIndex();
    Map<String, JsonNode> before = contents();
    Reply r = node.send(method, path, body);
    assertEquals(r.toString(), status, r.status);
    assertEquals(r.toString(), "application/json", r.contentType);
    assertTrue(r + " should mention: " + errorPart, r.body.get("error").asText().contains(errorPart));
    assertEquals(r + " must not be logged", lastBefore, node.leaderLastIndex());
    assertEquals(r + " must change nothing", before, contents());
  }

  // --- compare-and-set ---

  @Test
  public void putIfVersionZeroCreatesOnlyAnAbsentKeyAndAFailedConditionChangesNothing() {
    Reply created = node.put("/kv/cas-new?ifVersion=0", "first");
    KvRoutesTest.assertWritten(created, "cas-new", 3);
    long v1 = created.body.get("version").asLong();
    assertEquals(Long.toString(v1), created.index);

    Map<String, JsonNode> before = contents();
    Reply refused = node.put("/kv/cas-new?ifVersion=0", "second");
    assertConditionFailed(refused, "cas-new", v1);
    assertEquals(before, contents());
    Reply read = node.get("/kv/cas-new?consistency=leader");
    assertEquals("first", read.body.get("value").asText());
    assertEquals(v1, read.body.get("version").asLong());

    Reply updated = node.put("/kv/cas-new?ifVersion=" + v1, "second");
    KvRoutesTest.assertWritten(updated, "cas-new", 3);
    long v2 = updated.body.get("version").asLong();
    assertTrue(v2 > v1);
    assertConditionFailed(node.put("/kv/cas-new?ifVersion=" + v1, "third"), "cas-new", v2);
    assertEquals("second", node.get("/kv/cas-new?consistency=leader").body.get("value").asText());
  }

  @Test
  public void putIfVersionOnAnAbsentKeyAnswers412WithCurrentVersionZero() {
    Map<String, JsonNode> before = contents();
    assertConditionFailed(node.put("/kv/cas-absent?ifVersion=3", "x"), "cas-absent", 0);
    assertEquals(before, contents());
    Reply missing = node.get("/kv/cas-absent?consistency=leader");
    assertNotFound(missing, "cas-absent");
    assertIndexHeader(missing, 1);
  }

  @Test
  public void deleteIfVersionDeletesOnlyTheVersionAskedFor() {
    long v = node.put("/kv/cas-del", "here").body.get("version").asLong();
    Map<String, JsonNode> before = contents();
    assertConditionFailed(node.send("DELETE", "/kv/cas-del?ifVersion=" + (v + 100), null), "cas-del", v);
    assertConditionFailed(node.send("DELETE", "/kv/cas-del?ifVersion=0", null), "cas-del", v);
    assertEquals(before, contents());

    Reply deleted = node.send("DELETE", "/kv/cas-del?ifVersion=" + v, null);
    KvRoutesTest.assertWritten(deleted, "cas-del", 3);
    assertIndexHeader(deleted, v + 1);
    assertNotFound(node.get("/kv/cas-del?consistency=leader"), "cas-del");
    assertConditionFailed(node.send("DELETE", "/kv/cas-del?ifVersion=" + v, null), "cas-del", 0);
  }

  @Test
  public void ofConcurrentPutsWithTheSameIfVersionExactlyOneSucceeds() throws Exception {
    long v = node.put("/kv/cas-race", "0").body.get("version").asLong();
    ExecutorService pool = Executors.newFixedThreadPool(6);
    try {
      List<Future<Reply>> replies = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        String value = "client-" + i;
        replies.add(pool.submit(() -> node.put("/kv/cas-race?ifVersion=" + v, value)));
      }
      int ok = 0;
      String winner = null;
      long winnerVersion = 0;
      List<Reply> refused = new ArrayList<>();
      for (Future<Reply> f : replies) {
        Reply r = f.get();
        if (r.status == 200) {
          ok++;
          winnerVersion = r.body.get("version").asLong();
          winner = r.request;
        } else {
          assertEquals(r.toString(), 412, r.status);
          refused.add(r);
        }
      }
      assertEquals("exactly one winner", 1, ok);
      for (Reply r : refused) {
        long current = r.body.get("currentVersion").asLong();
        assertTrue(r + " saw the winner's version or the original one (if logged before it): " + winner,
            current == winnerVersion || current == v);
      }
      assertEquals(winnerVersion, versionOf("cas-race"));
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  public void badIfVersionIs400AndWritesNothing() {
    node.put("/kv/cas-guarded", "original");
    for (String bad : List.of("-1", "abc", "", "1.5", "99999999999999999999", "0x10")) {
      assertRejected("PUT", "/kv/cas-guarded?ifVersion=" + bad, "changed", 400, "ifVersion must be an integer");
      assertRejected("DELETE", "/kv/cas-guarded?ifVersion=" + bad, null, 400, "ifVersion must be an integer");
    }
    assertRejected("PUT", "/kv/cas-guarded?ifVersion=0", "", 400, "value must not be empty");
    assertRejected("PUT", "/kv/cas-guarded?ifVersion=0&w=9", "x", 400, "w must be an integer");
    assertEquals("original", node.get("/kv/cas-guarded?consistency=leader").body.get("value").asText());
  }

  // --- prefix delete ---

  @Test
  public void deleteByPrefixDeletesEveryKeyUnderItAsOneEntry() {
    for (String k : List.of("pd/a", "pd/b", "pd/c/d")) {
      node.put("/kv/" + k.replace("/", "%2F"), "v");
    }
    node.put("/kv/pdx", "kept");
    node.put("/kv/pd", "kept too");
    long lastBefore = node.leaderLastIndex();

    Reply r = node.send("DELETE", "/kv?prefix=pd%2F", null);
    assertEquals(r.toString(), 200, r.status);
    assertEquals("pd/", r.body.get("prefix").asText());
    assertEquals(3, r.body.get("deleted").asInt());
    long version = r.body.get("version").asLong();
    assertEquals("one log entry", lastBefore + 1, version);
    assertEquals(Long.toString(version), r.index);
    assertTrue(r.body.get("acks").asInt() >= 3);

    Reply page = node.get("/kv?prefix=pd&consistency=leader");
    List<String> keys = new ArrayList<>();
    page.body.get("items").forEach(i -> keys.add(i.get("key").asText()));
    assertEquals(List.of("pd", "pdx"), keys);

    Reply none = node.send("DELETE", "/kv?prefix=no-such-prefix%2F", null);
    assertEquals(none.toString(), 200, none.status);
    assertEquals(0, none.body.get("deleted").asInt());
  }

  @Test
  public void deleteWithoutAPrefixIs400AndDeletesNothing() {
    node.put("/kv/pd-guard", "v");
    assertRejected("DELETE", "/kv", null, 400, "needs a non-empty prefix");
    assertRejected("DELETE", "/kv?prefix=", null, 400, "needs a non-empty prefix");
    assertRejected("DELETE", "/kv?prefix=a%01b", null, 400, "control characters");
    assertRejected("DELETE", "/kv?prefix=" + "p".repeat(513), null, 400, "prefix is 513 bytes");
    assertRejected("DELETE", "/kv?prefix=pd-&w=7", null, 400, "w must be an integer");
    assertRejected("DELETE", "/kv?prefix=pd-&timeout=0", null, 400, "timeout must be a duration");
    assertEquals(200, node.get("/kv/pd-guard?consistency=leader").status);
  }

  @Test
  public void aPrefixThatIsNotUtf8Is400AndDeletesNothing() {
    // akka-http decodes %FF as U+FFFD: this deleted every key under "\uFFFD" before 2026-11-30.
    node.put("/kv/pd-utf8", "v");
    assertRejected("DELETE", "/kv?prefix=%FF", null, 400, "'prefix' is not valid UTF-8");
    assertRejected("DELETE", "/kv?prefix=%ED%A0%80", null, 400, "'prefix' is not valid UTF-8");
    assertRejected("DELETE", "/kv?w=3&prefix=a%C3", null, 400, "'prefix' is not valid UTF-8");
    assertRejected("DELETE", "/kv?prefix=a&%FF=1", null, 400, "'%FF' is not valid UTF-8");
    Reply page = node.get("/kv?prefix=%EF%BF%BD&consistency=leader"); // U+FFFD sent as its own UTF-8
    assertEquals(page.toString(), 200, page.status);
  }

  // --- transactions ---

  @Test
  public void aTransactionRunsItsSuccessOpsWhenEveryCompareHoldsAndAnswersOneResultPerOp() {
    long a = node.put("/kv/tx-a", "10").body.get("version").asLong();
    node.put("/kv/tx-b", "5");
    String body = """
        {"compare": [{"key": "tx-a", "version": %d}, {"key": "tx-b", "value": "5"}, {"key": "tx-c", "exists": false}],
         "success": [{"op": "put", "key": "tx-a", "value": "7"}, {"op": "put", "key": "tx-b", "value": "8"},
                     {"op": "delete", "key": "tx-gone"}, {"op": "get", "key": "tx-a"}, {"op": "get", "key": "tx-c"}],
         "failure": [{"op": "get", "key": "tx-a"}]}
        """.formatted(a);
    long lastBefore = node.leaderLastIndex();
    Reply r = node.post("/txn", body);
    assertEquals(r.toString(), 200, r.status);
    assertTrue(r.body.get("succeeded").asBoolean());
    long version = r.body.get("version").asLong();
    assertEquals("one log entry", lastBefore + 1, version);
    assertEquals(Long.toString(version), r.index);
    JsonNode results = r.body.get("results");
    assertEquals(5, results.size());
    assertEquals("{\"key\":\"tx-a\",\"version\":" + version + "}", results.get(0).toString());
    assertEquals("{\"key\":\"tx-b\",\"version\":" + version + "}", results.get(1).toString());
    assertEquals("{\"key\":\"tx-gone\",\"deleted\":false}", results.get(2).toString());
    assertEquals("{\"key\":\"tx-a\",\"value\":\"7\",\"version\":" + version + "}", results.get(3).toString());
    assertEquals("{\"key\":\"tx-c\",\"found\":false}", results.get(4).toString());
    assertEquals(version, versionOf("tx-a"));
    assertEquals(version, versionOf("tx-b"));

    // Again: tx-a has moved on, so the failure branch runs and nothing changes.
    Map<String, JsonNode> before = contents();
    Reply again = node.post("/txn", body);
    assertEquals(again.toString(), 200, again.status);
    assertFalse(again.body.get("succeeded").asBoolean());
    assertEquals(1, again.body.get("results").size());
    assertEquals("7", again.body.get("results").get(0).get("value").asText());
    assertEquals(before, contents());
    assertEquals(version, versionOf("tx-a"));
  }

  @Test
  public void aVersionCompareHoldsAtEveryVersionAbove127() {
    long v = node.put("/kv/tx-high", "0").body.get("version").asLong();
    while (v < 300) { // past Java's cache of boxed Longs (-128..127), where an identity compare still held
      v = node.put("/kv/tx-high", Long.toString(v)).body.get("version").asLong();
    }
    Reply r = node.post("/txn", """
        {"compare": [{"key": "tx-high", "version": %d}], "success": [{"op": "put", "key": "tx-high", "value": "moved"}]}
        """.formatted(v));
    assertEquals(r.toString(), 200, r.status);
    assertTrue(r.toString(), r.body.get("succeeded").asBoolean());
    assertEquals("moved", node.get("/kv/tx-high?consistency=leader").body.get("value").asText());
  }

  @Test
  public void aTransactionTakesWAndTimeoutLikeAPut() {
    Reply r = node.post("/txn?w=5&timeout=5s", "{\"success\": [{\"op\": \"put\", \"key\": \"tx-w5\", \"value\": \"x\"}]}");
    assertEquals(r.toString(), 200, r.status);
    assertTrue(r.body.get("succeeded").asBoolean());
    long version = r.body.get("version").asLong();
    for (int i = 1; i <= 5; i++) {
      assertTrue("node" + i + " holds the transaction", node.replicaLastIndex(i) >= version);
    }
    assertRejected("POST", "/txn?w=6", "{\"success\": []}", 400, "w must be an integer");
    assertRejected("POST", "/txn?timeout=abc", "{\"success\": []}", 400, "timeout must be a duration");
  }

  @Test
  public void malformedTransactionsAre400AndChangeNothing() {
    node.put("/kv/tx-guard", "original");
    String[][] cases = {
        {"not json", "body is not valid JSON"},
        {"[]", "must be a JSON object"},
        {"{}", "the transaction is empty"},
        {"{\"compare\": [], \"success\": [], \"failure\": []}", "the transaction is empty"},
        {"{\"compares\": []}", "unknown field 'compares'"},
        {"{\"compare\": {}}", "'compare' must be an array"},
        {"{\"success\": \"put\"}", "'success' must be an array"},
        {"{\"compare\": [{\"key\": \"\", \"version\": 0}], \"success\": [{\"op\": \"get\", \"key\": \"a\"}]}",
            "compare[0]: key must not be empty"},
        {"{\"compare\": [{\"version\": 0}]}", "compare[0] needs a string 'key'"},
        {"{\"compare\": [{\"key\": \"a\"}]}", "needs one of 'version', 'value' or 'exists'"},
        {"{\"compare\": [{\"key\": \"a\", \"version\": 1, \"value\": \"x\"}]}", "give exactly one"},
        {"{\"compare\": [{\"key\": \"a\", \"version\": -1}]}", "version must be an integer >= 0"},
        {"{\"compare\": [{\"key\": \"a\", \"version\": \"1\"}]}", "version must be an integer >= 0"},
        {"{\"compare\": [{\"key\": \"a\", \"version\": 1.5}]}", "version must be an integer >= 0"},
        {"{\"compare\": [{\"key\": \"a\", \"exists\": \"yes\"}]}", "exists must be true or false"},
        {"{\"compare\": [{\"key\": \"a\", \"value\": 3}]}", "value must be a string"},
        {"{\"compare\": [{\"key\": \"a\", \"mod\": 3}]}", "unknown field 'mod'"},
        {"{\"compare\": [\"a\"]}", "compare[0] must be an object"},
        {"{\"success\": [{\"op\": \"incr\", \"key\": \"tx-guard\"}]}", "unknown op 'incr'"},
        {"{\"success\": [{\"key\": \"tx-guard\"}]}", "needs 'op'"},
        {"{\"success\": [{\"op\": \"put\", \"key\": \"tx-guard\"}]}", "a put needs a string 'value'"},
        {"{\"success\": [{\"op\": \"put\", \"key\": \"tx-guard\", \"value\": \"\"}]}", "value must not be empty"},
        {"{\"success\": [{\"op\": \"put\", \"key\": \"tx-guard\", \"value\": \"v\", \"ttl\": \"500ms\"}]}",
            "success[0].ttl must be a duration from 1s to 30d"},
        {"{\"success\": [{\"op\": \"put\", \"key\": \"tx-guard\", \"value\": \"v\", \"ttl\": \"31d\"}]}",
            "success[0].ttl must be a duration from 1s to 30d"},
        {"{\"success\": [{\"op\": \"put\", \"key\": \"tx-guard\", \"value\": \"v\", \"ttl\": 0}]}",
            "success[0].ttl must be a duration from 1s to 30d"},
        {"{\"failure\": [{\"op\": \"put\", \"key\": \"tx-guard\", \"value\": \"v\", \"ttl\": -5}]}",
            "failure[0].ttl must be a duration from 1s to 30d"},
        {"{\"success\": [{\"op\": \"put\", \"key\": \"tx-guard\", \"value\": \"v\", \"ttl\": 1.5}]}",
            "success[0].ttl must be a duration such as"},
        {"{\"success\": [{\"op\": \"put\", \"key\": \"tx-guard\", \"value\": \"v\", \"ttl\": null}]}",
            "success[0].ttl must be a duration such as"},
        {"{\"success\": [{\"op\": \"put\", \"key\": \"tx-guard\", \"value\": \"v\", \"ttl\": \"1h30m\"}]}",
            "success[0].ttl must be a duration from 1s to 30d"},
        {"{\"success\": [{\"op\": \"delete\", \"key\": \"tx-guard\", \"ttl\": \"30s\"}]}", "unexpected field 'ttl'"},
        {"{\"success\": [{\"op\": \"get\", \"key\": \"tx-guard\", \"ttl\": \"30s\"}]}", "unexpected field 'ttl'"},
        {"{\"success\": [{\"op\": \"delete\", \"key\": \"tx-guard\", \"value\": \"v\"}]}", "unexpected field 'value'"},
        {"{\"failure\": [{\"op\": \"get\", \"key\": \"\"}]}", "failure[0]: key must not be empty"},
        {"{\"success\": [{\"op\": \"put\", \"key\": \"" + "k".repeat(513) + "\", \"value\": \"v\"}]}", "key is 513 bytes"},
        {"{\"success\": [{\"op\": \"put\", \"key\": \"tx-guard\", \"value\": \"" + "x".repeat(64 * 1024 + 1) + "\"}]}",
            "65537 bytes"},
        // a valid op after an invalid one: all or nothing
        {"{\"success\": [{\"op\": \"put\", \"key\": \"tx-guard\", \"value\": \"changed\"}, {\"op\": \"nope\", \"key\": \"a\"}]}",
            "unknown op 'nope'"},
    };
    for (String[] c : cases) {
      assertRejected("POST", "/txn", c[0], 400, c[1]);
    }
    assertEquals("original", node.get("/kv/tx-guard?consistency=leader").body.get("value").asText());
  }

  @Test
  public void oversizedTransactionsAre413AndChangeNothing() {
    StringBuilder ops = new StringBuilder("{\"compare\": [{\"key\": \"a\", \"exists\": true}], \"success\": [");
    for (int i = 0; i < 128; i++) {
      ops.append(i == 0 ? "" : ",").append("{\"op\": \"put\", \"key\": \"tx-many-").append(i).append("\", \"value\": \"v\"}");
    }
    assertRejected("POST", "/txn", ops.append("]}").toString(), 413, "at most 128");

    StringBuilder big = new StringBuilder("{\"success\": [");
    for (int i = 0; i < 20; i++) {
      big.append(i == 0 ? "" : ",").append("{\"op\": \"put\", \"key\": \"tx-big-").append(i)
          .append("\", \"value\": \"").append("x".repeat(60 * 1024)).append("\"}");
    }
    assertRejected("POST", "/txn", big.append("]}").toString(), 413, "the limit is");

    StringBuilder max = new StringBuilder("{\"compare\": [{\"key\": \"tx-max\", \"exists\": false}], \"success\": [");
    for (int i = 0; i < 127; i++) {
      max.append(i == 0 ? "" : ",").append("{\"op\": \"get\", \"key\": \"tx-max\"}");
    }
    Reply fits = node.post("/txn", max.append("]}").toString());
    assertEquals("128 compares and ops are allowed: " + fits, 200, fits.status);
  }

  @Test
  public void txnTakesOnlyPostAndEveryErrorCarriesTheIndexHeader() {
    Reply r = node.get("/txn");
    assertEquals(r.toString(), 405, r.status);
    assertEquals("application/json", r.contentType);
    assertIndexHeader(r, 0);
    Reply bad = node.post("/txn", "{");
    assertBadRequest(bad, "body is not valid JSON");
    assertIndexHeader(bad, 0);
    Reply badCas = node.put("/kv/cas-any?ifVersion=x", "v");
    assertBadRequest(badCas, "ifVersion");
    assertIndexHeader(badCas, 0);
    Reply badPrefix = node.send("DELETE", "/kv?prefix=", null);
    assertBadRequest(badPrefix, "prefix");
    assertIndexHeader(badPrefix, 0);
  }
}
