package quorumkv.it;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
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
 * Compare-and-set and transactions on six real JVMs, with clients on every node: a counter
 * incremented only by read-then-{@code PUT ?ifVersion=} ends at exactly the number of increments
 * acknowledged, the same on all six nodes; transfers between two accounts by {@code POST /txn}
 * (compare both versions, put both balances) conserve the total. Conditions are decided when the
 * entry is applied, in log order, so neither can lose an update however the clients race.
 */
public class CasTxnIT {
  private static final Duration ALL_READY = Duration.ofSeconds(180);
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);
  private static final int COUNTER_CLIENTS = 6;
  private static final int INCREMENTS_PER_CLIENT = 10;
  private static final int TRANSFER_CLIENTS = 3;
  private static final int TRANSFERS_PER_CLIENT = 10;
  private static final int OPENING_BALANCE = 1000;
  /**
   * Bounds the racing part: each client stops at its target or at this deadline, whichever comes
   * first, so the test takes about as long on a loaded machine; exactness is checked on whatever
   * was done, and some progress is required.
   */
  private static final Duration RACE_LIMIT = Duration.ofSeconds(30);

  @Rule public final Timeout globalTimeout = Timeout.seconds(400);

  private Cluster<Loopback> cluster;
  private final NodeClient client = new NodeClient(REQUEST_TIMEOUT);
  private ExecutorService clients;

  @Before
  public void setUp() {
    cluster = Cluster.onLoopback(Cluster.jarFromSystemProperty(), Map.of());
    clients = Executors.newFixedThreadPool(COUNTER_CLIENTS + TRANSFER_CLIENTS);
  }

  @After
  public void tearDown() {
    if (clients != null) {
      clients.shutdownNow();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  /** A DELETE through node {@code n}: 200 with {@code deleted} as expected and the version it was logged as. */
  private void assertDeleted(int n, String pathAndQuery, boolean expected) {
    NodeClient.Response r = client.request(cluster.uri(n), "DELETE", pathAndQuery, null);
    assertEquals("DELETE " + pathAndQuery + " through node" + n + ": " + r, 200, r.status());
    assertEquals("DELETE " + pathAndQuery + " through node" + n + ": " + r, expected, r.body().get("deleted").asBoolean());
    assertTrue(r.toString(), r.body().get("version").asLong() > 0);
  }

  /** What the counter clients saw: increments acknowledged, and writes in doubt (503: may or may not have applied). */
  private final AtomicInteger incremented = new AtomicInteger();
  private final AtomicInteger counterInDoubt = new AtomicInteger();
  private final AtomicInteger conflicts = new AtomicInteger();
  private final AtomicInteger transfers = new AtomicInteger();
  private final AtomicInteger transferConflicts = new AtomicInteger();

  @Test
  public void aCasCounterEndsExactAndTxnTransfersConserveTheTotalOnEveryNode() throws Exception {
    try {
      cluster.startAll();
      cluster.awaitAllReady(ALL_READY);

      // Set-up writes are retried while the cluster answers 503 (a leader change right after start
      // on a loaded machine); both are conditional, so a retry of one that did apply fails its
      // condition, and then the state must be what it wrote.
      NodeClient.Response init = retryWhileUnavailable(
          () -> client.request(cluster.uri(0), "PUT", "/kv/counter?ifVersion=0", "0"));
      assertTrue(init.toString(), init.status() == 200 || init.status() == 412 && "0".equals(valueOf("counter")));
      NodeClient.Response open = retryWhileUnavailable(() -> client.request(cluster.uri(0), "POST", "/txn", """
          {"compare": [{"key": "acct/a", "exists": false}, {"key": "acct/b", "exists": false}],
           "success": [{"op": "put", "key": "acct/a", "value": "%d"}, {"op": "put", "key": "acct/b", "value": "%d"}]}
          """.formatted(OPENING_BALANCE, OPENING_BALANCE)));
      assertEquals(open.toString(), 200, open.status());
      assertTrue(open.toString(), open.body().get("succeeded").asBoolean()
          || String.valueOf(OPENING_BALANCE).equals(valueOf("acct/a")) && String.valueOf(OPENING_BALANCE).equals(valueOf("acct/b")));

      // The clients start by reading both keys at local consistency on their own node, which may
      // lag the acknowledged writes by a few milliseconds (W=3 of 5 followers): every replica
      // holds the opening state before the race begins.
      cluster.awaitSameState(0, IntStream.range(1, Cluster.NODES).toArray(), ALL_READY);

      long deadline = System.nanoTime() + RACE_LIMIT.toNanos();
      List<Future<?>> done = new ArrayList<>();
      for (int c = 0; c < COUNTER_CLIENTS; c++) {
        int node = c % Cluster.NODES;
        done.add(clients.submit(() -> incrementCounter(node, deadline)));
      }
      for (int c = 0; c < TRANSFER_CLIENTS; c++) {
        int node = (c * 2 + 1) % Cluster.NODES;
        long seed = c;
        done.add(clients.submit(() -> transfer(node, seed, deadline)));
      }
      for (Future<?> f : done) {
        f.get();
      }
      System.out.printf("CasTxnIT: %d increments (%d conflicts, %d in doubt), %d transfers (%d conflicts)%n",
          incremented.get(), conflicts.get(), counterInDoubt.get(), transfers.get(), transferConflicts.get());

      JsonNode settled = cluster.awaitSameState(0, IntStream.range(1, Cluster.NODES).toArray(), ALL_READY);
      for (int n = 0; n < Cluster.NODES; n++) {
        NodeClient.Response counter = client.get(cluster.uri(n), "counter", "local");
        assertEquals(counter.toString(), 200, counter.status());
        int value = Integer.parseInt(counter.body().get("value").asText());
        // Exact: every acknowledged increment counted once; a write answered 503 may or may not
        // have applied (none are expected on a healthy cluster).
        assertTrue("node" + n + ": counter " + value + " after " + incremented.get() + " acknowledged increments and "
                + counterInDoubt.get() + " in doubt",
            value >= incremented.get() && value <= incremented.get() + counterInDoubt.get());
        int a = Integer.parseInt(client.get(cluster.uri(n), "acct/a", "local").body().get("value").asText());
        int b = Integer.parseInt(client.get(cluster.uri(n), "acct/b", "local").body().get("value").asText());
        assertEquals("node" + n + ": the transfers conserve the total (" + a + " + " + b + ")", 2 * OPENING_BALANCE, a + b);
        JsonNode status = client.status(cluster.uri(n)).orElseThrow();
        assertEquals("node" + n + " has the same digest", settled.get("digest").asText(), status.get("digest").asText());
      }
      assertTrue("the counter moved: " + incremented.get(), incremented.get() >= COUNTER_CLIENTS);
      assertTrue("transfers were made: " + transfers.get(), transfers.get() >= TRANSFER_CLIENTS);

      // A delete says whether there was a key to delete, through the leader and through followers
      // (whose answers come back from the leader over Artery).
      for (int n = 0; n < Cluster.NODES; n++) {
        String key = "gone-" + n;
        assertDeleted(n, "/kv/" + key, false);
        NodeClient.Response put = client.put(cluster.uri(n), key, "v", 3);
        assertEquals(put.toString(), 200, put.status());
        assertDeleted(n, "/kv/" + key + "?ifVersion=" + put.body().get("version").asLong(), true);
        assertDeleted(n, "/kv/" + key + "?ifVersion=0", false);
        assertEquals(200, client.put(cluster.uri(n), key, "again", 3).status());
        assertDeleted(n, "/kv/" + key, true);
        assertEquals(404, client.get(cluster.uri(n), key, "linearizable").status());
      }
    } catch (Throwable t) {
      System.out.println("CasTxnIT FAILED: " + t + "\nnode logs:" + cluster.logs().tails(60));
      throw t;
    }
  }

  /** Reads the counter on {@code node}, then writes value + 1 if its version has not moved; until enough succeeded or time is up. */
  /** The request's answer once it is not a 503, trying up to 20 times half a second apart. */
  private static NodeClient.Response retryWhileUnavailable(java.util.function.Supplier<NodeClient.Response> request)
      throws InterruptedException {
    NodeClient.Response r = request.get();
    for (int attempt = 1; attempt < 20 && r.status() == 503; attempt++) {
      Thread.sleep(500);
      r = request.get();
    }
    return r;
  }

  /** The key's value by a linearizable read through node0, or null. */
  private String valueOf(String key) {
    NodeClient.Response r = client.get(cluster.uri(0), key, "linearizable");
    return r.ok() ? r.body().path("value").asText(null) : null;
  }

  private void incrementCounter(int node, long deadline) {
    int mine = 0;
    while (mine < INCREMENTS_PER_CLIENT && System.nanoTime() < deadline) {
      NodeClient.Response read = client.get(cluster.uri(node), "counter", "local");
      assertEquals(read.toString(), 200, read.status());
      long version = read.body().get("version").asLong();
      int value = Integer.parseInt(read.body().get("value").asText());
      NodeClient.Response cas = client.request(cluster.uri(node), "PUT", "/kv/counter?ifVersion=" + version + "&timeout=10s",
          Integer.toString(value + 1));
      if (cas.status() == 200) {
        mine++;
        incremented.incrementAndGet();
      } else if (cas.status() == 412) {
        assertTrue(cas.toString(), cas.body().get("currentVersion").asLong() != version);
        conflicts.incrementAndGet();
      } else {
        assertEquals("only 200, 412 or an in-doubt 503: " + cas, 503, cas.status());
        counterInDoubt.incrementAndGet();
      }
    }
  }

  /** Moves a random amount between the two accounts, conditional on both versions read. */
  private void transfer(int node, long seed, long deadline) {
    SplittableRandom random = new SplittableRandom(seed);
    int mine = 0;
    while (mine < TRANSFERS_PER_CLIENT && System.nanoTime() < deadline) {
      NodeClient.Response a = client.get(cluster.uri(node), "acct/a", "local");
      NodeClient.Response b = client.get(cluster.uri(node), "acct/b", "local");
      assertEquals(a.toString(), 200, a.status());
      assertEquals(b.toString(), 200, b.status());
      int amount = random.nextInt(1, 50) * (random.nextBoolean() ? 1 : -1);
      int newA = Integer.parseInt(a.body().get("value").asText()) - amount;
      int newB = Integer.parseInt(b.body().get("value").asText()) + amount;
      NodeClient.Response txn = client.request(cluster.uri(node), "POST", "/txn?timeout=10s", """
          {"compare": [{"key": "acct/a", "version": %d}, {"key": "acct/b", "version": %d}],
           "success": [{"op": "put", "key": "acct/a", "value": "%d"}, {"op": "put", "key": "acct/b", "value": "%d"}],
           "failure": [{"op": "get", "key": "acct/a"}, {"op": "get", "key": "acct/b"}]}
          """.formatted(a.body().get("version").asLong(), b.body().get("version").asLong(), newA, newB));
      if (txn.status() == 200 && txn.body().get("succeeded").asBoolean()) {
        mine++;
        transfers.incrementAndGet();
      } else if (txn.status() == 200) {
        transferConflicts.incrementAndGet();
      } else {
        // In doubt: it may have applied. Either way the total is conserved, which is what is checked.
        assertEquals("only 200 or an in-doubt 503: " + txn, 503, txn.status());
      }
    }
  }
}
