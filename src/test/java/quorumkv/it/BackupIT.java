package quorumkv.it;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;
import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.Timeout;
import quorumkv.harness.Cluster;
import quorumkv.harness.Loopback;
import quorumkv.harness.NodeClient;
import quorumkv.storage.KeyOrder;
import quorumkv.storage.StateDigest;

/**
 * Backups and ranges on six real JVMs: after writes through every node, a linearizable backup
 * taken from each node holds every acknowledged write with its version, its lines are the state its
 * header describes (key count, digest) in code point order, and all six are the same state, the
 * one /status reports; paging through the whole key space with a linearizable range on a follower
 * gives the same keys in the same order.
 */
public class BackupIT {
  private static final Duration ALL_READY = Duration.ofSeconds(180);
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);
  /** More than one backup chunk (1,000 keys) and more than one range page of 1,000. */
  private static final int KEYS = 2_500;
  private static final ObjectMapper JSON = new ObjectMapper();

  @Rule public final Timeout globalTimeout = Timeout.seconds(600);

  private Cluster<Loopback> cluster;
  private final NodeClient client = new NodeClient(REQUEST_TIMEOUT);
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(10)).build();
  private ExecutorService writers;

  /** One parsed backup: its header and its lines by key, in the order they came. */
  private record Backup(JsonNode header, LinkedHashMap<String, JsonNode> lines) {}

  @Before
  public void setUp() {
    cluster = Cluster.onLoopback(Cluster.jarFromSystemProperty(), Map.of());
    writers = Executors.newFixedThreadPool(12);
  }

  @After
  public void tearDown() {
    if (writers != null) {
      writers.shutdownNow();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  public void everyNodeBacksUpTheSameStateHoldingEveryAcknowledgedWrite() throws Exception {
    try {
      cluster.startAll();
      cluster.awaitAllReady(ALL_READY);

      Map<String, Long> acked = new ConcurrentHashMap<>();
      List<Future<?>> done = new ArrayList<>();
      for (int i = 0; i < KEYS; i++) {
        int n = i;
        String key = n % 500 == 0 ? "bk/\uD83D\uDE00" + n : String.format("bk/%05d", n);
        done.add(writers.submit(() -> {
          NodeClient.Response r = client.put(cluster.uri(n % Cluster.NODES), key, "value-" + n, null);
          if (r.ok()) {
            acked.put(key, r.body().get("version").asLong());
          }
        }));
      }
      for (Future<?> f : done) {
        f.get();
      }
      assertTrue("most writes acknowledged: " + acked.size(), acked.size() >= KEYS * 9 / 10);
      long lastAcked = acked.values().stream().mapToLong(Long::longValue).max().orElseThrow();
      JsonNode settled = cluster.awaitSameState(0, IntStream.range(1, Cluster.NODES).toArray(), ALL_READY);

      List<Backup> backups = new ArrayList<>();
      for (int n = 0; n < Cluster.NODES; n++) {
        Backup b = backup(n);
        backups.add(b);
        assertTrue(b.header() + ": at or after every acknowledged write", b.header().get("index").asLong() >= lastAcked);
        for (Map.Entry<String, Long> a : acked.entrySet()) {
          JsonNode line = b.lines().get(a.getKey());
          assertNotNull("node" + n + "'s backup lacks acknowledged " + a.getKey(), line);
          assertEquals(a.getKey(), (long) a.getValue(), line.get("version").asLong());
        }
      }
      for (Backup b : backups) {
        assertEquals("every node backs up the state /status reports", settled.get("digest").asText(), b.header().get("digest").asText());
        assertEquals(settled.get("keyCount").asInt(), b.header().get("keys").asInt());
        assertEquals(new ArrayList<>(backups.get(0).lines().keySet()), new ArrayList<>(b.lines().keySet()));
      }

      List<String> paged = pageThroughEverything(3);
      assertEquals("a linearizable range on a follower lists what the backup holds, in its order",
          new ArrayList<>(backups.get(0).lines().keySet()), paged);
    } catch (Throwable t) {
      System.out.println("BackupIT FAILED: " + t + "\nnode logs:" + cluster.logs().tails(60));
      throw t;
    }
  }

  private Backup backup(int n) throws IOException, InterruptedException {
    HttpRequest request = HttpRequest.newBuilder(NodeClient.resolve(cluster.uri(n), "/backup?consistency=linearizable"))
        .timeout(REQUEST_TIMEOUT).build();
    HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
    assertEquals(response.body(), 200, response.statusCode());
    assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("application/x-ndjson"));
    List<String> text = response.body().lines().toList();
    JsonNode header = JSON.readTree(text.get(0));
    assertEquals("node" + n + ": one line per key", header.get("keys").asInt(), text.size() - 1);
    assertEquals(header.get("index").asText(), response.headers().firstValue("X-Quorumkv-Index").orElse(null));
    LinkedHashMap<String, JsonNode> lines = new LinkedHashMap<>();
    long digest = 0;
    String previous = null;
    for (String t : text.subList(1, text.size())) {
      JsonNode line = JSON.readTree(t);
      String key = line.get("key").asText();
      if (previous != null) {
        assertTrue(previous + " before " + key, KeyOrder.INSTANCE.compare(previous, key) < 0);
      }
      previous = key;
      digest += StateDigest.pairHash(key, line.get("value").asText());
      lines.put(key, line);
    }
    assertEquals("node" + n + ": the lines are the state the header describes",
        header.get("digest").asText(), StateDigest.hex(digest));
    return new Backup(header, lines);
  }

  private List<String> pageThroughEverything(int n) {
    List<String> keys = new ArrayList<>();
    String after = null;
    while (true) {
      String query = "/kv?limit=1000&keysOnly=true&consistency=linearizable"
          + (after == null ? "" : "&after=" + NodeClient.encode(after));
      NodeClient.Response page = client.request(cluster.uri(n), "GET", query, null);
      assertEquals(page.toString(), 200, page.status());
      page.body().get("items").forEach(item -> keys.add(item.get("key").asText()));
      if (!page.body().get("more").asBoolean()) {
        return keys;
      }
      after = page.body().get("next").asText();
    }
  }
}
