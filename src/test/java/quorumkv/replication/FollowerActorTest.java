package quorumkv.replication;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;

import akka.actor.testkit.typed.javadsl.TestKitJunitResource;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import org.junit.BeforeClass;
import org.junit.ClassRule;
import org.junit.Test;
import quorumkv.TestConfig;
import quorumkv.storage.KeyValue;
import quorumkv.storage.LogEntry;
import quorumkv.storage.ReplicaState;

/** A replica on a real SQLite journal: ordering, duplicates, gaps, terms, recovery, state transfer. */
public class FollowerActorTest {
  @ClassRule
  public static final TestKitJunitResource testKit =
      new TestKitJunitResource(TestConfig.local(TestConfig.newDataDir("follower"), ""));

  private static final AtomicInteger nodes = new AtomicInteger();

  @BeforeClass
  public static void startJournal() {
    // Waits out the journal's start-up once, so that each test's expectations measure the replica.
    TestProbe<FollowerActor.Position> probe = testKit.createTestProbe();
    testKit.spawn(FollowerActor.create("warmup", 1000)).tell(new FollowerActor.GetPosition(probe.ref()));
    probe.receiveMessage(java.time.Duration.ofSeconds(60));
  }

  private final String node = "f" + nodes.incrementAndGet();
  private final TestProbe<FollowerActor.ReplicateReply> leader = testKit.createTestProbe();

  private ActorRef<FollowerActor.Command> spawn(int snapshotEvery) {
    return testKit.spawn(FollowerActor.create(node, snapshotEvery));
  }

  private static List<LogEntry> entries(long term, long from, long to) {
    return LongStream.rangeClosed(from, to).mapToObj(i -> new LogEntry(i, term, "k" + (i % 3), "v" + i)).toList();
  }

  private FollowerActor.ReplicateReply replicate(ActorRef<FollowerActor.Command> f, long term, List<LogEntry> entries) {
    f.tell(new FollowerActor.Replicate(term, entries, leader.ref()));
    return leader.receiveMessage();
  }

  private FollowerActor.Value get(ActorRef<FollowerActor.Command> f, String key) {
    TestProbe<FollowerActor.Value> probe = testKit.createTestProbe();
    f.tell(new FollowerActor.Get(key, probe.ref()));
    return probe.receiveMessage();
  }

  private FollowerActor.Position position(ActorRef<FollowerActor.Command> f) {
    TestProbe<FollowerActor.Position> probe = testKit.createTestProbe();
    f.tell(new FollowerActor.GetPosition(probe.ref()));
    return probe.receiveMessage();
  }

  @Test
  public void appendsInOrderAndAcksTheLastDurableIndex() {
    var f = spawn(1000);
    assertEquals(new FollowerActor.Acked(node, 1, 3), replicate(f, 1, entries(1, 1, 3)));
    FollowerActor.Value v = get(f, "k1");
    assertEquals("v1", v.value());
    assertEquals(1, v.version());
    assertEquals("v3", get(f, "k0").value());
    assertFalse(get(f, "missing").found());
  }

  @Test
  public void ignoresDuplicatesAndAppendsOnlyTheNewPartOfAnOverlap() {
    var f = spawn(1000);
    replicate(f, 1, entries(1, 1, 3));
    assertEquals(new FollowerActor.Acked(node, 1, 3), replicate(f, 1, entries(1, 2, 3)));
    assertEquals(3, get(f, "k0").version()); // not re-applied
    assertEquals(new FollowerActor.Acked(node, 1, 5), replicate(f, 1, entries(1, 3, 5)));
    assertEquals(5, position(f).lastIndex());
  }

  @Test
  public void answersAGapWithTheIndexItHasSoTheLeaderResendsFromThere() {
    var f = spawn(1000);
    replicate(f, 1, entries(1, 1, 3));
    assertEquals(new FollowerActor.Gap(node, 1, 3), replicate(f, 1, entries(1, 6, 8)));
    assertEquals(3, position(f).lastIndex());
    assertEquals("v3", get(f, "k0").value()); // index 6 would have set k0 to v6
  }

  @Test
  public void handlesReorderedReplicateMessages() {
    var f = spawn(1000);
    // The leader sent 1-2, 3-4, 5-6; they arrive as 3-4, 5-6, 1-2, then the resend 3-6.
    assertEquals(new FollowerActor.Gap(node, 1, 0), replicate(f, 1, entries(1, 3, 4)));
    assertEquals(new FollowerActor.Gap(node, 1, 0), replicate(f, 1, entries(1, 5, 6)));
    assertEquals(new FollowerActor.Acked(node, 1, 2), replicate(f, 1, entries(1, 1, 2)));
    assertEquals(new FollowerActor.Acked(node, 1, 6), replicate(f, 1, entries(1, 3, 6)));
    assertEquals("v6", get(f, "k0").value());
    assertEquals("v5", get(f, "k2").value());
  }

  @Test
  public void refusesEntriesFromATermOlderThanItPromised() {
    var f = spawn(1000);
    replicate(f, 1, entries(1, 1, 2));
    TestProbe<FollowerActor.Position> promised = testKit.createTestProbe();
    f.tell(new FollowerActor.Promise(5, promised.ref()));
    assertEquals(5, promised.receiveMessage().promisedTerm());
    assertEquals(new FollowerActor.Rejected(node, 5, 2), replicate(f, 4, entries(4, 3, 4)));
    assertEquals(2, position(f).lastIndex());
    assertEquals(new FollowerActor.Acked(node, 5, 4), replicate(f, 5, entries(5, 3, 4)));
  }

  @Test
  public void aProbeReportsThePositionAndANewerTermIsRemembered() {
    var f = spawn(1000);
    replicate(f, 1, entries(1, 1, 4));
    assertEquals(new FollowerActor.Acked(node, 7, 4), replicate(f, 7, List.of()));
    assertEquals(7, position(f).promisedTerm());
  }

  @Test
  public void aRestartedReplicaRecoversItsStateFromTheJournal() {
    var f = spawn(1000);
    replicate(f, 1, entries(1, 1, 50));
    replicate(f, 2, List.of(new LogEntry(51, 2, "k1", null))); // delete
    FollowerActor.Position before = position(f);
    testKit.stop(f);

    var again = spawn(1000);
    FollowerActor.Position after = position(again);
    assertEquals(before, after);
    assertEquals(51, after.lastIndex());
    assertFalse(get(again, "k1").found());
    assertEquals("v50", get(again, "k2").value());
  }

  @Test
  public void recoversFromASnapshotPlusTheEventsAfterIt() {
    var f = spawn(3); // a snapshot every 3 journal events
    for (long i = 1; i <= 20; i += 2) {
      replicate(f, 1, entries(1, i, i + 1));
    }
    FollowerActor.Position before = position(f);
    testKit.stop(f);
    var again = spawn(3);
    assertEquals(before, position(again));
    assertEquals("v20", get(again, "k2").value());
  }

  @Test
  public void installsAFullStateTransferAndContinuesFromItsIndex() {
    var source = ReplicaState.empty().append(3, entries(3, 1, 25).stream()
        .map(e -> new LogEntry(e.index(), e.term(), "key" + e.index(), e.value())).toList());
    List<List<KeyValue>> chunks = new ArrayList<>();
    source.forEachChunk(10, chunks::add);
    assertEquals(3, chunks.size());

    var f = spawn(1000);
    replicate(f, 1, entries(1, 1, 2)); // stale contents that the transfer replaces
    for (int i = 0; i < chunks.size(); i++) {
      boolean last = i == chunks.size() - 1;
      f.tell(new FollowerActor.InstallState(3, 25, 3, i, last, chunks.get(i), leader.ref()));
    }
    assertEquals(new FollowerActor.Acked(node, 3, 25), leader.receiveMessage());
    FollowerActor.Position p = position(f);
    assertEquals(25, p.keyCount());
    assertEquals(source.digestHex(), p.digest());
    assertFalse(get(f, "k1").found());
    assertEquals(new FollowerActor.Acked(node, 3, 26), replicate(f, 3, entries(3, 26, 26)));

    testKit.stop(f);
    assertEquals(26, position(spawn(1000)).lastIndex());
  }

  @Test
  public void ignoresAStateChunkWhoseTransferItDidNotSeeStart() {
    var f = spawn(1000);
    replicate(f, 1, entries(1, 1, 2));
    f.tell(new FollowerActor.InstallState(3, 25, 3, 1, true, List.of(new KeyValue("x", "y", 9)), leader.ref()));
    leader.expectNoMessage(java.time.Duration.ofMillis(300));
    assertEquals(2, position(f).lastIndex());
  }
}
