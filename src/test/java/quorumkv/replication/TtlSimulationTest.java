package quorumkv.replication;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import quorumkv.node.NodeWiring;
import quorumkv.storage.EntryOutcome;
import quorumkv.storage.LogEntry;
import quorumkv.storage.ReplicaState;
import quorumkv.storage.VersionedValue;
import quorumkv.storage.WriteCommand;

/**
 * TTL expiry with a leader and six replicas in one ActorSystem on real SQLite journals, wired as a
 * node wires them: the leader logs the expiry, so every replica deletes the key when it applies
 * the same entry, and a new leader expires what its predecessor left due.
 */
public class TtlSimulationTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  private SixReplicas six;
  private ActorTestKit testKit;
  private NodeWiring wiring;
  private Map<String, NodeWiring.Replica> replicas;

  @Before
  public void start() {
    six = new SixReplicas("ttl-sim", "quorumkv.replication.timeout = 10s");
    testKit = six.testKit;
    wiring = six.wiring;
    replicas = six.replicas;
  }

  @After
  public void stop() {
    six.close();
  }

  private ActorRef<LeaderActor.Command> leaderOn(String node) {
    ActorRef<LeaderActor.Command> leader = testKit.spawn(wiring.leader(node, replicas.get(node), ReplicationDelay.none()));
    await("the leader on " + node + " sees its five followers", Duration.ofSeconds(20), () -> {
      TestProbe<LeaderActor.LeaderInfo> probe = testKit.createTestProbe();
      leader.tell(new LeaderActor.GetLeaderInfo(probe.ref()));
      LeaderActor.LeaderInfo info = probe.receiveMessage(Duration.ofSeconds(5));
      return info.active() && info.reachableFollowers() == 5;
    });
    return leader;
  }

  private static void await(String what, Duration max, BooleanSupplier condition) {
    long deadline = System.nanoTime() + max.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        fail("timed out waiting until " + what);
      }
      try {
        Thread.sleep(20); // polling interval of a test wait
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private WriteResult.Written write(ActorRef<LeaderActor.Command> leader, String key, String value,
      WriteCommand command) {
    TestProbe<WriteResult> client = testKit.createTestProbe();
    leader.tell(new LeaderActor.Write(key, value, command, -1, TIMEOUT.toMillis(), client.ref()));
    WriteResult r = client.receiveMessage(TIMEOUT.plusSeconds(5));
    assertTrue(r.toString(), r instanceof WriteResult.Written);
    return (WriteResult.Written) r;
  }

  private ReplicaState state(String node) {
    return replicas.get(node).view().state().orElseThrow();
  }

  private Optional<VersionedValue> valueOn(String node, String key) {
    return state(node).get(key);
  }

  private List<LogEntry> logOf(String node) {
    TestProbe<FollowerActor.LogSlice> probe = testKit.createTestProbe();
    replicas.get(node).ref().tell(new FollowerActor.GetLog(1, 1000, probe.ref()));
    return probe.receiveMessage(TIMEOUT).entries();
  }

  /** The index of the one expiry entry naming {@code key} on {@code node}'s log. */
  private LogEntry expiryEntryFor(String node, String key) {
    List<LogEntry> found = logOf(node).stream().filter(e -> e.command() instanceof WriteCommand.Expire x
        && x.keys().stream().anyMatch(k -> k.key().equals(key))).toList();
    assertEquals(node + ": one expiry entry for " + key + " in " + logOf(node), 1, found.size());
    return found.get(0);
  }

  /** Every replica has applied the same index, and all show one digest and key count. */
  private void assertAllEqual(String what) {
    await(what + ": every replica applied the same index", TIMEOUT, () -> SixReplicas.NODES.stream()
        .map(n -> state(n).appliedIndex()).distinct().count() == 1);
    for (String n : SixReplicas.NODES) {
      assertEquals(what + ": digest of " + n, state("node0").digestHex(), state(n).digestHex());
      assertEquals(what + ": keys of " + n, state("node0").keyCount(), state(n).keyCount());
    }
  }

  @Test
  public void aTtlKeyExpiresOnEveryReplicaAtTheSameLogIndexAndANewerWriteWins() {
    ActorRef<LeaderActor.Command> leader = leaderOn("node0");
    long started = System.currentTimeMillis();
    WriteResult.Written w = write(leader, "k", null, new WriteCommand.Put("k", "v", 1_000, 0));
    write(leader, "k2", null, new WriteCommand.Put("k2", "v", 1_000, 0));
    write(leader, "renewed", null, new WriteCommand.Put("renewed", "v", 1_000, 0));
    write(leader, "renewed", "permanent", null);
    write(leader, "plain", "v", null);
    long answered = System.currentTimeMillis();
    LogEntry written = logOf("node0").stream().filter(e -> e.index() == w.version()).findFirst().orElseThrow();
    long expiresAt = ((WriteCommand.Put) written.command()).expiresAt();
    assertTrue("stamped by the leader's clock", expiresAt >= started + 1_000 && expiresAt <= answered + 1_000);

    await("k and k2 expired on every replica", TIMEOUT,
        () -> SixReplicas.NODES.stream().allMatch(n -> valueOn(n, "k").isEmpty() && valueOn(n, "k2").isEmpty()));
    assertTrue("not before its TTL", System.currentTimeMillis() >= expiresAt);
    assertAllEqual("after the expiry");
    LogEntry expiry = expiryEntryFor("node0", "k");
    assertTrue(expiry.index() > w.version());
    for (String n : SixReplicas.NODES) {
      assertEquals(n + " holds the same expiry entry", expiry, expiryEntryFor(n, "k"));
      assertTrue(n + " deleted the keys when it applied that entry", state(n).outcome(expiry.index(), expiry.term())
          .filter(o -> o instanceof EntryOutcome.Expired e && e.deleted() >= 1).isPresent());
      assertEquals(Optional.empty(), valueOn(n, "k2"));
      assertEquals("the write without ttl made the key permanent", "permanent", valueOn(n, "renewed").orElseThrow().value());
      assertEquals("v", valueOn(n, "plain").orElseThrow().value());
      assertEquals(0, state(n).expiringKeyCount());
    }
  }

  @Test
  public void aNewLeaderExpiresAKeyThatWasDueWhenTheOldOneStopped() {
    ActorRef<LeaderActor.Command> old = leaderOn("node0");
    write(old, "later", null, new WriteCommand.Put("later", "v", 3_600_000, 0));
    long sent = System.currentTimeMillis();
    write(old, "due", null, new WriteCommand.Put("due", "v", 5_000, 0));
    testKit.stop(old); // well before the key is due (unless the write took 5 s)
    long stopped = System.currentTimeMillis();
    assertTrue("the old leader stopped before the key was due", stopped < sent + 5_000);
    await("the key is due", Duration.ofSeconds(15), () -> System.currentTimeMillis() > sent + 5_000 + 500);
    // the old leader's replica applied it before the write was answered, and nobody deleted it since
    assertTrue("nobody expired it while no leader ran", valueOn("node0", "due").isPresent());

    ActorRef<LeaderActor.Command> next = leaderOn("node1");
    await("the new leader expired it on every replica", TIMEOUT,
        () -> SixReplicas.NODES.stream().allMatch(n -> valueOn(n, "due").isEmpty()));
    assertAllEqual("after the failover");
    LogEntry expiry = expiryEntryFor("node1", "due");
    TestProbe<LeaderActor.LeaderInfo> probe = testKit.createTestProbe();
    next.tell(new LeaderActor.GetLeaderInfo(probe.ref()));
    assertEquals("logged in the new leader's term", probe.receiveMessage().term(), expiry.term());
    assertNotEquals(1, expiry.term());
    for (String n : SixReplicas.NODES) {
      assertEquals(expiry, expiryEntryFor(n, "due"));
      assertTrue(valueOn(n, "later").isPresent());
    }
  }
}
