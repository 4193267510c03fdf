package quorumkv.watch;

import java.util.ArrayList;
import java.util.List;
import quorumkv.storage.EntryChanges;
import quorumkv.storage.KeyChange;

/** One key ({@code key}) or every key under a prefix ({@code prefix}, "" for all keys); exactly one is set. */
public record WatchFilter(String key, String prefix) {

  public WatchFilter {
    if ((key == null) == (prefix == null)) {
      throw new IllegalArgumentException("exactly one of key and prefix");
    }
  }

  public static WatchFilter key(String key) {
    return new WatchFilter(key, null);
  }

  public static WatchFilter prefix(String prefix) {
    return new WatchFilter(null, prefix);
  }

  public boolean matches(String k) {
    return key != null ? key.equals(k) : k.startsWith(prefix);
  }

  /** The entry's changes to watched keys, or null when it changed none of them. */
  public EntryChanges select(EntryChanges entry) {
    List<KeyChange> all = entry.changes();
    int matching = 0;
    for (KeyChange c : all) {
      if (matches(c.key())) {
        matching++;
      }
    }
    if (matching == 0) {
      return null;
    }
    if (matching == all.size()) {
      return entry;
    }
    List<KeyChange> some = new ArrayList<>(matching);
    for (KeyChange c : all) {
      if (matches(c.key())) {
        some.add(c);
      }
    }
    return new EntryChanges(entry.version(), some);
  }
}
