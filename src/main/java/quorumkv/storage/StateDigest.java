package quorumkv.storage;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.DigestException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * An order-independent digest of a key/value map: the sum (mod 2^64) of a 64-bit hash of each
 * (key, value) pair. Equal maps give equal digests whatever order their writes were applied in,
 * and it is maintained in O(1) per write by subtracting the old pair and adding the new one.
 *
 * <p>The pair hash is the first 8 bytes (big-endian) of SHA-256 over the key's UTF-8 bytes, a zero
 * byte and the value's UTF-8 bytes. Every replica hashes twice per write it applies (the old pair
 * out, the new one in) and once per pair of a snapshot it loads, so the hashing reuses one digest
 * and one buffer per thread instead of allocating the encoded strings and the result each time.
 */
public final class StateDigest {
  private static final VarHandle BIG_ENDIAN_LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
  private static final ThreadLocal<Hasher> HASHER = ThreadLocal.withInitial(Hasher::new);

  private StateDigest() {}

  public static long pairHash(String key, String value) {
    return HASHER.get().pairHash(key, value);
  }

  public static String hex(long digest) {
    return String.format("%016x", digest);
  }

  /** One thread's SHA-256, its output and a buffer for strings encoded without allocating. */
  private static final class Hasher {
    private static final int DIGEST_BYTES = 32;
    /** Strings longer than this (in chars) are encoded by String.getBytes, not into the buffer. */
    private static final int BUFFERED_CHARS = 4096;

    private final MessageDigest sha;
    private final byte[] out = new byte[DIGEST_BYTES];
    private final byte[] buffer = new byte[BUFFERED_CHARS];

    Hasher() {
      try {
        sha = MessageDigest.getInstance("SHA-256");
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }

    long pairHash(String key, String value) {
      update(key);
      sha.update((byte) 0); // separates key from value: ("ab","c") and ("a","bc") differ
      update(value);
      try {
        sha.digest(out, 0, DIGEST_BYTES);
      } catch (DigestException e) {
        throw new IllegalStateException(e);
      }
      return (long) BIG_ENDIAN_LONG.get(out, 0);
    }

    /**
     * Feeds the UTF-8 bytes of {@code s}: an ASCII string (the usual key and value) through the
     * buffer, whose bytes are then the same as UTF-8's; any other through String.getBytes.
     */
    private void update(String s) {
      int n = s.length();
      if (n <= BUFFERED_CHARS) {
        int i = 0;
        while (i < n) {
          char c = s.charAt(i);
          if (c >= 0x80) {
            break;
          }
          buffer[i++] = (byte) c;
        }
        if (i == n) {
          sha.update(buffer, 0, n);
          return;
        }
      }
      sha.update(s.getBytes(StandardCharsets.UTF_8));
    }
  }
}
