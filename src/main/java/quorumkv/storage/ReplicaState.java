package quorumkv.storage;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Consumer;
import org.pcollections.TreePMap;
import org.pcollections.TreePSet;
import quorumkv.CborSerializable;
import scala.collection.immutable.Vector;
import scala.jdk.javaapi.CollectionConverters;

/**
 * A replica's durable state: its copy of the leader's log and the key map that the committed part
 * of the log produces.
 *
 * <p>The log holds the entries after {@code baseIndex}: the applied ones that are kept for resends
 * (at most {@code retained} of them) and the ones not known to be committed yet. Only committed
 * entries are applied to the map, so an entry that a new leader did not adopt can be dropped from
 * the log without undoing anything, and a read never returns a value that a failover can lose.
 *
 * <p>Immutable (persistent map and vector): the snapshot store serializes it on another thread
 * while the replica goes on, and the leader can stream it without a copy.
 *
 * <p>The key map is PCollections' {@link TreePMap}, a persistent balanced tree in {@link KeyOrder}
 * (Unicode code point order): a write costs O(log n) new nodes, a range page a search plus the
 * page, and every reader holds one whole immutable state without a lock. (Scala's TreeMap, already
 * on the classpath, would do the same; TreePMap is a plain {@link NavigableMap} with a
 * {@link java.util.Comparator}, so nothing here speaks Scala for it.) Snapshots serialize it as
 * the same {@code entries} object as before, in key order; a snapshot written with the earlier
 * hash map (keys in hash order) reads the same way.
 */
public final class ReplicaState implements CborSerializable {
  private final TreePMap<String, VersionedValue> entries;
  private final long appliedIndex;
  private final long baseIndex;
  private final long baseTerm;
  private final Vector<LogEntry> log;
  private final long promisedTerm;
  /** The node whose leader the promise of {@code promisedTerm} went to; "" when none or unknown. */
  private final String promisedTo;
  private final long digest;
  /**
   * The keys that have a TTL, ordered by expiry time: the leader finds the keys due without a scan
   * of all keys. Derived from {@code entries} (each value holds its {@code expiresAt}), so it is not
   * written into snapshots but rebuilt when one is read.
   */
  @JsonIgnore
  private final TreePSet<Due> expiries;
  /**
   * The outcomes of the last {@link WriteCommand} entries applied, by index: how the leader
   * learns what its compare-and-set or transaction did once applied. Not persisted (a restarted
   * leader has no client waiting); rebuilt for the events replayed at recovery.
   */
  @JsonIgnore
  private final TreePMap<Long, EntryOutcome> outcomes;
  /** Outcomes are kept for at least this many applied entries, however short the retained log. */
  private static final int MIN_OUTCOMES_KEPT = 1024;
  /**
   * Applied entries are kept for resends only while the log holds at most this much
   * ({@link LogEntry#approximateBytes()}), whatever {@code retained} allows: 20,000 retained
   * entries of 64 KiB values are 1.25 GiB, more than a node's heap, and every replica keeps them.
   * Entries not applied yet always stay.
   */
  public static final long MAX_RETAINED_BYTES = 64L << 20;
  /** {@link LogEntry#approximateBytes()} of every entry in {@code log}; derived, not persisted. */
  @JsonIgnore
  private final long logBytes;

  /** A key with a TTL, in the expiry order: by time, then by key. */
  private record Due(long expiresAt, String key) {}

  private static final java.util.Comparator<Due> DUE_ORDER =
      java.util.Comparator.comparingLong(Due::expiresAt).thenComparing(Due::key, KeyOrder.INSTANCE);

  private static TreePSet<Due> noExpiries() {
    return TreePSet.empty(DUE_ORDER);
  }

  private ReplicaState(TreePMap<String, VersionedValue> entries, long appliedIndex, long baseIndex, long baseTerm,
      Vector<LogEntry> log, long logBytes, long promisedTerm, String promisedTo, long digest, TreePSet<Due> expiries) {
    this(entries, appliedIndex, baseIndex, baseTerm, log, logBytes, promisedTerm, promisedTo, digest, expiries,
        noOutcomes());
  }

  private ReplicaState(TreePMap<String, VersionedValue> entries, long appliedIndex, long baseIndex, long baseTerm,
      Vector<LogEntry> log, long logBytes, long promisedTerm, String promisedTo, long digest, TreePSet<Due> expiries,
      TreePMap<Long, EntryOutcome> outcomes) {
    this.logBytes = logBytes;
    this.expiries = expiries;
    this.outcomes = outcomes;
    this.entries = entries;
    this.appliedIndex = appliedIndex;
    this.baseIndex = baseIndex;
    this.baseTerm = baseTerm;
    this.log = log;
    this.promisedTerm = promisedTerm;
    this.promisedTo = promisedTo;
    this.digest = digest;
  }

  public static ReplicaState empty() {
    return new ReplicaState(emptyMap(), 0, 0, 0, emptyLog(), 0, 0, "", 0, noExpiries());
  }

  @JsonCreator
  static ReplicaState fromSnapshot(
      @JsonProperty("entries") @JsonDeserialize(using = SnapshotEntries.Reader.class) SnapshotEntries entries,
      @JsonProperty("appliedIndex") long appliedIndex,
      @JsonProperty("baseIndex") long baseIndex,
      @JsonProperty("baseTerm") long baseTerm,
      @JsonProperty("log") List<LogEntry> log,
      @JsonProperty("promisedTerm") long promisedTerm,
      @JsonProperty("promisedTo") String promisedTo) {
    TreePMap<String, VersionedValue> map = entries == null ? emptyMap() : entries.toTree();
    long digest = 0;
    List<Due> due = new ArrayList<>();
    for (Map.Entry<String, VersionedValue> e : map.entrySet()) {
      digest += StateDigest.pairHash(e.getKey(), e.getValue().value());
      if (e.getValue().expiresAt() != 0) {
        due.add(new Due(e.getValue().expiresAt(), e.getKey()));
      }
    }
    Vector<LogEntry> v = emptyLog();
    long bytes = 0;
    for (LogEntry e : log == null ? List.<LogEntry>of() : log) {
      v = appended(v, e);
      bytes += e.approximateBytes();
    }
    return new ReplicaState(map, appliedIndex, baseIndex, baseTerm, v, bytes, promisedTerm,
        promisedTo == null ? "" : promisedTo, digest, noExpiries().plusAll(due));
  }

  /** A snapshot's fields as they would be read, with the key map in {@code entries}' iteration order. */
  static ReplicaState fromSnapshot(Map<String, VersionedValue> entries, long appliedIndex, long baseIndex,
      long baseTerm, List<LogEntry> log, long promisedTerm, String promisedTo) {
    return fromSnapshot(SnapshotEntries.of(entries), appliedIndex, baseIndex, baseTerm, log, promisedTerm, promisedTo);
  }

  private static TreePMap<Long, EntryOutcome> noOutcomes() {
    return TreePMap.empty();
  }

  private static TreePMap<String, VersionedValue> emptyMap() {
    return TreePMap.empty(KeyOrder.INSTANCE);
  }

  private static Vector<LogEntry> emptyLog() {
    return scala.collection.immutable.Vector$.MODULE$.empty();
  }

  /** Vector.appended, which javac finds ambiguous (Vector's and AbstractSeq's overloads). */
  @SuppressWarnings({"unchecked", "rawtypes"})
  private static Vector<LogEntry> appended(Vector<LogEntry> v, LogEntry e) {
    return (Vector<LogEntry>) ((scala.collection.SeqOps) v).appended(e);
  }

  @JsonProperty("entries")
  Map<String, VersionedValue> entriesView() {
    return entries;
  }

  @JsonProperty("log")
  List<LogEntry> logView() {
    return CollectionConverters.asJava(log);
  }

  // --- the log ---

  /**
   * Whether this replica's log holds the entry {@code (index, term)}, as the leader's does: the
   * check before appending after it. Applied entries are committed, and committed entries are
   * the same on every replica whatever term they are stamped with, so they always match.
   */
  public boolean matches(long index, long term) {
    return index <= appliedIndex || (index <= lastIndex() && termAt(index) == term);
  }

  /** The term of the entry at {@code index}, or -1 if this replica does not hold it. */
  public long termAt(long index) {
    if (index == baseIndex) {
      return baseTerm;
    }
    if (index < baseIndex || index > lastIndex()) {
      return -1;
    }
    return log.apply((int) (index - baseIndex - 1)).term();
  }

  /**
   * Appends the leader's entries that follow {@code prevIndex} (whose entry matched), replacing
   * any conflicting entry not yet applied, then applies everything up to
   * {@code min(leaderCommit, last index verified against the leader)}, and keeps at most
   * {@code retained} applied entries in the log.
   */
  public ReplicaState append(long term, long prevIndex, List<LogEntry> appended, long leaderCommit, int retained) {
    return append(term, prevIndex, appended, leaderCommit, retained, null);
  }

  /**
   * {@link #append}, also adding to {@code changesOut} (when not null) what each entry applied
   * by it changed, in log order: the feed of the watch history.
   */
  public ReplicaState append(long term, long prevIndex, List<LogEntry> appended, long leaderCommit, int retained,
      List<EntryChanges> changesOut) {
    Vector<LogEntry> l = log;
    long bytes = logBytes;
    long last = lastIndex();
    for (LogEntry e : appended) {
      if (e.index() <= appliedIndex) {
        continue;
      }
      if (e.index() <= last) {
        long existing = l.apply((int) (e.index() - baseIndex - 1)).term();
        if (existing == e.term()) {
          continue;
        }
        int keep = (int) (e.index() - baseIndex - 1);
        for (int i = keep; i < l.size(); i++) {
          bytes -= l.apply(i).approximateBytes();
        }
        l = l.take(keep); // a suffix the leader did not adopt
        last = e.index() - 1;
      }
      if (e.index() != last + 1) {
        throw new IllegalArgumentException("entry " + e.index() + " does not follow " + last);
      }
      l = appended(l, e);
      bytes += e.approximateBytes();
      last = e.index();
    }
    long verified = appended.isEmpty() ? prevIndex : Math.max(prevIndex, appended.get(appended.size() - 1).index());
    ReplicaState withLog = new ReplicaState(entries, appliedIndex, baseIndex, baseTerm, l, bytes,
        Math.max(promisedTerm, term), term > promisedTerm ? "" : promisedTo, digest, expiries, outcomes);
    return withLog.applyUpTo(Math.min(leaderCommit, Math.min(verified, last)), retained, changesOut);
  }

  private ReplicaState applyUpTo(long commit, int retained, List<EntryChanges> changesOut) {
    Applying a = new Applying(entries, digest, expiries, changesOut != null);
    TreePMap<Long, EntryOutcome> done = outcomes;
    long applied = appliedIndex;
    while (applied < commit) {
      LogEntry e = log.apply((int) (applied + 1 - baseIndex - 1));
      if (e.command() == null) {
        if (e.isDelete()) {
          // Kept like a command's outcome, so that the client learns whether there was a key to delete.
          done = done.plus(e.index(), new EntryOutcome.Deleted(e.term(), a.delete(e.key())));
        } else {
          a.put(e.key(), e.value(), e.index());
        }
      } else {
        done = done.plus(e.index(), a.apply(e));
      }
      if (changesOut != null && !a.changes.isEmpty()) {
        changesOut.add(new EntryChanges(e.index(), List.copyOf(a.changes)));
        a.changes.clear();
      }
      applied++;
    }
    Vector<LogEntry> l = log;
    long bytes = logBytes;
    long base = baseIndex;
    long bTerm = baseTerm;
    long surplus = Math.max(0, applied - base - retained);
    for (int i = 0; i < surplus; i++) {
      bytes -= l.apply(i).approximateBytes();
    }
    // Then the oldest applied entries while the log is over its byte bound.
    while (bytes > MAX_RETAINED_BYTES && base + surplus < applied) {
      bytes -= l.apply((int) surplus).approximateBytes();
      surplus++;
    }
    if (surplus > 0) {
      bTerm = l.apply((int) surplus - 1).term();
      l = l.drop((int) surplus);
      base += surplus;
    }
    long keepAfter = applied - Math.max(retained, MIN_OUTCOMES_KEPT);
    if (!done.isEmpty() && done.firstKey() <= keepAfter) {
      done = done.tailMap(keepAfter, false);
    }
    return new ReplicaState(a.map, applied, base, bTerm, l, bytes, promisedTerm, promisedTo, a.digest, a.expiries, done);
  }

  /**
   * The key map, digest and expiry order while entries are applied; evaluates the state-dependent
   * ones. Every change to a key goes through {@link #put} or {@link #delete}, expiries included,
   * which record it (when asked to) for the watch history, so every kind of entry yields its
   * changes without code of its own.
   */
  private static final class Applying {
    private TreePMap<String, VersionedValue> map;
    private long digest;
    private TreePSet<Due> expiries;
    /** The changes of the entry being applied; stays empty when nobody records them. */
    private final List<KeyChange> changes = new ArrayList<>(4);
    private final boolean recording;

    Applying(TreePMap<String, VersionedValue> map, long digest, TreePSet<Due> expiries, boolean recording) {
      this.map = map;
      this.digest = digest;
      this.expiries = expiries;
      this.recording = recording;
    }

    void put(String key, String value, long version) {
      put(key, value, version, 0);
    }

    /** {@code expiresAt} 0: the key has no TTL (a write without one makes a key permanent). */
    void put(String key, String value, long version, long expiresAt) {
      if (recording) {
        changes.add(new KeyChange(key, value));
      }
      VersionedValue old = map.get(key);
      if (old != null) {
        digest -= StateDigest.pairHash(key, old.value());
        if (old.expiresAt() != 0) {
          expiries = expiries.minus(new Due(old.expiresAt(), key));
        }
      }
      map = map.plus(key, new VersionedValue(value, version, expiresAt));
      digest += StateDigest.pairHash(key, value);
      if (expiresAt != 0) {
        expiries = expiries.plus(new Due(expiresAt, key));
      }
    }

    /** Whether the key existed. */
    boolean delete(String key) {
      VersionedValue old = map.get(key);
      if (old == null) {
        return false;
      }
      digest -= StateDigest.pairHash(key, old.value());
      map = map.minus(key);
      if (old.expiresAt() != 0) {
        expiries = expiries.minus(new Due(old.expiresAt(), key));
      }
      if (recording) {
        changes.add(new KeyChange(key, null));
      }
      return true;
    }

    long versionOf(String key) {
      VersionedValue v = map.get(key);
      return v == null ? 0 : v.version();
    }

    /** Applies a command entry: conditions are evaluated against the state as it is now, in log order. */
    EntryOutcome apply(LogEntry e) {
      WriteCommand command = e.command();
      if (command instanceof WriteCommand.IfVersion cas) {
        long current = versionOf(cas.key());
        if (current != cas.ifVersion()) {
          return new EntryOutcome.ConditionFailed(e.term(), cas.key(), current);
        }
        if (cas.value() == null) {
          return new EntryOutcome.Deleted(e.term(), delete(cas.key()));
        }
        put(cas.key(), cas.value(), e.index(), cas.expiresAt());
        return new EntryOutcome.Done(e.term());
      }
      if (command instanceof WriteCommand.Put p) {
        put(p.key(), p.value(), e.index(), p.expiresAt());
        return new EntryOutcome.Done(e.term());
      }
      if (command instanceof WriteCommand.Expire expire) {
        int deleted = 0;
        for (WriteCommand.ExpiredKey k : expire.keys()) {
          VersionedValue current = map.get(k.key());
          if (current != null && current.version() == k.version() && current.expiresAt() != 0) {
            delete(k.key());
            deleted++;
          }
        }
        return new EntryOutcome.Expired(e.term(), deleted);
      }
      if (command instanceof WriteCommand.TermStarted) {
        return new EntryOutcome.Done(e.term());
      }
      if (command instanceof WriteCommand.DeletePrefix dp) {
        List<String> keys = new ArrayList<>();
        for (String key : map.tailMap(dp.prefix(), true).keySet()) {
          if (!key.startsWith(dp.prefix())) {
            break; // keys with one prefix are contiguous in code point order
          }
          keys.add(key);
        }
        keys.forEach(this::delete);
        return new EntryOutcome.PrefixDeleted(e.term(), dp.prefix(), keys.size());
      }
      WriteCommand.Txn txn = (WriteCommand.Txn) command;
      boolean succeeded = true;
      for (WriteCommand.Compare c : txn.compare()) {
        if (!c.holds(Optional.ofNullable(map.get(c.key())))) {
          succeeded = false;
          break;
        }
      }
      List<WriteCommand.TxnOp> ops = succeeded ? txn.success() : txn.failure();
      List<TxnOpResult> results = new ArrayList<>(ops.size());
      for (WriteCommand.TxnOp op : ops) {
        switch (op.op()) {
          case PUT -> {
            put(op.key(), op.value(), e.index(), op.expiresAt());
            results.add(new TxnOpResult(op.op(), op.key(), null, e.index(), true));
          }
          case DELETE -> results.add(new TxnOpResult(op.op(), op.key(), null, 0, delete(op.key())));
          case GET -> {
            VersionedValue v = map.get(op.key());
            results.add(v == null ? new TxnOpResult(op.op(), op.key(), null, 0, false)
                : new TxnOpResult(op.op(), op.key(), v.value(), v.version(), true, v.expiresAt()));
          }
        }
      }
      return new EntryOutcome.TxnApplied(e.term(), succeeded, results);
    }
  }

  /**
   * The outcome of the command entry applied at {@code index}, if this replica applied it, still
   * keeps it, and it was the entry of {@code term} (not another leader's entry at that index).
   */
  public Optional<EntryOutcome> outcome(long index, long term) {
    EntryOutcome o = outcomes.get(index);
    return o != null && o.term() == term ? Optional.of(o) : Optional.empty();
  }

  /** Entries from {@code from} on, at most {@code max}; empty if {@code from} is not in the log. */
  public List<LogEntry> entriesFrom(long from, int max) {
    if (from <= baseIndex || from > lastIndex()) {
      return List.of();
    }
    int start = (int) (from - baseIndex - 1);
    int end = (int) Math.min(log.length(), (long) start + max);
    List<LogEntry> out = new ArrayList<>(end - start);
    for (int i = start; i < end; i++) {
      out.add(log.apply(i));
    }
    return out;
  }

  /** Promises {@code term} to the leader candidate on {@code candidate}. */
  public ReplicaState promise(long term, String candidate) {
    if (term < promisedTerm) {
      return this;
    }
    return new ReplicaState(entries, appliedIndex, baseIndex, baseTerm, log, logBytes, term, candidate, digest,
        expiries, outcomes);
  }

  /** Whether a Prepare for {@code term} from {@code candidate} may be answered with a promise. */
  public boolean canPromise(long term, String candidate) {
    return term > promisedTerm || (term == promisedTerm && candidate.equals(promisedTo));
  }

  /**
   * One chunk of a full state transfer of a committed state. The first chunk starts from an empty
   * map and log at index 0, so a transfer cut off half way leaves a replica that asks for
   * everything again; the last one sets the index and term the state corresponds to.
   */
  public ReplicaState installChunk(
      long term, long snapshotIndex, long snapshotTerm, boolean first, boolean last, List<KeyValue> pairs) {
    TreePMap<String, VersionedValue> map = first ? emptyMap() : entries;
    long d = first ? 0 : digest;
    TreePSet<Due> due = first ? noExpiries() : expiries;
    for (KeyValue kv : pairs) {
      VersionedValue old = map.get(kv.key());
      if (old != null) {
        d -= StateDigest.pairHash(kv.key(), old.value());
        if (old.expiresAt() != 0) {
          due = due.minus(new Due(old.expiresAt(), kv.key()));
        }
      }
      map = map.plus(kv.key(), new VersionedValue(kv.value(), kv.version(), kv.expiresAt()));
      d += StateDigest.pairHash(kv.key(), kv.value());
      if (kv.expiresAt() != 0) {
        due = due.plus(new Due(kv.expiresAt(), kv.key()));
      }
    }
    long index = last ? snapshotIndex : 0;
    long indexTerm = last ? snapshotTerm : 0;
    Vector<LogEntry> l = first || last ? emptyLog() : log;
    return new ReplicaState(map, index, index, indexTerm, l, first || last ? 0 : logBytes, Math.max(promisedTerm, term),
        term > promisedTerm ? "" : promisedTo, d, due);
  }

  public Optional<VersionedValue> get(String key) {
    return Optional.ofNullable(entries.get(key));
  }

  /**
   * At most {@code limit} keys that start with {@code prefix} ("" for all), in key order, after
   * {@code after} (exclusive; null to start at the prefix). A search plus the page: the keys
   * before it are never visited.
   */
  public KeyPage range(String prefix, String after, int limit) {
    return range(prefix, after, limit, true);
  }

  /**
   * Characters of keys (and values, when the page carries them) in one range page, at most; a page
   * holds at least one key. 1,000 keys of 64 KiB values made a 64 MB answer (393 MB of JSON with
   * escaped control characters) built whole in memory, and a few at once took a node's heap.
   */
  public static final long MAX_PAGE_CHARS = 1L << 20;

  /** A page as {@link #range(String, String, int)}, sized as if without values when {@code withValues} is false. */
  public KeyPage range(String prefix, String after, int limit, boolean withValues) {
    if (limit < 1) {
      throw new IllegalArgumentException("limit must be at least 1, got " + limit);
    }
    NavigableMap<String, VersionedValue> from = after != null && KeyOrder.INSTANCE.compare(after, prefix) >= 0
        ? entries.tailMap(after, false) : entries.tailMap(prefix, true);
    List<KeyValue> items = new ArrayList<>(Math.min(limit, 128));
    boolean more = false;
    long chars = 0;
    for (Map.Entry<String, VersionedValue> e : from.entrySet()) {
      if (!e.getKey().startsWith(prefix)) {
        break; // keys with one prefix are contiguous in code point order, and start at the prefix
      }
      KeyValue item = new KeyValue(e.getKey(), e.getValue().value(), e.getValue().version(), e.getValue().expiresAt());
      long itemChars = item.approximateChars(withValues);
      if (items.size() == limit || (!items.isEmpty() && chars + itemChars > MAX_PAGE_CHARS)) {
        more = true;
        break;
      }
      chars += itemChars;
      items.add(item);
    }
    return new KeyPage(items, more, appliedIndex);
  }

  /** Every key in key order, from this (immutable) state: for streaming a backup. */
  public Iterator<KeyValue> pairs() {
    Iterator<Map.Entry<String, VersionedValue>> it = entries.entrySet().iterator();
    return new Iterator<>() {
      @Override
      public boolean hasNext() {
        return it.hasNext();
      }

      @Override
      public KeyValue next() {
        Map.Entry<String, VersionedValue> e = it.next();
        return new KeyValue(e.getKey(), e.getValue().value(), e.getValue().version(), e.getValue().expiresAt());
      }
    };
  }

  /**
   * The keys whose expiry time is at or before {@code nowMillis}, earliest first, at most
   * {@code max}, each with the version that set its TTL: what the leader logs as an expiry entry.
   * Visits only those keys (and one more), never the keys without a TTL.
   */
  public List<WriteCommand.ExpiredKey> dueExpiries(long nowMillis, int max) {
    List<WriteCommand.ExpiredKey> due = new ArrayList<>();
    for (Due d : expiries) {
      if (d.expiresAt() > nowMillis || due.size() == max) {
        break;
      }
      due.add(new WriteCommand.ExpiredKey(d.key(), entries.get(d.key()).version()));
    }
    return due;
  }

  /** The earliest expiry time of a key with a TTL (epoch ms), if any. */
  public OptionalLong nextExpiry() {
    return expiries.isEmpty() ? OptionalLong.empty() : OptionalLong.of(expiries.first().expiresAt());
  }

  /** How many keys have a TTL. */
  @JsonIgnore
  public int expiringKeyCount() {
    return expiries.size();
  }

  /**
   * Most characters of keys and values in one chunk (a character counts once, 32 more per pair): a
   * state transfer sends each chunk as one message, and Artery discards a message over its maximum
   * frame (4 MiB, application.conf), and with it the transfer. At most 3 bytes of UTF-8 per
   * character, 1 Mi characters stay below it; a single pair (a key and a value within their limits)
   * always fits. Without it 300 keys of 30 KB values made one 9 MB chunk that never arrived.
   */
  public static final long MAX_CHUNK_CHARS = 1L << 20;

  /**
   * Calls {@code sink} with consecutive chunks of at most {@code chunkSize} pairs and
   * {@link #MAX_CHUNK_CHARS}, in key order (at least one chunk).
   */
  public void forEachChunk(int chunkSize, Consumer<List<KeyValue>> sink) {
    int capacity = Math.min(chunkSize, Math.max(1, entries.size()));
    List<KeyValue> chunk = new ArrayList<>(capacity);
    long chars = 0;
    Iterator<KeyValue> it = pairs();
    boolean sentAny = false;
    while (it.hasNext()) {
      KeyValue pair = it.next();
      long pairChars = pair.approximateChars();
      if (!chunk.isEmpty() && chars + pairChars > MAX_CHUNK_CHARS) {
        sink.accept(chunk);
        sentAny = true;
        chunk = new ArrayList<>(capacity);
        chars = 0;
      }
      chunk.add(pair);
      chars += pairChars;
      if (chunk.size() == chunkSize) {
        sink.accept(chunk);
        sentAny = true;
        chunk = new ArrayList<>(capacity);
        chars = 0;
      }
    }
    if (!chunk.isEmpty() || !sentAny) {
      sink.accept(chunk);
    }
  }

  @JsonProperty("appliedIndex")
  public long appliedIndex() {
    return appliedIndex;
  }

  /** The term of the entry at {@link #appliedIndex()}. */
  @JsonIgnore
  public long appliedTerm() {
    return termAt(appliedIndex);
  }

  @JsonProperty("baseIndex")
  public long baseIndex() {
    return baseIndex;
  }

  @JsonProperty("baseTerm")
  public long baseTerm() {
    return baseTerm;
  }

  @JsonIgnore
  public long lastIndex() {
    return baseIndex + log.length();
  }

  @JsonIgnore
  public long lastTerm() {
    return log.isEmpty() ? baseTerm : log.last().term();
  }

  @JsonProperty("promisedTerm")
  public long promisedTerm() {
    return promisedTerm;
  }

  @JsonProperty("promisedTo")
  public String promisedTo() {
    return promisedTo;
  }

  @JsonIgnore
  public int keyCount() {
    return entries.size();
  }

  @JsonIgnore
  public long digest() {
    return digest;
  }

  @JsonIgnore
  public String digestHex() {
    return StateDigest.hex(digest);
  }
}
