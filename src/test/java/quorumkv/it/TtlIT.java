package quorumkv.it;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.Timeout;
import quorumkv.harness.Cluster;
import quorumkv.harness.Loopback;
import quorumkv.harness.NodeClient;

/**
 * TTL keys on six real JVMs: keys written with {@code ?ttl=2s} from every node vanish on every
 * node, through expiry entries the leader logs, and the nodes end with equal digests; a key
 * rewritten without {@code ttl} stays, and a key with a long TTL is still there with its
 * {@code ttlMs}. Prints how late after its TTL each key was gone on all six nodes (median, max),
 * between two bounds: from the moment its write was sent, and from the moment its answer came
 * (the leader stamps the expiry between the two). Only keys whose TTL ran out after the polling
 * began count: the writes go one after the other, and when they take longer than the TTL the
 * first keys expire before the first poll, which could only see them gone late.
 */
public class TtlIT {
  private static final Duration ALL_READY = Duration.ofSeconds(120);
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);
  private static final int KEYS = 50;
  private static final long TTL_MS = 2_000;
  /** How long after its TTL a key may take to vanish everywhere before the test gives up on it. */
  private static final Duration VANISH_LIMIT = Duration.ofSeconds(30);

  @Rule public final Timeout globalTimeout = Timeout.seconds(300);

  private Cluster<Loopback> cluster;
  private final NodeClient client = new NodeClient(REQUEST_TIMEOUT);

  @Before
  public void setUp() {
    cluster = Cluster.onLoopback(Cluster.jarFromSystemProperty(), Map.of());
  }

  @After
  public void tearDown() {
    if (cluster != null) {
      cluster.close();
    }
  }

  /** The keys under {@code ttl/} that {@code node} holds now (one local range page). */
  private Set<String> ttlKeysOn(int node) {
    NodeClient.Response page = client.request(cluster.uri(node), "GET", "/kv?prefix=ttl/&limit=1000&keysOnly=true", null);
    assertEquals(page.toString(), 200, page.status());
    Set<String> keys = new HashSet<>();
    page.body().get("items").forEach(item -> keys.add(item.get("key").asText()));
    return keys;
  }

  @Test
  public void ttlKeysVanishOnEveryNodeWithEqualDigestsAndARewriteWithoutTtlStays() throws Exception {
    try {
      cluster.startAll();
      cluster.awaitAllReady(ALL_READY);

      Map<String, Long> sentAt = new HashMap<>();
      Map<String, Long> answeredAt = new HashMap<>();
      for (int i = 0; i < KEYS; i++) {
        String key = "ttl/" + i;
        long sent = System.currentTimeMillis();
        NodeClient.Response w = client.request(cluster.uri(i % Cluster.NODES), "PUT",
            "/kv/" + NodeClient.encode(key) + "?ttl=" + (TTL_MS / 1000) + "s", "v" + i);
        answeredAt.put(key, System.currentTimeMillis());
        assertEquals(w.toString(), 200, w.status());
        sentAt.put(key, sent);
      }
      for (int i = 0; i < 3; i++) {
        String key = "kept/" + i;
        assertEquals(200, client.request(cluster.uri(i), "PUT", "/kv/" + NodeClient.encode(key) + "?ttl=2s", "t").status());
        assertEquals(200, client.request(cluster.uri(i + 3), "PUT", "/kv/" + NodeClient.encode(key), "permanent").status());
      }
      assertEquals(200, client.request(cluster.uri(5), "PUT", "/kv/long?ttl=1h", "v").status());

      // Poll every node until no ttl/ key is left anywhere: when each key was last seen gone on all six.
      Map<String, Long> goneEverywhereAt = new HashMap<>();
      long lastSent = sentAt.values().stream().mapToLong(Long::longValue).max().orElseThrow();
      long giveUp = lastSent + TTL_MS + VANISH_LIMIT.toMillis();
      long pollingFrom = System.currentTimeMillis();
      while (goneEverywhereAt.size() < KEYS && System.currentTimeMillis() < giveUp) {
        Set<String> present = new HashSet<>();
        for (int n = 0; n < Cluster.NODES; n++) {
          present.addAll(ttlKeysOn(n));
        }
        long now = System.currentTimeMillis();
        for (String key : sentAt.keySet()) {
          if (!present.contains(key)) {
            goneEverywhereAt.putIfAbsent(key, now);
          } else {
            assertFalse(key + " came back", goneEverywhereAt.containsKey(key));
          }
        }
        Thread.sleep(20); // polling interval of a test wait
      }
      assertEquals("every ttl key vanished on all six nodes within " + VANISH_LIMIT.toSeconds() + " s of its TTL",
          KEYS, goneEverywhereAt.size());

      List<Long> lateMs = new ArrayList<>();
      List<Long> lateFromAnswerMs = new ArrayList<>();
      for (Map.Entry<String, Long> e : goneEverywhereAt.entrySet()) {
        long late = e.getValue() - (sentAt.get(e.getKey()) + TTL_MS);
        assertTrue("no key vanished before its TTL (" + e.getKey() + ": " + late + " ms)", late >= -100);
        if (sentAt.get(e.getKey()) + TTL_MS >= pollingFrom) {
          lateMs.add(late);
          lateFromAnswerMs.add(e.getValue() - (answeredAt.get(e.getKey()) + TTL_MS));
        }
      }
      Collections.sort(lateMs);
      Collections.sort(lateFromAnswerMs);
      if (lateMs.isEmpty()) {
        System.out.printf("TtlIT: %d keys with ttl=%ds gone on all six nodes; the writes took %d ms, so every TTL ran "
            + "out before the polling began: no lateness measured; load average %.2f%n", KEYS, TTL_MS / 1000,
            lastSent - sentAt.values().stream().mapToLong(Long::longValue).min().orElseThrow(),
            ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
      } else {
        int n = lateMs.size();
        System.out.printf("TtlIT: %d keys with ttl=%ds gone on all six nodes; of the %d whose TTL ran out while polled, "
                + "late after their TTL from the write being sent / answered: median %d / %d ms, max %d / %d ms, "
                + "min %d / %d ms; load average %.2f%n",
            KEYS, TTL_MS / 1000, n, lateMs.get(n / 2), lateFromAnswerMs.get(n / 2), lateMs.get(n - 1),
            lateFromAnswerMs.get(n - 1), lateMs.get(0), lateFromAnswerMs.get(0),
            ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
      }

      JsonNode settled = cluster.awaitSameState(0, IntStream.range(1, Cluster.NODES).toArray(), ALL_READY);
      List<String> digests = new ArrayList<>();
      for (int n = 0; n < Cluster.NODES; n++) {
        JsonNode status = client.status(cluster.uri(n)).orElseThrow();
        digests.add(status.get("digest").asText());
        assertEquals("node" + n + " has the same digest", settled.get("digest").asText(), status.get("digest").asText());
        assertEquals("node" + n + ": no ttl/ key left", Set.of(), ttlKeysOn(n));
        assertEquals(404, client.get(cluster.uri(n), "ttl/0", "local").status());
        for (int k = 0; k < 3; k++) {
          NodeClient.Response kept = client.get(cluster.uri(n), "kept/" + k, "local");
          assertEquals(kept.toString(), 200, kept.status());
          assertEquals("permanent", kept.body().get("value").asText());
          assertFalse("rewritten without ttl: permanent " + kept, kept.body().has("ttlMs"));
        }
        NodeClient.Response longLived = client.get(cluster.uri(n), "long", "local");
        assertEquals(longLived.toString(), 200, longLived.status());
        assertTrue(longLived.toString(), longLived.body().get("ttlMs").asLong() > Duration.ofMinutes(50).toMillis());
      }
      double expired = 0;
      for (int n = 0; n < Cluster.NODES; n++) {
        String metrics = client.request(cluster.uri(n), "GET", "/metrics", null).text();
        expired += metrics.lines().filter(l -> l.startsWith("quorumkv_ttl_expired_keys_total"))
            .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
      }
      assertTrue("the leaders counted the expired keys: " + expired, expired >= KEYS);
      System.out.println("TtlIT: digests " + digests);
    } catch (Throwable t) {
      System.out.println("TtlIT FAILED: " + t + "\nnode logs:" + cluster.logs().tails(60));
      throw t;
    }
  }
}
