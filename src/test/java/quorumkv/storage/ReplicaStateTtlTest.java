package quorumkv.storage;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializer;
import akka.serialization.Serializers;
import com.fasterxml.jackson.dataformat.cbor.databind.CBORMapper;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import org.junit.Test;
import quorumkv.TestConfig;

/**
 * TTL keys in the replica's state: the expiry time comes from the entry (stamped by the leader),
 * an expiry entry deletes only the version whose TTL passed, replicas agree whatever their
 * batching, and the expiry survives snapshots while older journals and snapshots still read.
 */
public class ReplicaStateTtlTest {

  private static final long T0 = 1_800_000_000_000L; // an epoch-ms "now" far from 0

  private static ReplicaState applied(LogEntry... entries) {
    return ReplicaState.empty().append(1, 0, List.of(entries), Long.MAX_VALUE, 1000);
  }

  private static LogEntry put(long index, String key, String value) {
    return new LogEntry(index, 1, key, value);
  }

  private static LogEntry putTtl(long index, String key, String value, long expiresAt) {
    return LogEntry.of(index, 1, new WriteCommand.Put(key, value, 30_000, expiresAt));
  }

  private static LogEntry expire(long index, WriteCommand.ExpiredKey... keys) {
    return LogEntry.of(index, 1, new WriteCommand.Expire(List.of(keys)));
  }

  private static WriteCommand.ExpiredKey due(String key, long version) {
    return new WriteCommand.ExpiredKey(key, version);
  }

  @Test
  public void theLeaderStampsTheExpiryOnlyOnceFromTheRelativeTtl() {
    WriteCommand.Put p = new WriteCommand.Put("k", "v", 30_000, 0).stampedAt(T0);
    assertEquals(T0 + 30_000, p.expiresAt());
    WriteCommand.IfVersion cas = new WriteCommand.IfVersion("k", "v", 0, 5_000, 0).stampedAt(T0);
    assertEquals(T0 + 5_000, cas.expiresAt());
    WriteCommand.IfVersion plainCas = new WriteCommand.IfVersion("k", "v", 0);
    assertTrue(plainCas == plainCas.stampedAt(T0));
    WriteCommand.Txn txn = new WriteCommand.Txn(List.of(),
        List.of(WriteCommand.TxnOp.put("a", "1", 2_000), WriteCommand.TxnOp.put("b", "2")),
        List.of(WriteCommand.TxnOp.put("c", "3", 1_000))).stampedAt(T0);
    assertEquals(T0 + 2_000, txn.success().get(0).expiresAt());
    assertEquals(0, txn.success().get(1).expiresAt());
    assertEquals(T0 + 1_000, txn.failure().get(0).expiresAt());
  }

  @Test
  public void theExpiryIsStoredWithTheKeyFromTheEntryForEveryKindOfPut() {
    ReplicaState s = applied(
        putTtl(1, "plain", "v", T0 + 1_000),
        LogEntry.of(2, 1, new WriteCommand.IfVersion("cas", "v", 0, 2_000, T0 + 2_000)),
        LogEntry.of(3, 1, new WriteCommand.Txn(List.of(),
            List.of(new WriteCommand.TxnOp(WriteCommand.OpType.PUT, "txn", "v", 3_000, T0 + 3_000),
                WriteCommand.TxnOp.get("plain")), List.of())),
        put(4, "permanent", "v"));

    assertEquals(Optional.of(new VersionedValue("v", 1, T0 + 1_000)), s.get("plain"));
    assertEquals(Optional.of(new VersionedValue("v", 2, T0 + 2_000)), s.get("cas"));
    assertEquals(Optional.of(new VersionedValue("v", 3, T0 + 3_000)), s.get("txn"));
    assertEquals(Optional.of(new VersionedValue("v", 4, 0)), s.get("permanent"));
    assertEquals(OptionalLong.of(T0 + 1_000), s.nextExpiry());
    assertEquals(3, s.expiringKeyCount());
    // a txn get sees the expiry of what it reads
    EntryOutcome.TxnApplied txn = (EntryOutcome.TxnApplied) s.outcome(3, 1).orElseThrow();
    assertEquals(T0 + 1_000, txn.results().get(1).expiresAt());
    // range pages and backups carry it
    assertEquals(T0 + 2_000, s.range("cas", null, 1).items().get(0).expiresAt());
    assertEquals(0, s.range("permanent", null, 1).items().get(0).expiresAt());
    // time left, never below 0
    assertEquals(600, s.get("plain").orElseThrow().ttlMsAt(T0 + 400));
    assertEquals(0, s.get("plain").orElseThrow().ttlMsAt(T0 + 5_000));
    assertEquals(-1, s.get("permanent").orElseThrow().ttlMsAt(T0));
  }

  @Test
  public void dueKeysComeEarliestFirstWithTheVersionThatSetTheirTtlAndNoOthers() {
    ReplicaState s = applied(
        putTtl(1, "c", "v", T0 + 3_000),
        putTtl(2, "a", "v", T0 + 1_000),
        putTtl(3, "b", "v", T0 + 1_000),
        put(4, "permanent", "v"),
        putTtl(5, "late", "v", T0 + 60_000));

    assertEquals(List.of(), s.dueExpiries(T0 + 999, 100));
    assertEquals(List.of(due("a", 2), due("b", 3)), s.dueExpiries(T0 + 1_000, 100));
    assertEquals(List.of(due("a", 2), due("b", 3), due("c", 1)), s.dueExpiries(T0 + 5_000, 100));
    assertEquals(List.of(due("a", 2)), s.dueExpiries(T0 + 5_000, 1));
  }

  @Test
  public void aWriteWithoutTtlMakesTheKeyPermanentAndANewTtlReplacesTheOld() {
    ReplicaState s = applied(putTtl(1, "k", "v1", T0 + 1_000), put(2, "k", "v2"));
    assertEquals(Optional.of(new VersionedValue("v2", 2, 0)), s.get("k"));
    assertEquals(0, s.expiringKeyCount());
    assertEquals(List.of(), s.dueExpiries(Long.MAX_VALUE, 100));

    ReplicaState renewed = applied(putTtl(1, "k", "v1", T0 + 1_000), putTtl(2, "k", "v2", T0 + 9_000));
    assertEquals(1, renewed.expiringKeyCount());
    assertEquals(List.of(), renewed.dueExpiries(T0 + 5_000, 100));
    assertEquals(List.of(due("k", 2)), renewed.dueExpiries(T0 + 9_000, 100));

    ReplicaState deleted = applied(putTtl(1, "k", "v1", T0 + 1_000), new LogEntry(2, 1, "k", null));
    assertEquals(0, deleted.expiringKeyCount());
  }

  @Test
  public void anExpiryEntryDeletesOnlyTheVersionItWasMeantFor() {
    ReplicaState before = applied(putTtl(1, "k", "v1", T0 + 1_000), put(2, "other", "o"));
    // the expiry was logged for version 1, then a newer write (index 3) came first in the log
    ReplicaState rewritten = before.append(1, 2, List.of(put(3, "k", "v3"), expire(4, due("k", 1))), 4, 1000);
    assertEquals(Optional.of(new VersionedValue("v3", 3, 0)), rewritten.get("k"));
    assertEquals(Optional.of(new EntryOutcome.Expired(1, 0)), rewritten.outcome(4, 1));

    ReplicaState expired = before.append(1, 2, List.of(expire(3, due("k", 1), due("absent", 7))), 3, 1000);
    assertEquals(Optional.empty(), expired.get("k"));
    assertEquals(Optional.of(new EntryOutcome.Expired(1, 1)), expired.outcome(3, 1));
    assertEquals(0, expired.expiringKeyCount());
    assertEquals(applied(put(1, "other", "o")).digest(), expired.digest());
    assertEquals(1, expired.keyCount());

    // an expiry entry never deletes a key that has no TTL, whatever version it names
    ReplicaState permanent = applied(put(1, "p", "v"), expire(2, due("p", 1)));
    assertEquals(Optional.of(new VersionedValue("v", 1, 0)), permanent.get("p"));
  }

  @Test
  public void everyReplicaDropsTheKeysAtTheSameLogPositionWhateverTheBatching() {
    List<LogEntry> log = new ArrayList<>();
    long index = 0;
    for (int i = 0; i < 30; i++) {
      log.add(putTtl(++index, "k" + (i % 7), "v" + i, T0 + i * 100L));
      if (i % 4 == 3) {
        log.add(put(++index, "k" + (i % 5), "plain" + i));
      }
      if (i % 6 == 5) {
        // what a leader would log at this point: every key due by then, with its version
        ReplicaState sofar = applied(log.toArray(new LogEntry[0]));
        List<WriteCommand.ExpiredKey> due = sofar.dueExpiries(T0 + i * 60L, 500);
        if (!due.isEmpty()) {
          log.add(expire(++index, due.toArray(new WriteCommand.ExpiredKey[0])));
        }
      }
    }
    ReplicaState all = applied(log.toArray(new LogEntry[0]));
    ReplicaState stepwise = ReplicaState.empty();
    for (LogEntry e : log) {
      stepwise = stepwise.append(1, e.index() - 1, List.of(e), e.index() - 1, 1000); // committed one later
    }
    stepwise = stepwise.append(1, index, List.of(), index, 1000);
    ReplicaState inThrees = ReplicaState.empty();
    for (int from = 0; from < log.size(); from += 3) {
      List<LogEntry> batch = log.subList(from, Math.min(log.size(), from + 3));
      inThrees = inThrees.append(1, batch.get(0).index() - 1, batch, batch.get(batch.size() - 1).index(), 7);
    }
    assertTrue("some expiry entry deleted a key", log.stream().anyMatch(e -> e.command() instanceof WriteCommand.Expire
        && ((EntryOutcome.Expired) all.outcome(e.index(), 1).orElseThrow()).deleted() > 0));
    for (ReplicaState other : List.of(stepwise, inThrees)) {
      assertEquals(all.digest(), other.digest());
      assertEquals(all.keyCount(), other.keyCount());
      assertEquals(all.range("", null, 1000).items(), other.range("", null, 1000).items());
      assertEquals(all.dueExpiries(Long.MAX_VALUE, 1000), other.dueExpiries(Long.MAX_VALUE, 1000));
    }
  }

  @Test
  public void aStateTransferCarriesTheExpiries() {
    ReplicaState source = applied(putTtl(1, "a", "1", T0 + 5_000), put(2, "b", "2"), putTtl(3, "c", "3", T0 + 1_000));
    List<List<KeyValue>> chunks = new ArrayList<>();
    source.forEachChunk(2, chunks::add);
    ReplicaState target = applied(putTtl(1, "stale", "x", T0));
    for (int i = 0; i < chunks.size(); i++) {
      target = target.installChunk(2, 3, 1, i == 0, i == chunks.size() - 1, chunks.get(i));
    }
    assertEquals(source.range("", null, 10).items(), target.range("", null, 10).items());
    assertEquals(source.dueExpiries(Long.MAX_VALUE, 10), target.dueExpiries(Long.MAX_VALUE, 10));
    assertEquals(source.digest(), target.digest());
  }

  @Test
  public void aSnapshotKeepsTheExpiriesAndOldSnapshotsAndEntriesStillRead() throws Exception {
    ActorTestKit testKit = ActorTestKit.create("replica-state-ttl-serialization",
        TestConfig.local(TestConfig.newDataDir("replica-state-ttl"), ""));
    try {
      Serialization serialization = SerializationExtension.get(testKit.system().classicSystem());
      Serializer serializer = serialization.serializerFor(ReplicaState.class);
      ReplicaState source = applied(putTtl(1, "a", "1", T0 + 5_000), put(2, "b", "2"), putTtl(3, "c", "3", T0 + 1_000),
          putTtl(4, "d", "4", T0 + 9_000));
      ReplicaState copy = (ReplicaState) serialization.deserialize(serializer.toBinary(source), serializer.identifier(),
          Serializers.manifestFor(serializer, source)).get();
      assertEquals(source.range("", null, 10).items(), copy.range("", null, 10).items());
      assertEquals(List.of(due("c", 3), due("a", 1)), copy.dueExpiries(T0 + 5_000, 10));
      assertEquals(source.digest(), copy.digest());
      // still a working state: the expiry applies on the copy
      ReplicaState later = copy.append(1, 4, List.of(expire(5, due("c", 3))), 5, 1000);
      assertEquals(Optional.empty(), later.get("c"));

      CBORMapper cbor = new CBORMapper();
      // a key without a TTL is written as before TTLs existed
      Map<?, ?> written = cbor.readValue(serializer.toBinary(applied(put(1, "b", "2"))), Map.class);
      assertEquals(Map.of("b", Map.of("value", "2", "version", 1)), written.get("entries"));

      // a snapshot written before TTLs: entries without expiresAt
      Map<String, Object> old = new LinkedHashMap<>();
      old.put("entries", Map.of("x", Map.of("value", "1", "version", 3)));
      old.put("appliedIndex", 3);
      old.put("baseIndex", 3);
      old.put("baseTerm", 1);
      old.put("log", List.of());
      old.put("promisedTerm", 1);
      old.put("promisedTo", "");
      ReplicaState fromOld = (ReplicaState) serialization.deserialize(cbor.writeValueAsBytes(old),
          serializer.identifier(), ReplicaState.class.getName()).get();
      assertEquals(Optional.of(new VersionedValue("1", 3, 0)), fromOld.get("x"));
      assertEquals(0, fromOld.expiringKeyCount());

      // entries journaled before TTLs: a compare-and-set and a transaction without ttl fields
      Serializer entries = serialization.serializerFor(LogEntry.class);
      Map<String, Object> cas = new LinkedHashMap<>();
      cas.put("index", 5);
      cas.put("term", 2);
      cas.put("key", "k");
      cas.put("value", null);
      cas.put("command", Map.of("@type", "if-version", "key", "k", "value", "v", "ifVersion", 0));
      cas.put("delete", false);
      LogEntry oldCas = (LogEntry) serialization.deserialize(cbor.writeValueAsBytes(cas), entries.identifier(),
          LogEntry.class.getName()).get();
      assertEquals(LogEntry.of(5, 2, new WriteCommand.IfVersion("k", "v", 0)), oldCas);
      Map<String, Object> txn = new LinkedHashMap<>(cas);
      txn.put("key", "");
      txn.put("command", Map.of("@type", "txn", "compare", List.of(),
          "success", List.of(Map.of("op", "PUT", "key", "a", "value", "1")), "failure", List.of()));
      LogEntry oldTxn = (LogEntry) serialization.deserialize(cbor.writeValueAsBytes(txn), entries.identifier(),
          LogEntry.class.getName()).get();
      assertEquals(WriteCommand.TxnOp.put("a", "1"), ((WriteCommand.Txn) oldTxn.command()).success().get(0));

      // commands without a TTL are written without the new fields; TTL commands round-trip
      Map<?, ?> casWritten = cbor.readValue(entries.toBinary(LogEntry.of(5, 2, new WriteCommand.IfVersion("k", "v", 0))),
          Map.class);
      assertFalse(casWritten.toString(), ((Map<?, ?>) casWritten.get("command")).containsKey("ttlMs"));
      assertFalse(casWritten.toString(), ((Map<?, ?>) casWritten.get("command")).containsKey("expiresAt"));
      for (WriteCommand c : List.of(new WriteCommand.Put("k", "v", 1_000, T0),
          new WriteCommand.IfVersion("k", "v", 3, 1_000, T0),
          new WriteCommand.Expire(List.of(due("a", 1), due("b", 2))),
          new WriteCommand.Txn(List.of(), List.of(new WriteCommand.TxnOp(WriteCommand.OpType.PUT, "a", "1", 1_000, T0)),
              List.of()))) {
        LogEntry entry = LogEntry.of(9, 3, c);
        assertEquals(entry, serialization.deserialize(entries.toBinary(entry), entries.identifier(),
            LogEntry.class.getName()).get());
      }
    } finally {
      testKit.shutdownTestKit();
    }
  }
}
