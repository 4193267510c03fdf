package quorumkv.replication;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.List;
import java.util.stream.Collectors;
import org.junit.Test;
import quorumkv.storage.LogEntry;

public class RetainedLogTest {

  /** key "k" + index, value "v" + index: 32 + 2 + 2 = 36 approximate bytes for indexes 1..9. */
  private static LogEntry entry(long index) {
    return new LogEntry(index, 1, "k" + index, "v" + index);
  }

  private static RetainedLog logWith(int capacity, long from, long to) {
    RetainedLog log = new RetainedLog(capacity, from - 1, 0);
    for (long i = from; i <= to; i++) {
      log.append(entry(i));
    }
    return log;
  }

  private static List<Long> indexes(List<LogEntry> entries) {
    return entries.stream().map(LogEntry::index).collect(Collectors.toList());
  }

  @Test
  public void committedEntriesGoFirstWhenTheLogHoldsMoreBytesThanAllowed() {
    RetainedLog log = logWith(100, 1, 9); // 9 entries of 36 approximate bytes
    assertEquals(9 * 36, log.bytes());

    log.trimCommitted(5, 4 * 36); // only entries up to the commit index may go
    assertEquals(6, log.firstIndex());
    assertEquals(1, log.termAt(5)); // the base keeps the last dropped entry's term
    assertEquals(-1, log.termAt(4));
    assertEquals(4 * 36, log.bytes());

    log.trimCommitted(9, 10 * 36); // within the bound: nothing goes
    assertEquals(6, log.firstIndex());
    log.trimCommitted(9, 0);
    assertEquals(10, log.firstIndex());
    assertEquals(0, log.bytes());
    log.append(entry(10));
    assertEquals(List.of(10L), indexes(log.slice(10, 10, 1000)));
  }

  @Test
  public void entriesAppendedInOrderAreAllHeldWhileThereIsRoom() {
    RetainedLog log = logWith(10, 1, 4);

    assertEquals(1, log.firstIndex());
    assertEquals(4, log.lastIndex());
    assertFalse(log.holds(0));
    assertTrue(log.holds(1));
    assertTrue(log.holds(4));
    assertFalse(log.holds(5));
    assertEquals(List.of(entry(1), entry(2), entry(3), entry(4)), log.slice(1, 100, Long.MAX_VALUE));
  }

  @Test
  public void anEmptyLogHoldsNothingAndStartsAfterItsLastIndex() {
    RetainedLog log = new RetainedLog(5, 0, 0);

    assertEquals(1, log.firstIndex());
    assertEquals(0, log.lastIndex());
    assertFalse(log.holds(0));
    assertFalse(log.holds(1));
  }

  @Test
  public void wrappingTheRingKeepsOnlyTheLastCapacityEntries() {
    RetainedLog log = logWith(3, 1, 7);

    assertEquals(5, log.firstIndex());
    assertEquals(7, log.lastIndex());
    assertFalse(log.holds(4));
    assertTrue(log.holds(5));
    assertTrue(log.holds(7));
    assertEquals(List.of(entry(5), entry(6), entry(7)), log.slice(5, 100, Long.MAX_VALUE));
    assertEquals(List.of(entry(6), entry(7)), log.slice(6, 100, Long.MAX_VALUE));
  }

  @Test
  public void theFirstIndexMovesOneByOneOnceTheRingIsFull() {
    RetainedLog log = new RetainedLog(4, 0, 0);
    for (long i = 1; i <= 4; i++) {
      log.append(entry(i));
      assertEquals(1, log.firstIndex());
    }
    for (long i = 5; i <= 13; i++) {
      log.append(entry(i));
      assertEquals(i - 3, log.firstIndex());
      assertEquals(i, log.lastIndex());
      assertEquals(List.of(i - 3, i - 2, i - 1, i), indexes(log.slice(i - 3, 100, Long.MAX_VALUE)));
    }
  }

  @Test
  public void aRingOfOneHoldsTheLatestEntry() {
    RetainedLog log = logWith(1, 1, 3);

    assertEquals(3, log.firstIndex());
    assertEquals(List.of(entry(3)), log.slice(3, 10, Long.MAX_VALUE));
  }

  @Test
  public void sliceStopsAtMaxEntries() {
    RetainedLog log = logWith(10, 1, 8);

    assertEquals(List.of(2L, 3L, 4L), indexes(log.slice(2, 3, Long.MAX_VALUE)));
    assertEquals(List.of(8L), indexes(log.slice(8, 3, Long.MAX_VALUE)));
    assertEquals(List.of(1L), indexes(log.slice(1, 1, Long.MAX_VALUE)));
  }

  @Test
  public void sliceStopsBeforeTheEntryThatWouldExceedMaxBytes() {
    RetainedLog log = logWith(10, 1, 8);
    long size = entry(1).approximateBytes();
    assertEquals(36, size);

    assertEquals(List.of(1L, 2L), indexes(log.slice(1, 100, 2 * size)));
    assertEquals(List.of(1L), indexes(log.slice(1, 100, 2 * size - 1)));
    assertEquals(List.of(3L, 4L, 5L), indexes(log.slice(3, 100, 3 * size + 1)));
  }

  @Test
  public void sliceReturnsAtLeastOneEntryEvenIfItIsLargerThanMaxBytes() {
    RetainedLog log = new RetainedLog(10, 0, 0);
    log.append(new LogEntry(1, 1, "big", "x".repeat(10_000)));
    log.append(entry(2));

    assertEquals(List.of(1L), indexes(log.slice(1, 100, 1)));
    assertEquals(List.of(2L), indexes(log.slice(2, 100, 0)));
  }

  @Test
  public void slicingAnIndexNotHeldThrows() {
    RetainedLog log = logWith(3, 1, 7);

    assertThrows(IllegalArgumentException.class, () -> log.slice(4, 10, Long.MAX_VALUE));
    assertThrows(IllegalArgumentException.class, () -> log.slice(8, 10, Long.MAX_VALUE));
    assertThrows(IllegalArgumentException.class, () -> log.slice(0, 10, Long.MAX_VALUE));
    assertThrows(IllegalArgumentException.class, () -> new RetainedLog(3, 0, 0).slice(1, 10, Long.MAX_VALUE));
  }

  @Test
  public void appendingOutOfOrderThrowsAndLeavesTheLogAsItWas() {
    RetainedLog log = logWith(10, 1, 5);

    assertThrows(IllegalArgumentException.class, () -> log.append(entry(7)));
    assertThrows(IllegalArgumentException.class, () -> log.append(entry(5)));
    assertThrows(IllegalArgumentException.class, () -> log.append(entry(1)));

    assertEquals(1, log.firstIndex());
    assertEquals(5, log.lastIndex());
    assertEquals(List.of(1L, 2L, 3L, 4L, 5L), indexes(log.slice(1, 100, Long.MAX_VALUE)));
    log.append(entry(6));
    assertEquals(6, log.lastIndex());
  }

  @Test
  public void aLogCreatedAtIndex100StartsAt101() {
    RetainedLog log = new RetainedLog(10, 100, 0);

    assertEquals(101, log.firstIndex());
    assertEquals(100, log.lastIndex());
    assertFalse(log.holds(100));
    assertThrows(IllegalArgumentException.class, () -> log.append(entry(1)));
    assertThrows(IllegalArgumentException.class, () -> log.append(entry(102)));

    log.append(entry(101));
    log.append(entry(102));

    assertEquals(101, log.firstIndex());
    assertEquals(List.of(entry(101), entry(102)), log.slice(101, 10, Long.MAX_VALUE));
    assertFalse(log.holds(100));
  }

  @Test
  public void aCapacityBelowOneIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> new RetainedLog(0, 0, 0));
  }
}
