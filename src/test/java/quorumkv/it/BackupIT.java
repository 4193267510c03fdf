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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * Backups and ranges on six real JVMs: after writes through every node (2,500 one by one, then
 * 97,500 more in transactions: 100,000 keys), a linearizable backup
 * taken from each node holds every acknowledged write with its version, its lines are the state its
 * header describes (key count, digest) in code point order, and all six are the same state, the
 * one /status reports; paging through the whole key space with a linearizable range on a follower
 * gives the same keys in the same order.
 *
 * <p>Then restore: a second, fresh cluster started with {@code RESTORE_FROM} set to that backup
 * holds exactly its state on every node (every key, value and version; the backup's digest), the
 * next write gets a version above the backup's index, and a node restarted with
 * {@code RESTORE_FROM} still set keeps its replica (writes after the restore included) rather than
 * restoring over it. One test, so that CI starts clusters twice rather than three times.
 */
public class BackupIT {
  private static final Duration ALL_READY = Duration.ofSeconds(180);
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);
  /** Written one by one, through every node: more than one backup chunk (1,000 keys) and range page. */
  private static final int KEYS = 2_500;
  /** Then written by transactions of {@link #TXN_PUTS} puts, so that the backup holds 100,000 keys. */
  private static final int BULK_KEYS = 97_500;
  private static final int TXN_PUTS = 125;
  private static final ObjectMapper JSON = new ObjectMapper();

  @Rule public final Timeout globalTimeout = Timeout.seconds(900);

  private Cluster<Loopback> cluster;
  private final NodeClient client = new NodeClient(REQUEST_TIMEOUT);
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(10)).build();
  private ExecutorService writers;
  private Path backupFile;

  /** One parsed backup: its header, its lines by key in the order they came, and its text. */
  private record Backup(JsonNode header, LinkedHashMap<String, JsonNode> lines, String text) {}

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
    if (backupFile != null) {
      try {
        Files.deleteIfExists(backupFile);
      } catch (IOException e) {
        System.out.println("could not delete " + backupFile + ": " + e);
      }
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
      writeInTransactions(acked);
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

      restoreIntoAFreshCluster(backups.get(0));
    } catch (Throwable t) {
      System.out.println("BackupIT FAILED: " + t + "\nnode logs:" + cluster.logs().tails(60));
      throw t;
    }
  }

  /** BULK_KEYS more keys, TXN_PUTS per transaction; each key of an acknowledged one is acked. */
  private void writeInTransactions(Map<String, Long> acked) throws Exception {
    List<Future<?>> done = new ArrayList<>();
    for (int t = 0; t < BULK_KEYS / TXN_PUTS; t++) {
      int txn = t;
      done.add(writers.submit(() -> {
        List<String> keys = new ArrayList<>();
        StringBuilder ops = new StringBuilder();
        for (int i = 0; i < TXN_PUTS; i++) {
          String key = String.format("bulk/%06d", txn * TXN_PUTS + i);
          keys.add(key);
          ops.append(i == 0 ? "" : ",").append("{\"op\":\"put\",\"key\":\"").append(key)
              .append("\",\"value\":\"bulk-value-").append(txn * TXN_PUTS + i).append("\"}");
        }
        NodeClient.Response r = client.request(cluster.uri(txn % Cluster.NODES), "POST", "/txn",
            "{\"compare\":[],\"success\":[" + ops + "]}");
        if (r.ok() && r.body().path("succeeded").asBoolean()) {
          long version = r.body().get("version").asLong();
          keys.forEach(k -> acked.put(k, version));
        }
      }));
    }
    for (Future<?> f : done) {
      f.get();
    }
    assertTrue("most keys written in transactions: " + acked.size(), acked.size() >= (KEYS + BULK_KEYS) * 9 / 10);
  }

  private void restoreIntoAFreshCluster(Backup original) throws Exception {
    backupFile = Files.createTempFile("quorumkv-backup-it-", ".ndjson");
    Files.writeString(backupFile, original.text(), StandardCharsets.UTF_8);
    long index = original.header().get("index").asLong();
    String digest = original.header().get("digest").asText();
    cluster.close();

    cluster = Cluster.onLoopback(Cluster.jarFromSystemProperty(), Map.of("RESTORE_FROM", backupFile.toString()));
    cluster.startAll();
    cluster.awaitAllReady(ALL_READY);
    for (int n = 0; n < Cluster.NODES; n++) {
      JsonNode status = cluster.status(n).orElseThrow();
      assertEquals("node" + n + " restored the backup's state", digest, status.get("digest").asText());
      assertTrue("node" + n + " at or after the backup's index: " + status, status.get("appliedIndex").asLong() >= index);
      Backup restored = backup(n, "local");
      assertEquals("node" + n + ": the backup's digest", digest, restored.header().get("digest").asText());
      assertEquals("node" + n + ": every key, value and version of the backup, and nothing else",
          original.lines(), restored.lines());
    }
    String someKey = original.lines().keySet().iterator().next();
    NodeClient.Response read = client.request(cluster.uri(4), "GET", "/kv/" + NodeClient.encode(someKey), null);
    assertEquals(read.toString(), original.lines().get(someKey).get("version").asLong(), read.body().get("version").asLong());

    NodeClient.Response write = client.put(cluster.uri(2), "after-restore", "new", null);
    assertTrue(write.toString(), write.ok());
    assertTrue("the log continues after the backup's index " + index + ": " + write,
        write.body().get("version").asLong() > index);

    // A node restarted with RESTORE_FROM still set (a container restarted) keeps what it holds.
    cluster.kill(5);
    cluster.start(5);
    cluster.awaitReady(5, ALL_READY);
    JsonNode settled = cluster.awaitSameState(0, IntStream.range(1, Cluster.NODES).toArray(), ALL_READY);
    assertTrue(settled.toString(), settled.get("lastIndex").asLong() >= write.body().get("version").asLong());
    NodeClient.Response again = client.request(cluster.uri(5), "GET", "/kv/after-restore", null);
    assertEquals(again.toString(), "new", again.body().get("value").asText());
  }

  private Backup backup(int n) throws IOException, InterruptedException {
    return backup(n, "linearizable");
  }

  private Backup backup(int n, String consistency) throws IOException, InterruptedException {
    HttpRequest request = HttpRequest.newBuilder(NodeClient.resolve(cluster.uri(n), "/backup?consistency=" + consistency))
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
    return new Backup(header, lines, response.body());
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
