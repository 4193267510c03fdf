package quorumkv.replication;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import quorumkv.node.NodeWiring;
import quorumkv.storage.LogEntry;

/**
 * Leader changes among six replicas in one ActorSystem on real SQLite journals, wired as a node
 * wires them: what a new leader must hear before it serves, what it adopts, and what a deposed
 * leader can no longer do.
 */
public class FailoverSimulationTest {
  private SixReplicas six;
  private ActorTestKit testKit;
  private NodeWiring wiring;
  private Map<String, NodeWiring.Replica> replicas;

  @Before
  public void start() {
    six = new SixReplicas("failover", "");
    testKit = six.testKit;
    wiring = six.wiring;
    replicas = six.replicas;
  }

  @After
  public void stop() {
    six.close();
  }

  private ActorRef<LeaderActor.Command> leaderOn(String node, ReplicationDelay delay) {
    return testKit.spawn(wiring.leader(node, replicas.get(node), delay));
  }

  private LeaderActor.LeaderInfo info(ActorRef<LeaderActor.Command> leader) {
    TestProbe<LeaderActor.LeaderInfo> probe = testKit.createTestProbe();
    leader.tell(new LeaderActor.GetLeaderInfo(probe.ref()));
    return probe.receiveMessage();
  }

  private void awaitActive(ActorRef<LeaderActor.Command> leader, int followers) {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (System.nanoTime() < deadline) {
      LeaderActor.LeaderInfo i = info(leader);
      if (i.active() && i.reachableFollowers() == followers) {
        return;
      }
      pause();
    }
    fail("leader not active with " + followers + " followers: " + info(leader));
  }

  private static void pause() {
    try {
      Thread.sleep(20); // polling interval of a test wait
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private WriteResult write(ActorRef<LeaderActor.Command> leader, String key, String value, int w, Duration timeout) {
    TestProbe<WriteResult> client = testKit.createTestProbe();
    leader.tell(new LeaderActor.Write(key, value, w, timeout.toMillis(), client.ref()));
    return client.receiveMessage(timeout.plusSeconds(10));
  }

  private ReadResult read(ActorRef<LeaderActor.Command> leader, String key, LeaderActor.ReadLevel level) {
    TestProbe<ReadResult> client = testKit.createTestProbe();
    leader.tell(new LeaderActor.Read(key, level, client.ref(), false));
    return client.receiveMessage(Duration.ofSeconds(10));
  }

  private void awaitLastIndex(String node, long index) {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (position(node).lastIndex() < index) {
      if (System.nanoTime() > deadline) {
        fail(node + " did not reach index " + index + ": " + position(node));
      }
      pause();
    }
  }

  private FollowerActor.Position position(String node) {
    TestProbe<FollowerActor.Position> probe = testKit.createTestProbe();
    replicas.get(node).ref().tell(new FollowerActor.GetPosition(probe.ref()));
    return probe.receiveMessage();
  }

  @Test
  public void anAcknowledgedWriteSurvivesAFailoverWhoseNMinusWPromisersIncludeOnlyOneCopy() {
    // Once the old leader leads, node4 and node5 are 30 s away: a W=3 write is acknowledged by
    // the old leader's replica and node1..node3.
    Map<String, Duration> delays = new ConcurrentHashMap<>();
    ReplicationDelay slow = ReplicationDelay.of(n -> delays.getOrDefault(n, Duration.ZERO).toNanos());
    ActorRef<LeaderActor.Command> old = leaderOn("node0", slow);
    awaitActive(old, 5);
    delays.put("node4", Duration.ofSeconds(30));
    delays.put("node5", Duration.ofSeconds(30));
    WriteResult written = write(old, "k", "acked", 3, Duration.ofSeconds(5));
    assertTrue(written.toString(), written instanceof WriteResult.Written w && w.acks() == 3);
    testKit.stop(old);
    slow.close(); // the slow messages never arrive: node4 and node5 never get the write

    // Three of the four copies go down. The new leader on node4 hears from N - W = 3 nodes:
    // node3, node4, node5, and only node3 has the write.
    for (String n : List.of("node0", "node1", "node2")) {
      testKit.stop(replicas.get(n).ref());
    }
    assertEquals(0, position("node4").lastIndex());
    ActorRef<LeaderActor.Command> next = leaderOn("node4", ReplicationDelay.none());
    awaitActive(next, 2);
    // Adopted from node3, followed by the new leader's TermStarted entry when node3 had not yet
    // heard that the write committed (whether it had is a race with stopping the old leader).
    long adopted = info(next).lastIndex();
    assertTrue("the new leader's log ends at " + adopted, adopted == 1 || adopted == 2);
    awaitLastIndex("node5", adopted); // and replicated to node5, which never had it

    // With 3 replicas up it cannot be committed (W + 1 = 4): it is neither lost nor visible.
    // One more replica back, and it is.
    wiring.replica("node1");
    awaitActive(next, 3);
    ReadResult r = read(next, "k", LeaderActor.ReadLevel.LINEARIZABLE);
    assertTrue(r.toString(), r instanceof FollowerActor.Value);
    assertEquals("acked", ((FollowerActor.Value) r).value());
    assertTrue(info(next).term() > 1);
  }

  @Test
  public void aNewLeaderAnswersNoReadBeforeTheLogItAdoptedHasCommitted() {
    // A leader of term 1 (node9, gone now) had "k" on node1..node3 and its own replica: W + 1
    // copies, so it acknowledged the write, but its commit index never reached anyone.
    TestProbe<FollowerActor.PrepareReply> promises = testKit.createTestProbe();
    TestProbe<FollowerActor.ReplicateReply> acks = testKit.createTestProbe();
    for (String n : List.of("node1", "node2", "node3")) {
      replicas.get(n).ref().tell(new FollowerActor.Prepare(1, "node9", promises.ref()));
      promises.expectMessageClass(FollowerActor.Prepared.class);
      replicas.get(n).ref().tell(new FollowerActor.Replicate(1, "node9", 0, 0,
          List.of(new LogEntry(1, 1, "k", "acked")), 0, 0, acks.ref()));
      acks.expectMessageClass(FollowerActor.Acked.class);
    }
    for (String n : List.of("node0", "node1", "node2")) {
      testKit.stop(replicas.get(n).ref());
    }
    // node4 leads with promises from node3, node4 and node5: it adopts index 1 from node3 and logs
    // index 2 to start its term, but cannot commit them with three replicas. Its commit index is 0,
    // where "k" does not exist: a read answered from there would lose an acknowledged write. With
    // two followers a leader read has no lease, and neither it nor a linearizable read gets W
    // confirmations: both say so.
    ActorRef<LeaderActor.Command> next = leaderOn("node4", ReplicationDelay.none());
    awaitActive(next, 2);
    assertEquals(2, info(next).lastIndex());
    assertEquals(0, info(next).committedIndex());
    ReadResult early = read(next, "k", LeaderActor.ReadLevel.LINEARIZABLE);
    assertTrue(early.toString(), early instanceof ReadResult.Unavailable);
    ReadResult earlyAtLeader = read(next, "k", LeaderActor.ReadLevel.LEADER);
    assertTrue(earlyAtLeader.toString(), earlyAtLeader instanceof ReadResult.Unavailable);

    // node1 is back: four replicas, the entry commits in term 2 and reads see it.
    wiring.replica("node1");
    awaitActive(next, 3);
    ReadResult atLeader = read(next, "k", LeaderActor.ReadLevel.LEADER);
    assertTrue(atLeader.toString(), atLeader instanceof FollowerActor.Value v && "acked".equals(v.value()));
    ReadResult r = read(next, "k", LeaderActor.ReadLevel.LINEARIZABLE);
    assertTrue(r.toString(), r instanceof FollowerActor.Value v && "acked".equals(v.value()));
  }

  @Test
  public void aNewLeaderReplacesAnUncommittedSuffixEverywhere() {
    // A write that reached only the old leader's own replica (W=2 never met) is in doubt: the
    // new leader may drop it, and then every replica must agree on what is there.
    Map<String, Duration> delays = new ConcurrentHashMap<>();
    ReplicationDelay cutOff = ReplicationDelay.of(n -> delays.getOrDefault(n, Duration.ZERO).toNanos());
    ActorRef<LeaderActor.Command> old = leaderOn("node0", cutOff);
    awaitActive(old, 5);
    for (String n : List.of("node1", "node2", "node3", "node4", "node5")) {
      delays.put(n, Duration.ofSeconds(30));
    }
    assertTrue(write(old, "k", "in-doubt", 2, Duration.ofMillis(300)) instanceof WriteResult.QuorumNotReached);
    testKit.stop(old);
    cutOff.close();
    testKit.stop(replicas.get("node0").ref());   // the only copy of the in-doubt write goes down

    ActorRef<LeaderActor.Command> next = leaderOn("node1", ReplicationDelay.none());
    awaitActive(next, 4);
    assertTrue(write(next, "k", "after", 3, Duration.ofSeconds(5)) instanceof WriteResult.Written);

    // node0 comes back with the old entry at the same index: it must take the new leader's.
    replicas.put("node0", wiring.replica("node0"));
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!position("node0").digest().equals(position("node1").digest())
        || position("node0").appliedIndex() != position("node1").appliedIndex()) {
      if (System.nanoTime() > deadline) {
        fail("node0 did not converge: " + position("node0") + " vs " + position("node1"));
      }
      pause();
    }
    assertEquals("after", ((FollowerActor.Value) read(next, "k", LeaderActor.ReadLevel.LINEARIZABLE)).value());
  }

  @Test
  public void aCandidateWhoseTermWasPromisedToAnotherTakesANewerOne() {
    // node0's replica last promised term 1; the others promised term 2 to a candidate on node9.
    // node0's candidate picks term 2 as well and is refused at that same term: it must move on.
    TestProbe<FollowerActor.PrepareReply> other = testKit.createTestProbe();
    replicas.get("node0").ref().tell(new FollowerActor.Prepare(1, "node9", other.ref()));
    other.expectMessageClass(FollowerActor.Prepared.class);
    for (String n : List.of("node1", "node2", "node3", "node4", "node5")) {
      replicas.get(n).ref().tell(new FollowerActor.Prepare(2, "node9", other.ref()));
      other.expectMessageClass(FollowerActor.Prepared.class);
    }
    ActorRef<LeaderActor.Command> leader = leaderOn("node0", ReplicationDelay.none());
    awaitActive(leader, 5);
    assertTrue(info(leader).term() >= 3);
    assertTrue(write(leader, "k", "v", 3, Duration.ofSeconds(5)) instanceof WriteResult.Written);
  }

  @Test
  public void aDeposedLeaderCanNoLongerWrite() {
    Map<String, Duration> delays = new ConcurrentHashMap<>();
    ReplicationDelay cutOff = ReplicationDelay.of(n -> delays.getOrDefault(n, Duration.ZERO).toNanos());
    ActorRef<LeaderActor.Command> old = leaderOn("node0", cutOff);
    awaitActive(old, 5);
    assertTrue(write(old, "k", "v1", 3, Duration.ofSeconds(5)) instanceof WriteResult.Written);

    // The others stop hearing from the old leader and elect node1's.
    for (String n : List.of("node1", "node2", "node3", "node4", "node5")) {
      delays.put(n, Duration.ofSeconds(30));
    }
    ActorRef<LeaderActor.Command> next = leaderOn("node1", ReplicationDelay.none());
    awaitActive(next, 5);
    long newTerm = info(next).term();
    delays.clear();

    // The old leader still thinks it leads; its next write is refused by every replica that
    // promised the newer term, so it cannot be acknowledged, and it stops leading.
    TestProbe<WriteResult> client = testKit.createTestProbe();
    old.tell(new LeaderActor.Write("k", "from-the-past", 3, 2000, client.ref()));
    List<WriteResult> answers = client.receiveSeveralMessages(0, Duration.ofSeconds(4));
    assertTrue(answers.toString(), answers.stream().noneMatch(a -> a instanceof WriteResult.Written));

    assertTrue(write(next, "k", "v2", 3, Duration.ofSeconds(5)) instanceof WriteResult.Written);
    assertEquals("v2", ((FollowerActor.Value) read(next, "k", LeaderActor.ReadLevel.LINEARIZABLE)).value());
    for (String node : SixReplicas.NODES) {
      assertTrue(position(node).promisedTerm() >= newTerm || position(node).lastIndex() < 2);
    }
  }

  @Test
  public void aLeaderWithoutNMinusWPromisesServesNothingAndSaysWhy() {
    for (String node : List.of("node2", "node3", "node4", "node5")) {
      testKit.stop(replicas.get(node).ref());
    }
    ActorRef<LeaderActor.Command> leader = leaderOn("node0", ReplicationDelay.none());
    long deadline = System.nanoTime() + Duration.ofSeconds(3).toNanos();
    while (System.nanoTime() < deadline) {
      WriteResult r = write(leader, "k", "v", 1, Duration.ofSeconds(1));
      assertTrue(r.toString(), r instanceof WriteResult.NoLeader);
      assertTrue(((WriteResult.NoLeader) r).reason(), ((WriteResult.NoLeader) r).reason().contains("needs 3 of the 6 nodes"));
      pause();
    }
    assertFalse(info(leader).active());
    assertTrue(read(leader, "k", LeaderActor.ReadLevel.LINEARIZABLE) instanceof ReadResult.Unavailable);
  }

  @Test
  public void aLinearizableReadFailsWhenTooFewFollowersConfirmTheTerm() {
    Map<String, Duration> delays = new ConcurrentHashMap<>();
    ReplicationDelay slow = ReplicationDelay.of(n -> delays.getOrDefault(n, Duration.ZERO).toNanos());
    ActorRef<LeaderActor.Command> leader = leaderOn("node0", slow);
    awaitActive(leader, 5);
    assertTrue(write(leader, "k", "v", 3, Duration.ofSeconds(5)) instanceof WriteResult.Written);
    assertEquals("v", ((FollowerActor.Value) read(leader, "k", LeaderActor.ReadLevel.LINEARIZABLE)).value());
    for (String n : List.of("node3", "node4", "node5")) {
      delays.put(n, Duration.ofSeconds(30));
    }
    // W = 3 confirmations needed, only node1 and node2 can answer within the timeout.
    ReadResult r = read(leader, "k", LeaderActor.ReadLevel.LINEARIZABLE);
    assertTrue(r.toString(), r instanceof ReadResult.Unavailable);
    assertTrue(((ReadResult.Unavailable) r).reason(), ((ReadResult.Unavailable) r).reason().contains("2 of the 3"));
    // A W=2 write is acknowledged, but not committed until a third follower has it (30 s away):
    // the leader's replica does not show it yet, since a failover could still lose it.
    assertTrue(write(leader, "k", "w2", 2, Duration.ofSeconds(5)) instanceof WriteResult.Written);
    assertEquals("v", replicas.get("node0").view().read("k").orElseThrow().value());
    // Nor does a leader read: with two followers answering, the leader's lease has lapsed (it needs
    // W), so the read takes a round of confirmations that cannot succeed either.
    ReadResult leaderRead = read(leader, "k", LeaderActor.ReadLevel.LEADER);
    assertTrue(leaderRead.toString(), leaderRead instanceof ReadResult.Unavailable);
    slow.close();
  }
}
