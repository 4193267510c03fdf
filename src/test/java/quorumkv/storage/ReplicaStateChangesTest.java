package quorumkv.storage;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.Test;

/**
 * What each kind of entry changed, as the watch history is fed: recorded where the key map
 * changes, so puts, deletes, compare-and-sets, prefix deletes and transactions all yield theirs,
 * and entries that change nothing yield nothing.
 */
public class ReplicaStateChangesTest {

  private static List<EntryChanges> apply(ReplicaState[] state, LogEntry... entries) {
    List<EntryChanges> out = new ArrayList<>();
    state[0] = state[0].append(1, state[0].lastIndex(), List.of(entries), Long.MAX_VALUE, 1000, out);
    return out;
  }

  private static EntryChanges changes(long version, KeyChange... changes) {
    return new EntryChanges(version, List.of(changes));
  }

  @Test
  public void aVersionCompareHoldsForEqualVersionsOfAnySize() {
    for (long v : new long[] {1, 127, 128, 1000, Long.MAX_VALUE}) {
      assertTrue(v + "", WriteCommand.Compare.version("k", v).holds(Optional.of(new VersionedValue("x", v, 0))));
      assertFalse(v + "", WriteCommand.Compare.version("k", v).holds(Optional.of(new VersionedValue("x", v - 1, 0))));
    }
    assertTrue(WriteCommand.Compare.version("k", 0).holds(Optional.empty()));
    assertFalse(WriteCommand.Compare.version("k", 200).holds(Optional.empty()));
  }

  @Test
  public void everyKindOfEntryYieldsItsChangesInLogOrder() {
    ReplicaState[] s = {ReplicaState.empty()};
    assertEquals(List.of(
            changes(1, new KeyChange("app/a", "1")),
            changes(2, new KeyChange("app/b", "2")),
            changes(3, new KeyChange("app/a", null))),
        apply(s, new LogEntry(1, 1, "app/a", "1"), new LogEntry(2, 1, "app/b", "2"),
            new LogEntry(3, 1, "app/a", null)));
    assertEquals("a delete of an absent key and a failed compare-and-set change nothing", List.of(),
        apply(s, new LogEntry(4, 1, "app/a", null), LogEntry.of(5, 1, new WriteCommand.IfVersion("app/b", "x", 7))));
    assertEquals(List.of(changes(6, new KeyChange("app/b", "3"))),
        apply(s, LogEntry.of(6, 1, new WriteCommand.IfVersion("app/b", "3", 2))));
    assertEquals(List.of(changes(7, new KeyChange("app/c", "4"), new KeyChange("other", "5"),
            new KeyChange("app/b", null))),
        apply(s, LogEntry.of(7, 1, new WriteCommand.Txn(List.of(WriteCommand.Compare.exists("app/b", true)),
            List.of(WriteCommand.TxnOp.put("app/c", "4"), WriteCommand.TxnOp.put("other", "5"),
                WriteCommand.TxnOp.get("other"), WriteCommand.TxnOp.delete("app/b"), WriteCommand.TxnOp.delete("nope")),
            List.of()))));
    assertEquals(List.of(changes(8, new KeyChange("app/c", null))),
        apply(s, LogEntry.of(8, 1, new WriteCommand.DeletePrefix("app/"))));
    assertEquals(8, s[0].appliedIndex());
  }

  @Test
  public void entriesAppliedOnlyOnceCommitted() {
    ReplicaState s = ReplicaState.empty();
    List<EntryChanges> out = new ArrayList<>();
    s = s.append(1, 0, List.of(new LogEntry(1, 1, "k", "1"), new LogEntry(2, 1, "k", "2")), 1, 1000, out);
    assertEquals(List.of(changes(1, new KeyChange("k", "1"))), out);
    out.clear();
    s = s.append(1, 2, List.of(), 2, 1000, out);
    assertEquals(List.of(changes(2, new KeyChange("k", "2"))), out);
  }
}
