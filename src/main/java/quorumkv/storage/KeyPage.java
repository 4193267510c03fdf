package quorumkv.storage;

import java.util.List;

/**
 * One page of a range: the keys in code point order, whether more keys of the range follow, and
 * the applied log index of the state it was read from.
 */
public record KeyPage(List<KeyValue> items, boolean more, long appliedIndex) {

  /** The key to continue after ({@code after=}) when {@link #more()}; null otherwise. */
  public String next() {
    return more && !items.isEmpty() ? items.get(items.size() - 1).key() : null;
  }
}
