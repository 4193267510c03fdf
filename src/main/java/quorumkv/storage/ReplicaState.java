package quorumkv.storage;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import quorumkv.CborSerializable;
import scala.Option;
import scala.collection.immutable.HashMap;
import scala.jdk.javaapi.CollectionConverters;

/**
 * A replica's state: the key map and its log position. Immutable (a persistent hash map), so the
 * snapshot store can serialize it on another thread while the replica goes on applying writes, and
 * the leader can stream it to a lagging follower without a copy.
 */
public final class ReplicaState implements CborSerializable {
  private final HashMap<String, VersionedValue> entries;
  private final long lastIndex;
  private final long lastTerm;
  private final long promisedTerm;
  private final long digest;

  private ReplicaState(
      HashMap<String, VersionedValue> entries, long lastIndex, long lastTerm, long promisedTerm, long digest) {
    this.entries = entries;
    this.lastIndex = lastIndex;
    this.lastTerm = lastTerm;
    this.promisedTerm = promisedTerm;
    this.digest = digest;
  }

  public static ReplicaState empty() {
    return new ReplicaState(emptyMap(), 0, 0, 0, 0);
  }

  @JsonCreator
  static ReplicaState fromSnapshot(
      @JsonProperty("entries") Map<String, VersionedValue> entries,
      @JsonProperty("lastIndex") long lastIndex,
      @JsonProperty("lastTerm") long lastTerm,
      @JsonProperty("promisedTerm") long promisedTerm) {
    HashMap<String, VersionedValue> map = emptyMap();
    long digest = 0;
    for (Map.Entry<String, VersionedValue> e : entries.entrySet()) {
      map = map.updated(e.getKey(), e.getValue());
      digest += StateDigest.pairHash(e.getKey(), e.getValue().value());
    }
    return new ReplicaState(map, lastIndex, lastTerm, promisedTerm, digest);
  }

  private static HashMap<String, VersionedValue> emptyMap() {
    return scala.collection.immutable.HashMap$.MODULE$.empty();
  }

  @JsonProperty("entries")
  Map<String, VersionedValue> entriesView() {
    return CollectionConverters.asJava(entries);
  }

  /** Applies entries that directly follow {@link #lastIndex()}, in order. */
  public ReplicaState append(long term, List<LogEntry> appended) {
    HashMap<String, VersionedValue> map = entries;
    long d = digest;
    long index = lastIndex;
    long entryTerm = lastTerm;
    for (LogEntry e : appended) {
      if (e.index() != index + 1) {
        throw new IllegalArgumentException("entry " + e.index() + " does not follow " + index);
      }
      Option<VersionedValue> old = map.get(e.key());
      if (old.isDefined()) {
        d -= StateDigest.pairHash(e.key(), old.get().value());
      }
      if (e.isDelete()) {
        map = map.removed(e.key());
      } else {
        map = map.updated(e.key(), new VersionedValue(e.value(), e.index()));
        d += StateDigest.pairHash(e.key(), e.value());
      }
      index = e.index();
      entryTerm = e.term();
    }
    return new ReplicaState(map, index, entryTerm, Math.max(promisedTerm, term), d);
  }

  public ReplicaState promise(long term) {
    return new ReplicaState(entries, lastIndex, lastTerm, Math.max(promisedTerm, term), digest);
  }

  /**
   * One chunk of a full state transfer. The first chunk starts from an empty map at index 0, so a
   * transfer cut off half way leaves a replica that asks for everything again; the last chunk
   * sets the position the transferred state corresponds to.
   */
  public ReplicaState installChunk(
      long term, long snapshotIndex, long snapshotTerm, boolean first, boolean last, List<KeyValue> pairs) {
    HashMap<String, VersionedValue> map = first ? emptyMap() : entries;
    long d = first ? 0 : digest;
    for (KeyValue kv : pairs) {
      Option<VersionedValue> old = map.get(kv.key());
      if (old.isDefined()) {
        d -= StateDigest.pairHash(kv.key(), old.get().value());
      }
      map = map.updated(kv.key(), new VersionedValue(kv.value(), kv.version()));
      d += StateDigest.pairHash(kv.key(), kv.value());
    }
    long index = last ? snapshotIndex : (first ? 0 : lastIndex);
    long entryTerm = last ? snapshotTerm : (first ? 0 : lastTerm);
    return new ReplicaState(map, index, entryTerm, Math.max(promisedTerm, term), d);
  }

  public Optional<VersionedValue> get(String key) {
    Option<VersionedValue> v = entries.get(key);
    return v.isDefined() ? Optional.of(v.get()) : Optional.empty();
  }

  /** Calls {@code sink} with consecutive chunks of at most {@code chunkSize} pairs (at least one chunk). */
  public void forEachChunk(int chunkSize, Consumer<List<KeyValue>> sink) {
    List<KeyValue> chunk = new ArrayList<>(Math.min(chunkSize, Math.max(1, entries.size())));
    var it = entries.iterator();
    boolean sentAny = false;
    while (it.hasNext()) {
      var pair = it.next();
      chunk.add(new KeyValue(pair._1(), pair._2().value(), pair._2().version()));
      if (chunk.size() == chunkSize) {
        sink.accept(chunk);
        sentAny = true;
        chunk = new ArrayList<>(chunkSize);
      }
    }
    if (!chunk.isEmpty() || !sentAny) {
      sink.accept(chunk);
    }
  }

  @JsonProperty("lastIndex")
  public long lastIndex() {
    return lastIndex;
  }

  @JsonProperty("lastTerm")
  public long lastTerm() {
    return lastTerm;
  }

  @JsonProperty("promisedTerm")
  public long promisedTerm() {
    return promisedTerm;
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
