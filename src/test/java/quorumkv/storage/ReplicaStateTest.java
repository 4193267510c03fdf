package quorumkv.storage;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializer;
import akka.serialization.Serializers;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
}
