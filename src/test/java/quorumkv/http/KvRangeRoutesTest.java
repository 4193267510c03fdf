package quorumkv.http;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static quorumkv.http.KvRoutesTest.assertBadRequest;
import static quorumkv.http.KvRoutesTest.assertNotFound;
import static quorumkv.http.KvRoutesTest.assertWritten;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;
import quorumkv.http.KvRoutesTest.Node;
import quorumkv.http.KvRoutesTest.Reply;
import quorumkv.storage.KeyOrder;
import quorumkv.storage.StateDigest;

/**
 * Range listing ({@code GET /kv?prefix=&after=&limit=&keysOnly=}), the {@code X-Quorumkv-Index}
 * header and {@code GET /backup}, over real HTTP against the same one-node, six-replica cluster as
 * {@link KvRoutesTest}. Each test writes under its own prefix, so tests do not see each other's keys.
 */
public class KvRangeRoutesTest {
  private static final String GRINNING = "\uD83D\uDE00"; // U+1F600: a surrogate pair, sorts last
  private static final String LAST_BMP = "\uFFFF"; // String.compareTo puts it after the pair
  private static final List<String> LEVELS = List.of("local", "leader", "linearizable");
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private static Node node;

  @BeforeClass
  public static void startNode() {
    node = Node.start("ranges");
  }

  @AfterClass
  public static void stopNode() {
    if (node != null) {
      node.close();
    }
  }

  private static String q(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  /** Writes key=value and returns its version. */
  private static long put(String key, String value) {
    Reply r = node.put("/kv/" + q(key).replace("+", "%20"), value);
    assertWritten(r, key, 3);
    return r.body.get("version").asLong();
  }

  private static List<String> keys(Reply r) {
    List<String> out = new ArrayList<>();
    r.body.get("items").forEach(item -> out.add(item.get("key").asText()));
    return out;
  }

  private static Reply range(String query) {
    Reply r = node.get("/kv?" + query);
    assertEquals(r.toString(), 200, r.status);
    assertEquals(r.toString(), "application/json", r.contentType);
    assertEquals(r.toString(), "node0", r.body.get("node").asText());
    assertNotNull(r + ": the index header", r.index);
    assertEquals(r + ": the header and the body give the same index", r.body.get("index").asText(), r.index);
    return r;
  }

  // --- ranges ---

  @Test
  public void aRangeIsInCodePointOrderAtEveryConsistencyLevel() {
    Map<String, Long> versions = new HashMap<>();
    for (String suffix : List.of(GRINNING, LAST_BMP, "b", "a", "\u00e9")) {
      versions.put("cp/" + suffix, put("cp/" + suffix, "value of " + suffix));
    }
    long last = versions.values().stream().mapToLong(Long::longValue).max().orElseThrow();
    List<String> expected = List.of("cp/a", "cp/b", "cp/\u00e9", "cp/" + LAST_BMP, "cp/" + GRINNING);

    for (String level : LEVELS) {
      String query = "prefix=" + q("cp/") + "&consistency=" + level;
      if (level.equals("local")) { // this node's replica learns the commit with the leader's next message
        node.awaitCondition("the local replica applied index " + last, Duration.ofSeconds(10),
            () -> range(query).body.get("index").asLong() >= last);
      }
      Reply r = range(query);
      assertEquals(r.toString(), expected, keys(r));
      assertFalse(r.toString(), r.body.get("more").asBoolean());
      assertFalse(r + ": no next on the last page", r.body.has("next"));
      assertTrue(r + ": read at or after every write acknowledged before it", r.body.get("index").asLong() >= last);
      for (JsonNode item : r.body.get("items")) {
        String key = item.get("key").asText();
        assertEquals(r.toString(), "value of " + key.substring(3), item.get("value").asText());
        assertEquals(r.toString(), (long) versions.get(key), item.get("version").asLong());
        assertEquals(r + ": exactly key, value, version", 3, item.size());
      }
    }
  }

  @Test
  public void pagesContinueAfterNextUntilTheLastOne() {
    for (int i = 0; i < 7; i++) {
      put("page/k0" + i, "v" + i);
    }
    put("pag", "outside"); // sorts before the prefix
    put("page0", "outside"); // '0' sorts after '/': after every page/ key

    Reply first = range("prefix=page%2F&limit=3&consistency=leader");
    assertEquals(List.of("page/k00", "page/k01", "page/k02"), keys(first));
    assertTrue(first.body.get("more").asBoolean());
    assertEquals("page/k02", first.body.get("next").asText());

    Reply second = range("prefix=page%2F&limit=3&consistency=leader&after=" + q(first.body.get("next").asText()));
    assertEquals(List.of("page/k03", "page/k04", "page/k05"), keys(second));
    assertTrue(second.body.get("more").asBoolean());

    Reply third = range("prefix=page%2F&limit=3&consistency=leader&after=" + q(second.body.get("next").asText()));
    assertEquals(List.of("page/k06"), keys(third));
    assertFalse(third.body.get("more").asBoolean());
    assertFalse(third.toString(), third.body.has("next"));

    // after need not be a key; a page that ends exactly at the last key says no more
    assertEquals(List.of("page/k04", "page/k05", "page/k06"),
        keys(range("prefix=page%2F&limit=3&consistency=leader&after=" + q("page/k035"))));
    assertFalse(range("prefix=page%2F&limit=3&consistency=leader&after=page%2Fk03").body.get("more").asBoolean());
    assertEquals(List.of(), keys(range("prefix=page%2F&consistency=leader&after=page%2Fk06")));
    assertEquals(List.of(), keys(range("prefix=no-such-prefix%2F&consistency=leader")));
  }

  @Test
  public void aPageOfKeysAsLongAsAllowedContinues() {
    // Non-ASCII keys near the 512-byte limit: percent-encoded, the continuation's prefix and after
    // make a request line of ~2,500 characters, past akka-http's default limit of 2,048 (a 414).
    String prefix = "long/" + "\u00e9".repeat(150);
    String a = prefix + "\u00e9".repeat(100) + "a";
    String b = prefix + "\u00e9".repeat(100) + "b";
    assertEquals(506, a.getBytes(StandardCharsets.UTF_8).length);
    put(a, "first");
    put(b, "second");

    Reply first = range("prefix=" + q(prefix) + "&limit=1&consistency=leader");
    assertEquals(List.of(a), keys(first));
    String query = "prefix=" + q(prefix) + "&limit=1&consistency=leader&after=" + q(first.body.get("next").asText());
    assertTrue(query.length() > 2048);
    Reply second = range(query);
    assertEquals(List.of(b), keys(second));
    assertFalse(second.body.get("more").asBoolean());
  }

  @Test
  public void keysOnlyLeavesOutTheValues() {
    long v1 = put("ko/one", "1");
    long v2 = put("ko/two", "2");

    Reply r = range("prefix=ko%2F&keysOnly=true&consistency=leader");

    assertEquals(List.of("ko/one", "ko/two"), keys(r));
    for (JsonNode item : r.body.get("items")) {
      assertFalse(r.toString(), item.has("value"));
      assertEquals(r.toString(), 2, item.size());
    }
    assertEquals(v1, r.body.get("items").get(0).get("version").asLong());
    assertEquals(v2, r.body.get("items").get(1).get("version").asLong());
    assertEquals("1", range("prefix=ko%2F&keysOnly=false&consistency=leader").body.get("items").get(0).get("value").asText());
  }

  @Test
  public void theLimitDefaultsTo100AndGoesUpTo1000() {
    for (int i = 0; i < 101; i++) {
      put(String.format("many/%03d", i), "v");
    }

    Reply byDefault = range("prefix=many%2F&consistency=leader");
    assertEquals(100, byDefault.body.get("items").size());
    assertTrue(byDefault.body.get("more").asBoolean());
    assertEquals("many/099", byDefault.body.get("next").asText());

    Reply all = range("prefix=many%2F&limit=1000&consistency=leader");
    assertEquals(101, all.body.get("items").size());
    assertFalse(all.body.get("more").asBoolean());

    Reply one = range("prefix=many%2F&limit=1&consistency=leader");
    assertEquals(List.of("many/000"), keys(one));
    assertTrue(one.body.get("more").asBoolean());
  }

  @Test
  public void badRangeInputIs400WithTheIndexHeaderAndChangesNothing() {
    put("bad/k", "v");
    String longKey = "k".repeat(513);
    String[][] cases = {
        {"/kv?limit=0", "limit must be an integer from 1 to 1000, got '0'"},
        {"/kv?limit=1001", "got '1001'"},
        {"/kv?limit=-3", "got '-3'"},
        {"/kv?limit=ten", "got 'ten'"},
        {"/kv?limit=", "limit must be an integer"},
        {"/kv?prefix=bad%2F&after=", "after must not be empty"},
        {"/kv?after=" + longKey, "after is 513 bytes"},
        {"/kv?prefix=" + longKey, "prefix is 513 bytes"},
        {"/kv?prefix=a%01", "prefix must not contain control characters"},
        {"/kv?after=a%0A", "after must not contain control characters"},
        {"/kv?keysOnly=yes", "keysOnly must be 'true' or 'false', got 'yes'"},
        {"/kv?consistency=bogus", "consistency must be 'local', 'leader' or 'linearizable'"},
    };
    for (String[] c : cases) {
      node.assertRejectedWritesNothing("GET", c[0], null, c[1]);
      Reply r = node.get(c[0]);
      assertNotNull(r + ": a 400 on /kv carries the index header too", r.index);
    }
  }

  @Test
  public void prefixAndAfterMustBeValidUnicode() {
    RequestLimits limits = new RequestLimits(512, 1024, 5, Duration.ofSeconds(2));
    assertEquals(GRINNING, limits.prefix(java.util.Optional.of(GRINNING)));
    assertEquals("", limits.prefix(java.util.Optional.empty()));
    assertEquals(null, limits.after(java.util.Optional.empty()));
    for (String unpaired : List.of("\uD83D", "a\uDE00", "\uDE00\uD83D")) {
      InvalidRequest e = org.junit.Assert.assertThrows(InvalidRequest.class, () -> limits.after(java.util.Optional.of(unpaired)));
      assertTrue(e.getMessage(), e.getMessage().contains("unpaired surrogate"));
      org.junit.Assert.assertThrows(InvalidRequest.class, () -> limits.prefix(java.util.Optional.of(unpaired)));
    }
  }

  // --- X-Quorumkv-Index ---

  @Test
  public void everyKvAnswerCarriesTheAppliedIndexItWasServedAt() {
    Reply written = node.put("/kv/idx", "one");
    assertWritten(written, "idx", 3);
    long version = written.body.get("version").asLong();
    assertEquals(written + ": a write's index is its version", Long.toString(version), written.index);

    for (String level : List.of("leader", "linearizable")) {
      Reply read = node.get("/kv/idx?consistency=" + level);
      assertEquals(read.toString(), 200, read.status);
      assertNotNull(read.toString(), read.index);
      assertTrue(read + ": served at or after the write", Long.parseLong(read.index) >= version);

      Reply missing = node.get("/kv/idx-never-written?consistency=" + level);
      assertNotFound(missing, "idx-never-written");
      assertNotNull(missing + ": a 404 carries it too", missing.index);
      assertTrue(missing.toString(), Long.parseLong(missing.index) >= version);
    }
    node.awaitCondition("a local read sees the write", Duration.ofSeconds(10),
        () -> node.get("/kv/idx").status == 200);
    Reply local = node.get("/kv/idx");
    assertTrue(local.toString(), Long.parseLong(local.index) >= version);
    Reply localMissing = node.get("/kv/idx-never-written");
    assertEquals(404, localMissing.status);
    assertNotNull(localMissing.toString(), localMissing.index);

    Reply deleted = node.send("DELETE", "/kv/idx", null);
    assertEquals(deleted.toString(), 200, deleted.status);
    long deleteVersion = deleted.body.get("version").asLong();
    assertTrue(deleteVersion > version);
    assertEquals(Long.toString(deleteVersion), deleted.index);
    Reply gone = node.get("/kv/idx?consistency=leader");
    assertEquals(404, gone.status);
    assertTrue(gone.toString(), Long.parseLong(gone.index) >= deleteVersion);

    Reply viaGet = node.get("/get?key=idx&consistency=leader");
    assertEquals(404, viaGet.status);
    assertNotNull(viaGet.toString(), viaGet.index);
  }

  // --- backup ---

  @Test
  public void aBackupIsOneStateAsNdjsonWithAMatchingHeader() throws Exception {
    long last = 0;
    for (String key : List.of("bk/" + GRINNING, "bk/" + LAST_BMP, "bk/b", "bk/a")) {
      last = put(key, "backed up " + key);
    }

    for (String level : LEVELS) {
      if (level.equals("local")) {
        long written = last;
        node.awaitCondition("the local replica applied index " + written, Duration.ofSeconds(10),
            () -> Long.parseLong(node.getRaw("/backup").headers().firstValue(KvRoutes.INDEX_HEADER).orElse("0")) >= written);
      }
      HttpResponse<String> response = node.getRaw("/backup?consistency=" + level);
      assertEquals(response.body(), 200, response.statusCode());
      assertEquals("application/x-ndjson", response.headers().firstValue("Content-Type").orElse("").split(";")[0].trim());
      assertTrue("a backup ends with a newline", response.body().endsWith("\n"));
      Iterator<String> lines = response.body().lines().iterator();

      JsonNode header = MAPPER.readTree(lines.next());
      assertEquals(header.toString(), 3, header.size());
      long index = header.get("index").asLong();
      assertTrue(header + ": at or after every write acknowledged before it", index >= last);
      assertEquals(Long.toString(index), response.headers().firstValue(KvRoutes.INDEX_HEADER).orElse(null));

      long digest = 0;
      int count = 0;
      String previous = null;
      Map<String, JsonNode> byKey = new HashMap<>();
      while (lines.hasNext()) {
        JsonNode line = MAPPER.readTree(lines.next());
        assertEquals(line.toString(), 3, line.size());
        String key = line.get("key").asText();
        assertTrue(line + " has a version", line.get("version").asLong() >= 1 && line.get("version").asLong() <= index);
        if (previous != null) {
          assertTrue(previous + " then " + key + ": code point order", KeyOrder.INSTANCE.compare(previous, key) < 0);
        }
        previous = key;
        digest += StateDigest.pairHash(key, line.get("value").asText());
        byKey.put(key, line);
        count++;
      }
      assertEquals("one line per key", header.get("keys").asInt(), count);
      assertEquals("the lines are the state the header describes", header.get("digest").asText(), StateDigest.hex(digest));
      assertEquals("backed up bk/" + GRINNING, byKey.get("bk/" + GRINNING).get("value").asText());
      assertEquals(last, byKey.get("bk/a").get("version").asLong());
      List<String> bk = new ArrayList<>();
      byKey.keySet().stream().filter(k -> k.startsWith("bk/")).sorted(KeyOrder.INSTANCE).forEach(bk::add);
      assertEquals(List.of("bk/a", "bk/b", "bk/" + LAST_BMP, "bk/" + GRINNING), bk);
    }

    assertBadRequest(node.get("/backup?consistency=bogus"), "consistency must be");
    assertEquals(405, node.send("POST", "/backup", "x").status);
    Reply wrongMethod = node.send("POST", "/kv/bk%2Fa", "x");
    assertEquals(405, wrongMethod.status);
    assertNotNull(wrongMethod + ": every /kv answer carries the index header", wrongMethod.index);
  }
}
