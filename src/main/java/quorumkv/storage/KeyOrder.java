package quorumkv.storage;

import java.io.Serializable;
import java.util.Comparator;

/**
 * Keys in Unicode code point order, the order of ranges and backups. Not {@link String#compareTo},
 * which compares UTF-16 code units: there a supplementary character (stored as a surrogate pair,
 * U+D800..U+DFFF) sorts before U+E000..U+FFFF although its code point is larger. Code point order
 * is also the order of the keys' UTF-8 bytes, which is how etcd orders keys.
 *
 * <p>It compares code units like {@code compareTo} and fixes up only the first difference, the way
 * ICU's {@code compareCodePointOrder} does: no decoding, no allocation.
 */
public final class KeyOrder implements Comparator<String>, Serializable {
  public static final KeyOrder INSTANCE = new KeyOrder();
  private static final long serialVersionUID = 1L;

  private KeyOrder() {}

  @Override
  public int compare(String a, String b) {
    int n = Math.min(a.length(), b.length());
    for (int i = 0; i < n; i++) {
      char x = a.charAt(i);
      char y = b.charAt(i);
      if (x != y) {
        return codePointRank(x) - codePointRank(y);
      }
    }
    return a.length() - b.length();
  }

  /**
   * Moves surrogates above U+E000..U+FFFF: at the first differing code unit, a surrogate stands
   * for a code point of at least U+10000 (or, for a low surrogate, for the second half of one whose
   * high halves were equal, and low surrogates keep their order among themselves).
   */
  private static int codePointRank(char c) {
    if (c < 0xD800) {
      return c;
    }
    return c >= 0xE000 ? c - 0x800 : c + 0x2000;
  }

  private Object readResolve() {
    return INSTANCE;
  }
}
