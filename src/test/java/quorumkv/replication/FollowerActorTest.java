package quorumkv.replication;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import akka.actor.testkit.typed.javadsl.TestKitJunitResource;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import org.junit.BeforeClass;
import org.junit.ClassRule;
import org.junit.Test;
import quorumkv.TestConfig;
import quorumkv.config.Settings;
import quorumkv.storage.KeyValue;
import quorumkv.storage.LogEntry;
import quorumkv.storage.ReplicaState;
import quorumkv.watch.WatchEvent;
import quorumkv.watch.WatchFilter;
import quorumkv.watch.WatchHistory;

/** A replica on a real SQLite journal: log matching, commit, terms, recovery, state transfer. */
public class FollowerActorTest {
  /** The leader clock a test Replicate carries; its answer brings it back. */
  private static final long SENT_AT = 7;
  @ClassRule
  public static final TestKitJunitResource testKit =
      new TestKitJunitResource(TestConfig.local(TestConfig.newDataDir("follower"), ""));

  private static final AtomicInteger nodes = new AtomicInteger();
  private static final long ALL = Long.MAX_VALUE;

  @BeforeClass
  public static void startJournal() {
    // Waits out the journal's start-up once, so that each test's expectations measure the replica.
    TestProbe<FollowerActor.Position> probe = testKit.createTestProbe();
    testKit.spawn(FollowerActor.create("warmup", 1000, 100)).tell(new FollowerActor.GetPosition(probe.ref()));
    probe.receiveMessage(Duration.ofSeconds(60));
    // As on a node that has joined its cluster: its replicas may promise terms.
    ReplicationStatus.get(testKit.system()).joined(System.nanoTime());
  }

  private final String node = "f" + nodes.incrementAndGet();
  private final TestProbe<FollowerActor.ReplicateReply> leader = testKit.createTestProbe();

  private ActorRef<FollowerActor.Command> spawn(int snapshotEvery) {
    return testKit.spawn(FollowerActor.create(node, snapshotEvery, 100));
  }

  private static List<LogEntry> entries(long term, long from, long to) {
    return LongStream.rangeClosed(from, to).mapToObj(i -> new LogEntry(i, term, "k" + (i % 3), "v" + i)).toList();
  }

  /** Sends entries after (prevIndex, prevTerm) with the given commit index, returns the answer. */
  private FollowerActor.ReplicateReply replicate(ActorRef<FollowerActor.Command> f, long term, long prevIndex,
      long prevTerm, List<LogEntry> entries, long commit) {
    f.tell(new FollowerActor.Replicate(term, "leader", prevIndex, prevTerm, entries, commit, SENT_AT, leader.ref()));
    return leader.receiveMessage();
  }

  /** Reads the replica's committed state now (every replica has applied index 0). */
  private FollowerActor.Value get(ActorRef<FollowerActor.Command> f, String key) {
    TestProbe<ReadResult> probe = testKit.createTestProbe();
    f.tell(new FollowerActor.ReadAt(key, 0, probe.ref()));
    return (FollowerActor.Value) probe.receiveMessage();
  }

  private FollowerActor.Position position(ActorRef<FollowerActor.Command> f) {
    TestProbe<FollowerActor.Position> probe = testKit.createTestProbe();
    f.tell(new FollowerActor.GetPosition(probe.ref()));
    return probe.receiveMessage();
  }

  @Test
  public void appendsInOrderAndAppliesOnlyWhatTheLeaderSaysIsCommitted() {
    var f = spawn(1000);
    assertEquals(new FollowerActor.Acked(node, 1, 3, SENT_AT), replicate(f, 1, 0, 0, entries(1, 1, 3), 0));
    assertFalse("durable but not committed: not visible", get(f, "k1").found());
    assertEquals(3, position(f).lastIndex());
    assertEquals(0, position(f).appliedIndex());

    assertEquals(new FollowerActor.Acked(node, 1, 3, SENT_AT), replicate(f, 1, 3, 1, List.of(), 2)); // heartbeat
    assertEquals("v1", get(f, "k1").value());
    assertEquals(1, get(f, "k1").version());
    assertFalse(get(f, "k0").found()); // index 3 is not committed yet
    assertEquals(2, position(f).appliedIndex());
  }

  @Test
  public void aStateReadWaitsUntilTheReadIndexIsApplied() {
    var f = spawn(1000);
    replicate(f, 1, 0, 0, entries(1, 1, 3), 1);
    TestProbe<ReplicaState> now = testKit.createTestProbe();
    f.tell(new FollowerActor.StateAt(1, now.ref()));
    assertEquals(1, now.receiveMessage().appliedIndex());

    TestProbe<ReplicaState> later = testKit.createTestProbe();
    f.tell(new FollowerActor.StateAt(3, later.ref()));
    assertEquals(new FollowerActor.Acked(node, 1, 3, SENT_AT), replicate(f, 1, 3, 1, List.of(), 2));
    later.expectNoMessage(Duration.ofMillis(200)); // index 3 is not applied yet: no answer
    replicate(f, 1, 3, 1, List.of(), 3);
    ReplicaState state = later.receiveMessage();
    assertEquals(3, state.appliedIndex());
    assertEquals(List.of("k0", "k1", "k2"), state.range("k", null, 10).items().stream().map(KeyValue::key).toList());
  }

  @Test
  public void ignoresDuplicatesAndAppendsOnlyTheNewPartOfAnOverlap() {
    var f = spawn(1000);
    replicate(f, 1, 0, 0, entries(1, 1, 3), ALL);
    assertEquals(new FollowerActor.Acked(node, 1, 3, SENT_AT), replicate(f, 1, 1, 1, entries(1, 2, 3), ALL));
    assertEquals(3, get(f, "k0").version());
    assertEquals(new FollowerActor.Acked(node, 1, 5, SENT_AT), replicate(f, 1, 2, 1, entries(1, 3, 5), ALL));
    assertEquals(5, position(f).appliedIndex());
  }

  @Test
  public void answersAGapWithItsLastIndexSoTheLeaderResendsFromThere() {
    var f = spawn(1000);
    replicate(f, 1, 0, 0, entries(1, 1, 3), ALL);
    assertEquals(new FollowerActor.Gap(node, 1, 3), replicate(f, 1, 5, 1, entries(1, 6, 8), ALL));
    assertEquals(3, position(f).lastIndex());
    assertEquals("v3", get(f, "k0").value()); // index 6 would have set k0 to v6
  }

  @Test
  public void handlesReorderedReplicateMessages() {
    var f = spawn(1000);
    // The leader sent 1-2, 3-4, 5-6; they arrive as 3-4, 5-6, 1-2, then the resend 3-6.
    assertEquals(new FollowerActor.Gap(node, 1, 0), replicate(f, 1, 2, 1, entries(1, 3, 4), ALL));
    assertEquals(new FollowerActor.Gap(node, 1, 0), replicate(f, 1, 4, 1, entries(1, 5, 6), ALL));
    assertEquals(new FollowerActor.Acked(node, 1, 2, SENT_AT), replicate(f, 1, 0, 0, entries(1, 1, 2), ALL));
    assertEquals(new FollowerActor.Acked(node, 1, 6, SENT_AT), replicate(f, 1, 2, 1, entries(1, 3, 6), ALL));
    assertEquals("v6", get(f, "k0").value());
    assertEquals("v5", get(f, "k2").value());
  }

  @Test
  public void replacesAnUncommittedSuffixThatTheNewLeaderDidNotAdopt() {
    var f = spawn(1000);
    replicate(f, 1, 0, 0, entries(1, 1, 2), 2);         // 1-2 committed
    replicate(f, 1, 2, 1, entries(1, 3, 5), 2);         // 3-5 from the old leader, never committed
    // The new leader of term 3 has a different entry 3 and nothing after it.
    List<LogEntry> newLog = List.of(new LogEntry(3, 3, "k0", "new3"));
    assertEquals(new FollowerActor.Gap(node, 3, 2), replicate(f, 3, 3, 3, List.of(), 2)); // 3 differs: back to applied
    assertEquals(new FollowerActor.Acked(node, 3, 3, SENT_AT), replicate(f, 3, 2, 1, newLog, 3));
    FollowerActor.Position p = position(f);
    assertEquals(3, p.lastIndex());
    assertEquals(3, p.lastTerm());
    assertEquals("new3", get(f, "k0").value());
  }

  @Test
  public void refusesEntriesFromATermOlderThanItPromised() {
    var f = spawn(1000);
    replicate(f, 1, 0, 0, entries(1, 1, 2), ALL);
    TestProbe<FollowerActor.PrepareReply> candidate = testKit.createTestProbe();
    f.tell(new FollowerActor.Prepare(5, "nodeX", candidate.ref()));
    assertEquals(new FollowerActor.Prepared(node, 5, 2, 1, 2), candidate.receiveMessage());
    assertEquals(new FollowerActor.Rejected(node, 4, 5), replicate(f, 4, 2, 1, entries(4, 3, 4), ALL));
    assertEquals(2, position(f).lastIndex());
    assertEquals(new FollowerActor.Acked(node, 5, 4, SENT_AT), replicate(f, 5, 2, 1, entries(5, 3, 4), ALL));
  }

  @Test
  public void promisesATermToOneCandidateOnlyAndConfirmsItWithoutPersisting() {
    var f = spawn(1000);
    TestProbe<FollowerActor.PrepareReply> candidate = testKit.createTestProbe();
    f.tell(new FollowerActor.Prepare(3, "nodeA", candidate.ref()));
    candidate.expectMessageClass(FollowerActor.Prepared.class);
    f.tell(new FollowerActor.Prepare(3, "nodeA", candidate.ref())); // the same candidate asking again
    candidate.expectMessageClass(FollowerActor.Prepared.class);
    f.tell(new FollowerActor.Prepare(3, "nodeB", candidate.ref())); // another candidate, same term
    assertEquals(new FollowerActor.PrepareRejected(node, 3), candidate.receiveMessage());

    TestProbe<FollowerActor.TermConfirmed> confirm = testKit.createTestProbe();
    f.tell(new FollowerActor.ConfirmTerm(3, 1, confirm.ref()));
    assertTrue(confirm.receiveMessage().confirmed());
    f.tell(new FollowerActor.ConfirmTerm(2, 2, confirm.ref()));
    assertFalse("a newer term was promised", confirm.receiveMessage().confirmed());
  }

  @Test
  public void aReadAtAnIndexWaitsUntilThatIndexIsApplied() {
    var f = spawn(1000);
    replicate(f, 1, 0, 0, entries(1, 1, 2), 1);
    TestProbe<ReadResult> reader = testKit.createTestProbe();
    f.tell(new FollowerActor.ReadAt("k2", 2, reader.ref()));
    reader.expectNoMessage(Duration.ofMillis(200));
    replicate(f, 1, 2, 1, List.of(), 2);
    FollowerActor.Value v = (FollowerActor.Value) reader.receiveMessage();
    assertEquals("v2", v.value());
  }

  @Test
  public void aRestartedReplicaRecoversItsLogAndStateFromTheJournal() {
    var f = spawn(1000);
    replicate(f, 1, 0, 0, entries(1, 1, 50), 50);
    replicate(f, 2, 50, 1, List.of(new LogEntry(51, 2, "k1", null)), 51); // delete
    replicate(f, 2, 51, 2, entries(2, 52, 53), 51);                        // not committed yet
    FollowerActor.Position before = position(f);
    testKit.stop(f);

    var again = spawn(1000);
    FollowerActor.Position after = position(again);
    assertEquals(before, after);
    assertEquals(53, after.lastIndex());
    assertEquals(51, after.appliedIndex());
    assertFalse(get(again, "k1").found());
    assertEquals("v50", get(again, "k2").value());
  }

  @Test
  public void publishesItsAppliedStateForLocalReadsOnlyOnceDurableAndCommitted() {
    ReplicaView view = new ReplicaView(node);
    var f = testKit.spawn(FollowerActor.create(node, 1000, 100, view, java.time.Duration.ZERO));
    position(f); // recovered (empty)
    FollowerActor.Value none = view.read("k1").orElseThrow();
    assertFalse(none.found());

    replicate(f, 1, 0, 0, entries(1, 1, 3), 0);
    assertFalse("durable but not committed: not visible", view.read("k1").orElseThrow().found());
    replicate(f, 1, 3, 1, List.of(), 3);
    FollowerActor.Value k1 = view.read("k1").orElseThrow();
    assertEquals("v1", k1.value());
    assertEquals(get(f, "k1"), k1); // exactly what the actor answers
    assertEquals("v3", view.read("k0").orElseThrow().value());
    testKit.stop(f);

    ReplicaView afterRestart = new ReplicaView(node);
    assertTrue("nothing before recovery", afterRestart.read("k1").isEmpty());
    var again = testKit.spawn(FollowerActor.create(node, 1000, 100, afterRestart, java.time.Duration.ZERO));
    position(again);
    assertEquals("v1", afterRestart.read("k1").orElseThrow().value());
    assertEquals(3, afterRestart.read("k1").orElseThrow().appliedIndex());
  }

  @Test
  public void theWatchHistoryIsWrittenBeforeEachSnapshotSoACrashLeavesItNoGap() throws Exception {
    java.nio.file.Path file = TestConfig.tempDir("follower-watch").resolve("watch.db");
    Settings.Watch writtenLate = new Settings.Watch(100, 1 << 20, 100, Duration.ofSeconds(15), Duration.ofHours(1));
    WatchHistory history = WatchHistory.open(file, writtenLate); // writes only when the replica asks
    var f = testKit.spawn(FollowerActor.create(node, 2, 100, new ReplicaView(node, history), Duration.ZERO));
    replicate(f, 1, 0, 0, entries(1, 1, 3), 0); // event 1
    replicate(f, 1, 3, 1, entries(1, 4, 5), 3); // event 2: applies 1..3, snapshot (every 2 events)
    replicate(f, 1, 5, 1, List.of(), 5); // event 3: applies 4..5, answered once the snapshot is saved
    assertEquals(5, history.through());
    testKit.stop(f);

    // The process dies here: the first history never writes 4..5. Recovery starts from the
    // snapshot at 3 and replays event 3, which records 4..5 again.
    WatchHistory afterCrash = WatchHistory.open(file, writtenLate);
    assertEquals("written before the snapshot", 3, afterCrash.through());
    var again = testKit.spawn(FollowerActor.create(node, 2, 100, new ReplicaView(node, afterCrash), Duration.ZERO));
    assertEquals(5, position(again).appliedIndex());
    assertEquals(5, afterCrash.through());
    assertEquals("nothing lost: no floor raised", 0, afterCrash.floor());
    List<WatchEvent> replay = afterCrash.subscribe(WatchFilter.prefix(""), java.util.OptionalLong.of(0),
        new WatchHistory.Watcher() {
          @Override
          public boolean offer(WatchEvent event) {
            return true;
          }

          @Override
          public void end(String reason) {}
        }).replay();
    assertEquals(List.of(1L, 2L, 3L, 4L, 5L),
        replay.stream().map(e -> ((WatchEvent.Changed) e).changes().version()).toList());
    testKit.stop(again);
    afterCrash.close();
    history.close();
  }

  /** A replica that holds a commit index without new entries back from its journal for {@code delay}. */
  private ActorRef<FollowerActor.Command> spawnHoldingCommits(ReplicaView view, Duration delay) {
    return testKit.spawn(FollowerActor.create(node, 1000, 100, view, Duration.ZERO, delay));
  }

  @Test
  public void aCommitThatComesAloneIsAppliedAndAnsweredAtOnceAndWrittenWithTheNextEntries() {
    ReplicaView view = new ReplicaView(node);
    var f = spawnHoldingCommits(view, Duration.ofSeconds(30)); // no flush by timer during the test
    replicate(f, 1, 0, 0, entries(1, 1, 3), 0);
    TestProbe<FollowerActor.OutcomeKnown> outcome = testKit.createTestProbe();
    f.tell(new FollowerActor.AwaitOutcome(2, 1, outcome.ref()));
    outcome.expectNoMessage(Duration.ofMillis(100));

    assertEquals(new FollowerActor.Acked(node, 1, 3, SENT_AT), replicate(f, 1, 3, 1, List.of(), 2)); // the commit alone
    assertEquals("applied for local reads", "v1", view.read("k1").orElseThrow().value());
    assertEquals("and for reads through the actor", "v1", get(f, "k1").value());
    assertEquals(2, outcome.receiveMessage().index());
    TestProbe<ReplicaState> stateRead = testKit.createTestProbe();
    f.tell(new FollowerActor.StateAt(2, stateRead.ref()));
    assertEquals(2, stateRead.receiveMessage().appliedIndex());
    assertEquals(2, position(f).appliedIndex());

    assertEquals(new FollowerActor.Acked(node, 1, 4, SENT_AT), replicate(f, 1, 3, 1, entries(1, 4, 4), 2));
    testKit.stop(f);
    var again = spawnHoldingCommits(new ReplicaView(node), Duration.ofSeconds(30));
    assertEquals("written with the next entries", 2, position(again).appliedIndex());
    assertEquals(4, position(again).lastIndex());
    assertEquals("v1", get(again, "k1").value());
  }

  @Test
  public void aCommitHeldBackIsNotInTheJournalUntilWrittenAndIsLearntAgainAfterACrash() {
    var f = spawnHoldingCommits(new ReplicaView(node), Duration.ofSeconds(30));
    replicate(f, 1, 0, 0, entries(1, 1, 3), 0);
    replicate(f, 1, 3, 1, List.of(), 3);
    assertEquals("v3", get(f, "k0").value());
    testKit.stop(f); // before its timer: the commit index was never written

    ReplicaView view = new ReplicaView(node);
    var again = spawnHoldingCommits(view, Duration.ofSeconds(30));
    assertEquals(0, position(again).appliedIndex());
    assertEquals("the entries themselves were durable", 3, position(again).lastIndex());
    assertEquals(new FollowerActor.Acked(node, 1, 3, SENT_AT), replicate(again, 1, 3, 1, List.of(), 3)); // the next heartbeat
    assertEquals("v3", view.read("k0").orElseThrow().value());
  }

  @Test
  public void aCommitThatComesAloneIsWrittenByItsTimerWhenNoEntriesFollow() throws InterruptedException {
    ReplicaView view = new ReplicaView(node);
    var f = spawnHoldingCommits(view, Duration.ofMillis(50));
    replicate(f, 1, 0, 0, entries(1, 1, 3), 0);
    replicate(f, 1, 3, 1, List.of(), 3);
    assertEquals("v3", view.read("k0").orElseThrow().value());
    Thread.sleep(1_000); // the timer (50 ms) writes it
    position(f); // and the write is done
    testKit.stop(f);
    var again = spawnHoldingCommits(new ReplicaView(node), Duration.ofMillis(50));
    assertEquals(3, position(again).appliedIndex());
  }

  @Test
  public void aCommitHeldBackIsWrittenWithAPromiseToANewTermAndNothingAppliedGoesBack() {
    ReplicaView view = new ReplicaView(node);
    var f = spawnHoldingCommits(view, Duration.ofSeconds(30));
    replicate(f, 1, 0, 0, entries(1, 1, 3), 0);
    replicate(f, 1, 3, 1, List.of(), 3);
    assertEquals(3, view.state().orElseThrow().appliedIndex());

    TestProbe<FollowerActor.PrepareReply> candidate = testKit.createTestProbe();
    f.tell(new FollowerActor.Prepare(2, "other", candidate.ref()));
    assertEquals(3, ((FollowerActor.Prepared) candidate.receiveMessage()).appliedIndex());
    assertEquals(3, view.state().orElseThrow().appliedIndex());
    // The new leader knows an older commit index: nothing applied goes back.
    assertEquals(new FollowerActor.Acked(node, 2, 3, SENT_AT), replicate(f, 2, 3, 1, List.of(), 1));
    assertEquals(3, view.state().orElseThrow().appliedIndex());
    assertEquals("v3", get(f, "k0").value());
    testKit.stop(f);
    var again = spawnHoldingCommits(new ReplicaView(node), Duration.ofSeconds(30));
    assertEquals("the promise's journal write carried the commit index", 3, position(again).appliedIndex());
  }

  @Test
  public void recoversFromASnapshotPlusTheEventsAfterIt() {
    var f = spawn(3); // a snapshot every 3 journal events
    for (long i = 1; i <= 20; i += 2) {
      replicate(f, 1, i - 1, i == 1 ? 0 : 1, entries(1, i, i + 1), i + 1);
    }
    FollowerActor.Position before = position(f);
    testKit.stop(f);
    var again = spawn(3);
    assertEquals(before, position(again));
    assertEquals("v20", get(again, "k2").value());
  }

  @Test
  public void aRestartedReplicaKeepsItsTtlsFromTheJournalAndFromSnapshots() {
    long expiresAt = 1_800_000_000_000L;
    for (int snapshotEvery : new int[] {1000, 2}) {
      String key = "ttl-" + snapshotEvery;
      var f = spawn(snapshotEvery);
      long start = position(f).lastIndex();
      List<LogEntry> batch = List.of(
          quorumkv.storage.LogEntry.of(start + 1, 1, new quorumkv.storage.WriteCommand.Put(key, "v", 1_000, expiresAt)),
          quorumkv.storage.LogEntry.of(start + 2, 1, new quorumkv.storage.WriteCommand.Put(key + "-gone", "v", 1_000, 5)),
          quorumkv.storage.LogEntry.of(start + 3, 1, new quorumkv.storage.WriteCommand.Expire(
              List.of(new quorumkv.storage.WriteCommand.ExpiredKey(key + "-gone", start + 2)))));
      for (LogEntry e : batch) { // one journal event each: snapshots are taken in between
        replicate(f, 1, e.index() - 1, e.index() == 1 ? 0 : 1, List.of(e), e.index());
      }
      assertEquals(expiresAt, get(f, key).expiresAt());
      testKit.stop(f);
      var again = spawn(snapshotEvery);
      assertEquals(start + 3, position(again).appliedIndex());
      assertEquals(expiresAt, get(again, key).expiresAt());
      assertFalse(get(again, key + "-gone").found());
      testKit.stop(again);
    }
  }

  /** A leader's state to transfer: key1..key25 at index 25, term 3. */
  private static ReplicaState transferSource() {
    return ReplicaState.empty().append(3, 0, entries(3, 1, 25).stream()
        .map(e -> new LogEntry(e.index(), e.term(), "key" + e.index(), e.value())).toList(), ALL, 100);
  }

  /** {@code state} in chunks of 10 keys, as a leader sends it. */
  private static List<List<KeyValue>> chunksOf(ReplicaState state) {
    List<List<KeyValue>> chunks = new ArrayList<>();
    state.forEachChunk(10, chunks::add);
    return chunks;
  }

  @Test
  public void installsAFullStateTransferAndContinuesFromItsIndex() {
    var source = transferSource();
    List<List<KeyValue>> chunks = chunksOf(source);
    assertEquals(3, chunks.size());

    var f = spawn(1000);
    replicate(f, 1, 0, 0, entries(1, 1, 2), 1); // stale contents that the transfer replaces
    for (int i = 0; i < chunks.size(); i++) {
      boolean last = i == chunks.size() - 1;
      f.tell(new FollowerActor.InstallState(3, 25, 3, i, last, chunks.get(i), leader.ref()));
    }
    assertEquals(new FollowerActor.Acked(node, 3, 25, FollowerActor.Acked.UNTIMED), leader.receiveMessage());
    FollowerActor.Position p = position(f);
    assertEquals(25, p.keyCount());
    assertEquals(source.digestHex(), p.digest());
    assertFalse(get(f, "k1").found());
    assertEquals(new FollowerActor.Acked(node, 3, 26, SENT_AT), replicate(f, 3, 25, 3, entries(3, 26, 26), 26));

    testKit.stop(f);
    assertEquals(26, position(spawn(1000)).appliedIndex());
  }

  @Test
  public void readsSeeTheOldStateUntilATransfersLastChunkIsInstalled() {
    List<List<KeyValue>> chunks = chunksOf(transferSource());
    ReplicaView view = new ReplicaView(node);
    var f = testKit.spawn(FollowerActor.create(node, 1000, 100, view, Duration.ZERO));
    replicate(f, 1, 0, 0, entries(1, 1, 2), 2);
    f.tell(new FollowerActor.InstallState(3, 25, 3, 0, false, chunks.get(0), leader.ref()));
    f.tell(new FollowerActor.InstallState(3, 25, 3, 1, false, chunks.get(1), leader.ref()));
    assertEquals(20, position(f).keyCount()); // both chunks written (the journal's state holds them)
    // Part of the transferred keys at no index is no state to read from: readers keep the old one.
    assertEquals(2, view.state().orElseThrow().appliedIndex());
    assertTrue(view.read("k1").orElseThrow().found());
    assertFalse(view.read("key1").orElseThrow().found());
    assertTrue(get(f, "k1").found());

    f.tell(new FollowerActor.InstallState(3, 25, 3, 2, true, chunks.get(2), leader.ref()));
    assertEquals(new FollowerActor.Acked(node, 3, 25, FollowerActor.Acked.UNTIMED), leader.receiveMessage());
    assertEquals(25, view.state().orElseThrow().appliedIndex());
    assertFalse(view.read("k1").orElseThrow().found());
    assertEquals(25, view.state().orElseThrow().keyCount());
    assertTrue(get(f, "key1").found());
  }

  @Test
  public void keepsItsStateWhenATransferIsOlderThanWhatItApplied() {
    var f = spawn(1000);
    replicate(f, 1, 0, 0, entries(1, 1, 30), 30);
    f.tell(new FollowerActor.InstallState(1, 20, 1, 0, true, List.of(new KeyValue("x", "y", 9)), leader.ref()));
    assertEquals(new FollowerActor.Acked(node, 1, 30, FollowerActor.Acked.UNTIMED), leader.receiveMessage());
    assertEquals(30, position(f).appliedIndex());
    assertFalse(get(f, "x").found());
  }

  @Test
  public void ignoresAStateChunkWhoseTransferItDidNotSeeStart() {
    var f = spawn(1000);
    replicate(f, 1, 0, 0, entries(1, 1, 2), 2);
    f.tell(new FollowerActor.InstallState(3, 25, 3, 1, true, List.of(new KeyValue("x", "y", 9)), leader.ref()));
    leader.expectNoMessage(Duration.ofMillis(300));
    assertEquals(2, position(f).lastIndex());
  }

  @Test
  public void servesItsLogToANewLeader() {
    var f = spawn(1000);
    replicate(f, 1, 0, 0, entries(1, 1, 10), 5);
    TestProbe<FollowerActor.LogSlice> probe = testKit.createTestProbe();
    f.tell(new FollowerActor.GetLog(4, 3, probe.ref()));
    FollowerActor.LogSlice slice = probe.receiveMessage();
    assertEquals(entries(1, 4, 6), slice.entries());
    assertEquals(10, slice.lastIndex());
  }
}
