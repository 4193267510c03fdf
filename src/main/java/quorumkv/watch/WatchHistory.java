package quorumkv.watch;

import java.nio.file.Path;
import java.sql.SQLException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import quorumkv.config.Settings;
import quorumkv.storage.EntryChanges;

/**
 * The changes this node's replica applied, kept for watch streams: the last
 * {@code WATCH_HISTORY} key changes (at most about {@code WATCH_HISTORY_BYTES}), in memory and in
 * a SQLite file of their own, and the streams watching them.
 *
 * <p>Fed by the replica's event handler ({@link #applied}), on the live path and for every event
 * replayed at recovery alike. The file is written off the replica's path: changes applied within
 * {@code historyWriteDelay} go to it together, in one transaction on a thread of the history's
 * own ({@link #write}), and the replica has the history written before each snapshot it takes.
 * Why a crash leaves no gap: every entry a snapshot covers was written here first, and deleting
 * the events behind a snapshot deletes nothing the history still needs; an entry whose record was
 * not written yet when the process died is after the last snapshot, so recovery replays its event
 * and the handler records it again (rows at or below {@code through} are not written twice). If
 * {@code through} is ever behind the state the replica recovers from (power loss with
 * {@code synchronous=NORMAL}, a replica file replaced, a full state transfer), the changes in
 * between are unknown: the floor is raised to that state's index, so a watcher resuming from
 * before it gets 410 instead of a stream with a hole.
 *
 * <p>Hand-over from replay to live: {@link #subscribe} copies the retained changes after
 * {@code since} and registers the watcher under the same lock that {@link #applied} holds while
 * it records and delivers an entry. Every entry is therefore either already retained (replayed)
 * or applied after the registration (delivered live), never both and never neither; each watcher
 * also remembers the last id it was given and skips anything at or below it.
 *
 * <p>Delivery never blocks the replica: a {@link Watcher} takes an event or refuses it (its
 * bounded buffer is full, or its client is gone), and a refusing watcher is dropped.
 */
public final class WatchHistory implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(WatchHistory.class);

  /** Where one stream's events go; called under the history's lock, so it must not block. */
  public interface Watcher {
    /** Queues {@code event}; false when it cannot (too far behind, or closed): it is then dropped. */
    boolean offer(WatchEvent event);

    /** The history can no longer serve this watcher continuously (its replica was replaced). */
    void end(String reason);
  }

  /** What a new watcher gets first, and how it stops watching. */
  public record Subscription(List<WatchEvent> replay, long startAfter, Runnable cancel) {}

  private static final class Subscriber {
    final WatchFilter filter;
    final Watcher watcher;
    long lastId;
    long lastOfferNanos;

    Subscriber(WatchFilter filter, Watcher watcher, long lastId, long now) {
      this.filter = filter;
      this.watcher = watcher;
      this.lastId = lastId;
      this.lastOfferNanos = now;
    }
  }

  private final Settings.Watch settings;
  /** Null: kept in memory only (tests). */
  private final HistoryStore store;
  /** Runs the delayed writes; null when changes are written at once (or not at all). */
  private final ScheduledExecutorService writer;
  /** Held while the store is written or closed, before this object's own lock, never after it. */
  private final Object storeLock = new Object();
  /** Retained changes the store does not have yet, oldest first. */
  private final ArrayDeque<EntryChanges> unwritten = new ArrayDeque<>();
  /** The floor and through the store holds. */
  private long writtenFloor;
  private long writtenThrough;
  private boolean writeScheduled;
  /** No more delayed writes are scheduled once closing; the store is not written once closed. */
  private boolean closing;
  private boolean closed;
  private final ArrayDeque<EntryChanges> retained = new ArrayDeque<>();
  private long retainedChanges;
  private long retainedBytes;
  /** Every change with a version above this is retained. */
  private long floor;
  /** The applied index the history is complete up to. */
  private long through;
  private final Map<Long, Subscriber> subscribers = new LinkedHashMap<>();
  private long nextSubscriber;

  private WatchHistory(Settings.Watch settings, HistoryStore store) {
    this.settings = settings;
    this.store = store;
    this.writer = store == null || settings.historyWriteDelay().isZero() ? null
        : Executors.newSingleThreadScheduledExecutor(task -> {
          Thread thread = new Thread(task, "watch-history-writer");
          thread.setDaemon(true);
          return thread;
        });
  }

  /** The history in {@code file}, created if missing, with what it held loaded (and trimmed to the bounds). */
  public static WatchHistory open(Path file, Settings.Watch settings) throws SQLException {
    HistoryStore store = new HistoryStore(file);
    WatchHistory history = new WatchHistory(settings, store);
    HistoryStore.Loaded loaded = store.load();
    history.floor = loaded.floor();
    history.writtenFloor = loaded.floor();
    history.through = loaded.through();
    history.writtenThrough = loaded.through();
    for (EntryChanges e : loaded.entries()) {
      if (e.version() > history.floor && e.version() <= history.through) {
        history.retain(e);
      }
    }
    history.evict();
    history.write();
    return history;
  }

  public static WatchHistory inMemory(Settings.Watch settings) {
    return new WatchHistory(settings, null);
  }

  /**
   * The replica went from applied index {@code fromIndex} to {@code toIndex}, and the entries in
   * between changed {@code changes} (in log order; entries that changed nothing are absent).
   */
  public void applied(long fromIndex, List<EntryChanges> changes, long toIndex) {
    boolean writeNow;
    synchronized (this) {
      if (toIndex <= through) {
        return; // recovery replaying entries recorded before the crash
      }
      if (fromIndex > through) {
        log.warn("Watch history ends at {} but the replica applies from {}: changes in between are unknown, "
            + "watchers may resume from {} on", through, fromIndex, fromIndex);
        dropAll(fromIndex, "this node's watch history has a gap before " + fromIndex);
      }
      long now = System.nanoTime();
      for (EntryChanges e : changes) {
        if (e.version() > through) {
          retain(e);
          unwritten.addLast(e);
          deliver(e, now);
        }
      }
      through = toIndex;
      evict();
      writeNow = scheduleWrite();
    }
    if (writeNow) {
      write();
    }
  }

  /**
   * Recovery of the replica is complete at {@code appliedIndex}: normally where the replayed
   * events left the history; otherwise the history does not match this replica and starts over there.
   */
  public void recovered(long appliedIndex) {
    synchronized (this) {
      if (through == appliedIndex) {
        return;
      }
      log.warn("Watch history is complete up to {} but the replica recovered at {}: it starts over at {}",
          through, appliedIndex, appliedIndex);
    }
    reset(appliedIndex, "this node's replica was replaced");
  }

  /** The replica's state was replaced by one at {@code index} (a full state transfer): changes before it are unknown. */
  public void reset(long index, String reason) {
    synchronized (this) {
      dropAll(index, reason);
      through = index;
    }
    write();
  }

  /**
   * Writes to the file every change it does not have yet, in one transaction, and returns once
   * written. The replica calls it before each snapshot it takes; otherwise it runs on the
   * history's own thread, {@code historyWriteDelay} after a change. A failed write is logged and
   * its changes stay unwritten: the next write takes them again.
   */
  public void write() {
    synchronized (storeLock) {
      List<EntryChanges> rows;
      long cutFloor;
      long cutThrough;
      boolean floorMoved;
      synchronized (this) {
        writeScheduled = false;
        if (store == null || closed
            || (unwritten.isEmpty() && floor == writtenFloor && through == writtenThrough)) {
          return;
        }
        rows = new ArrayList<>(unwritten);
        cutFloor = floor;
        cutThrough = through;
        floorMoved = floor != writtenFloor;
      }
      try {
        store.write(rows, cutFloor, floorMoved, cutThrough);
      } catch (SQLException e) {
        // Served from memory meanwhile; a restart finds the history behind the replica and raises the floor.
        log.error("Writing the watch history failed (through {}): {}", cutThrough, e.toString());
        return;
      }
      synchronized (this) {
        writtenFloor = cutFloor;
        writtenThrough = cutThrough;
        long last = rows.isEmpty() ? Long.MIN_VALUE : rows.get(rows.size() - 1).version();
        while (!unwritten.isEmpty() && unwritten.peekFirst().version() <= last) {
          unwritten.removeFirst();
        }
      }
    }
  }

  /** Called with this object's lock held after a change: whether the caller must write now (no delay). */
  private boolean scheduleWrite() {
    if (writer == null) {
      return store != null;
    }
    if (!writeScheduled && !closing) {
      writeScheduled = true;
      writer.schedule(this::write, settings.historyWriteDelay().toNanos(), TimeUnit.NANOSECONDS);
    }
    return false;
  }

  /**
   * Registers {@code watcher} for changes to {@code filter} after {@code since} (empty: after this
   * node's applied index). The changes already retained come back as the replay, to be sent before
   * anything the watcher is offered.
   */
  public synchronized Subscription subscribe(WatchFilter filter, OptionalLong since, Watcher watcher)
      throws HistoryGone {
    long after = since.orElse(through);
    if (after < floor) {
      throw new HistoryGone(after, floor);
    }
    List<WatchEvent> replay = new ArrayList<>();
    if (after < through) {
      Iterator<EntryChanges> back = retained.descendingIterator();
      while (back.hasNext()) {
        EntryChanges e = back.next();
        if (e.version() <= after) {
          break;
        }
        EntryChanges selected = filter.select(e);
        if (selected != null) {
          replay.add(new WatchEvent.Changed(selected));
        }
      }
      Collections.reverse(replay);
    }
    long id = nextSubscriber++;
    subscribers.put(id, new Subscriber(filter, watcher, Math.max(after, through), System.nanoTime()));
    return new Subscription(replay, after, () -> cancel(id));
  }

  private synchronized void cancel(long id) {
    subscribers.remove(id);
  }

  /** Sends a progress event to every watcher that was sent nothing for the progress interval. */
  public synchronized void progress(long nowNanos) {
    long interval = settings.progressInterval().toNanos();
    for (Iterator<Subscriber> it = subscribers.values().iterator(); it.hasNext(); ) {
      Subscriber s = it.next();
      if (nowNanos - s.lastOfferNanos >= interval) {
        long id = Math.max(through, s.lastId);
        if (s.watcher.offer(new WatchEvent.Progress(id))) {
          s.lastId = id;
          s.lastOfferNanos = nowNanos;
        } else {
          it.remove();
        }
      }
    }
  }

  /** The smallest {@code since} that can still be served. */
  public synchronized long floor() {
    return floor;
  }

  /** The applied index the history is complete up to. */
  public synchronized long through() {
    return through;
  }

  public synchronized long retainedChanges() {
    return retainedChanges;
  }

  public synchronized long retainedBytes() {
    return retainedBytes;
  }

  public synchronized int watchers() {
    return subscribers.size();
  }

  private void deliver(EntryChanges e, long now) {
    for (Iterator<Subscriber> it = subscribers.values().iterator(); it.hasNext(); ) {
      Subscriber s = it.next();
      if (e.version() <= s.lastId) {
        continue;
      }
      EntryChanges selected = s.filter.select(e);
      if (selected == null) {
        continue;
      }
      if (s.watcher.offer(new WatchEvent.Changed(selected))) {
        s.lastId = e.version();
        s.lastOfferNanos = now;
      } else {
        it.remove();
      }
    }
  }

  private void retain(EntryChanges e) {
    retained.addLast(e);
    retainedChanges += e.changes().size();
    retainedBytes += e.approximateBytes();
  }

  /** Drops the oldest entries beyond the bounds. */
  private void evict() {
    while (!retained.isEmpty()
        && (retainedChanges > settings.historyChanges() || retainedBytes > settings.historyBytes())) {
      EntryChanges e = retained.removeFirst();
      retainedChanges -= e.changes().size();
      retainedBytes -= e.approximateBytes();
      floor = e.version();
    }
    while (!unwritten.isEmpty() && unwritten.peekFirst().version() <= floor) {
      unwritten.removeFirst();
    }
  }

  private void dropAll(long newFloor, String reason) {
    retained.clear();
    unwritten.clear();
    retainedChanges = 0;
    retainedBytes = 0;
    floor = newFloor;
    for (Subscriber s : subscribers.values()) {
      s.watcher.end(reason + "; changes after " + newFloor + " can be watched again");
    }
    subscribers.clear();
  }

  /** Writes what is not written yet and closes the file; changes applied afterwards stay in memory. */
  @Override
  public void close() {
    synchronized (this) {
      closing = true;
    }
    if (writer != null) {
      writer.shutdownNow();
    }
    write();
    synchronized (storeLock) {
      synchronized (this) {
        if (store == null || closed) {
          return;
        }
        closed = true;
      }
      try {
        store.close();
      } catch (SQLException e) {
        log.warn("Closing the watch history failed: {}", e.toString());
      }
    }
  }
}
