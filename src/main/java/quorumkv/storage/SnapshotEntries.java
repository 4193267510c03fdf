package quorumkv.storage;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import java.io.IOException;
import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import org.pcollections.TreePMap;

/**
 * A snapshot's key map as read from it: the pairs in the order they were written, and whether
 * that order is the key order (it is for every snapshot written since the map is sorted; the
 * hash-map build wrote them in hash order).
 *
 * <p>{@link Reader} reads the CBOR map straight into two lists: Jackson's generic path went
 * through a {@code LinkedHashMap} of a million entries and its record deserializer for every value,
 * and that map was then copied into the tree. From sorted pairs the tree is built bottom-up in O(n).
 */
final class SnapshotEntries {
  private final List<String> keys;
  private final List<VersionedValue> values;
  private final boolean inKeyOrder;

  private SnapshotEntries(List<String> keys, List<VersionedValue> values, boolean inKeyOrder) {
    this.keys = keys;
    this.values = values;
    this.inKeyOrder = inKeyOrder;
  }

  /** The pairs of {@code map} in its iteration order. */
  static SnapshotEntries of(Map<String, VersionedValue> map) {
    Collector c = new Collector(map.size());
    map.forEach(c::add);
    return c.done();
  }

  TreePMap<String, VersionedValue> toTree() {
    if (keys.isEmpty()) {
      return TreePMap.empty(KeyOrder.INSTANCE);
    }
    if (inKeyOrder) {
      return TreePMap.fromSortedMap(new SortedView());
    }
    TreeMap<String, VersionedValue> sorted = new TreeMap<>(KeyOrder.INSTANCE);
    for (int i = 0; i < keys.size(); i++) {
      sorted.put(keys.get(i), values.get(i));
    }
    return TreePMap.fromSortedMap(sorted);
  }

  private static final class Collector {
    private final List<String> keys;
    private final List<VersionedValue> values;
    private boolean inKeyOrder = true;

    Collector(int expected) {
      keys = new ArrayList<>(expected);
      values = new ArrayList<>(expected);
    }

    void add(String key, VersionedValue value) {
      if (inKeyOrder && !keys.isEmpty() && KeyOrder.INSTANCE.compare(keys.get(keys.size() - 1), key) >= 0) {
        inKeyOrder = false;
      }
      keys.add(key);
      values.add(value);
    }

    SnapshotEntries done() {
      return new SnapshotEntries(keys, values, inKeyOrder);
    }
  }

  /**
   * The {@code entries} object of a snapshot: {@code {key: {value, version, expiresAt?}, ...}}.
   * Fields it does not know inside a value are skipped, as Jackson's default would.
   */
  static final class Reader extends StdDeserializer<SnapshotEntries> {
    Reader() {
      super(SnapshotEntries.class);
    }

    @Override
    public SnapshotEntries deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
      if (!p.isExpectedStartObjectToken()) {
        return (SnapshotEntries) ctxt.handleUnexpectedToken(SnapshotEntries.class, p);
      }
      Collector c = new Collector(1024);
      for (String key = p.nextFieldName(); key != null; key = p.nextFieldName()) {
        p.nextToken();
        c.add(key, value(p, ctxt));
      }
      return c.done();
    }

    private static VersionedValue value(JsonParser p, DeserializationContext ctxt) throws IOException {
      if (!p.isExpectedStartObjectToken()) {
        return (VersionedValue) ctxt.handleUnexpectedToken(VersionedValue.class, p);
      }
      String value = null;
      long version = 0;
      long expiresAt = 0;
      for (String field = p.nextFieldName(); field != null; field = p.nextFieldName()) {
        JsonToken t = p.nextToken();
        switch (field) {
          case "value" -> value = t == JsonToken.VALUE_NULL ? null : p.getValueAsString();
          case "version" -> version = p.getValueAsLong();
          case "expiresAt" -> expiresAt = p.getValueAsLong();
          default -> p.skipChildren();
        }
      }
      return new VersionedValue(value, version, expiresAt);
    }
  }

  /** The pairs, already in strictly ascending key order, as the SortedMap that TreePMap builds from. */
  private final class SortedView extends AbstractMap<String, VersionedValue> implements SortedMap<String, VersionedValue> {
    @Override
    public Set<Map.Entry<String, VersionedValue>> entrySet() {
      return new AbstractSet<>() {
        @Override
        public Iterator<Map.Entry<String, VersionedValue>> iterator() {
          return new Iterator<>() {
            private int next;

            @Override
            public boolean hasNext() {
              return next < keys.size();
            }

            @Override
            public Map.Entry<String, VersionedValue> next() {
              if (next >= keys.size()) {
                throw new NoSuchElementException();
              }
              int i = next++;
              return new AbstractMap.SimpleImmutableEntry<>(keys.get(i), values.get(i));
            }
          };
        }

        @Override
        public int size() {
          return keys.size();
        }
      };
    }

    @Override
    public int size() {
      return keys.size();
    }

    @Override
    public Comparator<? super String> comparator() {
      return KeyOrder.INSTANCE;
    }

    @Override
    public String firstKey() {
      return keys.get(0);
    }

    @Override
    public String lastKey() {
      return keys.get(keys.size() - 1);
    }

    @Override
    public SortedMap<String, VersionedValue> subMap(String from, String to) {
      throw new UnsupportedOperationException();
    }

    @Override
    public SortedMap<String, VersionedValue> headMap(String to) {
      throw new UnsupportedOperationException();
    }

    @Override
    public SortedMap<String, VersionedValue> tailMap(String from) {
      throw new UnsupportedOperationException();
    }
  }
}
