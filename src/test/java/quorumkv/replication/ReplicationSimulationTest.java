package quorumkv.replication;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import com.typesafe.config.Config;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.After;
import org.junit.Test;
import quorumkv.TestConfig;
import quorumkv.config.Settings;
import quorumkv.node.NodeWiring;

/**
 * A leader and six replicas (its own and five followers) in one ActorSystem on real SQLite
 * journals, wired as a node wires them and with the same injected-delay links as the running
 * cluster.
 */
public class ReplicationSimulationTest {
  private static final List<String> FOLLOWERS = List.of("node1", "node2", "node3", "node4", "node5");

  private ActorTestKit testKit;
  private NodeWiring wiring;
  private ReplicationDelay delay;
  private final Map<String, NodeWiring.Replica> replicas = new LinkedHashMap<>();
  private ActorRef<LeaderActor.Command> leader;

  private void start(ReplicationDelay injected, String overrides) {
    Config config = TestConfig.local(TestConfig.newDataDir("sim"), overrides);
    testKit = ActorTestKit.create("sim", config);
    wiring = new NodeWiring(testKit::spawn, testKit.system(), Settings.from(config));
    delay = injected;
    for (String node : List.of("node0", "node1", "node2", "node3", "node4", "node5")) {
      replicas.put(node, wiring.replica(node));
    }
    leader = testKit.spawn(wiring.leader("node0", replicas.get("node0"), delay), "leader");
    awaitReachableFollowers(5);
  }

  /** A fixed delay per follower, so that the test knows which follower answers when. */
  private static ReplicationDelay perFollower(Map<String, Duration> delays) {
    return ReplicationDelay.of(node -> delays.getOrDefault(node, Duration.ZERO).toNanos());
  }

  @After
  public void stop() {
    if (testKit != null) {
      testKit.shutdownTestKit();
    }
    if (delay != null) {
      delay.close();
    }
  }

  private LeaderActor.LeaderInfo info() {
    TestProbe<LeaderActor.LeaderInfo> probe = testKit.createTestProbe();
    leader.tell(new LeaderActor.GetLeaderInfo(probe.ref()));
    return probe.receiveMessage(Duration.ofSeconds(5));
  }

  private void awaitReachableFollowers(int n) {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (System.nanoTime() < deadline) {
      LeaderActor.LeaderInfo i = info();
      if (i.active() && i.reachableFollowers() == n) {
        return;
      }
      sleepBriefly();
    }
    fail("leader did not see " + n + " followers: " + info());
  }

  private static void sleepBriefly() {
    try {
      Thread.sleep(20); // polling interval of a test wait, not a hidden timing assumption
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private WriteResult write(String key, String value, int w, Duration timeout) {
    TestProbe<WriteResult> client = testKit.createTestProbe();
    leader.tell(new LeaderActor.Write(key, value, w, timeout.toMillis(), client.ref()));
    return client.receiveMessage(timeout.plusSeconds(10));
  }

  private long lastIndexOf(String node) {
    TestProbe<FollowerActor.Position> probe = testKit.createTestProbe();
    replicas.get(node).ref().tell(new FollowerActor.GetPosition(probe.ref()));
    return probe.receiveMessage().lastIndex();
  }

  private FollowerActor.Position positionOf(String node) {
    TestProbe<FollowerActor.Position> probe = testKit.createTestProbe();
    replicas.get(node).ref().tell(new FollowerActor.GetPosition(probe.ref()));
    return probe.receiveMessage();
  }

  @Test
  public void eachWriteQuorumAnswersAfterTheWthFollowerAndBeforeTheNext() {
    // Follower k is k * 300 ms away: the W-th ack cannot come before W * 300 ms, and the
    // (W+1)-th follower cannot have the write when the answer comes.
    Map<String, Duration> delays = new HashMap<>();
    for (int k = 1; k <= 5; k++) {
      delays.put("node" + k, Duration.ofMillis(300L * k));
    }
    // Resends would reorder the followers (a link slower than resend-after looks lost).
    start(perFollower(delays), "quorumkv.replication.resend-after = 10s");
    for (int w = 1; w <= 5; w++) {
      long started = System.nanoTime();
      WriteResult result = write("key-w" + w, "v" + w, w, Duration.ofSeconds(10));
      long elapsedMs = (System.nanoTime() - started) / 1_000_000;
      assertTrue("W=" + w + ": " + result, result instanceof WriteResult.Written);
      WriteResult.Written written = (WriteResult.Written) result;
      assertEquals(w, written.acks());
      assertTrue("W=" + w + " answered after " + elapsedMs + " ms, before its " + w + "th follower could ack",
          elapsedMs >= 300L * w - 5);
      for (int k = 1; k <= w; k++) {
        assertTrue("W=" + w + ": node" + k + " acked, so it must hold the write " + written + ": "
            + java.util.stream.IntStream.rangeClosed(1, 5).mapToObj(i -> positionOf("node" + i).toString()).toList(),
            lastIndexOf("node" + k) >= written.version());
      }
      if (w < 5) {
        assertTrue("W=" + w + " waited for node" + (w + 1) + ", one follower more than the quorum",
            lastIndexOf("node" + (w + 1)) < written.version());
      }
      // Every follower idle again before the next write: otherwise a slow follower's pipeline
      // sends it the next write together with this one, ahead of a faster follower's.
      awaitConverged(written.version());
    }
  }

  @Test
  public void writesBeyondMaxPendingAreRefusedAtOnceAndAcceptedAgainOnceTheEarlierOnesAreDecided() {
    Map<String, Duration> delays = new HashMap<>();
    for (String f : FOLLOWERS) {
      delays.put(f, Duration.ofMillis(500));
    }
    start(perFollower(delays), "quorumkv.replication.max-pending-writes = 3\nquorumkv.replication.resend-after = 10s");
    List<TestProbe<WriteResult>> waiting = new java.util.ArrayList<>();
    for (int i = 0; i < 3; i++) {
      TestProbe<WriteResult> client = testKit.createTestProbe();
      leader.tell(new LeaderActor.Write("p" + i, "v", 3, 10_000, client.ref()));
      waiting.add(client);
    }
    TestProbe<WriteResult> refused = testKit.createTestProbe();
    leader.tell(new LeaderActor.Write("p3", "v", 3, 10_000, refused.ref()));
    WriteResult overloaded = refused.receiveMessage(Duration.ofSeconds(5));
    assertTrue(overloaded.toString(), overloaded instanceof WriteResult.Overloaded);
    for (TestProbe<WriteResult> client : waiting) {
      WriteResult r = client.receiveMessage(Duration.ofSeconds(10));
      assertTrue(r.toString(), r instanceof WriteResult.Written);
    }
    WriteResult again = write("p4", "v", 3, Duration.ofSeconds(10));
    assertTrue("decided writes no longer count as pending: " + again, again instanceof WriteResult.Written);
  }

  @Test
  public void uniformDelaysKeepEveryReplicaInLogOrder() {
    start(ReplicationDelay.uniform(Duration.ofMillis(1), Duration.ofMillis(20), new Random(7)), "");
    List<TestProbe<WriteResult>> clients = new java.util.ArrayList<>();
    for (int i = 0; i < 300; i++) {
      TestProbe<WriteResult> client = testKit.createTestProbe();
      // Many writes to few keys, concurrently: every replica must end with the same values.
      leader.tell(new LeaderActor.Write("hot" + (i % 4), "v" + i, 3, 10_000, client.ref()));
      clients.add(client);
    }
    for (TestProbe<WriteResult> client : clients) {
      WriteResult r = client.receiveMessage(Duration.ofSeconds(20));
      assertTrue(r.toString(), r instanceof WriteResult.Written w && w.acks() >= 3);
    }
    awaitConverged(300);
  }

  private void awaitConverged(long index) {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (true) {
      FollowerActor.Position p0 = positionOf("node0");
      boolean same = p0.lastIndex() == index;
      for (String node : FOLLOWERS) {
        FollowerActor.Position p = positionOf(node);
        same &= p.lastIndex() == p0.lastIndex() && p.digest().equals(p0.digest());
      }
      if (same) {
        return;
      }
      if (System.nanoTime() > deadline) {
        fail("replicas did not converge at index " + index);
      }
      sleepBriefly();
    }
  }

  @Test
  public void aVerySlowFollowerDoesNotHoldUpAQuorumTheOthersCanReach() {
    start(perFollower(Map.of("node5", Duration.ofSeconds(30))), "");
    long started = System.nanoTime();
    WriteResult result = write("k", "v", 4, Duration.ofSeconds(20));
    assertTrue(result.toString(), result instanceof WriteResult.Written w && w.acks() == 4);
    assertTrue("answered without waiting for the slow follower",
        System.nanoTime() - started < Duration.ofSeconds(15).toNanos());
  }

  @Test
  public void aDeadFollowerDoesNotHoldUpAQuorumTheOthersCanReach() {
    start(ReplicationDelay.none(), "");
    testKit.stop(replicas.get("node5").ref());
    awaitReachableFollowers(4);
    WriteResult result = write("k", "v", 4, Duration.ofSeconds(5));
    assertTrue(result.toString(), result instanceof WriteResult.Written w && w.acks() == 4);
  }

  @Test
  public void anUnreachableQuorumFailsAtOnceWithTheCountsAndWritesNothing() {
    start(ReplicationDelay.none(), "");
    assertTrue(write("before", "v", 3, Duration.ofSeconds(5)) instanceof WriteResult.Written);
    long indexBefore = info().lastIndex();
    testKit.stop(replicas.get("node4").ref());
    testKit.stop(replicas.get("node5").ref());
    awaitReachableFollowers(3);

    assertEquals(new WriteResult.NotEnoughReplicas("k", 3, 4, "node0"), write("k", "v", 4, Duration.ofSeconds(5)));
    assertEquals(indexBefore, info().lastIndex());
    assertTrue(write("k", "v", 3, Duration.ofSeconds(5)) instanceof WriteResult.Written);
  }

  /**
   * Membership's view is the cluster's: right after a paused node resumed, the cluster called every
   * other node unreachable for a moment, and the leader refused all writes although its five
   * followers were answering it (FailoverBench, pause round 10 of 20). The followers' answers
   * decide; here every follower's node is called unreachable while they all keep answering.
   */
  @Test
  public void followersThatAnswerTheLeaderCountForWritesWhateverMembershipSays() {
    start(ReplicationDelay.none(), "");
    assertTrue(write("before", "v", 3, Duration.ofSeconds(5)) instanceof WriteResult.Written);
    leader.tell(new LeaderActor.ReachabilityChanged(replicas.get("node1").ref().path().address(), false));

    WriteResult during = write("during", "v", 5, Duration.ofSeconds(5));
    assertTrue(during.toString(), during instanceof WriteResult.Written w && w.acks() == 5);
    assertEquals(5, info().reachableFollowers());
  }

  @Test
  public void aQuorumMissedWithinTheTimeoutFailsWithTheCounts() {
    start(perFollower(Map.of("node4", Duration.ofSeconds(30), "node5", Duration.ofSeconds(30))), "");
    WriteResult result = write("k", "v", 5, Duration.ofMillis(500));
    assertTrue(result.toString(), result instanceof WriteResult.QuorumNotReached);
    WriteResult.QuorumNotReached failed = (WriteResult.QuorumNotReached) result;
    assertEquals(3, failed.acks());
    assertEquals(5, failed.quorum());
  }

  @Test
  public void aFollowerFurtherBehindThanTheRetainedLogGetsTheWholeState() {
    start(ReplicationDelay.none(), "quorumkv.replication.retained-entries = 20\n");
    testKit.stop(replicas.get("node5").ref());
    awaitReachableFollowers(4);
    for (int i = 0; i < 60; i++) {
      assertTrue(write("key" + (i % 25), "v" + i, 3, Duration.ofSeconds(5)) instanceof WriteResult.Written);
    }
    replicas.put("node5", wiring.replica("node5"));
    awaitConverged(60);
    assertEquals(25, positionOf("node5").keyCount());
  }
}
