package quorumkv.replication;

import java.util.ArrayList;
import java.util.List;
import quorumkv.core.Replication;
import quorumkv.storage.LogEntry;

/**
 * The leader's in-memory tail of the log, for resending to followers: the last {@code capacity}
 * entries in a ring. A follower that needs an entry older than {@link #firstIndex()} gets a full
 * state transfer instead.
 */
final class RetainedLog implements Replication.Log {
  private final LogEntry[] ring;
  private long firstIndex;
  private long lastIndex;
  /** The term of the entry just before {@code firstIndex}. */
  private long baseTerm;

  /** An empty log whose next entry will be {@code lastIndex + 1}; {@code lastTerm} is that entry's term. */
  RetainedLog(int capacity, long lastIndex, long lastTerm) {
    if (capacity < 1) throw new IllegalArgumentException("capacity must be >= 1");
    this.ring = new LogEntry[capacity];
    this.lastIndex = lastIndex;
    this.firstIndex = lastIndex + 1;
    this.baseTerm = lastTerm;
  }

  /** The term of the entry at {@code index}, or -1 if it is neither held nor just before the first. */
  @Override
  public long termAt(long index) {
    if (index == firstIndex - 1) {
      return baseTerm;
    }
    return holds(index) ? ring[slot(index)].term() : -1;
  }

  void append(LogEntry entry) {
    if (entry.index() != lastIndex + 1) {
      throw new IllegalArgumentException("entry " + entry.index() + " does not follow " + lastIndex);
    }
    LogEntry evicted = ring[slot(entry.index())];
    long evictedTerm = evicted == null ? baseTerm : evicted.term();
    ring[slot(entry.index())] = entry;
    lastIndex = entry.index();
    if (lastIndex - firstIndex + 1 > ring.length) {
      // the oldest entry was just overwritten: it becomes the base
      firstIndex++;
      baseTerm = evictedTerm;
    }
  }

  /** The oldest index still held; {@code lastIndex() + 1} when empty. */
  long firstIndex() {
    return firstIndex;
  }

  @Override
  public long lastIndex() {
    return lastIndex;
  }

  @Override
  public boolean holds(long index) {
    return index >= firstIndex && index <= lastIndex;
  }

  /** Entries from {@code from} on, at most {@code maxEntries} and about {@code maxBytes}, at least one. */
  List<LogEntry> slice(long from, int maxEntries, long maxBytes) {
    if (!holds(from)) {
      throw new IllegalArgumentException("index " + from + " not retained (" + firstIndex + ".." + lastIndex + ")");
    }
    int count = (int) Math.min(maxEntries, lastIndex - from + 1);
    List<LogEntry> out = new ArrayList<>(count);
    long bytes = 0;
    for (long i = from; i < from + count; i++) {
      LogEntry e = ring[slot(i)];
      bytes += e.approximateBytes();
      if (!out.isEmpty() && bytes > maxBytes) {
        break;
      }
      out.add(e);
    }
    return out;
  }

  private int slot(long index) {
    return (int) (index % ring.length);
  }
}
