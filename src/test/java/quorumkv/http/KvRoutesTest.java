package quorumkv.http;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.cluster.MemberStatus;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Join;
import akka.http.javadsl.ServerBinding;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;
import quorumkv.TestConfig;
import quorumkv.config.Settings;
import quorumkv.node.NodeWiring;
import quorumkv.replication.FollowerActor;
import quorumkv.replication.ReadResult;
import quorumkv.replication.ReplicationDelay;

/**
 * The HTTP API over real HTTP against a one-node cluster that holds six replicas (node0 is the
 * leader's own, node1..node5 its followers) and a leader with the default W = 3 of 5. Every bad
 * input is checked to answer 400 with a JSON error AND to leave the log and the key untouched.
 * Losing replicas is in {@link KvRoutesDegradedTest}, so that every test here has all six.
 */
public class KvRoutesTest {

  private static Node node;

  @BeforeClass
  public static void startNode() {
    node = Node.start("routes");
  }

  @AfterClass
  public static void stopNode() {
    if (node != null) {
      node.close();
    }
  }

  // --- PUT / GET / DELETE /kv/{key} ---

  @Test
  public void putAnswersWithKeyVersionAcksQuorumAndNodeAndGetReadsItBack() {
    Reply first = node.put("/kv/alpha", "one");
    assertWritten(first, "alpha", 3);
    long v1 = first.body.get("version").asLong();
    assertTrue("version is a log index, got " + v1, v1 >= 1);
    assertEquals("application/json", first.contentType);

    Reply read = node.get("/kv/alpha?consistency=leader");
    assertEquals(200, read.status);
    assertEquals("alpha", read.body.get("key").asText());
    assertEquals("one", read.body.get("value").asText());
    assertEquals(v1, read.body.get("version").asLong());
    assertEquals("node0", read.body.get("node").asText());

    Reply second = node.put("/kv/alpha", "two");
    assertWritten(second, "alpha", 3);
    long v2 = second.body.get("version").asLong();
    assertTrue("versions increase: " + v1 + " then " + v2, v2 > v1);

    Reply reread = node.get("/kv/alpha?consistency=leader");
    assertEquals("two", reread.body.get("value").asText());
    assertEquals(v2, reread.body.get("version").asLong());
  }

  @Test
  public void aLocalReadWithMinIndexWaitsForThatIndexAndNeverAnswersOlder() throws Exception {
    Reply put = node.put("/kv/ryw", "mine");
    assertWritten(put, "ryw", 3);
    long index = Long.parseLong(put.index);
    Reply mine = node.get("/kv/ryw?minIndex=" + index);
    assertEquals(mine.toString(), 200, mine.status);
    assertEquals("mine", mine.body.get("value").asText());
    assertTrue(mine.toString(), Long.parseLong(mine.index) >= index);

    // An index not written yet: waits, and is answered by the write that reaches it.
    long next = node.status().get("leaderLastIndex").asLong() + 1;
    CompletableFuture<Reply> waiting = CompletableFuture.supplyAsync(
        () -> node.get("/kv/ryw?minIndex=" + next + "&timeout=20s"));
    Thread.sleep(300);
    assertFalse("answered before index " + next + " existed: " + (waiting.isDone() ? waiting.join() : ""),
        waiting.isDone());
    assertWritten(node.put("/kv/ryw", "newer"), "ryw", 3);
    Reply waited = waiting.get(30, TimeUnit.SECONDS);
    assertEquals(waited.toString(), 200, waited.status);
    assertEquals("newer", waited.body.get("value").asText());

    // Not reached within the timeout: 503 with where the replica stands, never the older value.
    long far = next + 1_000_000;
    Reply timedOut = node.get("/kv/ryw?minIndex=" + far + "&timeout=200ms");
    assertEquals(timedOut.toString(), 503, timedOut.status);
    assertEquals(timedOut.toString(), far, timedOut.body.get("minIndex").asLong());
    assertTrue(timedOut.toString(), timedOut.body.get("appliedIndex").asLong() < far);
    assertFalse(timedOut.toString(), timedOut.body.has("value"));

    assertBadRequest(node.get("/kv/ryw?minIndex=-1"), "minIndex must be a log index");
    assertBadRequest(node.get("/kv/ryw?minIndex=x"), "minIndex must be a log index");
    assertBadRequest(node.get("/kv/ryw?minIndex=1&consistency=leader"), "minIndex is for consistency=local");
    assertBadRequest(node.get("/kv/ryw?minIndex=1&timeout=61s"), "timeout must be a duration");
  }

  @Test
  public void versionsIncreaseAcrossKeys() {
    long previous = 0;
    for (int i = 0; i < 5; i++) {
      Reply r = node.put("/kv/seq-" + i, "v" + i);
      assertWritten(r, "seq-" + i, 3);
      long version = r.body.get("version").asLong();
      assertTrue("version " + version + " after " + previous, version > previous);
      previous = version;
    }
    assertEquals(previous, node.status().get("leaderLastIndex").asLong());
  }

  @Test
  public void writeQuorumFiveIsAnsweredOnlyWhenEveryFollowerHasTheWrite() {
    Reply r = node.put("/kv/all-five?w=5", "everywhere");

    assertWritten(r, "all-five", 5);
    assertEquals(5, r.body.get("acks").asInt());
    long version = r.body.get("version").asLong();
    for (int i = 1; i <= 5; i++) {
      assertTrue("node" + i + " acked, so it must hold the write durably", node.replicaLastIndex(i) >= version);
      FollowerActor.Value v = node.readReplicaAt(i, "all-five", version); // applied once it learns the commit
      assertEquals("everywhere", v.value());
      assertEquals(version, v.version());
    }
  }

  @Test
  public void writeQuorumZeroIsAnsweredOnceTheLeaderHasTheWrite() {
    Reply r = node.put("/kv/leader-only?w=0", "fast");

    assertEquals(200, r.status);
    assertEquals(0, r.body.get("quorum").asInt());
    int acks = r.body.get("acks").asInt();
    assertTrue("acks " + acks, acks >= 0 && acks <= 5);
    assertEquals("node0", r.body.get("node").asText());
    // Acknowledged before it is committed (it is applied once WRITE_QUORUM followers hold it), so
    // the read, on node0 (the leader), waits for its version to be applied rather than racing the commit.
    Reply read = node.get("/kv/leader-only?minIndex=" + r.body.get("version").asLong());
    assertEquals(200, read.status);
    assertEquals("fast", read.body.get("value").asText());
    assertEquals(r.body.get("version").asLong(), read.body.get("version").asLong());
  }

  @Test
  public void aValidTimeoutIsAccepted() {
    assertWritten(node.put("/kv/with-timeout?timeout=5s", "a"), "with-timeout", 3);
    assertWritten(node.put("/kv/with-timeout?timeout=3000", "b"), "with-timeout", 3);
    Reply c = node.put("/kv/with-timeout?timeout=4000ms&w=2", "c");
    assertWritten(c, "with-timeout", 2);
    // Answered at two acks, before it commits: the read waits for its version to be applied here.
    assertEquals("c", node.get("/kv/with-timeout?minIndex=" + c.body.get("version").asLong()).body.get("value").asText());
  }

  @Test
  public void deleteIsAReplicatedWriteAndTheKeyIsThen404() {
    Reply put = node.put("/kv/doomed", "soon gone");
    assertWritten(put, "doomed", 3);

    Reply del = node.send("DELETE", "/kv/doomed", null);
    assertWritten(del, "doomed", 3);
    assertTrue(del.body.toString(), del.body.get("deleted").asBoolean());
    assertTrue(del.body.get("version").asLong() > put.body.get("version").asLong());
    Reply again = node.send("DELETE", "/kv/doomed", null);
    assertWritten(again, "doomed", 3);
    assertFalse("nothing left to delete: " + again.body, again.body.get("deleted").asBoolean());

    Reply get = node.get("/kv/doomed?consistency=leader");
    assertNotFound(get, "doomed");
    assertNotFound(node.get("/kv/doomed?consistency=leader"), "doomed");
    assertNotFound(node.get("/get?key=doomed"), "doomed");
  }

  @Test
  public void deleteWithWriteQuorumFiveRemovesTheKeyOnEveryFollower() {
    assertWritten(node.put("/kv/doomed-everywhere?w=5", "x"), "doomed-everywhere", 5);

    Reply del = node.send("DELETE", "/kv/doomed-everywhere?w=5", null);

    assertWritten(del, "doomed-everywhere", 5);
    long version = del.body.get("version").asLong();
    for (int i = 1; i <= 5; i++) {
      assertFalse("node" + i, node.readReplicaAt(i, "doomed-everywhere", version).found());
    }
  }

  @Test
  public void aKeyNeverWrittenIs404OnEveryReadPath() {
    assertNotFound(node.get("/kv/never-written?consistency=leader"), "never-written");
    assertNotFound(node.get("/kv/never-written?consistency=leader"), "never-written");
    assertNotFound(node.get("/kv/never-written?consistency=local"), "never-written");
    assertNotFound(node.get("/get?key=never-written"), "never-written");
    assertNotFound(node.get("/read?key=never-written"), "never-written");
    assertNotFound(node.get("/read?key=never-written&consistency=leader"), "never-written");
  }

  @Test
  public void keysAndValuesExactlyAtTheLimitsAreAccepted() {
    String maxKey = "k".repeat(512);
    String maxValue = "v".repeat(64 * 1024);

    assertWritten(node.put("/kv/" + maxKey, "fits"), maxKey, 3);
    assertWritten(node.put("/kv/max-value", maxValue), "max-value", 3);

    assertEquals("fits", node.get("/kv/" + maxKey + "?consistency=leader").body.get("value").asText());
    assertEquals(maxValue, node.get("/kv/max-value?consistency=leader").body.get("value").asText());
  }

  @Test
  public void nonAsciiKeysAndValuesRoundTrip() {
    assertWritten(node.put("/kv/caf%C3%A9", "naïve ☃"), "café", 3);

    Reply read = node.get("/kv/caf%C3%A9?consistency=leader");
    assertEquals(200, read.status);
    assertEquals("café", read.body.get("key").asText());
    assertEquals("naïve ☃", read.body.get("value").asText());
  }

  // --- the design card's and the lab report's JSON endpoints ---

  @Test
  public void setAndGetUseJsonBodiesAndTheKeyParameter() {
    Reply set = node.post("/set", "{\"key\": \"card\", \"value\": \"from set\"}");
    assertWritten(set, "card", 3);

    Reply get = node.get("/get?key=card");
    assertEquals(200, get.status);
    assertEquals("card", get.body.get("key").asText());
    assertEquals("from set", get.body.get("value").asText());
    assertEquals(set.body.get("version").asLong(), get.body.get("version").asLong());
    assertEquals("node0", get.body.get("node").asText());

    assertEquals("from set", node.get("/kv/card?consistency=leader").body.get("value").asText());
  }

  @Test
  public void writeAndReadAreTheSameAsSetAndGet() {
    Reply write = node.post("/write", "{\"key\": \"report\", \"value\": \"from write\"}");
    assertWritten(write, "report", 3);

    Reply read = node.get("/read?key=report");
    assertEquals(200, read.status);
    assertEquals("report", read.body.get("key").asText());
    assertEquals("from write", read.body.get("value").asText());
    assertEquals(write.body.get("version").asLong(), read.body.get("version").asLong());

    assertEquals("from write", node.get("/get?key=report").body.get("value").asText());
  }

  @Test
  public void jsonWritesTakeTheWriteQuorumParameterToo() {
    Reply set = node.post("/set?w=5", "{\"key\": \"json-w5\", \"value\": \"x\"}");
    assertWritten(set, "json-w5", 5);
    assertEquals(5, set.body.get("acks").asInt());

    Reply write = node.post("/write?w=1&timeout=5s", "{\"key\": \"json-w1\", \"value\": \"y\"}");
    assertWritten(write, "json-w1", 1);
  }

  @Test
  public void leaderConsistencyReadsWorkOnEveryReadPath() {
    Reply put = node.put("/kv/from-leader", "leader value");
    assertWritten(put, "from-leader", 3);
    long version = put.body.get("version").asLong();

    for (String path : List.of(
        "/kv/from-leader?consistency=leader", "/get?key=from-leader&consistency=leader",
        "/read?key=from-leader&consistency=leader", "/kv/from-leader?consistency=local")) {
      Reply r = node.get(path);
      assertEquals(path, 200, r.status);
      assertEquals(path, "leader value", r.body.get("value").asText());
      assertEquals(path, version, r.body.get("version").asLong());
      assertEquals(path, "node0", r.body.get("node").asText());
    }
  }

  // --- bad input: 400, and nothing written ---

  @Test
  public void badPutsAre400AndWriteNothing() {
    assertWritten(node.put("/kv/guarded", "original"), "guarded", 3);
    long version = node.get("/kv/guarded?consistency=leader").body.get("version").asLong();

    node.assertRejectedWritesNothing("PUT", "/kv/guarded", "", "value must not be empty");
    node.assertRejectedWritesNothing("PUT", "/kv/guarded", "x".repeat(64 * 1024 + 1), "65537 bytes");
    node.assertRejectedWritesNothing("PUT", "/kv/" + "k".repeat(513), "v", "key is 513 bytes");
    node.assertRejectedWritesNothing("PUT", "/kv/bad%01key", "v", "control characters");
    node.assertRejectedWritesNothing("PUT", "/kv/", "v", "key must not be empty");
    node.assertRejectedWritesNothing("PUT", "/kv", "v", "key must not be empty");
    node.assertRejectedWritesNothing("PUT", "/kv/guarded?w=-1", "changed", "w must be an integer from 0 to 5");
    node.assertRejectedWritesNothing("PUT", "/kv/guarded?w=6", "changed", "w must be an integer from 0 to 5");
    node.assertRejectedWritesNothing("PUT", "/kv/guarded?w=abc", "changed", "got 'abc'");
    node.assertRejectedWritesNothing("PUT", "/kv/guarded?w=", "changed", "w must be an integer");
    node.assertRejectedWritesNothing("PUT", "/kv/guarded?timeout=0", "changed", "timeout must be a duration");
    node.assertRejectedWritesNothing("PUT", "/kv/guarded?timeout=61s", "changed", "got '61s'");
    node.assertRejectedWritesNothing("PUT", "/kv/guarded?timeout=60001", "changed", "from 1ms to 60s");
    node.assertRejectedWritesNothing("PUT", "/kv/guarded?timeout=abc", "changed", "got 'abc'");
    node.assertRejectedWritesNothing("PUT", "/kv/guarded?timeout=-5s", "changed", "timeout must be a duration");

    Reply read = node.get("/kv/guarded?consistency=leader");
    assertEquals("original", read.body.get("value").asText());
    assertEquals(version, read.body.get("version").asLong());
  }

  @Test
  public void requestsTooMalformedForTheRoutesAreAnsweredAsJsonAndWriteNothing() throws IOException {
    assertWritten(node.put("/kv/malformed", "original"), "malformed", 3);
    JsonNode before = node.status();
    String[][] cases = {
        // request line, status, part of the error
        {"PUT /kv/malformed?w=%zz HTTP/1.1", "400", "Illegal request-target"},
        {"PUT /kv/malformed?w=3&ttl=% HTTP/1.1", "400", "Illegal request-target"},
        {"PUT /kv/mal[formed] HTTP/1.1", "400", "Illegal request-target"},
        {"FOO /kv/malformed HTTP/1.1", "501", "Unsupported HTTP method"},
        {"PUT /kv/" + "k".repeat(17_000) + " HTTP/1.1", "414", "URI length exceeds"}, // over 16k
    };
    for (String[] c : cases) {
      String[] answer = node.raw(c[0] + "\r\nHost: 127.0.0.1\r\nContent-Length: 7\r\nConnection: close\r\n\r\nchanged");
      String label = c[0].length() > 60 ? c[0].substring(0, 60) + "..." : c[0];
      assertTrue(label + " -> " + answer[0], answer[0].startsWith("HTTP/1.1 " + c[1] + " "));
      assertTrue(label + " -> " + answer[0], answer[0].toLowerCase().contains("content-type: application/json"));
      JsonNode body = new ObjectMapper().readTree(answer[1]);
      assertTrue(label + " -> " + answer[1], body.path("error").asText().contains(c[2]));
    }
    for (String field : List.of("lastIndex", "keyCount", "digest")) {
      assertEquals(field, before.get(field), node.status().get(field));
    }
    assertEquals("original", node.get("/kv/malformed?consistency=leader").body.get("value").asText());
  }

  @Test
  public void badDeletesAre400AndDeleteNothing() {
    assertWritten(node.put("/kv/kept", "still here"), "kept", 3);
    long version = node.get("/kv/kept?consistency=leader").body.get("version").asLong();

    node.assertRejectedWritesNothing("DELETE", "/kv/kept?w=6", null, "w must be an integer from 0 to 5");
    node.assertRejectedWritesNothing("DELETE", "/kv/kept?w=abc", null, "w must be an integer");
    node.assertRejectedWritesNothing("DELETE", "/kv/kept?timeout=0", null, "timeout must be a duration");
    node.assertRejectedWritesNothing("DELETE", "/kv/" + "k".repeat(513), null, "key is 513 bytes");
    node.assertRejectedWritesNothing("DELETE", "/kv/", null, "key must not be empty");

    Reply read = node.get("/kv/kept?consistency=leader");
    assertEquals(200, read.status);
    assertEquals("still here", read.body.get("value").asText());
    assertEquals(version, read.body.get("version").asLong());
  }

  @Test
  public void badJsonWritesAre400AndWriteNothing() {
    assertWritten(node.post("/set", "{\"key\": \"json-guarded\", \"value\": \"original\"}"), "json-guarded", 3);

    for (String path : List.of("/set", "/write")) {
      node.assertRejectedWritesNothing("POST", path, "{\"key\": \"json-guarded\", \"value\": ", "body is not valid JSON");
      node.assertRejectedWritesNothing("POST", path, "not json at all", "body is not valid JSON");
      node.assertRejectedWritesNothing("POST", path,
          "{\"key\": \"json-guarded\", \"value\": \"changed\"} trailing", "body is not valid JSON");
      node.assertRejectedWritesNothing("POST", path,
          "{\"key\": \"json-guarded\", \"value\": \"changed\"}{\"key\": \"other\", \"value\": \"x\"}",
          "body is not valid JSON");
      node.assertRejectedWritesNothing("POST", path, "", "must be a JSON object");
      node.assertRejectedWritesNothing("POST", path, "[\"json-guarded\", \"changed\"]", "must be a JSON object");
      node.assertRejectedWritesNothing("POST", path, "\"json-guarded\"", "must be a JSON object");
      node.assertRejectedWritesNothing("POST", path, "{\"value\": \"changed\"}", "missing field 'key'");
      node.assertRejectedWritesNothing("POST", path, "{\"key\": null, \"value\": \"changed\"}", "missing field 'key'");
      node.assertRejectedWritesNothing("POST", path, "{\"key\": \"json-guarded\"}", "missing field 'value'");
      node.assertRejectedWritesNothing("POST", path, "{\"key\": \"json-guarded\", \"value\": null}", "missing field 'value'");
      node.assertRejectedWritesNothing("POST", path, "{\"key\": \"json-guarded\", \"value\": 42}", "field 'value' must be a string");
      node.assertRejectedWritesNothing("POST", path, "{\"key\": \"json-guarded\", \"value\": {\"a\": 1}}", "field 'value' must be a string");
      node.assertRejectedWritesNothing("POST", path, "{\"key\": 7, \"value\": \"changed\"}", "field 'key' must be a string");
      node.assertRejectedWritesNothing("POST", path, "{\"key\": \"\", \"value\": \"changed\"}", "key must not be empty");
      node.assertRejectedWritesNothing("POST", path, "{\"key\": \"json-guarded\", \"value\": \"\"}", "value must not be empty");
      node.assertRejectedWritesNothing("POST", path,
          "{\"key\": \"" + "k".repeat(513) + "\", \"value\": \"v\"}", "key is 513 bytes");
      node.assertRejectedWritesNothing("POST", path,
          "{\"key\": \"json-guarded\", \"value\": \"" + "x".repeat(64 * 1024 + 1) + "\"}", "65537 bytes");
      node.assertRejectedWritesNothing("POST", path + "?w=6",
          "{\"key\": \"json-guarded\", \"value\": \"changed\"}", "w must be an integer from 0 to 5");
      node.assertRejectedWritesNothing("POST", path + "?timeout=61s",
          "{\"key\": \"json-guarded\", \"value\": \"changed\"}", "timeout must be a duration");
    }

    Reply read = node.get("/get?key=json-guarded");
    assertEquals(200, read.status);
    assertEquals("original", read.body.get("value").asText());
  }

  @Test
  public void stringsNoUtf8CanEncodeAre400OnEveryWritePathAndTheClusterKeepsWriting() {
    // A key or value with an unpaired UTF-16 surrogate (JSON's "\ud800") cannot be serialized for
    // the journal or the followers: admitted once, it stopped the leader's replica and every write.
    for (String path : List.of("/set", "/write")) {
      node.assertRejectedWritesNothing("POST", path, "{\"key\": \"surr\\ud800x\", \"value\": \"v\"}", "unpaired surrogate");
      node.assertRejectedWritesNothing("POST", path, "{\"key\": \"surr\", \"value\": \"x\\udfff\"}", "unpaired surrogate");
    }
    node.assertRejectedWritesNothing("POST", "/txn",
        "{\"success\": [{\"op\": \"put\", \"key\": \"a\\udc00\", \"value\": \"v\"}]}", "unpaired surrogate");
    node.assertRejectedWritesNothing("POST", "/txn",
        "{\"success\": [{\"op\": \"put\", \"key\": \"a\", \"value\": \"\\ud83d\"}]}", "unpaired surrogate");
    node.assertRejectedWritesNothing("POST", "/txn", "{\"compare\": [{\"key\": \"a\", \"value\": \"\\ud83d\"}], "
        + "\"success\": [{\"op\": \"put\", \"key\": \"a\", \"value\": \"v\"}]}", "unpaired surrogate");

    assertWritten(node.put("/kv/after-a-bad-string", "still writing"), "after-a-bad-string", 3);
    assertEquals("still writing", node.get("/kv/after-a-bad-string").body.get("value").asText());
  }

  @Test
  public void bodiesAndPathKeysThatAreNotTheirTextAre4xxNotStoredAsReplacementCharacters() {
    byte[] notUtf8 = {(byte) 0xff, 0x00, (byte) 0xc3};
    node.assertRejectedWritesNothing(() -> node.send("PUT", "/kv/binary", notUtf8, "Content-Type", "application/octet-stream"),
        400, "not valid UTF-8");
    node.assertRejectedWritesNothing(() -> node.send("POST", "/set",
        "{\"key\": \"k\", \"value\": \"\u00ff\"}".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1),
        "Content-Type", "application/json"), 400, "not valid UTF-8");
    node.assertRejectedWritesNothing(() -> node.send("PUT", "/kv/zipped", "hello".getBytes(java.nio.charset.StandardCharsets.UTF_8),
        "Content-Encoding", "gzip"), 415, "Content-Encoding 'gzip' is not supported");
    // A charset Java does not know was a 500 (UnsupportedCharsetException) on /kv.
    byte[] v = "v".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    node.assertRejectedWritesNothing(() -> node.send("PUT", "/kv/cs?ttl=5s", v, "Content-Type", "text/plain; charset=bogus"),
        415, "charset 'bogus' in Content-Type is not supported");
    node.assertRejectedWritesNothing(() -> node.send("POST", "/set",
        "{\"key\": \"cs\", \"value\": \"v\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8),
        "Content-Type", "text/plain; charset=x-unknown-123"), 415, "charset 'x-unknown-123' in Content-Type is not supported");
    // application/json is UTF-8 whatever charset it names (akka-http's fixed-charset media type).
    assertWritten(node.send("POST", "/set", "{\"key\": \"cs-json\", \"value\": \"v\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8),
        "Content-Type", "application/json; charset=x-unknown-123"), "cs-json", 3);
    // /kv/u%FFx and /kv/u%FEx would both be "u\uFFFDx": one key for two.
    node.assertRejectedWritesNothing("PUT", "/kv/u%FFx", "one", "not valid UTF-8");
    node.assertRejectedWritesNothing("PUT", "/kv/a%ED%A0%80b", "two", "not valid UTF-8");
    node.assertRejectedWritesNothing("DELETE", "/kv/u%FEx", null, "not valid UTF-8");
    assertBadRequest(node.get("/kv/u%FFx"), "not valid UTF-8");

    // A charset the client names is honoured, strictly; a value that is valid text keeps every character.
    Reply latin1 = node.send("PUT", "/kv/latin1", "caf\u00e9".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1),
        "Content-Type", "text/plain; charset=ISO-8859-1");
    assertWritten(latin1, "latin1", 3);
    assertEquals("caf\u00e9", node.get("/kv/latin1").body.get("value").asText());
    assertWritten(node.put("/kv/replacement", "a\uFFFDb"), "replacement", 3);
    assertEquals("a\uFFFDb", node.get("/kv/replacement").body.get("value").asText());
  }

  @Test
  public void keysAUrlPathCannotNameAre400Everywhere() {
    for (String key : List.of(".", "..")) {
      node.assertRejectedWritesNothing("POST", "/set", "{\"key\": \"" + key + "\", \"value\": \"v\"}", "must not be '.' or '..'");
      node.assertRejectedWritesNothing("POST", "/txn",
          "{\"success\": [{\"op\": \"put\", \"key\": \"" + key + "\", \"value\": \"v\"}]}", "must not be '.' or '..'");
    }
    assertWritten(node.post("/set", "{\"key\": \"...\", \"value\": \"three dots are a name\"}"), "...", 3);
  }

  @Test
  public void theJsonEndpointsTakeTheSameParametersAsKv() {
    assertWritten(node.post("/set", "{\"key\": \"json-cas\", \"value\": \"first\"}"), "json-cas", 3);
    long version = node.get("/get?key=json-cas").body.get("version").asLong();

    for (String path : List.of("/set", "/write")) {
      Reply stale = node.post(path + "?ifVersion=0", "{\"key\": \"json-cas\", \"value\": \"second\"}");
      assertEquals(stale.toString(), 412, stale.status);
      assertEquals(version, stale.body.get("currentVersion").asLong());
      node.assertRejectedWritesNothing("POST", path + "?ttl=abc", "{\"key\": \"json-cas\", \"value\": \"x\"}", "ttl must be");
      node.assertRejectedWritesNothing("POST", path + "?ifVersion=abc", "{\"key\": \"json-cas\", \"value\": \"x\"}", "ifVersion must be");
    }
    assertEquals("first", node.get("/read?key=json-cas").body.get("value").asText());
    Reply cas = node.post("/write?ifVersion=" + version, "{\"key\": \"json-cas\", \"value\": \"third\"}");
    assertWritten(cas, "json-cas", 3);
    assertEquals("third", node.get("/get?key=json-cas").body.get("value").asText());

    Reply withTtl = node.post("/set?ttl=1h", "{\"key\": \"json-ttl\", \"value\": \"expires\"}");
    assertWritten(withTtl, "json-ttl", 3);
    long ttlMs = node.get("/get?key=json-ttl").body.path("ttlMs").asLong(-1);
    assertTrue("a TTL given to /set is kept: ttlMs " + ttlMs, ttlMs > 0 && ttlMs <= 3_600_000);

    // minIndex on /get and /read: never an older state, and a 400 with another consistency.
    long next = withTtl.body.get("version").asLong() + 1_000_000;
    for (String path : List.of("/get", "/read")) {
      Reply waited = node.get(path + "?key=json-cas&minIndex=" + next + "&timeout=200ms");
      assertEquals(waited.toString(), 503, waited.status);
      assertBadRequest(node.get(path + "?key=json-cas&minIndex=1&consistency=leader"), "minIndex is for consistency=local");
    }
  }

  @Test
  public void unknownRepeatedAndNonAsciiNumberParametersAre400AndChangeNothing() {
    assertWritten(node.put("/kv/strict", "original"), "strict", 3);
    node.assertRejectedWritesNothing("PUT", "/kv/strict?ifversion=0", "changed", "unknown parameter 'ifversion'");
    node.assertRejectedWritesNothing("DELETE", "/kv/strict?ttl=5s", null, "unknown parameter 'ttl'");
    node.assertRejectedWritesNothing("DELETE", "/kv?prefix=strict&ifVersion=1", null, "unknown parameter 'ifVersion'");
    node.assertRejectedWritesNothing("POST", "/set?consistency=leader", "{\"key\": \"strict\", \"value\": \"changed\"}",
        "unknown parameter 'consistency'");
    node.assertRejectedWritesNothing("PUT", "/kv/strict?w=3&w=9", "changed", "'w' is given more than once");
    node.assertRejectedWritesNothing("PUT", "/kv/strict?w=%2B3", "changed", "w must be an integer");
    node.assertRejectedWritesNothing("PUT", "/kv/strict?w=%D9%A3", "changed", "w must be an integer");
    node.assertRejectedWritesNothing("PUT", "/kv/strict?ifVersion=%D9%A3", "changed", "ifVersion must be");
    node.assertRejectedWritesNothing("POST", "/set", "{\"key\": \"strict\", \"value\": \"changed\", \"ttl\": \"5s\"}",
        "unknown field 'ttl'");
    node.assertRejectedWritesNothing("POST", "/write", "{\"key\": \"strict\", \"value\": \"v\", \"key\": \"other\"}",
        "Duplicate field 'key'");
    assertBadRequest(node.get("/kv/strict?consistancy=leader"), "unknown parameter 'consistancy'");
    assertBadRequest(node.get("/kv?prefix=s&limit=%D9%A3"), "limit must be");
    assertEquals("original", node.get("/kv/strict").body.get("value").asText());
  }

  @Test
  public void aBodyOverTheServersContentLimitIs413JsonAndWritesNothing() {
    long before = node.leaderLastIndex();

    // The server answers from the headers and closes the connection while the client may still be
    // sending the body; the kernel can then reset the connection before the client reads the 413
    // ("header parser received no bytes", seen once in a full build). Another attempt is asked the
    // same question: it must be answered 413 too.
    Reply r = null;
    for (int attempt = 1; r == null; attempt++) {
      try {
        r = node.put("/kv/too-big-for-the-server", "x".repeat(8 * 1024 * 1024 + 1));
      } catch (AssertionError e) {
        if (attempt == 3 || !(e.getCause() instanceof IOException)) {
          throw e;
        }
      }
    }

    assertEquals(r.toString(), 413, r.status);
    assertEquals(r.toString(), "application/json", r.contentType);
    assertTrue(r.toString(), r.body.get("error").asText().contains("exceeded size limit"));
    assertEquals(before, node.leaderLastIndex());
    assertNotFound(node.get("/kv/too-big-for-the-server?consistency=leader"), "too-big-for-the-server");
  }

  @Test
  public void badReadsAre400() {
    assertWritten(node.put("/kv/readable", "r"), "readable", 3);

    assertBadRequest(node.get("/kv/readable?consistency=bogus"), "consistency must be 'local', 'leader' or 'linearizable'");
    assertBadRequest(node.get("/get?key=readable&consistency=bogus"), "got 'bogus'");
    assertBadRequest(node.get("/read?key=readable&consistency=bogus"), "got 'bogus'");
    assertBadRequest(node.get("/get"), "key must not be empty");
    assertBadRequest(node.get("/read"), "key must not be empty");
    assertBadRequest(node.get("/get?key="), "key must not be empty");
    assertBadRequest(node.get("/kv/"), "key must not be empty");
    assertBadRequest(node.send("DELETE", "/kv", null), "DELETE /kv needs a non-empty prefix");
    assertBadRequest(node.get("/kv/" + "k".repeat(513)), "key is 513 bytes");
    assertBadRequest(node.get("/get?key=" + "k".repeat(513)), "key is 513 bytes");
  }

  @Test
  public void anUnknownPathIs404Json() {
    for (String path : List.of("/nope", "/status/extra", "/")) {
      Reply r = node.get(path);
      assertEquals(path, 404, r.status);
      assertEquals(path, "application/json", r.contentType);
      assertTrue(path + ": " + r.body, r.body.path("error").asText().contains("could not be found"));
    }
  }

  @Test
  public void aKeyPathWithASlashIs404NamingTheEncodingAndWritesNothing() {
    long before = node.leaderLastIndex();
    for (String method : List.of("GET", "PUT", "DELETE")) {
      Reply r = node.send(method, "/kv/app/a", method.equals("PUT") ? "v" : null);
      assertEquals(method, 404, r.status);
      assertEquals(method, "application/json", r.contentType);
      assertTrue(method + ": " + r.body, r.body.path("error").asText().contains("%2F"));
    }
    assertEquals(before, node.leaderLastIndex());
    assertWritten(node.put("/kv/app%2Fa", "v"), "app/a", 3);
  }

  @Test
  public void aWrongMethodIs405JsonAndWritesNothing() {
    long before = node.leaderLastIndex();

    assertMethodNotAllowed(node.send("PATCH", "/kv/x", "v"), "PUT");
    assertMethodNotAllowed(node.send("POST", "/kv/x", "v"), "DELETE");
    assertMethodNotAllowed(node.get("/set"), "POST");
    assertMethodNotAllowed(node.get("/write"), "POST");
    assertMethodNotAllowed(node.post("/get?key=x", "{}"), "GET");
    assertMethodNotAllowed(node.send("DELETE", "/status", null), "GET");
    assertMethodNotAllowed(node.post("/ready", ""), "GET");

    assertEquals(before, node.leaderLastIndex());
    assertNotFound(node.get("/kv/x?consistency=leader"), "x");
  }

  // --- status, health, readiness ---

  @Test
  public void statusDescribesTheLeaderNode() {
    JsonNode s = node.status();

    assertEquals("node0", s.get("node").asText());
    assertEquals("leader", s.get("role").asText());
    assertEquals("node0", s.get("leader").asText());
    assertTrue("term " + s.get("term"), s.get("term").asLong() >= 1);
    assertEquals("a leader's leaderTerm is its own term", s.get("term").asLong(), s.get("leaderTerm").asLong());
    assertEquals(3, s.get("writeQuorum").asInt());
    assertEquals(5, s.get("followers").asInt());
    assertTrue(s.get("lastIndex").isIntegralNumber());
    assertTrue(s.get("keyCount").isIntegralNumber());
    assertTrue(s.get("committedIndex").isIntegralNumber());
    assertTrue("digest " + s.get("digest"), s.get("digest").asText().matches("[0-9a-f]{16}"));
    assertEquals(5, s.get("reachableFollowers").asInt());

    JsonNode members = s.get("members");
    assertEquals(1, members.size());
    assertEquals("node0", members.get(0).get("node").asText());
    assertEquals("Up", members.get(0).get("status").asText());
    assertTrue(members.get(0).get("reachable").asBoolean());
    assertTrue(members.get(0).get("address").asText().contains("127.0.0.1"));

    JsonNode replication = s.get("replication");
    List<String> nodes = new ArrayList<>();
    replication.forEach(r -> {
      nodes.add(r.get("node").asText());
      assertTrue(r.toString(), r.get("reachable").asBoolean());
      assertTrue(r.toString(), r.get("matchIndex").isIntegralNumber());
      assertTrue(r.toString(), r.get("lag").asLong() >= 0);
      assertFalse(r.toString(), r.get("stateTransfer").asBoolean());
    });
    assertEquals(List.of("node0", "node1", "node2", "node3", "node4", "node5"), nodes);
  }

  @Test
  public void statusFollowsWritesAndTheDigestReturnsAfterPutAndDelete() {
    JsonNode before = node.status();

    Reply put = node.put("/kv/status-probe?w=5", "counted");
    assertWritten(put, "status-probe", 5);
    JsonNode during = node.status();
    assertEquals(before.get("lastIndex").asLong() + 1, during.get("lastIndex").asLong());
    assertEquals(put.body.get("version").asLong(), during.get("leaderLastIndex").asLong());
    assertEquals(before.get("keyCount").asInt() + 1, during.get("keyCount").asInt());
    assertNotEquals(before.get("digest").asText(), during.get("digest").asText());
    assertEquals(during.get("leaderLastIndex").asLong(), during.get("committedIndex").asLong());

    assertWritten(node.send("DELETE", "/kv/status-probe?w=5", null), "status-probe", 5);
    JsonNode after = node.status();
    assertEquals(before.get("lastIndex").asLong() + 2, after.get("lastIndex").asLong());
    assertEquals(before.get("keyCount").asInt(), after.get("keyCount").asInt());
    assertEquals(before.get("digest").asText(), after.get("digest").asText());
  }

  @Test
  public void everyFollowerCatchesUpWithTheLeader() {
    Reply written = node.put("/kv/catch-up?w=1", "eventually everywhere");
    assertWritten(written, "catch-up", 1);
    long version = written.body.get("version").asLong();
    long leaderIndex = node.leaderLastIndex();

    node.awaitCondition("every replica has index " + leaderIndex, Duration.ofSeconds(20), () -> {
      JsonNode replication = node.status().get("replication");
      for (JsonNode r : replication) {
        if (r.get("matchIndex").asLong() < leaderIndex || r.get("lag").asLong() != 0) {
          return false;
        }
      }
      return replication.size() == 6;
    });
    for (int i = 1; i <= 5; i++) {
      assertEquals("eventually everywhere", node.readReplicaAt(i, "catch-up", version).value());
    }
  }

  @Test
  public void metricsArePrometheusTextWithTheReplicationMeters() {
    assertWritten(node.put("/kv/measured?w=2", "m"), "measured", 2);
    node.get("/kv/never-measured");
    String[] m = node.getText("/metrics");
    assertEquals("200", m[0]);
    assertTrue(m[1], m[1].startsWith("text/plain"));
    String text = m[2];
    for (String expected : List.of(
        "quorumkv_http_requests_total{method=\"PUT\",route=\"kv\",status=\"200\",}",
        "quorumkv_http_requests_total{method=\"GET\",route=\"kv\",status=\"404\",}",
        "quorumkv_http_request_seconds_count{method=\"PUT\",route=\"kv\",}",
        "quorumkv_http_request_seconds_bucket{method=\"GET\",route=\"kv\",",
        "quorumkv_write_latency_seconds_bucket{outcome=\"written\",w=\"2\",",
        "quorumkv_write_acks_count",
        "quorumkv_replicate_batch_entries_count",
        "quorumkv_replica_persist_seconds_count",
        "quorumkv_replication_lag_entries{follower=\"node1\",}",
        "quorumkv_pending_writes",
        "quorumkv_forwarded_batch_writes_count",
        "quorumkv_forwarded_writes_waiting",
        "quorumkv_leader_elections_total 1.0",
        "quorumkv_term ")) {
      assertTrue("missing " + expected + " in:\n" + text, text.contains(expected));
    }
  }

  @Test
  public void healthIsOk() {
    Reply r = node.get("/health");

    assertEquals(200, r.status);
    assertEquals("ok", r.body.get("status").asText());
    assertEquals("node0", r.body.get("node").asText());
  }

  @Test
  public void readyOnceJoinedWithALeader() {
    Reply r = node.get("/ready");

    assertEquals(200, r.status);
    assertTrue(r.body.get("ready").asBoolean());
    assertEquals("node0", r.body.get("node").asText());
    assertEquals("node0", r.body.get("leader").asText());
    assertTrue(r.body.get("appliedIndex").isIntegralNumber());
  }

  // --- assertions ---

  static void assertWritten(Reply r, String key, int quorum) {
    assertEquals(r.toString(), 200, r.status);
    assertEquals(r.toString(), key, r.body.get("key").asText());
    assertTrue(r.toString(), r.body.get("version").asLong() >= 1);
    int acks = r.body.get("acks").asInt();
    assertTrue(r + ": acks must reach the quorum", acks >= quorum && acks <= 5);
    assertEquals(r.toString(), quorum, r.body.get("quorum").asInt());
    assertEquals(r.toString(), "node0", r.body.get("node").asText());
    assertFalse(r.toString(), r.body.has("error"));
  }

  static void assertNotFound(Reply r, String key) {
    assertEquals(r.toString(), 404, r.status);
    assertEquals(r.toString(), "application/json", r.contentType);
    assertTrue(r.toString(), r.body.get("error").asText().contains("not found"));
    assertEquals(r.toString(), key, r.body.get("key").asText());
    assertFalse(r.toString(), r.body.has("value"));
  }

  static void assertBadRequest(Reply r, String errorPart) {
    assertEquals(r.toString(), 400, r.status);
    assertEquals(r.toString(), "application/json", r.contentType);
    assertNotNull(r.toString(), r.body.get("error"));
    assertTrue(r + " should mention: " + errorPart, r.body.get("error").asText().contains(errorPart));
  }

  static void assertMethodNotAllowed(Reply r, String allowedMethod) {
    assertEquals(r.toString(), 405, r.status);
    assertEquals(r.toString(), "application/json", r.contentType);
    String error = r.body.path("error").asText();
    assertTrue(r.toString(), error.contains("not allowed"));
    assertTrue(r.toString(), error.contains(allowedMethod));
  }

  // --- the node under test ---

  /** An HTTP answer: status, content type without parameters, and the JSON body. */
  static final class Reply {
    final String request;
    final int status;
    final String contentType;
    final JsonNode body;
    /** The X-Quorumkv-Index header, or null. */
    final String index;

    Reply(String request, int status, String contentType, JsonNode body) {
      this(request, status, contentType, body, null);
    }

    Reply(String request, int status, String contentType, JsonNode body, String index) {
      this.request = request;
      this.status = status;
      this.contentType = contentType;
      this.body = body;
      this.index = index;
    }

    @Override
    public String toString() {
      String text = body == null ? "<no body>" : body.toString();
      return request + " -> " + status + " " + (text.length() > 300 ? text.substring(0, 300) + "..." : text);
    }
  }

  /**
   * One node of a single-node cluster, started by the node's own wiring (its replica node0, the
   * leader singleton, the write forwarder, the routes on a random port), plus the replicas of
   * node1..node5 registered with the Receptionist beside it.
   */
  static final class Node implements AutoCloseable {
    /** Bounds each start-up wait; on an idle machine the node is ready in a few seconds. */
    private static final Duration STARTUP = Duration.ofSeconds(45);
    /**
     * The defaults (W = 3 of 5 followers) except a longer replication timeout than the 2 s
     * default: no test here is about the timeout, and a slow, shared build machine must not turn
     * a slow fsync into a 503. HTTP on a free port of the loopback interface.
     */
    private static final String OVERRIDES = """
        quorumkv.replication.timeout = 10s
        quorumkv.http.host = "127.0.0.1"
        quorumkv.http.port = 0
        """;

    final ActorTestKit testKit;
    final List<ActorRef<FollowerActor.Command>> replicas = new ArrayList<>();
    private final HttpClient http = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
    private final ObjectMapper mapper = new ObjectMapper();
    private final String base;

    static Node start(String name) {
      return start(name, "");
    }

    /** A node whose settings also have {@code overrides} (HOCON). */
    static Node start(String name, String overrides) {
      Config config = TestConfig.singleNodeCluster(TestConfig.newDataDir(name), overrides + "\n" + OVERRIDES);
      ActorTestKit testKit = ActorTestKit.create(name, config);
      try {
        return new Node(testKit, Settings.from(config));
      } catch (RuntimeException | Error e) {
        testKit.shutdownTestKit();
        throw e;
      }
    }

    private Node(ActorTestKit testKit, Settings settings) {
      this.testKit = testKit;
      Cluster cluster = Cluster.get(testKit.system());
      cluster.manager().tell(Join.create(cluster.selfMember().address()));
      awaitCondition("self member Up", STARTUP, () -> cluster.selfMember().status() == MemberStatus.up());

      NodeWiring wiring = new NodeWiring(testKit::spawn, testKit.system(), settings);
      NodeWiring.Node node = wiring.start(ReplicationDelay.none());
      replicas.add(node.replica().ref());
      for (int i = 1; i <= 5; i++) {
        replicas.add(wiring.replica("node" + i).ref());
      }
      ServerBinding binding;
      try {
        binding = node.http().toCompletableFuture().get(STARTUP.toSeconds(), TimeUnit.SECONDS);
      } catch (Exception e) {
        throw new IllegalStateException("could not bind the routes", e);
      }
      base = "http://127.0.0.1:" + binding.localAddress().getPort();

      awaitCondition("GET /ready answers 200", STARTUP, () -> get("/ready").status == 200);
      awaitCondition("the leader sees all five followers", STARTUP,
          () -> status().path("reachableFollowers").asInt() == 5 && status().path("replication").size() == 6);
    }

    /** http://127.0.0.1:port, where the routes are bound. */
    String base() {
      return base;
    }

    Reply get(String path) {
      return send("GET", path, null);
    }

    Reply put(String path, String body) {
      return send("PUT", path, body);
    }

    Reply post(String path, String body) {
      return send("POST", path, body);
    }

    Reply send(String method, String path, String body) {
      return send(method, path, body == null ? null : body.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /** {@code body} sent as these bytes, with {@code headers} (name, value, name, value, ...). */
    Reply send(String method, String path, byte[] body, String... headers) {
      HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(base + path))
          .timeout(Duration.ofSeconds(30))
          .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
      for (int i = 0; i < headers.length; i += 2) {
        builder.header(headers[i], headers[i + 1]);
      }
      HttpRequest request = builder.build();
      String label = method + " " + (path.length() > 80 ? path.substring(0, 80) + "..." : path);
      try {
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        String contentType = response.headers().firstValue("Content-Type").orElse("").split(";")[0].trim();
        JsonNode json = response.body().isEmpty() ? null : mapper.readTree(response.body());
        return new Reply(label, response.statusCode(), contentType, json,
            response.headers().firstValue(KvRoutes.INDEX_HEADER).orElse(null));
      } catch (IOException e) {
        throw new AssertionError(label + " failed: " + e, e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(label + " interrupted", e);
      }
    }

    /**
     * {@code request} sent as it is over a new connection (a request {@link HttpClient} would
     * refuse to send), and the answer's head and body, read until the server closes.
     */
    String[] raw(String request) throws IOException {
      URI uri = URI.create(base);
      try (java.net.Socket socket = new java.net.Socket(uri.getHost(), uri.getPort())) {
        socket.setSoTimeout(30_000);
        socket.getOutputStream().write(request.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        socket.getOutputStream().flush();
        String answer = new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        int split = answer.indexOf("\r\n\r\n");
        assertTrue("no HTTP answer: " + answer, split > 0);
        return new String[] {answer.substring(0, split), answer.substring(split + 4)};
      }
    }

    /** A GET answered with any body, as it came. */
    HttpResponse<String> getRaw(String path) {
      HttpRequest request = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30)).build();
      try {
        return http.send(request, HttpResponse.BodyHandlers.ofString());
      } catch (IOException e) {
        throw new AssertionError(path + " failed: " + e, e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(path + " interrupted", e);
      }
    }

    /** A GET whose body is plain text: status, content type, body. */
    String[] getText(String path) {
      HttpRequest request = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30)).build();
      try {
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        return new String[] {Integer.toString(response.statusCode()),
            response.headers().firstValue("Content-Type").orElse(""), response.body()};
      } catch (IOException e) {
        throw new AssertionError(path + " failed: " + e, e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(path + " interrupted", e);
      }
    }

    JsonNode status() {
      Reply r = get("/status");
      assertEquals(r.toString(), 200, r.status);
      return r.body;
    }

    long leaderLastIndex() {
      return status().get("leaderLastIndex").asLong();
    }

    /** Reads replica i once it has applied {@code index}. */
    FollowerActor.Value readReplicaAt(int i, String key, long index) {
      TestProbe<ReadResult> probe = testKit.createTestProbe();
      replicas.get(i).tell(new FollowerActor.ReadAt(key, index, probe.getRef()));
      return (FollowerActor.Value) probe.receiveMessage(Duration.ofSeconds(10));
    }

    long replicaLastIndex(int i) {
      TestProbe<FollowerActor.Position> probe = testKit.createTestProbe();
      replicas.get(i).tell(new FollowerActor.GetPosition(probe.getRef()));
      return probe.receiveMessage(Duration.ofSeconds(5)).lastIndex();
    }

    /**
     * Sends bad input and checks that it is answered 400 with the message, and that neither the
     * leader's log nor this node's replica (index, keys, digest) moved.
     */
    void assertRejectedWritesNothing(String method, String path, String body, String errorPart) {
      assertRejectedWritesNothing(() -> send(method, path, body), 400, errorPart);
    }

    /** {@code request} is answered {@code status} with a JSON error mentioning {@code errorPart}, and writes nothing. */
    void assertRejectedWritesNothing(java.util.function.Supplier<Reply> request, int status, String errorPart) {
      // A write answered below WRITE_QUORUM (w=2) may still be applied after its answer: the
      // position is compared once everything in this replica's log is applied.
      awaitCondition("this replica has applied its whole log", Duration.ofSeconds(10), () -> {
        JsonNode s = status();
        return s.get("appliedIndex").asLong() == s.get("lastIndex").asLong();
      });
      Map<String, JsonNode> before = position();
      Reply r = request.get();
      assertEquals(r.toString(), status, r.status);
      assertEquals(r.toString(), "application/json", r.contentType);
      assertTrue(r + " should mention: " + errorPart, r.body.path("error").asText().contains(errorPart));
      assertEquals(r + " must not write", before, position());
    }

    private Map<String, JsonNode> position() {
      JsonNode s = status();
      Map<String, JsonNode> out = new LinkedHashMap<>();
      for (String field : List.of("lastIndex", "leaderLastIndex", "keyCount", "digest")) {
        out.put(field, s.get(field));
      }
      return out;
    }

    void awaitCondition(String what, Duration max, BooleanSupplier condition) {
      long deadline = System.nanoTime() + max.toNanos();
      AssertionError last = null;
      while (System.nanoTime() < deadline) {
        try {
          if (condition.getAsBoolean()) {
            return;
          }
        } catch (AssertionError e) {
          last = e;
        }
        try {
          Thread.sleep(50); // poll interval, not a wait for the condition
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new AssertionError("interrupted while waiting for: " + what, e);
        }
      }
      fail("not true within " + max.toSeconds() + " s: " + what + (last == null ? "" : " (last failure: " + last.getMessage() + ")"));
    }

    @Override
    public void close() {
      testKit.shutdownTestKit();
    }
  }
}
