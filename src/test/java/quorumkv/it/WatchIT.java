package quorumkv.it;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.After;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.Timeout;
import quorumkv.harness.Cluster;
import quorumkv.harness.Loopback;
import quorumkv.harness.NodeClient;

/**
 * DESIGN.md's watch guarantee on six real JVMs: a watch on a follower receives every acknowledged
 * change exactly once, in log order, while the leader is killed (SIGKILL) and another elected; the
 * stream is also cut once on purpose and resumed with {@code Last-Event-ID}, as an SSE client
 * does after any disconnect.
 */
public class WatchIT {
  private static final Duration ALL_READY = Duration.ofSeconds(180);
  private static final Duration WRITE_PHASE = Duration.ofSeconds(8);
  private static final Duration CAUGHT_UP = Duration.ofSeconds(30);

  @Rule public final Timeout globalTimeout = Timeout.seconds(400);

  private Cluster<Loopback> cluster;
  private final NodeClient client = new NodeClient(Duration.ofSeconds(10));
  private final ObjectMapper mapper = new ObjectMapper();
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  /** Every change event received, across reconnects, in the order received. */
  private final List<long[]> received = new CopyOnWriteArrayList<>();
  private final Map<Long, String> receivedValue = new ConcurrentHashMap<>();
  private final AtomicLong lastId = new AtomicLong(0);
  private final AtomicInteger connections = new AtomicInteger();
  private volatile boolean watching = true;
  private volatile boolean cutOnce;
  private volatile InputStream current;

  @After
  public void tearDown() {
    watching = false;
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  public void aWatchOnAFollowerGetsEveryAcknowledgedChangeOnceThroughALeaderFailover() throws Exception {
    cluster = Cluster.onLoopback(Cluster.jarFromSystemProperty(), Map.of());
    try {
      cluster.startAll();
      cluster.awaitAllReady(ALL_READY);
      int leader = cluster.awaitLeader("every node follows one leader", 0, ALL_READY).node();
      int watched = (leader + 1) % Cluster.NODES;
      int writeVia = (leader + 2) % Cluster.NODES;

      Thread watcher = new Thread(() -> watch(watched), "watcher");
      watcher.setDaemon(true);
      watcher.start();

      // acknowledged version -> value; writes answered otherwise are in doubt and may or may not appear
      Map<Long, String> acknowledged = new ConcurrentHashMap<>();
      int inDoubt = 0;
      int afterKill = 0;
      long start = System.nanoTime();
      boolean killed = false;
      long killedAt = 0;
      for (int i = 0; System.nanoTime() - start < WRITE_PHASE.toNanos() * 3; i++) {
        String value = "v" + i;
        NodeClient.Response r = client.request(cluster.uri(writeVia), "PUT", "/kv/w%2Fk" + (i % 7) + "?timeout=3s", value);
        if (r.status() == 200) {
          acknowledged.put(r.body().get("version").asLong(), value);
          if (killed) {
            afterKill++;
          }
        } else {
          inDoubt++;
        }
        if (!killed && System.nanoTime() - start > WRITE_PHASE.toNanos()) {
          cluster.kill(leader);
          killed = true;
          killedAt = System.nanoTime();
          System.out.println("WatchIT: killed the leader node" + leader + " after " + acknowledged.size() + " writes");
        }
        if (killed && !cutOnce && System.nanoTime() - killedAt > Duration.ofSeconds(4).toNanos()) {
          cutOnce = true;
          InputStream in = current;
          if (in != null) {
            in.close(); // the client side of the stream goes away; the watcher resumes by Last-Event-ID
          }
        }
        if (killed && System.nanoTime() - killedAt > WRITE_PHASE.toNanos() && afterKill >= 20) {
          break;
        }
      }
      long lastAcknowledged = acknowledged.keySet().stream().mapToLong(Long::longValue).max().orElseThrow();
      long deadline = System.nanoTime() + CAUGHT_UP.toNanos();
      while (lastId.get() < lastAcknowledged && System.nanoTime() < deadline) {
        Thread.sleep(100); // poll interval of a condition wait
      }
      watching = false;
      System.out.printf("WatchIT: %d acknowledged (%d after the kill), %d in doubt, %d events received over %d "
          + "connections%n", acknowledged.size(), afterKill, inDoubt, received.size(), connections.get());

      assertTrue("caught up to " + lastAcknowledged + ", got to " + lastId.get(), lastId.get() >= lastAcknowledged);
      assertTrue("the stream was resumed at least once", connections.get() >= 2);
      long previous = 0;
      for (long[] e : received) {
        assertTrue("ids strictly increase (nothing repeated, in log order): " + e[0] + " after " + previous,
            e[0] > previous);
        previous = e[0];
      }
      for (Map.Entry<Long, String> a : acknowledged.entrySet()) {
        assertEquals("acknowledged version " + a.getKey() + " received with its value", a.getValue(),
            receivedValue.get(a.getKey()));
      }
      assertTrue("writes acknowledged after the failover: " + afterKill, afterKill > 0);
    } catch (Throwable t) {
      System.out.println("WatchIT FAILED: " + t + "\nnode logs:" + cluster.logs().tails(60));
      throw t;
    }
  }

  /** Reads {@code /watch?prefix=w/} on node {@code n} from the start, reconnecting with Last-Event-ID until told to stop. */
  private void watch(int n) {
    while (watching) {
      try {
        HttpRequest request = HttpRequest.newBuilder(NodeClient.resolve(cluster.uri(n), "/watch?prefix=w/&since=0"))
            .header("Last-Event-ID", Long.toString(lastId.get())).build();
        HttpResponse<InputStream> response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, response.statusCode());
        connections.incrementAndGet();
        current = response.body();
        read(response.body());
      } catch (Exception e) {
        // the stream broke or the node did not answer: resume from the last id seen
      }
      try {
        Thread.sleep(200); // reconnect back-off
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  private void read(InputStream body) throws Exception {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
      String type = null;
      String data = null;
      for (String line = r.readLine(); line != null && watching; line = r.readLine()) {
        if (line.startsWith("event:")) {
          type = line.substring(6).trim();
        } else if (line.startsWith("data:")) {
          data = line.substring(5).trim();
        } else if (line.isEmpty() && type != null) {
          JsonNode json = mapper.readTree(data);
          if (type.equals("put") || type.equals("delete")) {
            long version = json.get("version").asLong();
            received.add(new long[] {version});
            receivedValue.put(version, json.path("value").asText(""));
            lastId.set(version);
          } else if (type.equals("txn")) {
            long version = json.get("version").asLong();
            received.add(new long[] {version});
            lastId.set(version);
          } else if (type.equals("error")) {
            assertNotNull(json.get("error"));
          }
          type = null;
          data = null;
        }
      }
    }
  }
}
