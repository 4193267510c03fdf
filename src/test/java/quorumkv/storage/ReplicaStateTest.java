package quorumkv.storage;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertNotSame;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializer;
import akka.serialization.Serializers;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.Test;
import quorumkv.TestConfig;

public class ReplicaStateTest {

  private static LogEntry put(long index, String key, String value) {
    return new LogEntry(index, 1, key, value);
  }

  private static LogEntry delete(long index, String key) {
    return new LogEntry(index, 1, key, null);
  }

  /** Appends entries after the state's last index and commits them all. */
  private static ReplicaState commit(ReplicaState state, long term, List<LogEntry> entries) {
    return state.append(term, state.lastIndex(), entries, Long.MAX_VALUE, 1000);
  }

  private static ReplicaState applied(LogEntry... entries) {
    return commit(ReplicaState.empty(), 1, List.of(entries));
  }

  /** Every key's value and version, read back through the public API. */
  private static Map<String, VersionedValue> contents(ReplicaState state, Iterable<String> keys) {
    Map<String, VersionedValue> out = new HashMap<>();
    for (String key : keys) {
      state.get(key).ifPresent(v -> out.put(key, v));
    }
    return out;
  }

  private static List<KeyValue> allPairs(ReplicaState state) {
    List<KeyValue> pairs = new ArrayList<>();
    state.forEachChunk(Integer.MAX_VALUE, pairs::addAll);
    return pairs;
  }

  private static Map<String, VersionedValue> asMap(List<KeyValue> pairs) {
    Map<String, VersionedValue> out = new HashMap<>();
    pairs.forEach(kv -> out.put(kv.key(), new VersionedValue(kv.value(), kv.version())));
    return out;
  }

  private static ReplicaState twentyFiveKeys() {
    List<LogEntry> entries = new ArrayList<>();
    for (int i = 1; i <= 25; i++) {
      entries.add(new LogEntry(i, 2, "key-" + i, "value-" + i));
    }
    // overwrite one and delete one so versions are not simply "the key's number"
    entries.add(new LogEntry(26, 3, "key-7", "seven again"));
    entries.add(new LogEntry(27, 3, "key-9", null));
    entries.add(new LogEntry(28, 3, "key-26", "twenty-six"));
    return commit(ReplicaState.empty(), 3, entries);
  }

  @Test
  public void theEmptyStateHasNothingAndAZeroDigest() {
    ReplicaState empty = ReplicaState.empty();

    assertEquals(0, empty.lastIndex());
    assertEquals(0, empty.lastTerm());
    assertEquals(0, empty.promisedTerm());
    assertEquals(0, empty.keyCount());
    assertEquals(0, empty.digest());
    assertEquals("0000000000000000", empty.digestHex());
    assertEquals(Optional.empty(), empty.get("a"));
  }

  @Test
  public void appendAppliesPutsAndDeletesWithTheLogIndexAsVersion() {
    ReplicaState state = commit(commit(ReplicaState.empty(), 1, List.of(put(1, "a", "1"), put(2, "b", "2"))),
        2, List.of(new LogEntry(3, 2, "a", "3"), new LogEntry(4, 2, "b", null)));

    assertEquals(Optional.of(new VersionedValue("3", 3)), state.get("a"));
    assertEquals(Optional.empty(), state.get("b"));
    assertEquals(1, state.keyCount());
    assertEquals(4, state.lastIndex());
    assertEquals(2, state.lastTerm());
    assertEquals(2, state.promisedTerm());
    assertEquals(StateDigest.pairHash("a", "3"), state.digest());
  }

  @Test
  public void appendNeverLowersThePromisedTermAndKeepsTheEntriesTerm() {
    ReplicaState promised = ReplicaState.empty().promise(7, "candidate");

    ReplicaState state = commit(promised, 5, List.of(new LogEntry(1, 5, "a", "1")));

    assertEquals(7, state.promisedTerm());
    assertEquals(5, state.lastTerm());
    assertEquals(0, promised.lastIndex()); // immutable: the earlier state is unchanged
    assertEquals(Optional.empty(), promised.get("a"));
  }

  @Test
  public void anEmptyAppendChangesNothingButThePromisedTerm() {
    ReplicaState state = applied(put(1, "a", "1"));

    ReplicaState after = commit(state, 4, List.of());

    assertEquals(1, after.lastIndex());
    assertEquals(1, after.lastTerm());
    assertEquals(4, after.promisedTerm());
    assertEquals(state.digest(), after.digest());
  }

  @Test
  public void theDigestIsTheSameForTheSameMapReachedByDifferentWrites() {
    ReplicaState direct = applied(put(1, "a", "1"), put(2, "b", "2"));
    ReplicaState roundabout = applied(
        put(1, "b", "x"), put(2, "c", "9"), put(3, "a", "0"), put(4, "b", "2"),
        put(5, "a", "1"), delete(6, "c"));

    assertEquals(StateDigest.pairHash("a", "1") + StateDigest.pairHash("b", "2"), direct.digest());
    assertEquals(direct.digest(), roundabout.digest());
    assertEquals(direct.digestHex(), roundabout.digestHex());
    assertEquals(16, direct.digestHex().length());
    assertTrue(direct.digestHex().matches("[0-9a-f]{16}"));
  }

  @Test
  public void theDigestDiffersWhenAValueDiffers() {
    ReplicaState one = applied(put(1, "a", "1"), put(2, "b", "2"));
    ReplicaState other = applied(put(1, "a", "1"), put(2, "b", "3"));
    ReplicaState shifted = applied(put(1, "ab", "c"));
    ReplicaState shiftedBack = applied(put(1, "a", "bc"));

    assertNotEquals(one.digest(), other.digest());
    assertNotEquals(shifted.digest(), shiftedBack.digest());
  }

  @Test
  public void aPutThenDeleteReturnsTheDigestToItsEarlierValue() {
    ReplicaState before = applied(put(1, "a", "1"), put(2, "b", "2"));

    ReplicaState withExtra = commit(before, 1, List.of(put(3, "z", "5")));
    ReplicaState afterDelete = commit(withExtra, 1, List.of(delete(4, "z")));
    ReplicaState overwrittenAndRestored = commit(afterDelete, 1, List.of(put(5, "a", "other"), put(6, "a", "1")));

    assertNotEquals(before.digest(), withExtra.digest());
    assertEquals(before.digest(), afterDelete.digest());
    assertEquals(before.digest(), overwrittenAndRestored.digest());
    assertEquals(2, overwrittenAndRestored.keyCount());
  }

  @Test
  public void deletingAMissingKeyChangesNoDigest() {
    ReplicaState before = applied(put(1, "a", "1"));

    ReplicaState after = commit(before, 1, List.of(delete(2, "nothing-here")));

    assertEquals(before.digest(), after.digest());
    assertEquals(2, after.lastIndex());
    assertEquals(1, after.keyCount());
  }

  @Test
  public void appendingAnEntryThatDoesNotFollowTheLastIndexThrows() {
    ReplicaState state = applied(put(1, "a", "1"), put(2, "b", "2"));

    assertThrows(IllegalArgumentException.class, () -> commit(state, 1, List.of(put(4, "c", "3"))));
    // an entry at an index already applied is committed, the same everywhere: ignored
    assertEquals(Optional.of(new VersionedValue("2", 2)), commit(state, 1, List.of(put(2, "b", "other"))).get("b"));
    assertThrows(IllegalArgumentException.class, () -> commit(state, 1, List.of(put(3, "c", "3"), put(5, "d", "4"))));
    assertEquals(2, state.lastIndex());
    assertEquals(Optional.empty(), state.get("c"));
  }

  @Test
  public void forEachChunkSplitsTwentyFiveKeysIntoChunksOfTen() {
    ReplicaState source = twentyFiveKeys();
    List<List<KeyValue>> chunks = new ArrayList<>();

    source.forEachChunk(10, chunks::add);

    assertEquals(25, source.keyCount());
    assertEquals(List.of(10, 10, 5), chunks.stream().map(List::size).toList());
  }

  @Test
  public void aRangePageOfLargeValuesStopsAtItsCharacterBoundAndSaysThereIsMore() {
    String value = "v".repeat(64 * 1024);
    List<LogEntry> entries = new ArrayList<>();
    for (int i = 1; i <= 100; i++) {
      entries.add(put(i, String.format("big/%03d", i), value));
    }
    ReplicaState state = commit(ReplicaState.empty(), 1, entries);

    KeyPage page = state.range("big/", null, 1000);
    assertTrue("a page of " + page.items().size(), page.items().size() >= 15 && page.items().size() < 100);
    assertTrue(page.more());
    long chars = page.items().stream().mapToLong(p -> 32L + p.key().length() + p.value().length()).sum();
    assertTrue(chars + " characters", chars <= ReplicaState.MAX_PAGE_CHARS);
    KeyPage next = state.range("big/", page.items().get(page.items().size() - 1).key(), 1000);
    assertEquals(String.format("big/%03d", page.items().size() + 1), next.items().get(0).key());

    assertEquals("without values all 100 keys fit", 100, state.range("big/", null, 1000, false).items().size());
  }

  @Test
  public void appliedEntriesAreKeptOnlyWithinTheByteBoundButUnappliedOnesAlways() {
    String value = "v".repeat(64 * 1024);
    ReplicaState state = ReplicaState.empty();
    int entries = 3000; // ~192 MiB of values: three times the bound
    for (int i = 1; i <= entries; i++) {
      state = state.append(1, i - 1, List.of(put(i, "same", value)), i, 20_000);
    }
    long perEntry = put(1, "same", value).approximateBytes();
    long kept = state.lastIndex() - state.baseIndex();
    assertEquals(entries, state.appliedIndex());
    assertTrue("kept " + kept + " entries of " + perEntry + " bytes", kept * perEntry <= ReplicaState.MAX_RETAINED_BYTES);
    assertTrue("kept " + kept + " entries", kept >= ReplicaState.MAX_RETAINED_BYTES / perEntry - 1);
    assertEquals(value, state.get("same").orElseThrow().value());

    // Entries not committed yet stay, however large: a replica must be able to apply them later.
    int unapplied = 1500;
    for (int i = entries + 1; i <= entries + unapplied; i++) {
      state = state.append(1, i - 1, List.of(put(i, "later-" + i, value)), entries, 20_000);
    }
    assertEquals(entries + unapplied, state.lastIndex());
    assertTrue(state.baseIndex() <= entries);
    state = state.append(1, state.lastIndex(), List.of(), state.lastIndex(), 20_000);
    assertEquals(entries + unapplied, state.appliedIndex());
    assertTrue((state.lastIndex() - state.baseIndex()) * perEntry <= ReplicaState.MAX_RETAINED_BYTES);

    // A snapshot of it reads back with the same log.
    ReplicaState read = ReplicaState.fromSnapshot(java.util.Map.of(), state.appliedIndex(), state.baseIndex(),
        1, state.logView(), 0, "");
    assertEquals(state.lastIndex(), read.lastIndex());
  }

  @Test
  public void forEachChunkKeepsEachChunkWithinWhatOneArteryMessageCarries() {
    List<LogEntry> entries = new ArrayList<>();
    String value = "v".repeat(30_000);
    for (int i = 1; i <= 300; i++) {
      entries.add(new LogEntry(i, 2, String.format("big-%03d", i), value));
    }
    ReplicaState source = commit(ReplicaState.empty(), 2, entries);
    List<List<KeyValue>> chunks = new ArrayList<>();

    source.forEachChunk(2000, chunks::add);

    List<String> keys = new ArrayList<>();
    for (List<KeyValue> chunk : chunks) {
      long chars = chunk.stream().mapToLong(p -> 32L + p.key().length() + p.value().length()).sum();
      assertTrue("a chunk of " + chars + " characters", chars <= ReplicaState.MAX_CHUNK_CHARS);
      chunk.forEach(p -> keys.add(p.key()));
    }
    assertTrue("9 MB of values in chunks of at most 1 Mi characters: " + chunks.size(), chunks.size() >= 9);
    assertEquals(entries.stream().map(LogEntry::key).toList(), keys);
  }

  @Test
  public void forEachChunkOfAnEmptyStateSendsOneEmptyChunk() {
    List<List<KeyValue>> chunks = new ArrayList<>();

    ReplicaState.empty().forEachChunk(10, chunks::add);

    assertEquals(List.of(List.of()), chunks);
  }

  @Test
  public void installingEveryChunkReproducesTheSourceState() {
    ReplicaState source = twentyFiveKeys();
    List<List<KeyValue>> chunks = new ArrayList<>();
    source.forEachChunk(10, chunks::add);
    ReplicaState target = applied(put(1, "stale", "gone after the transfer"));

    for (int i = 0; i < chunks.size(); i++) {
      boolean last = i == chunks.size() - 1;
      target = target.installChunk(4, source.lastIndex(), source.lastTerm(), i == 0, last, chunks.get(i));
      if (!last) {
        assertEquals("a transfer cut off half way must ask for everything again", 0, target.lastIndex());
      }
    }

    Map<String, VersionedValue> expected = asMap(allPairs(source));
    assertEquals(25, expected.size());
    assertEquals(expected, asMap(allPairs(target)));
    assertEquals(expected, contents(target, expected.keySet()));
    assertEquals(Optional.of(new VersionedValue("seven again", 26)), target.get("key-7"));
    assertEquals(Optional.empty(), target.get("key-9"));
    assertEquals(Optional.empty(), target.get("stale"));
    assertEquals(source.keyCount(), target.keyCount());
    assertEquals(source.digest(), target.digest());
    assertEquals(28, target.lastIndex());
    assertEquals(3, target.lastTerm());
    assertEquals(4, target.promisedTerm());
  }

  @Test
  public void aFirstChunkResetsWhateverWasThereBefore() {
    ReplicaState earlier = applied(put(1, "x", "1"), put(2, "y", "2"), put(3, "k1", "old"));

    ReplicaState installed = earlier.installChunk(
        2, 10, 2, true, true, List.of(new KeyValue("k1", "v1", 9)));

    assertEquals(Optional.empty(), installed.get("x"));
    assertEquals(Optional.empty(), installed.get("y"));
    assertEquals(Optional.of(new VersionedValue("v1", 9)), installed.get("k1"));
    assertEquals(1, installed.keyCount());
    assertEquals(StateDigest.pairHash("k1", "v1"), installed.digest());
    assertEquals(10, installed.lastIndex());
    assertEquals(2, installed.lastTerm());
  }

  @Test
  public void aStateAfterATransferAcceptsTheEntriesThatFollowIt() {
    ReplicaState installed = ReplicaState.empty().installChunk(
        2, 10, 2, true, true, List.of(new KeyValue("k1", "v1", 9)));

    ReplicaState next = commit(installed, 2, List.of(new LogEntry(11, 2, "k2", "v2")));

    assertEquals(11, next.lastIndex());
    assertEquals(2, next.keyCount());
    assertEquals(1, commit(installed, 2, List.of(new LogEntry(1, 2, "k", "v"))).keyCount()); // below the snapshot: ignored
  }

  @Test
  public void theSnapshotSerializerRoundTripPreservesEverything() throws Exception {
    ActorTestKit testKit = ActorTestKit.create("replica-state-serialization",
        TestConfig.local(TestConfig.newDataDir("replica-state"), ""));
    try {
      ReplicaState source = twentyFiveKeys().promise(9, "candidate");
      Serialization serialization = SerializationExtension.get(testKit.system().classicSystem());
      Serializer serializer = serialization.serializerFor(ReplicaState.class);
      assertEquals("akka.serialization.jackson.JacksonCborSerializer", serializer.getClass().getName());

      byte[] bytes = serializer.toBinary(source);
      String manifest = Serializers.manifestFor(serializer, source);
      ReplicaState copy = (ReplicaState) serialization
          .deserialize(bytes, serializer.identifier(), manifest).get();

      assertEquals(asMap(allPairs(source)), asMap(allPairs(copy)));
      assertEquals(25, copy.keyCount());
      assertEquals(28, copy.lastIndex());
      assertEquals(3, copy.lastTerm());
      assertEquals(9, copy.promisedTerm());
      assertEquals(source.digest(), copy.digest());
      assertEquals(Optional.of(new VersionedValue("seven again", 26)), copy.get("key-7"));
      // the copy is a working state, not just equal data
      assertEquals(29, commit(copy, 9, List.of(new LogEntry(29, 9, "key-1", "new"))).lastIndex());
    } finally {
      testKit.shutdownTestKit();
    }
  }

  @Test
  public void aNodesActorSystemReadsSnapshotKeysWithoutInterningThem() throws Exception {
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "replica-state-no-intern",
        ActorSystemSetups.of(TestConfig.local(TestConfig.newDataDir("replica-state-no-intern"), "")));
    try {
      String key = "snapshot-key-" + System.nanoTime();
      ReplicaState source = applied(put(1, key, "v"));
      Serialization serialization = SerializationExtension.get(system.classicSystem());
      Serializer serializer = serialization.serializerFor(ReplicaState.class);
      byte[] bytes = serializer.toBinary(source);
      String pooled = new String(key).intern(); // the string table's instance of this key

      ReplicaState copy = (ReplicaState) serialization
          .deserialize(bytes, serializer.identifier(), Serializers.manifestFor(serializer, source)).get();

      String read = allPairs(copy).get(0).key();
      assertEquals(key, read);
      // Jackson's default would have returned the pooled instance: a million keys in the string table
      assertNotSame(pooled, read);
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get();
    }
  }

  @Test
  public void theSnapshotSerializerRoundTripOfAnEmptyState() throws Exception {
    ActorTestKit testKit = ActorTestKit.create("replica-state-serialization-empty",
        TestConfig.local(TestConfig.newDataDir("replica-state-empty"), ""));
    try {
      Serialization serialization = SerializationExtension.get(testKit.system().classicSystem());
      ReplicaState empty = ReplicaState.empty();
      Serializer serializer = serialization.findSerializerFor(empty);
      byte[] bytes = serializer.toBinary(empty);

      ReplicaState copy = (ReplicaState) serialization
          .deserialize(bytes, serializer.identifier(), Serializers.manifestFor(serializer, empty)).get();

      assertEquals(0, copy.keyCount());
      assertEquals(0, copy.lastIndex());
      assertEquals(0, copy.digest());
    } finally {
      testKit.shutdownTestKit();
    }
  }

  // --- the sorted map ---

  private static final String GRINNING = "\uD83D\uDE00"; // U+1F600, a surrogate pair in UTF-16
  private static final String LAST_BMP = "\uFFFF";

  // --- compare-and-set, prefix delete and transactions: evaluated when applied, in log order ---

  private static LogEntry cas(long index, String key, String value, long ifVersion) {
    return LogEntry.of(index, 1, new WriteCommand.IfVersion(key, value, ifVersion));
  }

  @Test
  public void ofTwoCompareAndSetsWithTheSameVersionOnlyTheFirstInLogOrderSucceeds() {
    ReplicaState s = applied(put(1, "counter", "0"), cas(2, "counter", "1", 1), cas(3, "counter", "1", 1));

    assertEquals(Optional.of(new EntryOutcome.Done(1)), s.outcome(2, 1));
    assertEquals(Optional.of(new EntryOutcome.ConditionFailed(1, "counter", 2)), s.outcome(3, 1));
    assertEquals(Optional.of(new VersionedValue("1", 2)), s.get("counter"));
    assertEquals(3, s.appliedIndex());
  }

  @Test
  public void aFailedConditionChangesNoKeyVersionOrDigest() {
    ReplicaState before = applied(put(1, "k", "v"));
    ReplicaState after = commit(before, 1, List.of(cas(2, "k", "other", 7), cas(3, "absent", "x", 5),
        cas(4, "k", null, 0), LogEntry.of(5, 1, new WriteCommand.Txn(
            List.of(WriteCommand.Compare.value("k", "not v")), List.of(WriteCommand.TxnOp.put("k", "changed")),
            List.of()))));

    assertEquals(before.digest(), after.digest());
    assertEquals(Optional.of(new VersionedValue("v", 1)), after.get("k"));
    assertEquals(1, after.keyCount());
    assertEquals(Optional.of(new EntryOutcome.ConditionFailed(1, "k", 1)), after.outcome(2, 1));
    assertEquals(Optional.of(new EntryOutcome.ConditionFailed(1, "absent", 0)), after.outcome(3, 1));
    assertEquals(Optional.of(new EntryOutcome.ConditionFailed(1, "k", 1)), after.outcome(4, 1));
    assertEquals(Optional.of(new EntryOutcome.TxnApplied(1, false, List.of())), after.outcome(5, 1));
  }

  @Test
  public void versionZeroMeansOnlyIfAbsentAndACompareAndSetDeleteNeedsTheExactVersion() {
    ReplicaState s = applied(cas(1, "lock", "me", 0), cas(2, "lock", "you", 0), cas(3, "lock", null, 2),
        cas(4, "lock", null, 1));

    assertEquals(Optional.of(new EntryOutcome.Done(1)), s.outcome(1, 1));
    assertEquals(Optional.of(new EntryOutcome.ConditionFailed(1, "lock", 1)), s.outcome(2, 1));
    assertEquals(Optional.of(new EntryOutcome.ConditionFailed(1, "lock", 1)), s.outcome(3, 1));
    assertEquals(Optional.of(new EntryOutcome.Deleted(1, true)), s.outcome(4, 1));
    assertEquals(Optional.empty(), s.get("lock"));
    assertEquals(0, s.digest());
  }

  @Test
  public void aDeleteTellsWhetherItsKeyWasThere() {
    ReplicaState s = applied(put(1, "k", "v"), delete(2, "k"), delete(3, "k"), delete(4, "never"),
        cas(5, "absent", null, 0));

    assertEquals(Optional.of(new EntryOutcome.Deleted(1, true)), s.outcome(2, 1));
    assertEquals("the same delete again finds nothing", Optional.of(new EntryOutcome.Deleted(1, false)), s.outcome(3, 1));
    assertEquals(Optional.of(new EntryOutcome.Deleted(1, false)), s.outcome(4, 1));
    assertEquals("a delete if absent holds and deletes nothing", Optional.of(new EntryOutcome.Deleted(1, false)),
        s.outcome(5, 1));
    assertEquals("a plain put keeps no outcome", Optional.empty(), s.outcome(1, 1));
    assertEquals(0, s.keyCount());
    assertEquals(0, s.digest());
  }

  @Test
  public void theOutcomeIsOnlyGivenForTheEntryOfTheTermAsked() {
    ReplicaState s = applied(cas(1, "k", "v", 0));
    assertEquals(Optional.empty(), s.outcome(1, 2));
    assertEquals(Optional.empty(), s.outcome(2, 1));
  }

  @Test
  public void aPrefixDeleteRemovesExactlyTheKeysUnderThePrefixAsOneEntry() {
    ReplicaState s = applied(put(1, "app/a", "1"), put(2, "app/b", "2"), put(3, "apple", "3"), put(4, "ap", "4"),
        put(5, "app/c/d", "5"), LogEntry.of(6, 1, new WriteCommand.DeletePrefix("app/")));
    ReplicaState reference = applied(put(1, "apple", "3"), put(2, "ap", "4"));

    assertEquals(Optional.of(new EntryOutcome.PrefixDeleted(1, "app/", 3)), s.outcome(6, 1));
    assertEquals(2, s.keyCount());
    assertEquals(reference.digest(), s.digest());
    assertEquals(6, s.appliedIndex());
    ReplicaState none = commit(s, 1, List.of(LogEntry.of(7, 1, new WriteCommand.DeletePrefix("zzz"))));
    assertEquals(Optional.of(new EntryOutcome.PrefixDeleted(1, "zzz", 0)), none.outcome(7, 1));
  }

  @Test
  public void aTransactionAppliesItsSuccessBranchAllOrNothingAtOneVersion() {
    ReplicaState s = applied(put(1, "a", "10"), put(2, "b", "5"));
    WriteCommand.Txn transfer = new WriteCommand.Txn(
        List.of(WriteCommand.Compare.version("a", 1), WriteCommand.Compare.value("b", "5"),
            WriteCommand.Compare.exists("c", false)),
        List.of(WriteCommand.TxnOp.put("a", "7"), WriteCommand.TxnOp.put("b", "8"), WriteCommand.TxnOp.delete("x"),
            WriteCommand.TxnOp.get("a"), WriteCommand.TxnOp.get("c")),
        List.of(WriteCommand.TxnOp.get("a")));
    ReplicaState done = commit(s, 1, List.of(LogEntry.of(3, 1, transfer)));

    assertEquals(Optional.of(new EntryOutcome.TxnApplied(1, true, List.of(
        new TxnOpResult(WriteCommand.OpType.PUT, "a", null, 3, true),
        new TxnOpResult(WriteCommand.OpType.PUT, "b", null, 3, true),
        new TxnOpResult(WriteCommand.OpType.DELETE, "x", null, 0, false),
        new TxnOpResult(WriteCommand.OpType.GET, "a", "7", 3, true),
        new TxnOpResult(WriteCommand.OpType.GET, "c", null, 0, false)))), done.outcome(3, 1));
    assertEquals(Optional.of(new VersionedValue("7", 3)), done.get("a"));
    assertEquals(Optional.of(new VersionedValue("8", 3)), done.get("b"));

    // The same transaction again: "a" is at version 3 now, so the failure branch runs.
    ReplicaState again = commit(done, 1, List.of(LogEntry.of(4, 1, transfer)));
    assertEquals(Optional.of(new EntryOutcome.TxnApplied(1, false, List.of(
        new TxnOpResult(WriteCommand.OpType.GET, "a", "7", 3, true)))), again.outcome(4, 1));
    assertEquals(done.digest(), again.digest());
  }

  @Test
  public void everyReplicaReachesTheSameOutcomesAndDigestWhateverTheBatching() {
    List<LogEntry> log = new ArrayList<>();
    log.add(put(1, "n", "0"));
    for (int i = 2; i <= 40; i++) {
      log.add(i % 5 == 0 ? LogEntry.of(i, 1, new WriteCommand.DeletePrefix("n"))
          : cas(i, "n", Integer.toString(i), i % 3 == 0 ? 0 : i - 1));
    }
    ReplicaState all = applied(log.toArray(new LogEntry[0]));
    ReplicaState stepwise = ReplicaState.empty();
    for (LogEntry e : log) {
      stepwise = stepwise.append(1, e.index() - 1, List.of(e), e.index() - 1, 1000); // committed one later
    }
    stepwise = stepwise.append(1, 40, List.of(), 40, 1000);
    assertEquals(all.digest(), stepwise.digest());
    assertEquals(all.get("n"), stepwise.get("n"));
    for (long i = 2; i <= 40; i++) {
      assertEquals("entry " + i, all.outcome(i, 1), stepwise.outcome(i, 1));
    }
  }

  @Test
  public void journaledEntriesFromBeforeCommandsReadBackAsPlainWritesAndPlainEntriesAreWrittenAsBefore()
      throws Exception {
    ActorTestKit testKit = ActorTestKit.create("log-entry-compat", TestConfig.local(TestConfig.newDataDir("log-entry"), ""));
    try {
      Serialization serialization = SerializationExtension.get(testKit.system().classicSystem());
      Serializer serializer = serialization.serializerFor(LogEntry.class);
      // What the earlier build wrote: the record (index, term, key, value) and its isDelete(), no command field.
      com.fasterxml.jackson.dataformat.cbor.databind.CBORMapper cbor =
          new com.fasterxml.jackson.dataformat.cbor.databind.CBORMapper();
      Map<String, Object> old = new java.util.LinkedHashMap<>();
      old.put("index", 7);
      old.put("term", 2);
      old.put("key", "k");
      old.put("value", "v");
      old.put("delete", false);
      byte[] oldBytes = cbor.writeValueAsBytes(old);
      LogEntry read = (LogEntry) serialization.deserialize(oldBytes, serializer.identifier(),
          LogEntry.class.getName()).get();
      assertEquals(new LogEntry(7, 2, "k", "v"), read);
      assertEquals(null, read.command());

      // A plain entry is written without the command field: readable by the earlier build too.
      Map<?, ?> written = cbor.readValue(serializer.toBinary(new LogEntry(7, 2, "k", "v")), Map.class);
      assertEquals(Set.of("index", "term", "key", "value", "delete"), written.keySet());

      for (WriteCommand c : List.of(new WriteCommand.IfVersion("k", "v", 0), new WriteCommand.IfVersion("k", null, 3),
          new WriteCommand.DeletePrefix("p/"), new WriteCommand.Txn(
              List.of(WriteCommand.Compare.version("a", 0), WriteCommand.Compare.value("b", "x"),
                  WriteCommand.Compare.exists("c", true)),
              List.of(WriteCommand.TxnOp.put("a", "1"), WriteCommand.TxnOp.delete("b")),
              List.of(WriteCommand.TxnOp.get("c"))))) {
        LogEntry entry = LogEntry.of(9, 3, c);
        LogEntry copy = (LogEntry) serialization.deserialize(serializer.toBinary(entry), serializer.identifier(),
            LogEntry.class.getName()).get();
        assertEquals(entry, copy);
      }
    } finally {
      testKit.shutdownTestKit();
    }
  }

  private static List<String> keys(KeyPage page) {
    List<String> out = new ArrayList<>();
    page.items().forEach(kv -> out.add(kv.key()));
    return out;
  }

  @Test
  public void keyOrderIsCodePointOrderNotUtf16Order() {
    assertTrue("String.compareTo puts the pair first", GRINNING.compareTo(LAST_BMP) < 0);
    assertTrue(KeyOrder.INSTANCE.compare(GRINNING, LAST_BMP) > 0);
    assertTrue(KeyOrder.INSTANCE.compare(LAST_BMP, GRINNING) < 0);
    assertTrue(KeyOrder.INSTANCE.compare("\uE000", GRINNING) < 0);
    assertTrue(KeyOrder.INSTANCE.compare("\uD7FF", GRINNING) < 0);
    assertTrue(KeyOrder.INSTANCE.compare("a", "ab") < 0);
    assertEquals(0, KeyOrder.INSTANCE.compare(GRINNING, "\uD83D\uDE00"));
    // the same order as the keys' code points, over a mixed set
    List<String> mixed = new ArrayList<>(List.of("b", "a", LAST_BMP, GRINNING, "\uD83D\uDE01", "\u00e9", "\uD800\uDC00",
        "\uE000", "ab", "", "\uD7FF", "a" + GRINNING, "a" + LAST_BMP));
    List<String> byCodePoints = new ArrayList<>(mixed);
    byCodePoints.sort((x, y) -> java.util.Arrays.compare(x.codePoints().toArray(), y.codePoints().toArray()));
    mixed.sort(KeyOrder.INSTANCE);
    assertEquals(byCodePoints, mixed);
  }

  @Test
  public void rangeListsKeysInCodePointOrder() {
    ReplicaState s = applied(put(1, GRINNING, "face"), put(2, LAST_BMP, "ffff"), put(3, "b", "bee"), put(4, "a", "ay"),
        put(5, "\u00e9", "e acute"));

    KeyPage page = s.range("", null, 100);

    assertEquals(List.of("a", "b", "\u00e9", LAST_BMP, GRINNING), keys(page));
    assertEquals(new KeyValue(GRINNING, "face", 1), page.items().get(4));
    assertFalse(page.more());
    assertEquals(null, page.next());
    assertEquals(5, page.appliedIndex());
  }

  @Test
  public void rangeKeepsToThePrefixAndContinuesAfterAKey() {
    List<LogEntry> entries = new ArrayList<>();
    long i = 0;
    for (String k : List.of("app/a", "app/b", "app/c", "app/d", "app/e", "ap", "apple", "apq", "zzz", "a")) {
      entries.add(put(++i, k, "v-" + k));
    }
    ReplicaState s = commit(ReplicaState.empty(), 1, entries);

    KeyPage first = s.range("app/", null, 2);
    assertEquals(List.of("app/a", "app/b"), keys(first));
    assertTrue(first.more());
    assertEquals("app/b", first.next());

    KeyPage second = s.range("app/", first.next(), 2);
    assertEquals(List.of("app/c", "app/d"), keys(second));
    assertTrue(second.more());

    KeyPage last = s.range("app/", second.next(), 2);
    assertEquals(List.of("app/e"), keys(last));
    assertFalse("no app/ key after app/e ('apple' sorts before 'app/', 'apq' after)", last.more());

    KeyPage exact = s.range("app/", "app/d", 1); // exactly one left: no more after it
    assertEquals(List.of("app/e"), keys(exact));
    assertFalse(exact.more());
    assertEquals(List.of("app/a"), keys(s.range("app/", "aaa", 1))); // after sorts before the prefix
    assertEquals(List.of(), keys(s.range("app/", "b", 10))); // after sorts after every prefixed key
    assertEquals(List.of(), keys(s.range("nothing", null, 10)));
    assertEquals(List.of("a", "ap", "app/a"), keys(s.range("", null, 3)));
    assertEquals(List.of("zzz"), keys(s.range("", "apq", 10)));
  }

  @Test
  public void aPageFromAnOldStateStaysTheSameAfterLaterWrites() {
    ReplicaState before = applied(put(1, "k1", "a"), put(2, "k2", "b"));
    ReplicaState after = commit(before, 1, List.of(put(3, "k0", "c"), delete(4, "k2")));

    assertEquals(List.of("k1", "k2"), keys(before.range("k", null, 10)));
    assertEquals(List.of("k0", "k1"), keys(after.range("k", null, 10)));
    List<String> streamed = new ArrayList<>();
    before.pairs().forEachRemaining(kv -> streamed.add(kv.key()));
    assertEquals(List.of("k1", "k2"), streamed);
  }

  @Test
  public void snapshotEntriesAreWrittenInKeyOrder() throws Exception {
    ReplicaState s = applied(put(1, GRINNING, "face"), put(2, "b", "bee"), put(3, LAST_BMP, "ffff"), put(4, "a", "ay"));
    assertEquals(List.of("a", "b", LAST_BMP, GRINNING), new ArrayList<>(s.entriesView().keySet()));
  }

  @Test
  public void aSnapshotWithKeysInHashOrderIsReadIntoTheSortedMap() {
    Map<String, VersionedValue> hashOrder = new HashMap<>();
    for (int k = 0; k < 500; k++) {
      hashOrder.put("key-" + k, new VersionedValue("v" + k, k + 1));
    }
    hashOrder.put(GRINNING, new VersionedValue("face", 501));
    hashOrder.put(LAST_BMP, new VersionedValue("ffff", 502));
    List<String> sortedKeys = new ArrayList<>(hashOrder.keySet());
    sortedKeys.sort(KeyOrder.INSTANCE);
    assertNotEquals("the input must really be out of order", sortedKeys, new ArrayList<>(hashOrder.keySet()));

    ReplicaState s = ReplicaState.fromSnapshot(hashOrder, 502, 502, 1, List.of(), 1, "");

    assertEquals(502, s.keyCount());
    assertEquals(sortedKeys, keys(s.range("", null, 1000)));
    assertEquals(Optional.of(new VersionedValue("v7", 8)), s.get("key-7"));
    ReplicaState fromSorted = ReplicaState.fromSnapshot(s.entriesView(), 502, 502, 1, List.of(), 1, "");
    assertEquals(s.digest(), fromSorted.digest());
    assertEquals(sortedKeys, keys(fromSorted.range("", null, 1000)));
    // a working map, not just a copy: writes go into it in order
    ReplicaState written = commit(fromSorted, 1, List.of(put(503, "key-00", "new"), delete(504, "key-7")));
    assertEquals(List.of("key-0", "key-00", "key-1"), keys(written.range("key-", null, 3)));
    assertEquals(Optional.empty(), written.get("key-7"));
  }

  @Test
  public void aSnapshotWrittenByTheHashMapBuildIsReadBack() throws Exception {
    // Written by the build before the sorted map (src/test/resources/snapshots, see its .manifest):
    // 45 writes (40 keys, a non-BMP key, U+FFFF, "été", an overwrite of key-7, a delete of key-9),
    // two more entries not yet committed, a promise of term 9 to node3.
    byte[] bytes;
    try (var in = getClass().getResourceAsStream("/snapshots/replica-state-hashmap.cbor")) {
      assertNotNull("fixture on the test classpath", in);
      bytes = in.readAllBytes();
    }
    ActorTestKit testKit = ActorTestKit.create("replica-state-old-snapshot",
        TestConfig.local(TestConfig.newDataDir("replica-state-old"), ""));
    try {
      Serialization serialization = SerializationExtension.get(testKit.system().classicSystem());
      Serializer serializer = serialization.serializerFor(ReplicaState.class);
      ReplicaState old = (ReplicaState) serialization.deserialize(bytes, serializer.identifier(), "quorumkv.storage.ReplicaState").get();

      assertEquals(42, old.keyCount());
      assertEquals("8d2c6f4e968a4e0a", old.digestHex()); // the digest the old build computed
      assertEquals(45, old.appliedIndex());
      assertEquals(47, old.lastIndex());
      assertEquals(9, old.promisedTerm());
      assertEquals("node3", old.promisedTo());
      assertEquals(Optional.of(new VersionedValue("seven again", 44)), old.get("key-7"));
      assertEquals(Optional.empty(), old.get("key-9"));
      assertEquals(Optional.of(new VersionedValue("grinning face", 41)), old.get(GRINNING));
      List<String> all = keys(old.range("", null, 1000));
      assertEquals(42, all.size());
      assertEquals(List.of("\u00e9t\u00e9", LAST_BMP, GRINNING), all.subList(39, 42));
      List<String> sorted = new ArrayList<>(all);
      sorted.sort(KeyOrder.INSTANCE);
      assertEquals(sorted, all);
      // the pending entries commit on top of it
      ReplicaState later = old.append(9, 47, List.of(), 47, 1000);
      assertEquals(Optional.of(new VersionedValue("p1", 46)), later.get("pending"));
      assertEquals(Optional.of(new VersionedValue("p2", 47)), later.get("key-1"));
    } finally {
      testKit.shutdownTestKit();
    }
  }
}
