package quorumkv.watch;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.Test;
import quorumkv.TestConfig;
import quorumkv.config.Settings;
import quorumkv.storage.EntryChanges;
import quorumkv.storage.KeyChange;

/**
 * The watch history: bounded by changes and bytes, 410 exactly below its floor, a replay and the
 * live changes after it meeting without a gap or a repeat, and what a restart of the store keeps.
 */
public class WatchHistoryTest {

  private static Settings.Watch limits(int changes, long bytes) {
    return new Settings.Watch(changes, bytes, 1000, Duration.ofSeconds(15), Duration.ZERO);
  }

  private static EntryChanges put(long version, String key) {
    return new EntryChanges(version, List.of(new KeyChange(key, "v" + version)));
  }

  /** Applies entries 1..n, each a put of {@code key}, one at a time. */
  private static void putAll(WatchHistory h, long from, long to, String key) {
    for (long v = from; v <= to; v++) {
      h.applied(v - 1, List.of(put(v, key)), v);
    }
  }

  /** A watcher that keeps everything it is offered, up to {@code capacity}. */
  static final class Collecting implements WatchHistory.Watcher {
    final ConcurrentLinkedQueue<WatchEvent> events = new ConcurrentLinkedQueue<>();
    private final java.util.concurrent.atomic.AtomicInteger size = new java.util.concurrent.atomic.AtomicInteger();
    final int capacity;
    volatile String ended;

    Collecting(int capacity) {
      this.capacity = capacity;
    }

    @Override
    public boolean offer(WatchEvent event) {
      if (size.get() >= capacity) {
        return false;
      }
      size.incrementAndGet();
      events.add(event);
      return true;
    }

    @Override
    public void end(String reason) {
      ended = reason;
    }
  }

  private static List<Long> ids(List<WatchEvent> replay, Collecting live) {
    List<Long> ids = new ArrayList<>();
    replay.forEach(e -> ids.add(e.id()));
    live.events.forEach(e -> ids.add(e.id()));
    return ids;
  }

  private static List<Long> range(long fromExclusive, long toInclusive) {
    List<Long> out = new ArrayList<>();
    for (long v = fromExclusive + 1; v <= toInclusive; v++) {
      out.add(v);
    }
    return out;
  }

  private static void assertGone(WatchHistory h, long since, long oldest) {
    try {
      h.subscribe(WatchFilter.prefix(""), OptionalLong.of(since), new Collecting(10));
      fail("since " + since + " must be refused below the floor " + oldest);
    } catch (HistoryGone gone) {
      assertEquals(oldest, gone.oldestVersion());
      assertEquals(since, gone.since());
    }
  }

  @Test
  public void keepsTheLastChangesWithinTheCountAnd410sBelowThem() throws Exception {
    WatchHistory h = WatchHistory.inMemory(limits(5, 1 << 20));
    putAll(h, 1, 10, "k");
    assertEquals(5, h.retainedChanges());
    assertEquals(5, h.floor());
    assertGone(h, 4, 5);
    assertGone(h, 0, 5);
    Collecting w = new Collecting(100);
    WatchHistory.Subscription s = h.subscribe(WatchFilter.key("k"), OptionalLong.of(5), w);
    assertEquals(range(5, 10), ids(s.replay(), w));
  }

  @Test
  public void aTransactionCountsEachOfItsChanges() throws Exception {
    WatchHistory h = WatchHistory.inMemory(limits(4, 1 << 20));
    h.applied(0, List.of(new EntryChanges(1, List.of(new KeyChange("a", "1"), new KeyChange("b", "1"),
        new KeyChange("c", null)))), 1);
    h.applied(1, List.of(put(2, "a")), 2);
    assertEquals(4, h.retainedChanges());
    assertEquals(0, h.floor());
    h.applied(2, List.of(put(3, "a")), 3);
    assertEquals("the transaction goes as a whole", 2, h.retainedChanges());
    assertEquals(1, h.floor());
  }

  @Test
  public void keepsTheLastChangesWithinTheBytes() throws Exception {
    long each = put(1, "key").approximateBytes();
    WatchHistory h = WatchHistory.inMemory(limits(1000, 3 * each));
    putAll(h, 1, 9, "key");
    assertEquals(3, h.retainedChanges());
    assertTrue(h.retainedBytes() <= 3 * each);
    assertEquals(6, h.floor());
    assertGone(h, 5, 6);
    Collecting w = new Collecting(100);
    assertEquals(range(6, 9), ids(h.subscribe(WatchFilter.key("key"), OptionalLong.of(6), w).replay(), w));
  }

  @Test
  public void aNewWatcherWithoutSinceStartsAtTheAppliedIndex() throws Exception {
    WatchHistory h = WatchHistory.inMemory(limits(100, 1 << 20));
    putAll(h, 1, 3, "k");
    h.applied(3, List.of(), 7); // entries that changed nothing (a failed compare-and-set, say)
    Collecting w = new Collecting(100);
    WatchHistory.Subscription s = h.subscribe(WatchFilter.key("k"), OptionalLong.empty(), w);
    assertEquals(7, s.startAfter());
    assertTrue(s.replay().isEmpty());
    putAll(h, 8, 9, "k");
    assertEquals(List.of(8L, 9L), ids(s.replay(), w));
  }

  @Test
  public void onlyWatchedKeysAndOneEventPerEntry() throws Exception {
    WatchHistory h = WatchHistory.inMemory(limits(100, 1 << 20));
    Collecting w = new Collecting(100);
    h.subscribe(WatchFilter.prefix("app/"), OptionalLong.of(0), w);
    h.applied(0, List.of(put(1, "other")), 1);
    h.applied(1, List.of(new EntryChanges(2, List.of(new KeyChange("app/a", "1"), new KeyChange("x", "2"),
        new KeyChange("app/b", null)))), 2);
    List<WatchEvent> got = new ArrayList<>(w.events);
    assertEquals(1, got.size());
    EntryChanges c = ((WatchEvent.Changed) got.get(0)).changes();
    assertEquals(2, c.version());
    assertEquals(List.of(new KeyChange("app/a", "1"), new KeyChange("app/b", null)), c.changes());
  }

  /**
   * Watchers subscribe (with since anywhere in the retained history) while another thread applies
   * entries: each gets every version after its since exactly once, in order.
   */
  @Test
  public void replayThenLiveHasNoGapAndNoRepeat() throws Exception {
    WatchHistory h = WatchHistory.inMemory(limits(100_000, 1 << 30));
    int total = 5_000;
    // Applies in runs of 100 with a pause between them, so that watchers subscribe while entries
    // are applied also on a fast, quiet machine (in one go it can finish before the tenth).
    Thread writer = new Thread(() -> {
      for (int from = 1; from <= total; from += 100) {
        putAll(h, from, Math.min(total, from + 99), "k");
        try {
          Thread.sleep(1);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    });
    writer.start();
    record Watch(long since, WatchHistory.Subscription s, Collecting w) {}
    List<Watch> watches = new ArrayList<>();
    java.util.Random random = new java.util.Random(7);
    while (writer.isAlive() && watches.size() < 100) {
      long through = h.through();
      long since = through == 0 ? 0 : random.nextLong(through + 1);
      Collecting w = new Collecting(total + 1);
      watches.add(new Watch(since, h.subscribe(WatchFilter.key("k"), OptionalLong.of(since), w), w));
      Thread.yield();
    }
    writer.join();
    assertTrue("some watchers subscribed while entries were applied: " + watches.size(), watches.size() > 10);
    for (Watch x : watches) {
      assertEquals("since " + x.since(), range(x.since(), total), ids(x.s().replay(), x.w()));
    }
  }

  @Test
  public void aWatcherThatCannotKeepUpIsDropped() throws Exception {
    WatchHistory h = WatchHistory.inMemory(limits(100, 1 << 20));
    Collecting slow = new Collecting(3);
    Collecting fast = new Collecting(100);
    h.subscribe(WatchFilter.key("k"), OptionalLong.empty(), slow);
    h.subscribe(WatchFilter.key("k"), OptionalLong.empty(), fast);
    putAll(h, 1, 10, "k");
    assertEquals(3, slow.events.size());
    assertEquals(10, fast.events.size());
    assertEquals(1, h.watchers());
  }

  @Test
  public void anIdleWatcherGetsProgressAtTheAppliedIndex() throws Exception {
    WatchHistory h = WatchHistory.inMemory(new Settings.Watch(100, 1 << 20, 100, Duration.ofSeconds(15), Duration.ZERO));
    Collecting w = new Collecting(100);
    WatchHistory.Subscription s = h.subscribe(WatchFilter.key("k"), OptionalLong.empty(), w);
    h.applied(0, List.of(put(1, "other")), 1);
    h.progress(System.nanoTime());
    assertTrue("not idle long enough yet", w.events.isEmpty());
    h.progress(System.nanoTime() + Duration.ofSeconds(16).toNanos());
    assertEquals(List.of(new WatchEvent.Progress(1)), new ArrayList<>(w.events));
    s.cancel().run();
    assertEquals(0, h.watchers());
  }

  @Test
  public void survivesARestartOfTheStore() throws Exception {
    Path dir = TestConfig.tempDir("watch-history");
    Path file = dir.resolve("watch-node0.db");
    WatchHistory h = WatchHistory.open(file, limits(5, 1 << 20));
    putAll(h, 1, 8, "k");
    h.applied(8, List.of(new EntryChanges(9, List.of(new KeyChange("a", "x"), new KeyChange("k", null)))), 9);
    h.close();

    WatchHistory again = WatchHistory.open(file, limits(5, 1 << 20));
    assertEquals(9, again.through());
    assertEquals(5, again.floor());
    Collecting w = new Collecting(100);
    WatchHistory.Subscription s = again.subscribe(WatchFilter.prefix(""), OptionalLong.of(5), w);
    assertEquals(range(5, 9), ids(s.replay(), w));
    assertEquals(List.of(new KeyChange("a", "x"), new KeyChange("k", null)),
        ((WatchEvent.Changed) s.replay().get(3)).changes().changes());
    // recovery replays events from an older snapshot: nothing is recorded or delivered twice
    again.applied(6, List.of(put(7, "k"), put(8, "k")), 8);
    again.applied(8, List.of(new EntryChanges(9, List.of(new KeyChange("a", "x"), new KeyChange("k", null)))), 9);
    again.applied(9, List.of(put(10, "k")), 10);
    again.recovered(10);
    assertEquals(List.of(10L), ids(List.of(), w));
    assertEquals(5, again.retainedChanges());
    again.close();

    // smaller bounds after a restart trim what was kept
    WatchHistory smaller = WatchHistory.open(file, limits(2, 1 << 20));
    assertEquals(10, smaller.through());
    assertEquals(9, smaller.floor());
    smaller.close();
  }

  private static Settings.Watch writtenAfter(Duration delay) {
    return new Settings.Watch(100, 1 << 20, 1000, Duration.ofSeconds(15), delay);
  }

  /** What the file holds now, read through a connection of its own. */
  private static HistoryStore.Loaded onDisk(Path file) throws Exception {
    try (HistoryStore store = new HistoryStore(file)) {
      return store.load();
    }
  }

  @Test
  public void changesAreWrittenTogetherWhenAskedAndAtCloseNotOnTheReplicasPath() throws Exception {
    Path file = TestConfig.tempDir("watch-later").resolve("watch-node0.db");
    WatchHistory h = WatchHistory.open(file, writtenAfter(Duration.ofHours(1)));
    putAll(h, 1, 3, "k");
    assertEquals("served from memory at once", 3, h.through());
    assertEquals("not written yet", 0, onDisk(file).through());
    h.write(); // as the replica does before a snapshot
    assertEquals(3, onDisk(file).through());
    assertEquals(List.of(1L, 2L, 3L), onDisk(file).entries().stream().map(EntryChanges::version).toList());
    putAll(h, 4, 5, "k");
    h.close();
    assertEquals(5, onDisk(file).through());
    assertEquals(5, onDisk(file).entries().size());
  }

  @Test
  public void changesAreWrittenByThemselvesAfterTheDelay() throws Exception {
    Path file = TestConfig.tempDir("watch-delay").resolve("watch-node0.db");
    WatchHistory h = WatchHistory.open(file, writtenAfter(Duration.ofMillis(20)));
    putAll(h, 1, 4, "k");
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (onDisk(file).through() < 4) {
      assertTrue("the history was not written within 30 s", System.nanoTime() < deadline);
      Thread.sleep(10);
    }
    assertEquals(4, onDisk(file).entries().size());
    h.close();
  }

  @Test
  public void aGapBehindTheReplicaRaisesTheFloorInsteadOfServingAHole() throws Exception {
    Path file = TestConfig.tempDir("watch-gap").resolve("watch-node0.db");
    WatchHistory h = WatchHistory.open(file, limits(100, 1 << 20));
    putAll(h, 1, 5, "k");
    // the replica recovers from a snapshot at 9 that the history never saw (its records were lost)
    h.applied(9, List.of(put(10, "k")), 10);
    assertEquals(9, h.floor());
    assertGone(h, 5, 9);
    h.close();
    WatchHistory again = WatchHistory.open(file, limits(100, 1 << 20));
    assertEquals(9, again.floor());
    assertEquals(10, again.through());
    // and a replica that recovered somewhere else than the history ends resets it there
    Collecting w = new Collecting(10);
    again.subscribe(WatchFilter.key("k"), OptionalLong.empty(), w);
    again.recovered(20);
    assertEquals(20, again.floor());
    assertEquals(20, again.through());
    assertTrue(w.ended, w.ended != null);
    again.close();
  }

  @Test
  public void aFullStateTransferEndsEveryWatcher() throws Exception {
    WatchHistory h = WatchHistory.inMemory(limits(100, 1 << 20));
    putAll(h, 1, 3, "k");
    Collecting w = new Collecting(10);
    h.subscribe(WatchFilter.key("k"), OptionalLong.of(0), w);
    h.reset(50, "replaced");
    assertTrue(w.ended.startsWith("replaced"));
    assertEquals(0, h.watchers());
    assertGone(h, 3, 50);
  }
}
