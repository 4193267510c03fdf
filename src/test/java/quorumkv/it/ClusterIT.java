package quorumkv.it;

import quorumkv.harness.Await;
import quorumkv.harness.Cluster;
import quorumkv.harness.Deadline;
import quorumkv.harness.Loopback;
import quorumkv.harness.NodeClient;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.Timeout;

/**
 * The six-node cluster as six JVMs: concurrent writes through every node converge to one state;
 * the Gatling smoke run ({@code loadtest/smoke.sh}) passes against all six and its writes read
 * the same on every node; W=3 survives two crashed followers and refuses (503) with three crashed
 * while W=2 goes on; crashed followers catch up by themselves (by log or by full state transfer); and after every
 * JVM is killed and restarted, no acknowledged write is missing.
 *
 * <p>Any node may lead (the replicas elect the leader): the follower phases find it on /status and
 * crash, and write through, followers chosen among the other five.
 */
public class ClusterIT {
  /** The quorum these writes ask for (?w=3): the phases below kill followers around it. */
  private static final int W = 3;
  private static final int RETAINED_ENTRIES = 100;
  /** Writes wait for their quorum (at most the replication timeout) on a busy machine. */
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(20);
  /**
   * JVM start, cluster join and SQLite recovery of six nodes at once take about a minute on two
   * cores, and twice that when the machine is busy; the bound is only a safety net.
   */
  private static final Duration ALL_READY = Duration.ofSeconds(180);
  private static final Duration CONVERGE = Duration.ofSeconds(90);
  private static final Duration MEMBERSHIP = Duration.ofSeconds(60);
  /** The design's bound is about two seconds; this only keeps a broken election from hanging the run. */
  private static final Duration ELECTION = Duration.ofSeconds(60);
  /**
   * The leader downs a member unreachable for DOWN_UNREACHABLE_AFTER (20 s), after the failure
   * detector's few seconds, and the removal then spreads by gossip: about 25 s, more when busy.
   */
  private static final Duration DOWNED_AND_REMOVED = Duration.ofSeconds(120);
  private static final List<String> HOT_KEYS = List.of("hot-a", "hot-b", "hot-c");
  private static final int[] ALL_BUT_NODE0 = {1, 2, 3, 4, 5};
  /** Where node logs are kept: always on failure, and with -Dquorumkv.it.keepLogs=true. */
  private static final Path KEPT_LOGS = GatlingSmoke.REPOSITORY.resolve(Path.of("target", "cluster-it-logs"));

  /** {@code loadtest/smoke.sh}'s defaults plus SmokeSimulation (each write read back through another node). */
  private static final List<String> SMOKE_SIMULATIONS = List.of(
      "WriteThroughputSimulation", "ReadWriteMixSimulation", "SpreadWritesSimulation", "SmokeSimulation");
  private static final int SMOKE_USERS = 4;
  private static final int SMOKE_SECONDS = 3;
  /**
   * The load simulations write {@code gatling-0 .. gatling-9}; phase 1 writes other keys and every
   * run starts from empty data directories, so whatever those keys hold the smoke run wrote.
   */
  private static final String SMOKE_KEY_PREFIX = "gatling-";
  private static final int SMOKE_KEYS = 10;
  /** What loadtest's KvLoad writes: its sequence number, '-', random letters and digits; 100 bytes. */
  private static final Pattern SMOKE_VALUE = Pattern.compile("(?=.{100}$)[0-9]+-[A-Za-z0-9]+");
  /**
   * About a minute here (Maven and a Gatling JVM per simulation); a fresh CI machine also
   * downloads Gatling from Maven Central first.
   */
  private static final Duration SMOKE_TIMEOUT = Duration.ofSeconds(300);
  private static final Path SMOKE_LOG = GatlingSmoke.REPOSITORY.resolve(Path.of("target", "loadtest-smoke.log"));

  @Rule public final Timeout globalTimeout = Timeout.seconds(900);

  /** An acknowledged (200) write. */
  private record Ack(String key, String value, long version) {}

  private Cluster<Loopback> cluster;
  private final NodeClient http = new NodeClient(REQUEST_TIMEOUT);
  private ExecutorService clients;
  /** The acknowledged write with the highest version, per key. */
  private final Map<String, Ack> latestAck = new ConcurrentHashMap<>();
  /** Versions of writes answered 503 after they were logged: in doubt, they may become visible. */
  private final Map<String, Set<Long>> inDoubt = new ConcurrentHashMap<>();
  private final Map<String, String> timings = new LinkedHashMap<>();
  /** Phases 3-5's cast, chosen when phase 3 finds the leader. */
  private Roles roles;

  /**
   * Who plays which part in phases 3-5: the leader; the two followers the writes go through (they
   * stay up); the two followers crashed first (they miss more than RETAINED_ENTRIES writes); the
   * third follower crashed later (it misses fewer).
   */
  private record Roles(int leader, int[] writers, int[] crashedFirst, int crashedLater) {
    static Roles around(int leader) {
      int[] f = IntStream.range(0, Cluster.NODES).filter(n -> n != leader).toArray();
      return new Roles(leader, new int[] {f[0], f[1]}, new int[] {f[3], f[4]}, f[2]);
    }

    int writer(int i) {
      return writers[i % writers.length];
    }

    int[] crashed() {
      return new int[] {crashedLater, crashedFirst[0], crashedFirst[1]};
    }

    int[] allButLeader() {
      return IntStream.range(0, Cluster.NODES).filter(n -> n != leader).toArray();
    }

    String writerIds() {
      return nodeIds(writers);
    }

    String crashedFirstIds() {
      return nodeIds(crashedFirst);
    }

    @Override
    public String toString() {
      return "leader " + Cluster.nodeId(leader) + ", writes through " + writerIds() + ", crashed first "
          + crashedFirstIds() + ", then " + Cluster.nodeId(crashedLater);
    }
  }

  @Before
  public void setUp() {
    cluster = Cluster.onLoopback(Cluster.jarFromSystemProperty(),
        Map.of("RETAINED_ENTRIES", String.valueOf(RETAINED_ENTRIES)));
    clients = Executors.newFixedThreadPool(16);
    System.out.println("ClusterIT: " + cluster);
  }

  @After
  public void tearDown() {
    if (clients != null) {
      clients.shutdownNow();
    }
    if (cluster != null) {
      cluster.close();
    }
    System.out.println("ClusterIT timings: " + timings);
  }

  @Test
  public void acknowledgedWritesSurviveFollowerCrashesAndAFullRestart() throws Exception {
    try {
      phase("1 start six nodes, 240 concurrent writes, convergence", this::concurrentWritesConverge);
      // While all six are up: the phases after it kill nodes.
      phase("2 Gatling smoke run against all six", this::gatlingSmokeRunPasses);
      phase("3 kill -9 two followers, W=3 still succeeds", this::twoFollowersDownWriteQuorumStillMet);
      phase("4 kill -9 a third follower, W=3 refused, W=2 succeeds", this::threeFollowersDownWriteQuorumRefused);
      phase("5 restart the three followers, they catch up", this::restartedFollowersCatchUp);
      phase("6 kill -9 all six, restart, nothing acknowledged lost", this::fullRestartLosesNothing);
      if (Boolean.getBoolean("quorumkv.it.keepLogs")) {
        cluster.logs().copyTo(KEPT_LOGS);
        System.out.println("node logs copied to " + KEPT_LOGS.toAbsolutePath());
      }
    } catch (Throwable t) {
      System.out.println("ClusterIT FAILED: " + t + "\nnode logs:" + cluster.logs().tails(80));
      cluster.logs().copyTo(KEPT_LOGS);
      System.out.println("full node logs copied to " + KEPT_LOGS.toAbsolutePath());
      throw t;
    }
  }

  // --- phases ---

  private void concurrentWritesConverge() throws Exception {
    cluster.startAll();
    cluster.awaitAllReady(ALL_READY);
    mark("all six ready");

    int writes = 240;
    List<WriteOutcome> outcomes = concurrently(writes, 16, i -> {
      String key = i % 3 == 2 ? "p1-key-" + i : HOT_KEYS.get(i % HOT_KEYS.size());
      return write(i % Cluster.NODES, key, "p1-value-" + i, null);
    });
    long acked = outcomes.stream().filter(o -> o.response().ok()).count();
    mark(writes + " concurrent writes sent, " + acked + " acknowledged");
    assertOnly200Or503(outcomes);
    assertTrue("at least 200 of " + writes + " writes through a healthy cluster should be acknowledged, got "
        + acked + ": " + failures(outcomes), acked >= 200);

    cluster.awaitSameState(0, ALL_BUT_NODE0, CONVERGE);
    mark("all six have the same lastIndex and digest");
    verifyEveryKeyOn(0, 1, 2, 3, 4, 5);
    mark("every key reads the same latest acknowledged value on all six");
  }

  /**
   * loadtest/smoke.sh exits 0 (every Gatling assertion held), leaves an HTML report per
   * simulation, and the values it wrote read the same on all six.
   */
  private void gatlingSmokeRunPasses() throws Exception {
    List<String> nodeUrls = IntStream.range(0, Cluster.NODES).mapToObj(n -> cluster.uri(n).toString()).toList();
    GatlingSmoke smoke = new GatlingSmoke(SMOKE_SIMULATIONS, SMOKE_USERS, SMOKE_SECONDS, SMOKE_LOG);
    int exit = smoke.run(nodeUrls, SMOKE_TIMEOUT, "-DkeyPrefix=" + SMOKE_KEY_PREFIX, "-Dkeys=" + SMOKE_KEYS);
    mark("loadtest/smoke.sh exited " + exit + ", output in " + smoke.log().toAbsolutePath());
    assertEquals("loadtest/smoke.sh exit code (0: every simulation passed its assertions); its output ("
        + smoke.log().toAbsolutePath() + "):\n" + smoke.logTail(80), 0, exit);
    List<String> reports = new ArrayList<>();
    for (String simulation : SMOKE_SIMULATIONS) {
      Path report = smoke.newReport(simulation).orElseThrow(() -> new AssertionError(
          "no new Gatling HTML report (<simulation>-<timestamp>/index.html) for " + simulation + " under "
              + smoke.reportsDir().toAbsolutePath() + "; smoke.sh output:\n" + smoke.logTail(80)));
      reports.add(report.getFileName().toString());
    }
    mark("a new HTML report per simulation under " + smoke.reportsDir() + ": " + reports);

    cluster.awaitSameState(0, ALL_BUT_NODE0, CONVERGE);
    mark("all six have the same lastIndex and digest after the smoke run");
    List<String> found = new ArrayList<>();
    for (int k = 0; k < SMOKE_KEYS; k++) {
      String key = SMOKE_KEY_PREFIX + k;
      NodeClient.Response onNode0 = get(0, key);
      if (onNode0.status() == 404) {
        continue;
      }
      assertEquals("node0 GET " + key + ": " + onNode0, 200, onNode0.status());
      String value = onNode0.body().path("value").asText("");
      assertTrue("node0 GET " + key + " should return a value the smoke run wrote: " + onNode0,
          SMOKE_VALUE.matcher(value).matches());
      for (int n : ALL_BUT_NODE0) {
        NodeClient.Response r = get(n, key);
        String context = "node" + n + " GET " + key + " after convergence: " + r + "; node0: " + onNode0;
        assertEquals(context, 200, r.status());
        assertEquals(context, value, r.body().path("value").asText(null));
        assertEquals(context, onNode0.body().path("version").asLong(), r.body().path("version").asLong(-1));
      }
      found.add(key);
    }
    assertTrue("the smoke run's writes (keys " + SMOKE_KEY_PREFIX + "0.." + (SMOKE_KEYS - 1)
        + ") should be readable from the cluster, none is; smoke.sh output:\n" + smoke.logTail(80),
        !found.isEmpty());
    mark(found.size() + " of " + SMOKE_KEYS + " keys the smoke run wrote read the same value on all six");
  }

  private void twoFollowersDownWriteQuorumStillMet() throws Exception {
    roles = Roles.around(awaitLeader());
    mark(roles.toString());

    for (int n : roles.crashedFirst()) {
      cluster.kill(n);
    }
    mark(roles.crashedFirstIds() + " killed");

    int writes = 160; // more than RETAINED_ENTRIES: the two crashed followers will need a full state transfer
    // ~40 KB values for the keys written once: ~4.8 MB of state, more than one Artery message
    // carries (4 MiB), so the transfer must come in chunks of bounded size to arrive at all.
    String padding = "x".repeat(40_000);
    List<WriteOutcome> outcomes = concurrently(writes, 8, i -> {
      boolean hot = i % 4 == 0;
      String key = hot ? HOT_KEYS.get(i % HOT_KEYS.size()) : "p2-key-" + i;
      return write(roles.writer(i), key, "p2-value-" + i + (hot ? "" : "-" + padding), W);
    });
    List<WriteOutcome> failed = outcomes.stream().filter(o -> !o.response().ok()).toList();
    assertTrue("with " + roles.crashedFirstIds() + " down, three followers remain and every W=3 write must "
        + "succeed; failed: " + failed, failed.isEmpty());
    mark(writes + " W=3 writes through " + roles.writerIds() + " all acknowledged");

    // Let the leader down the two dead nodes (it reaches four of six) before the next crash, so
    // that the next phase starts from one settled membership.
    awaitMembersGone(roles.leader(), roles.crashedFirst());
    mark(Cluster.nodeId(roles.leader()) + "'s membership no longer lists " + roles.crashedFirstIds());
    assertEquals("two followers crashing do not depose a leader that keeps three", roles.leader(), awaitLeader());
  }

  private void threeFollowersDownWriteQuorumRefused() throws Exception {
    cluster.kill(roles.crashedLater());
    mark(Cluster.nodeId(roles.crashedLater()) + " killed");

    // Until the leader sees the third follower unreachable, a W=3 write is logged and times out
    // (503, in doubt); afterwards it is refused at once (503, not logged). Never 200.
    List<NodeClient.Response> refusals = new ArrayList<>();
    int[] attempt = {0};
    Await.until("a W=3 write is refused after the leader counts only 2 reachable followers", MEMBERSHIP, () -> {
      boolean leaderKnows = cluster.status(roles.leader())
          .map(s -> s.path("reachableFollowers").asInt(-1) == 2).orElse(false);
      WriteOutcome o = write(roles.writer(attempt[0]), "p3-refused-" + attempt[0], "p3-refused-" + attempt[0], W);
      attempt[0]++;
      assertEquals("a W=3 write with only " + roles.writerIds() + " alive as followers must get 503: " + o,
          503, o.response().status());
      assertEquals("the 503 body names the quorum required: " + o,
          W, o.response().body().path("required").asInt(-1));
      refusals.add(o.response());
      return leaderKnows;
    }, () -> "refusals so far: " + refusals);
    mark(attempt[0] + " W=3 writes refused with 503 (last: " + refusals.get(refusals.size() - 1) + ")");

    int writes = 40; // fewer than RETAINED_ENTRIES: the third follower catches up from the leader's log
    List<WriteOutcome> outcomes = concurrently(writes, 4, i -> {
      String key = i % 4 == 0 ? HOT_KEYS.get(i % HOT_KEYS.size()) : "p3-key-" + i;
      return write(roles.writer(i), key, "p3-value-" + i, 2);
    });
    List<WriteOutcome> failed = outcomes.stream().filter(o -> !o.response().ok()).toList();
    assertTrue("with two followers alive every W=2 write must succeed; failed: " + failed, failed.isEmpty());
    for (WriteOutcome o : outcomes) {
      assertEquals("quorum in the W=2 answer: " + o, 2, o.response().body().path("quorum").asInt());
    }
    mark(writes + " W=2 writes acknowledged");

    WriteOutcome again = write(roles.writer(1), "p3-refused-again", "p3-refused-again", W);
    assertEquals("W=3 is still refused: " + again, 503, again.response().status());
  }

  private void restartedFollowersCatchUp() throws Exception {
    int[] crashed = roles.crashed();
    String crashedIds = nodeIds(crashed);
    for (int n : crashed) {
      cluster.start(n);
    }
    Deadline deadline = Deadline.in(ALL_READY);
    for (int n : crashed) {
      cluster.awaitReady(n, deadline.remaining());
    }
    mark(crashedIds + " restarted and ready");
    for (int n : crashed) {
      assertSqliteLibraryFromDataDir(n);
    }
    JsonNode leader = cluster.awaitSameState(roles.leader(), roles.allButLeader(), CONVERGE);
    mark(crashedIds + " caught up to lastIndex " + leader.path("lastIndex").asLong()
        + ", digest " + leader.path("digest").asText());
    for (int n : roles.crashedFirst()) {
      assertTrue(Cluster.nodeId(n) + " missed more than RETAINED_ENTRIES=" + RETAINED_ENTRIES
              + " writes, so it must have been sent a full state transfer (its log says so)",
          cluster.logs().contains(n, "Full state transfer"));
    }
    boolean laterTransferred = cluster.logs().contains(roles.crashedLater(), "Full state transfer");
    mark(roles.crashedFirstIds() + " logged a full state transfer; " + Cluster.nodeId(roles.crashedLater()) + " "
        + (laterTransferred ? "did too" : "caught up from the log") + "; " + stateTransfersSoFar());

    int[] attempt = {0};
    WriteOutcome[] last = new WriteOutcome[1];
    Await.until("a W=3 write succeeds again", MEMBERSHIP, () -> {
      last[0] = write(crashed[attempt[0] % 3], "p4-first-" + attempt[0], "p4-first-" + attempt[0], W);
      attempt[0]++;
      return last[0].response().ok();
    }, () -> String.valueOf(last[0]));
    List<WriteOutcome> outcomes = concurrently(30, 6, i -> write(crashed[i % 3], "p4-key-" + i, "p4-value-" + i, W));
    List<WriteOutcome> failed = outcomes.stream().filter(o -> !o.response().ok()).toList();
    assertTrue("with all five followers back every W=3 write must succeed; failed: " + failed, failed.isEmpty());
    mark("W=3 writes succeed again (" + attempt[0] + " attempt(s) for the first, then 30 through "
        + crashedIds + ")");
  }

  private void fullRestartLosesNothing() throws Exception {
    JsonNode before = cluster.awaitSameState(0, ALL_BUT_NODE0, CONVERGE);
    long lastIndex = before.path("lastIndex").asLong();
    String digest = before.path("digest").asText();
    mark("before the crash all six at lastIndex " + lastIndex + ", digest " + digest);

    cluster.killAll();
    mark("all six killed");
    cluster.startAll();
    cluster.awaitAllReady(ALL_READY);
    mark("all six restarted and ready");

    JsonNode after = cluster.awaitSameState(0, ALL_BUT_NODE0, CONVERGE);
    assertEquals("lastIndex after restarting every node: " + after, lastIndex, after.path("lastIndex").asLong());
    assertEquals("digest after restarting every node: " + after, digest, after.path("digest").asText());
    mark("all six recovered lastIndex " + lastIndex + " and digest " + digest);
    verifyEveryKeyOn(0, 1, 2, 3, 4, 5);
    mark("all " + latestAck.size() + " acknowledged keys read their latest acknowledged value on all six; "
        + stateTransfersSoFar());
  }

  // --- writes and checks ---

  private record WriteOutcome(int node, String key, String value, Integer w, NodeClient.Response response) {
    @Override
    public String toString() {
      return "PUT node" + node + " " + key + "=" + value + (w == null ? "" : " w=" + w) + " -> " + response;
    }
  }

  /** One write; records it as acknowledged (200) or in doubt (503 with a logged version). */
  private WriteOutcome write(int node, String key, String value, Integer w) {
    NodeClient.Response r = http.put(cluster.uri(node), key, value, w);
    if (r.ok()) {
      assertEquals("the write answer names its key: " + r, key, r.body().path("key").asText());
      long version = r.body().path("version").asLong(-1);
      assertTrue("an acknowledged write has a version: " + r, version > 0);
      latestAck.merge(key, new Ack(key, value, version), (a, b) -> a.version() >= b.version() ? a : b);
    } else if (r.body().has("version")) {
      inDoubt.computeIfAbsent(key, k -> ConcurrentHashMap.newKeySet()).add(r.body().path("version").asLong());
    }
    return new WriteOutcome(node, key, value, w, r);
  }

  /** Runs {@code count} writes on {@code threads} client threads, all released at once. */
  private List<WriteOutcome> concurrently(int count, int threads, IntFunction<WriteOutcome> writeNumber)
      throws Exception {
    CountDownLatch go = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<WriteOutcome>> futures = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        int n = i;
        futures.add(pool.submit(() -> {
          go.await();
          return writeNumber.apply(n);
        }));
      }
      go.countDown();
      List<WriteOutcome> out = new ArrayList<>();
      for (Future<WriteOutcome> f : futures) {
        out.add(f.get(2, TimeUnit.MINUTES));
      }
      return out;
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * Node n loaded SQLite's native library from the one copy in its data directory, which a kill -9
   * (the node was restarted after one) leaves as it was: nothing extracted again, nothing left over.
   */
  private void assertSqliteLibraryFromDataDir(int n) throws IOException {
    Path nativeDir = cluster.dir().resolve(Cluster.nodeId(n)).resolve("native").toAbsolutePath();
    List<Path> files;
    try (Stream<Path> walk = Files.walk(nativeDir)) {
      files = walk.filter(Files::isRegularFile).toList();
    }
    assertEquals(Cluster.nodeId(n) + ": one library file in " + nativeDir + ", got " + files, 1, files.size());
    String maps = Files.readString(Path.of("/proc", String.valueOf(cluster.pid(n)), "maps"));
    Path library = files.get(0).toRealPath();
    assertTrue(Cluster.nodeId(n) + " maps " + library + ", not a copy elsewhere",
        maps.contains(library.toString()) && !maps.contains("-libsqlitejdbc.so"));
  }

  private static void assertOnly200Or503(List<WriteOutcome> outcomes) {
    for (WriteOutcome o : outcomes) {
      int s = o.response().status();
      assertTrue("a write may succeed or be refused with 503, nothing else: " + o, s == 200 || s == 503);
    }
  }

  private static List<WriteOutcome> failures(List<WriteOutcome> outcomes) {
    return outcomes.stream().filter(o -> !o.response().ok()).toList();
  }

  /**
   * For every acknowledged key, each node returns the acknowledged write with the highest
   * version; a higher version is allowed only if it is a write that was answered 503 (in doubt).
   */
  private void verifyEveryKeyOn(int... nodes) throws Exception {
    List<Future<String>> checks = new ArrayList<>();
    for (Ack expected : new TreeMap<>(latestAck).values()) {
      for (int n : nodes) {
        checks.add(clients.submit(() -> checkKey(n, expected)));
      }
    }
    List<String> problems = new ArrayList<>();
    for (Future<String> f : checks) {
      String problem = f.get(2, TimeUnit.MINUTES);
      if (problem != null) {
        problems.add(problem);
      }
    }
    if (!problems.isEmpty()) {
      fail(problems.size() + " reads disagree with the acknowledged writes, e.g. "
          + problems.subList(0, Math.min(20, problems.size())));
    }
  }

  private String checkKey(int node, Ack expected) {
    NodeClient.Response r = get(node, expected.key());
    if (!r.ok()) {
      return "node" + node + " GET " + expected.key() + " -> " + r + ", expected " + expected;
    }
    long version = r.body().path("version").asLong(-1);
    String value = r.body().path("value").asText(null);
    if (version == expected.version() && expected.value().equals(value)) {
      return null;
    }
    if (version > expected.version() && inDoubt.getOrDefault(expected.key(), Set.of()).contains(version)) {
      return null;
    }
    return "node" + node + " GET " + expected.key() + " -> " + r + ", expected " + expected
        + (inDoubt.containsKey(expected.key()) ? " (in-doubt versions " + inDoubt.get(expected.key()) + ")" : "");
  }

  /** For the record (not asserted): full state transfers installed per node, all runs. */
  private String stateTransfersSoFar() {
    StringBuilder sb = new StringBuilder("full state transfers installed so far:");
    for (int n = 0; n < Cluster.NODES; n++) {
      sb.append(" node").append(n).append('=').append(cluster.logs().count(n, "Full state transfer done"));
    }
    return sb.toString();
  }

  private void awaitMembersGone(int observer, int[] nodes) {
    Set<String> gone = IntStream.of(nodes).mapToObj(Cluster::nodeId).collect(Collectors.toSet());
    List<String> seen = new ArrayList<>();
    Await.until(Cluster.nodeId(observer) + "'s /status members no longer include " + nodeIds(nodes),
        DOWNED_AND_REMOVED, () -> {
      seen.clear();
      JsonNode status = cluster.status(observer).orElse(null);
      if (status == null || !status.has("members")) {
        seen.add("no /status from node" + observer);
        return false;
      }
      for (JsonNode m : status.path("members")) {
        seen.add(m.path("node").asText() + ":" + m.path("status").asText()
            + (m.path("reachable").asBoolean() ? "" : "(unreachable)"));
      }
      return seen.stream().noneMatch(s -> gone.contains(s.substring(0, s.indexOf(':'))));
    }, () -> String.valueOf(seen));
  }

  /**
   * Waits until exactly one node says {@code role=leader} and every other live node names it as
   * its leader; returns it.
   */
  private int awaitLeader() {
    int[] leader = {-1};
    StringBuilder seen = new StringBuilder();
    Await.until("every live node follows one leader", ELECTION, () -> {
      seen.setLength(0);
      leader[0] = -1;
      List<Integer> leaders = new ArrayList<>();
      List<String> named = new ArrayList<>();
      for (int n = 0; n < Cluster.NODES; n++) {
        if (!cluster.isLive(n)) {
          continue;
        }
        JsonNode s = cluster.status(n).orElse(null);
        seen.append(Cluster.nodeId(n)).append('=').append(s == null ? "no status" : s.path("role").asText() + "/"
            + s.path("leader").asText() + "/term " + s.path("term").asText()).append(' ');
        if (s == null) {
          return false;
        }
        if ("leader".equals(s.path("role").asText())) {
          leaders.add(n);
        }
        named.add(s.path("leader").asText());
      }
      if (leaders.size() != 1 || !named.stream().allMatch(Cluster.nodeId(leaders.get(0))::equals)) {
        return false;
      }
      leader[0] = leaders.get(0);
      return true;
    }, seen::toString);
    return leader[0];
  }

  private static String nodeIds(int[] nodes) {
    return IntStream.of(nodes).mapToObj(Cluster::nodeId).toList().toString();
  }

  // --- timing ---

  private interface Phase {
    void run() throws Exception;
  }

  private Instant phaseStart;

  private void phase(String name, Phase body) throws Exception {
    phaseStart = Instant.now();
    System.out.println("ClusterIT phase " + name + " ...");
    try {
      body.run();
    } finally {
      String took = secondsSince(phaseStart);
      timings.put(name, took);
      System.out.println("ClusterIT phase " + name + " took " + took);
    }
  }

  private NodeClient.Response get(int node, String key) {
    return http.get(cluster.uri(node), key);
  }

  /** For log lines: seconds since {@code start}, one decimal. */
  private static String secondsSince(Instant start) {
    return String.format("%.1f s", Duration.between(start, Instant.now()).toMillis() / 1000.0);
  }

  private void mark(String what) {
    System.out.println("  +" + secondsSince(phaseStart) + " " + what);
  }
}
